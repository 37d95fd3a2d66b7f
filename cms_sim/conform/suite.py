"""The conformance suite for a CMTS: one requirement per row, each judged by a scenario or by the findings.

A row is either backed by a scenario in ``suite/`` (run by the same engine
as ``cms-sim run``, so it is skipped, cleaned up and judged the same way)
and fails when that scenario fails, or by the findings of
:mod:`cms_sim.judge` over every message the CMTS sent during the whole
suite, and fails when one of its rules was broken.  A scenario-backed row
may name finding rules too (the keep-alive row fails on a late Keep-Alive
even if the connection held).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from ..scenario import Scenario, ScenarioResult, load_scenario

SUITE = Path(__file__).parent / "suite"


@dataclass(frozen=True)
class Requirement:
    id: str
    clause: str
    sends: str  # what the gate controller does
    expects: str  # what the CMTS must do
    scenario: str | None = None  # a file in suite/, or None: judged by the findings alone
    rules: tuple[str, ...] = ()  # findings that fail the row


REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement("COPS-OPEN", "RFC 2748 3.6, 3.1; protocol.md 1.3", "connect to port 2126",
                "Client-Open (client-type 0x8008, PEPID), then a configuration Request", "cops_open.yaml",
                ("opn.client-type",)),
    Requirement("COPS-KA", "RFC 2748 3.9, 4.4", "grant a 2 s KA timer, then stay quiet for 7 s",
                "Keep-Alives (client-type 0) between 1/4 and 3/4 of the timer; the connection holds",
                "cops_keepalive.yaml", ("ka.client-type", "ka.timing")),
    Requirement("COPS-HEADER", "RFC 2748 2.1, 2", "(every message of the suite)",
                "no undefined flag, every message decodes", None,
                ("header.flags", "message.decodable", "dqos.decodable")),
    Requirement("COPS-HANDLE", "RFC 2748 2.2.1", "(every report of the suite)",
                "reports, DRQ and SSC use the configuration Request's handle", None, ("handle",)),
    Requirement("DQOS-REPORT-TYPE", "RFC 2748 2.2.12; protocol.md 3.1", "(every reply of the suite)",
                "an Ack travels in Report-Type 1 (success), an Err in 2 (failure)", None, ("rpt.report-type",)),
    Requirement("DQOS-TID", "protocol.md 3.2, 3.3", "(every reply of the suite)",
                "each reply echoes a request's Transaction-ID and is its Ack or Err", None,
                ("dqos.transaction-id", "dqos.reply-type")),
    Requirement("DQOS-ECHO", "protocol.md 3.4", "(every reply of the suite)",
                "each reply names its request's subscriber and gate", None,
                ("dqos.subscriber-echo", "dqos.gate-id-echo")),
    Requirement("DQOS-OBJECTS", "protocol.md 3.3, 3.4; RFC 2748 2.2", "(every reply and event of the suite)",
                "the objects the reference lists, in its order, and no unknown ones", None,
                ("dqos.objects", "dqos.object-order", "dqos.unknown-object", "cops.unknown-object")),
    Requirement("DQOS-ALLOC", "protocol.md 3.4, 3.5", "Gate-Alloc (Activity-Count 4)",
                "Gate-Alloc-Ack with a Gate-ID for the subscriber", "dqos_alloc.yaml"),
    Requirement("DQOS-SET", "protocol.md 3.4, 3.5", "Gate-Set without Gate-ID (G.711, 20 ms)",
                "Gate-Set-Ack with a new Gate-ID", "dqos_set.yaml"),
    Requirement("DQOS-INFO", "protocol.md 3.4", "Gate-Set, then Gate-Info",
                "Gate-Info-Ack with the Gate-Specs as set", "dqos_info.yaml"),
    Requirement("DQOS-MODIFY", "protocol.md 3.4, 3.5", "Gate-Set on the Gate-ID with new Gate-Specs (G.729)",
                "Ack with the same Gate-ID; Gate-Info shows the new Gate-Specs", "dqos_modify.yaml"),
    Requirement("DQOS-DELETE", "protocol.md 3.4, 3.5", "Gate-Delete, then Gate-Info",
                "Gate-Delete-Ack; then error 2 (unknown Gate-ID)", "dqos_delete.yaml"),
    Requirement("DQOS-UNKNOWN-GATE", "protocol.md 3.6", "Gate-Set, Gate-Info, Gate-Delete on an unknown Gate-ID",
                "error 2 (unknown Gate-ID) for each", "dqos_unknown.yaml"),
    Requirement("DQOS-MISSING-OBJECT", "protocol.md 3.6", "Gate-Set without Gate-Spec",
                "Gate-Set-Err 6 (missing required object)", "dqos_missing.yaml"),
    Requirement("DQOS-SESSION-CLASS", "protocol.md 3.3, 3.6", "Gate-Set with session class 3",
                "Gate-Set-Err 3 (illegal session class)", "dqos_class.yaml"),
    Requirement("DQOS-GATE-LIMIT", "protocol.md 3.3, 3.6", "two Gate-Sets with Activity-Count 1",
                "the second: Gate-Set-Err 4 (subscriber exceeded gate limit)", "dqos_limit.yaml"),
    Requirement("DQOS-T0", "protocol.md 3.5", "Gate-Alloc, no Gate-Set",
                "Gate-Close reason 4 (T0 expired) within t0_wait", "dqos_t0.yaml", ("gate-close.reason",)),
    Requirement("DQOS-T1", "protocol.md 3.5", "Gate-Set with T1 = 1 s, no commit",
                "Gate-Close reason 5 (T1 expired) within t1_wait", "dqos_t1.yaml", ("gate-close.reason",)),
    Requirement("DQOS-OPEN-CLOSE", "protocol.md 3.4, 3.5", "Gate-Set; the MTA commits, then hangs up",
                "Gate-Open; then Gate-Close reason 0 (client-initiated release)", "dqos_commit.yaml",
                ("gate-close.reason",)),
)


class Outcome(str, enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    SKIPPED = "skipped"
    NOT_TESTABLE = "not testable"  # needs what a lab has and the run was not told of: a real MTA


@dataclass(frozen=True)
class Row:
    requirement: Requirement
    outcome: Outcome
    detail: str  # why it failed or was skipped; the findings that failed it


def scenarios() -> list[Scenario]:
    """The suite's scenarios, in the order of the rows that use them."""
    return [load_scenario(SUITE / requirement.scenario) for requirement in REQUIREMENTS if requirement.scenario]


