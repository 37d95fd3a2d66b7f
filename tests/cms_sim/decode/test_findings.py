"""Findings: a message that can be read but breaks a rule decodes in full (exit 0) with a warning line per rule.

``--strict`` turns findings into exit 1; only bytes that cannot be read fail
without it.  The last tests run every shipped scenario against the embedded
CMTS, capture it as ``cms-sim run --pcap`` does, and decode the capture.
"""

from __future__ import annotations

import json
import re
from ipaddress import IPv4Address
from pathlib import Path

import dpkt
import pytest
from click.testing import CliRunner

from cms_sim.cli import main
from cms_sim.decode import findings
from cms_sim.report.capture import write_capture
from cms_sim.scenario import load_scenario, run_embedded
from cops_core.codes import ClientType, ReportType
from cops_core.dqos import (
    GateClose,
    GateCommandType,
    GateDelete,
    GateID,
    GateSpec,
    PacketCableReason,
    SubscriberIDIPv4,
    TransactionID,
    UnknownPacketCableObject,
    decision_for,
    report_for,
)
from cops_core.messages import ClientAccept, Decision, KeepAlive, Report
from cops_core.objects import (
    ClientSpecificDecision,
    Context,
    DecisionFlags,
    Handle,
    ReportTypeObject,
    SignaledClientSI,
    UnknownObject,
)

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
HANDLE = Handle.from_int(1)
MTA = IPv4Address("10.0.1.10")
GATE = 0xA001
DQOS = ClientType.PACKETCABLE_DQOS
SUB = SubscriberIDIPv4(MTA).encode()
SPEC = GateSpec(direction=0, protocol=17, flags=0, session_class=1, source_ip=IPv4Address("10.1.1.20"),
                destination_ip=MTA, source_port=0, destination_port=16384, ds_field=0xB8, t1=250, t7=200, t8=0,
                token_bucket_rate=10000.0, token_bucket_size=200.0, peak_data_rate=10000.0, minimum_policed_unit=200,
                maximum_packet_size=200, rate=10000.0, slack_term=800)


def tid(command: GateCommandType, value: int = 0x1234) -> bytes:
    return TransactionID(value, command).encode()


def dec(payload: bytes) -> bytes:
    """A gate controller's DEC carrying ``payload`` in its 6/4, as real ones are laid out (protocol.md 3.1)."""
    return Decision((HANDLE, Context(8), DecisionFlags(1, 1), ClientSpecificDecision(payload)), DQOS, False).encode()


def rpt(payload: bytes, report_type: int = ReportType.SUCCESS, *, solicited: bool = True) -> bytes:
    return Report((HANDLE, ReportTypeObject(report_type), SignaledClientSI(payload)), DQOS, solicited).encode()


def decode(frame: bytes, *options: str):
    return CliRunner().invoke(main, ["decode", *options, frame.hex()])


