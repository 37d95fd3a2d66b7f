"""Ladders built through the model from real messages, for the tests of what draws them."""

from __future__ import annotations

import ipaddress

from cms_sim.report.ladder_model import LadderModel
from cms_sim.scenario.result import ScenarioResult, StepResult, Verdict
from cops_core.dqos import GateInfo, GateInfoErr, PacketCableError, decision_for, report_for
from cops_core.objects import Handle
from cops_core.trace import TraceRecord

MTA = ipaddress.IPv4Address("10.0.1.10")
HERE, THERE = ("127.0.0.1", 40000), ("127.0.0.1", 2126)
LONG_ERROR = "gate 0x0badcafe tid 2 error 4 subscriber exceeded gate limit (sub-code 0x0501)"
FAILURE = "expected Gate-Info-Ack, got Gate-Info-Err: subscriber exceeded gate limit"


def record(time: float, outgoing: bool, message) -> TraceRecord:
    return TraceRecord(time, 0.0, outgoing, HERE, THERE, message, message.encode())


def audit_of_a_lost_gate() -> LadderModel:
    """A Gate-Info answered by a Gate-Info-Err with a long detail, the step failed; then a wait.  Then a scenario
    skipped for want of a modem."""
    result = ScenarioResult("audit of a lost gate", "Gate-Info on a gate the CMTS does not hold.", "lab.yaml",
                            "127.0.0.1:2126", {}, None, 0.0, started=10.0)
    model = LadderModel()
    model.begin(result, "lab.yaml")
    handle = Handle.from_int(1)
    result.trace += [record(10.001, True, decision_for(handle, GateInfo(2, MTA, 0x0BADCAFE))),
                     record(10.002, False, report_for(handle, GateInfoErr(2, PacketCableError(4, 0x0501), MTA,
                                                                          0x0BADCAFE)))]
    audit = StepResult((1,), "gate_info", "audit the gate", 5, Verdict.FAILED, FAILURE, started=10.001,
                       latency_ms=1.0)
    wait = StepResult((2,), "wait", "wait", 6, Verdict.PASSED, "waited 0.500 s", started=10.01, duration_ms=500)
    for step in (audit, wait):
        result.steps.append(step)
        model.step_done(step)
    model.end(result)
    result.verdict = Verdict.FAILED
    skipped = ScenarioResult("a call", "Needs a modem.", "call.yaml", "127.0.0.1:2126", {}, None, 0.0,
                             verdict=Verdict.SKIPPED, skip_reason="needs an MTA (run with --mta)")
    model.begin(skipped, "call.yaml")
    model.end(skipped)
    return model