def judge(results: list[ScenarioResult]) -> list[Row]:
    """One row per requirement from the suite's results (each row's scenario, and every finding)."""
    by_file = {Path(result.source).name: result for result in results if result.source}
    findings = [finding for result in results for finding in result.findings]
    received = sum(not record.outgoing for result in results for record in result.trace)
    rows = []
    for requirement in REQUIREMENTS:
        broken = [finding for finding in findings if finding.rule in requirement.rules]
        if requirement.scenario is not None:
            result = by_file.get(requirement.scenario)
            rows.append(_scenario_row(requirement, result, broken))
        elif broken:
            rows.append(Row(requirement, Outcome.FAIL, _findings(broken)))
        elif not received:
            rows.append(Row(requirement, Outcome.SKIPPED, "the CMTS sent nothing to check"))
        else:
            rows.append(Row(requirement, Outcome.PASS, f"{received} messages from the CMTS checked"))
    return rows


def _scenario_row(requirement: Requirement, result: ScenarioResult | None, broken: list) -> Row:
    if result is None or result.interrupted:
        return Row(requirement, Outcome.SKIPPED, "interrupted before it ran" if result is None else "interrupted")
    if result.skipped:
        needs = result.skip_reason or ""
        if "--mta" in needs:
            return Row(requirement, Outcome.NOT_TESTABLE, f"not testable without a real MTA ({needs})")
        return Row(requirement, Outcome.SKIPPED, needs)
    if result.failed:
        first = result.failures[0]
        return Row(requirement, Outcome.FAIL, f"{first.title}: {first.message}")
    if broken:
        return Row(requirement, Outcome.FAIL, _findings(broken))
    return Row(requirement, Outcome.PASS, "")


def _findings(findings: list) -> str:
    first = findings[0]
    more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
    return f"{first.rule}: {first.message}: {first.text}{more}"