def decoded_findings(frame: bytes) -> list[dict]:
    """The frame's findings, after checking it decodes in full with exit 0, and that --strict fails on them."""
    result = decode(frame, "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert "error" not in record  # every byte was read
    assert decode(frame, "--strict").exit_code == (1 if record["findings"] else 0)
    return record["findings"]


def the_finding(frame: bytes) -> dict:
    found = decoded_findings(frame)
    assert len(found) == 1, found
    return found[0]


# Gate-Delete with Subscriber-ID 0.0.0.0 is what the reference's own examples and real GCs send: no finding.
GATE_DELETE = decision_for(HANDLE, GateDelete(9, IPv4Address(0), GATE, PacketCableReason(0, 0))).encode()


@pytest.mark.parametrize("command", [GateCommandType.GATE_INFO, GateCommandType.GATE_DELETE], ids=lambda c: c.title)
def test_a_gate_info_or_delete_without_subscriber_id_decodes_in_full_with_one_finding(command):
    """What some gate controllers send and Wireshark decodes; a CMTS answers it with PacketCable-Error 6."""
    frame = dec(tid(command) + GateID(GATE).encode())
    result = decode(frame)
    assert result.exit_code == 0, result.output
    assert f"COPS Decision (DEC) — {command.title}, 52 bytes" in result.output
    assert "Gate Identifier: 0x0000a001" in result.output and "Malformed" not in result.output
    assert (f"⚠ dqos.missing-object: {command.title} lacks its Subscriber-ID (IPv4) (2/1); a CMTS answers "
            f"PacketCable-Error 6, sub-code 0x0201 (protocol.md §3.4, §3.6)") in result.output
    assert decode(frame, "--strict").exit_code == 1
    record = json.loads(decode(frame, "--json").output)
    assert (record["gate_command"], record["gate_id"], record["transaction_id"], record["subscriber"]) == (
        command.title, GATE, 0x1234, None)


def test_a_well_formed_command_has_no_finding_and_passes_strict():
    assert decoded_findings(GATE_DELETE) == []
    assert decoded_findings(report_for(HANDLE, GateClose(0, GATE, MTA, PacketCableReason(1, 0))).encode()) == []


RULE_CASES = {
    "KA with the DQoS client-type": (
        KeepAlive((), DQOS, False).encode(), "ka.client-type", "client-type 0x8008; a Keep-Alive's is 0"),
    "undefined header flag": (
        bytes([0x12]) + KeepAlive((), 0, False).encode()[1:], "header.flags",
        "flags 0x2: only 0x1 (solicited) is defined, the others must be 0"),
    "RPT without Report-Type": (
        Report((HANDLE, SignaledClientSI(tid(5) + GateID(GATE).encode())), DQOS, True).encode(), "cops.grammar",
        "RPT lacks its mandatory Report-Type object"),
    "unknown C-Num": (
        Report((HANDLE, ReportTypeObject(1), UnknownObject(20, 1, b"\0\0\0\0")), DQOS, True).encode(),
        "cops.unknown-object", "objects RFC 2748 does not define: C-Num/C-Type 20/1"),
    "non-zero reserved bytes": (  # a CAT whose KA Timer's reserved half is 1
        ClientAccept.new(30).encode()[:12] + b"\x00\x01\x00\x1e", "reserved",
        "KA Timer: reserved bytes 0x0001, not zero"),
    "Ack in Report-Type Failure": (
        rpt(tid(5) + SUB + GateID(GATE).encode(), ReportType.FAILURE), "dqos.report-type",
        "Report-Type 2; a Gate-Set-Ack travels in Report-Type 1 (success)"),
    "Gate-Set in an RPT": (
        rpt(tid(4) + SUB + SPEC.encode()), "dqos.carrier",
        "a Gate-Set in an RPT; it travels in a DEC (gate controller to CMTS)"),
    "Gate-Open in a DEC": (
        dec(tid(13, 0) + GateID(GATE).encode()), "dqos.carrier",
        "a Gate-Open in a DEC; it travels in an RPT (CMTS to gate controller)"),
    "unknown Gate Command Type": (
        dec(tid(15) + SUB), "dqos.command-type", "Gate Command Type 15 is not one of the 14 DQoS commands"),
    "no Transaction-ID": (
        dec(SUB + GateID(GATE).encode()), "dqos.missing-object",
        "no Transaction-ID, so no gate command; a CMTS answers PacketCable-Error 6, sub-code 0x0101"),
    "object of another command and unknown S-Num": (
        dec(tid(10) + SUB + GateID(GATE).encode() + SPEC.encode()
            + UnknownPacketCableObject(12, 1, b"\0\0\0\0").encode()), "dqos.extra-object",
        "objects a Gate-Delete does not carry (or a second copy): Gate-Spec (5/1), S-Num/S-Type 12/1"),
    "Gate-ID before Subscriber-ID": (
        dec(tid(7) + GateID(GATE).encode() + SUB), "dqos.object-order",
        "objects out of the order the reference lists: Transaction-ID (1/1), Gate-ID (3/1), "
        "Subscriber-ID (IPv4) (2/1)"),
    "Transaction-ID not first": (
        dec(SUB + tid(7) + GateID(GATE).encode()), "dqos.object-order",
        "the Transaction-ID is not the first object but number 2"),
    "Gate-Close with the Gate-Delete reason code": (
        rpt(tid(14, 0) + SUB + GateID(GATE).encode() + PacketCableReason(0, 0).encode(), ReportType.ACCOUNTING,
            solicited=False), "dqos.reason", "PacketCable-Reason code 0; a Gate-Close carries code 1 (gate-close)"),
    "reserved session class": (
        dec(tid(4) + SUB + SPEC._replace(session_class=3).encode()), "dqos.gate-spec",
        "Gate-Spec 1: session class 3, not 0, 1 or 2; a CMTS answers PacketCable-Error 3"),
    "direction 2": (
        dec(tid(4) + SUB + SPEC._replace(direction=2).encode()), "dqos.gate-spec",
        "Gate-Spec 1: direction 2, not 0 (downstream) or 1 (upstream)"),
    "two downstream Gate-Specs": (
        dec(tid(4) + SUB + SPEC.encode() + SPEC.encode()), "dqos.gate-spec",
        "2 Gate-Specs for direction 0; one per direction"),
}


@pytest.mark.parametrize("frame, rule, text", RULE_CASES.values(), ids=RULE_CASES)
def test_each_rule_is_one_finding_with_its_section(frame, rule, text):
    finding = the_finding(frame)
    assert (finding["rule"], finding["text"]) == (rule, text)
    assert finding["section"] == next(r.section for r in vars(findings).values()
                                      if isinstance(r, findings.Rule) and r.name == rule)
    assert rule in findings.RULE_NAMES


def test_a_message_that_breaks_the_grammar_still_shows_every_object():
    frame = RULE_CASES["RPT without Report-Type"][0]
    result = decode(frame)
    assert result.exit_code == 0, result.output
    assert "COPS Report State (RPT) — Gate-Set-Ack, 36 bytes" in result.output
    assert "Gate Identifier: 0x0000a001" in result.output
    assert "⚠ cops.grammar: RPT lacks its mandatory Report-Type object (protocol.md §2.6)" in result.output


def test_findings_go_with_their_message_in_a_stream_of_several():
    result = CliRunner().invoke(main, ["decode", "--json", GATE_DELETE.hex() + RULE_CASES["direction 2"][0].hex()])
    clean, bad = map(json.loads, result.output.splitlines())
    assert result.exit_code == 0
    assert clean["findings"] == [] and [f["rule"] for f in bad["findings"]] == ["dqos.gate-spec"]


SHORT_SPEC = b"\x00\x38\x05\x01" + SPEC.encode()[4:56]  # a Gate-Spec of 56 bytes, saying so in its Length


@pytest.mark.parametrize("frame, why", [
    (bytes.fromhex("100b000000000008"), "unknown op-code 11"),
    (dec(tid(4) + SUB + SHORT_SPEC), "GateSpec object length 56, expected 60"),
], ids=["unknown op-code", "Gate-Spec of 56 bytes"])
def test_what_cannot_be_read_fails_without_strict(frame, why):
    result = decode(frame)
    assert result.exit_code == 1
    assert why in result.output


# --- every shipped scenario, captured as `cms-sim run --pcap` captures it ---------------------------------

# The scenarios that send a bad message on purpose, and the rules it breaks; every other capture has no finding.
DELIBERATE = {
    "missing_object": {"dqos.missing-object"},  # a Gate-Set without Gate-Spec
    "illegal_session_class": {"dqos.gate-spec"},  # Gate-Specs of session class 3
}


def test_the_deliberately_bad_scenarios_are_shipped():
    assert set(DELIBERATE) <= {path.stem for path in SHIPPED}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.stem)
