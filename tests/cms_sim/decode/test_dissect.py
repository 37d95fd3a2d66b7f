"""What the decoder shows of each field: the common header, reserved bytes, units, code meanings, tshark's values,
and the bytes each field stands for (the HTML ladder marks them)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cms_sim.cli import main
from cms_sim.decode.descriptions import dscp_name
from cms_sim.decode.dissect import dissect
from cms_sim.decode.tree import message_node
from cops_core.dqos import GateCommandType, GateID

from .test_command import GATE_SET, SECTION_4, _hex
from .test_findings import dec, tid

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "dqos_call.pcap"


def sample_records() -> list[dict]:
    result = CliRunner().invoke(main, ["decode", "--json", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


def by_frame(frame: int) -> dict:
    return next(record for record in sample_records() if record["frame"] == frame)


def test_the_common_header_is_shown_field_by_field():
    view = dissect(bytes.fromhex("1109000000000008"))  # a KA echo: solicited
    assert [(field.label, field.text) for field in view.header] == [
        ("Version", "1"), ("Flags", "0x1 (Solicited message)"), ("Op-Code", "Keep-Alive (KA) (9)"),
        ("Client-Type", "Connection (0x0000)"), ("Message Length", "8 bytes")]
    assert view.solicited and view.flags == 1
    undefined = dissect(bytes.fromhex("1309000000000008"))
    assert undefined.header[1].text == "0x3 (Solicited message, undefined 0x2)"


def test_json_has_the_version_and_flag_bits():
    gate_set, ack = by_frame(9), by_frame(10)
    assert (gate_set["version"], gate_set["flags"], gate_set["solicited"]) == (1, 0, False)
    assert (ack["version"], ack["flags"], ack["solicited"]) == (1, 1, True)


def test_reserved_bytes_are_fields_in_wire_order():
    gate_set = by_frame(9)
    spec = gate_set["objects"][3]["packetcable"][4]["fields"]
    keys = list(spec)
    assert keys[keys.index("ds_field"):keys.index("t7") + 1] == ["ds_field", "reserved_1", "t1", "reserved_2", "t7"]
    assert (spec["reserved_1"], spec["reserved_2"]) == (0, 0)
    report_type = by_frame(10)["objects"][1]["fields"]
    assert report_type == {"report_type": 1, "report_type_name": "Success", "reserved": 0}


def test_rates_and_sizes_carry_units_and_codes_say_what_they_mean():
    result = CliRunner().invoke(main, ["decode", str(SAMPLE)])
    for line in ["Token Bucket Rate (r): 10000.0 bytes/s", "Token Bucket Size (b): 200.0 bytes",
                 "Peak Data Rate (p): 10000.0 bytes/s", "Rate (R): 10000.0 bytes/s",
                 "Minimum Policed Unit (m): 200 bytes", "Slack Term (S): 800 µs", "Timer T1: 250 s",
                 "DS Field: 0xb8 (DSCP 46, EF)", "Session Class: Normal (1) — normal priority VoIP session",
                 "Command-Code: Install (1) — admit the request, install the configuration",
                 "Report-Type: Accounting (3) — an update for an installed state",
                 "Reason Sub-code: Client initiated release (0) — normal operation",
                 "Error-Code: Shutting down (11)"]:
        assert line in result.output
    assert by_frame(9)["objects"][3]["packetcable"][4]["fields"]["token_bucket_rate"] == 10000.0  # JSON: a number


@pytest.mark.parametrize("ds_field, name", [(0xB8, "EF"), (0x88, "AF41"), (0x28, "AF11"), (0x60, "CS3"),
                                            (0x00, "default"), (0xB0, "VOICE-ADMIT"), (0x04, "unassigned")])
def test_dscp_names(ds_field, name):
    assert dscp_name(ds_field) == name


# tshark -V label (in the Gate-Spec and the objects before it) -> our JSON field, in the order tshark shows them.
TSHARK_GATE_SPEC = {
    "Direction": "direction", "Protocol ID": "protocol", "Flags": "flags", "Session Class": "session_class",
    "Source IP Address": "source_ip", "Destination IP Address": "destination_ip", "Source IP Port": "source_port",
    "Destination IP Port": "destination_port", "DS Field (DSCP or TOS)": "ds_field", "Timer T1 Value (sec)": "t1",
    "Reserved": "reserved_2", "Timer T7 Value (sec)": "t7", "Timer T8 Value (sec)": "t8",
    "Token Bucket Rate": "token_bucket_rate", "Token Bucket Size": "token_bucket_size",
    "Peak Data Rate": "peak_data_rate", "Minimum Policed Unit": "minimum_policed_unit",
    "Maximum Packet Size": "maximum_packet_size", "Rate": "rate", "Slack Term": "slack_term",
}
TSHARK_LINE = re.compile(r"^\s+(?P<label>[^:]+?)\s*:\s+(?P<value>.+)$", re.M)


def _tshark_value(text: str):
    """A value as tshark -V prints it: "Normal priority VoIP session (1)" -> 1, "0xb8" -> 184, "10000" -> 10000."""
    code = re.search(r"\((\d+)\)$", text)
    if code:
        return int(code.group(1))
    if text.startswith("0x"):
        return int(text, 16)
    return text if "." in text else float(text)


def test_every_field_tshark_shows_of_a_gate_set_has_the_same_value_here(tshark):
    """Frame 9 of the sample, a Gate-Set DEC with two Gate-Specs, field by field against tshark -V."""
    detail = tshark("-r", str(SAMPLE), "-V", "-Y", "frame.number==9")
    cops = detail[detail.index("Common Open Policy Service"):]
    header = cops[:cops.index("Handle Object")]
    record = by_frame(9)
    assert re.search(r"= Version: (\d+)", header)[1] == str(record["version"])
    assert re.search(r"= Flags: .* \((0x\d+)\)", header)[1] == hex(record["flags"])
    assert re.search(r"Message Length: (\d+)", header)[1] == str(record["length"])
    specs = [spec for spec in re.split(r"\n\s+Gate Specifications\n", cops)[1:]]
    ours = [child["fields"] for child in record["objects"][3]["packetcable"] if child["name"] == "Gate-Spec"]
    assert len(specs) == len(ours) == 2
    for text, fields in zip(specs, ours):
        shown = [(m["label"], m["value"]) for m in TSHARK_LINE.finditer(text)]
        assert [label for label, _ in shown] == list(TSHARK_GATE_SPEC)
        for label, value in shown:
            assert _tshark_value(value) == fields[TSHARK_GATE_SPEC[label]], label
    before = cops[:cops.index("Gate Specifications")]
    assert f"D-QoS Transaction Identifier : {record['transaction_id']}" in before
    assert f"Gate Identifier              : 0x{record['gate_id']:08x}" in before
    assert f"Subscriber Identifier (IPv4): {record['subscriber']}" in before
    assert "Gate Command Type            : Gate Set (4)" in before and record["gate_command"] == "Gate-Set"


@pytest.mark.parametrize("message", SECTION_4, ids=["OPN", "CAT", "REQ", "Gate-Set", "Gate-Set-Ack", "KA",
                                                     "KA-echo", "Gate-Set-Err", "Gate-Close"])
def test_each_field_knows_its_bytes(message):
    """Every field's bytes, reserved ones too, lie in its object's body, apart from the others', and hold its value
    (the HTML ladder marks them when the field is clicked)."""
    data = _hex(message)
    views = list(dissect(data).objects)
    while views:
        view = views.pop()
        views += view.children or ()
        taken = set()
        for field in view.fields:
            span = range(field.offset, field.offset + field.size)
            assert field.size and view.offset + 4 <= span.start and span.stop <= view.offset + view.length, field
            assert not taken & set(span), field
            taken |= set(span)
            if type(field.value) is int and field.size <= 4:
                assert int.from_bytes(data[span.start:span.stop], "big") == field.value, field
            elif field.key in ("value", "identifier"):  # a Handle, a PEP Id: the whole body
                assert field.size == view.length - 4


@pytest.mark.parametrize("message", SECTION_4, ids=["OPN", "CAT", "REQ", "Gate-Set", "Gate-Set-Ack", "KA",
                                                     "KA-echo", "Gate-Set-Err", "Gate-Close"])
def test_the_common_header_fields_know_their_bytes(message):
    """Version and flags share the first byte (a nibble each); op-code, client-type and length have their own."""
    data = _hex(message)
    header = dissect(data).header
    assert [(field.key, field.offset, field.size) for field in header] == [
        ("version", 0, 1), ("flags", 0, 1), ("opcode", 1, 1), ("client_type", 2, 2), ("length", 4, 4)]
    assert (data[0] >> 4, data[0] & 0x0F) == (header[0].value, header[1].value)
    for field in header[2:]:
        assert int.from_bytes(data[field.offset:field.offset + field.size], "big") == field.value, field


def test_a_gate_spec_field_points_at_its_own_bytes():
    carrier = dissect(_hex(GATE_SET)).objects[3]
    downstream, upstream = carrier.children[3:]
    assert [(field.offset, field.size) for field in upstream.fields if field.key == "destination_port"] == [(138, 2)]
    assert [(field.key, field.offset, field.size) for field in upstream.fields if field.label == "Reserved"] == [
        ("reserved_1", 141, 3), ("reserved_2", 146, 2)]  # after the DS Field, after Timer T1
    assert (downstream.offset, upstream.offset) == (60, 120)


def test_every_line_of_the_tree_knows_its_bytes_the_common_header_and_findings_too():
    """The tree the HTML ladder shows: each line's bytes lie within its parent's; a finding stands for none."""
    data = dec(tid(GateCommandType.GATE_INFO) + GateID(0xA001).encode())  # no Subscriber-ID: a finding
    root = message_node(dissect(data))
    assert (root.offset, root.size) == (0, len(data))
    common = root.children[0]
    assert (common.label.plain, common.offset, common.size) == ("Common header, 8 bytes", 0, 8)
    assert [(line.label.plain, line.offset, line.size) for line in common.children][2:] == [
        ("Op-Code: Decision (DEC) (2)", 1, 1), ("Client-Type: PacketCable DQoS (0x8008)", 2, 2),
        ("Message Length: 52 bytes", 4, 4)]
    findings = [line for line in root.children if line.label.plain.startswith("⚠ ")]
    assert findings and all(line.size == 0 for line in findings)
    lines = [(root, line) for line in root.children if line not in findings]
    while lines:
        parent, line = lines.pop()
        assert line.size and parent.offset <= line.offset and line.offset + line.size <= parent.offset + parent.size
        lines += [(line, child) for child in line.children]