async def test_the_capture_of_every_shipped_scenario_decodes_and_strict_fails_only_on_deliberate_faults(
        path, autojump_clock, tmp_path):
    result = await run_embedded(load_scenario(path))
    pcap = tmp_path / f"{path.stem}.pcap"
    assert write_capture(result.trace, pcap) == len(result.trace) > 0
    port = ["--port", str(result.trace[0].peer[1])]  # the embedded CMTS's, not always 2126
    decoded = CliRunner().invoke(main, ["decode", "--json", *port, str(pcap)])
    assert decoded.exit_code == 0, decoded.output
    records = [json.loads(line) for line in decoded.output.splitlines()]
    assert len(records) == len(result.trace) and not any("error" in record for record in records)
    rules = {finding["rule"] for record in records for finding in record["findings"]}
    assert rules == DELIBERATE.get(path.stem, set())
    strict = CliRunner().invoke(main, ["decode", "--strict", *port, str(pcap)])
    assert strict.exit_code == (1 if rules else 0), strict.output


def test_cms_sim_run_pcap_then_decode_end_to_end(tmp_path):
    """The acceptance line as a user types it: `cms-sim run --pcap`, then `cms-sim decode` with and without --strict."""
    pcap = tmp_path / "missing.pcap"
    run = CliRunner().invoke(main, ["run", "-q", "--pcap", str(pcap), str(ROOT / "scenarios" / "missing_object.yaml")])
    assert run.exit_code == 0, run.output
    ports = ["--port", str(_server_port(pcap))]  # 2126, unless another test holds it and the run took a free port
    decoded = CliRunner().invoke(main, ["decode", *ports, str(pcap)])
    assert decoded.exit_code == 0, decoded.output
    assert re.search(r"⚠ dqos\.missing-object: Gate-Set lacks its Gate-Spec \(5/1\)", decoded.output)
    assert "Error-Code: Missing required object (6)" in decoded.output  # the CMTS's answer, decoded too
    assert CliRunner().invoke(main, ["decode", "--strict", *ports, str(pcap)]).exit_code == 1


def _server_port(pcap: Path) -> int:
    """The TCP port the capture's first SYN goes to: the CMTS's."""
    with pcap.open("rb") as capture:
        for _, frame in dpkt.pcap.Reader(capture):
            return dpkt.ethernet.Ethernet(frame).data.data.dport
    raise AssertionError("empty capture")
