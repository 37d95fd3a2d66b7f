"""``cms-sim decode`` on hex and binary input: every protocol.md section 4 message, JSON, errors, input forms."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cms_sim.cli import main
from cops_core import __version__, decode_message
from cops_core.dqos import decode_packetcable_objects
from cops_core.objects import ClientSpecificDecision, SignaledClientSI

# protocol.md section 4, byte for byte (offsets and annotations dropped).
OPN = "10 06 80 08 00 00 00 18  00 10 0b 01 43 4d 54 53 2d 4c 41 42 31 00 00 00"
CAT = "10 07 80 08 00 00 00 10 | 00 08 0a 01 00 00 00 1e"
REQ = "10 01 80 08 00 00 00 18 | 00 08 01 01 00 00 00 01 | 00 08 02 01 00 08 00 00"
GATE_SET = """
10 02 80 08 00 00 00 b4  00 08 01 01 00 00 00 01  00 08 02 01 00 08 00 00  00 08 06 01 00 01 00 01
00 94 06 04  00 08 01 01 12 34 00 04  00 08 02 01 0a 00 01 0a  00 08 04 01 00 00 00 04
00 3c 05 01  00 11 00 01  0a 01 01 14 0a 00 01 0a  00 00 40 00 b8 00 00 00  00 fa 00 00 00 c8 00 00
46 1c 40 00 43 48 00 00  46 1c 40 00 00 00 00 c8  00 00 00 c8 46 1c 40 00  00 00 03 20
00 3c 05 01 01 11 00 01  0a 00 01 0a 0a 01 01 14  00 00 40 00 b8 00 00 00  00 fa 00 00 00 c8 00 00
46 1c 40 00 43 48 00 00 46 1c 40 00  00 00 00 c8 00 00 00 c8 46 1c 40 00 00 00 03 20
"""
GATE_SET_ACK = """11 03 80 08 00 00 00 3c  00 08 01 01 00 00 00 01  00 08 0c 01 00 01 00 00  00 24 09 01
00 08 01 01 12 34 00 05  00 08 02 01 0a 00 01 0a  00 08 03 01 00 00 a0 01  00 08 04 01 00 00 00 01"""
KA = "10 09 00 00 00 00 00 08"
KA_ECHO = "11 09 00 00 00 00 00 08"
GATE_SET_ERR = """11 03 80 08 00 00 00 34 | 00 08 01 01 00 00 00 01 | 00 08 0c 01 00 02 00 00 | 00 1c 09 01 |
00 08 01 01 12 35 00 06 | 00 08 02 01 0a 00 01 0a | 00 08 09 01 00 06 05 01"""
GATE_CLOSE = """10 03 80 08 00 00 00 3c | 00 08 01 01 00 00 00 01 | 00 08 0c 01 00 03 00 00 | 00 24 09 01 |
00 08 01 01 00 00 00 0e | 00 08 02 01 0a 00 01 0a | 00 08 03 01 00 00 a0 01 | 00 08 0d 01 00 01 00 00"""
SECTION_4 = [OPN, CAT, REQ, GATE_SET, GATE_SET_ACK, KA, KA_ECHO, GATE_SET_ERR, GATE_CLOSE]
# protocol.md 4.4's signed Keep-Alive (HMAC-MD5-96, Key ID 1, sequence number 0x2a).
KA_SIGNED = "10 09 00 00 00 00 00 20 | 00 18 10 01 00 00 00 01 00 00 00 2a | a0 2e 2a 3f 85 22 23 38 28 11 95 83"

GATE_SPEC_LINES = [
    "Gate-Spec (S-Num/S-Type 5/1), 60 bytes",
    "Direction: Downstream (0) — downstream gate, toward the subscriber",
    "Direction: Upstream (1) — upstream gate, from the subscriber", "Protocol ID: UDP (17)", "Flags: 0x00",
    "Session Class: Normal (1) — normal priority VoIP session", "Source IP Address: 10.1.1.20",
    "Destination IP Address: 10.0.1.10", "Source IP Address: 10.0.1.10", "Destination IP Address: 10.1.1.20",
    "Source Port: 0 (any)", "Destination Port: 16384", "DS Field: 0xb8 (DSCP 46, EF)", "Reserved: 0x000000",
    "Timer T1: 250 s", "Reserved: 0x0000", "Timer T7: 200 s", "Timer T8: 0 s",
    "Token Bucket Rate (r): 10000.0 bytes/s", "Token Bucket Size (b): 200.0 bytes",
    "Peak Data Rate (p): 10000.0 bytes/s", "Minimum Policed Unit (m): 200 bytes",
    "Maximum Packet Size (M): 200 bytes", "Rate (R): 10000.0 bytes/s", "Slack Term (S): 800 µs",
]
EXPECTED_LINES = {
    OPN: ["COPS Client-Open (OPN), 24 bytes, client-type PacketCable DQoS (0x8008), solicited no",
          "PEPID (C-Num/C-Type 11/1), 16 bytes", "PEP Id: CMTS-LAB1"],
    CAT: ["COPS Client-Accept (CAT), 16 bytes", "KA Timer (C-Num/C-Type 10/1), 8 bytes", "Reserved: 0x0000",
          "KA Timer Value: 30 s"],
    REQ: ["COPS Request (REQ), 24 bytes", "Handle (C-Num/C-Type 1/1), 8 bytes", "Handle: 0x00000001",
          "Context (C-Num/C-Type 2/1), 8 bytes", "R-Type: 0x0008 (Configuration)", "M-Type: 0"],
    GATE_SET: ["COPS Decision (DEC) — Gate-Set, 180 bytes, client-type PacketCable DQoS (0x8008), solicited no",
               "Handle: 0x00000001", "R-Type: 0x0008 (Configuration)",
               "Decision: Flags (C-Num/C-Type 6/1), 8 bytes",
               "Command-Code: Install (1) — admit the request, install the configuration",
               "Flags: 0x0001 (Trigger error — report an error if the decision cannot be carried out)",
               "Decision: Client Specific Decision Data (C-Num/C-Type 6/4), 148 bytes — Gate-Set",
               "Transaction-ID (S-Num/S-Type 1/1), 8 bytes", "Transaction Identifier: 0x1234 (4660)",
               "Gate Command Type: Gate-Set (4)", "Subscriber Identifier: 10.0.1.10",
               "Activity-Count (S-Num/S-Type 4/1), 8 bytes", "Count: 4", *GATE_SPEC_LINES],
    GATE_SET_ACK: ["COPS Report State (RPT) — Gate-Set-Ack, 60 bytes, client-type PacketCable DQoS (0x8008), "
                   "solicited yes", "Report-Type: Success (1) — the decision was carried out at the PEP",
                   "ClientSI: Signaled (C-Num/C-Type 9/1), 36 bytes",
                   "Gate Command Type: Gate-Set-Ack (5)", "Subscriber Identifier: 10.0.1.10",
                   "Gate-ID (S-Num/S-Type 3/1), 8 bytes", "Gate Identifier: 0x0000a001", "Count: 1"],
    KA: ["COPS Keep-Alive (KA), 8 bytes, client-type Connection (0x0000), solicited no", "Common header, 8 bytes",
         "Version: 1", "Flags: 0x0 (none)", "Op-Code: Keep-Alive (KA) (9)", "Client-Type: Connection (0x0000)",
         "Message Length: 8 bytes"],
    KA_ECHO: ["COPS Keep-Alive (KA), 8 bytes, client-type Connection (0x0000), solicited yes",
              "Flags: 0x1 (Solicited message)"],
    GATE_SET_ERR: ["COPS Report State (RPT) — Gate-Set-Err, 52 bytes", "Report-Type: Failure (2)",
                   "Transaction Identifier: 0x1235 (4661)", "PacketCable-Error (S-Num/S-Type 9/1), 8 bytes",
                   "Error-Code: Missing required object (6) — the sub-code names the object",
                   "Error Sub-code: 0x0501 (Gate-Spec S-Num/S-Type 5/1)"],
    GATE_CLOSE: ["COPS Report State (RPT) — Gate-Close, 60 bytes", "solicited no", "Report-Type: Accounting (3)",
                 "Transaction Identifier: 0x0000 (0)", "Gate Command Type: Gate-Close (14)",
                 "Gate Identifier: 0x0000a001", "PacketCable-Reason (S-Num/S-Type 13/1), 8 bytes",
                 "Reason Code: Gate-Close (1)", "Reason Sub-code: Client initiated release (0) — normal operation"],
}


def _hex(text: str) -> bytes:
    return bytes.fromhex(text.replace("|", " "))


def run(*args: str, input: str | bytes | None = None):
    return CliRunner().invoke(main, list(args), input=input)


@pytest.mark.parametrize("message", SECTION_4, ids=["OPN", "CAT", "REQ", "Gate-Set", "Gate-Set-Ack", "KA",
                                                     "KA-echo", "Gate-Set-Err", "Gate-Close"])
def test_section_4_messages_decode_with_their_field_values(message):
    result = run("decode", message)
    assert result.exit_code == 0, result.output
    for line in EXPECTED_LINES[message]:
        assert line in result.output
    assert "\x1b[" not in result.output
    assert "⚠" not in result.output  # the reference's own examples break no rule


@pytest.mark.parametrize("message", SECTION_4)
def test_json_has_every_field_of_every_object(message):
    """Each object the codec decodes, nested PacketCable ones included, has every one of its fields in the JSON."""
    result = run("decode", "--json", message)
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    decoded = decode_message(_hex(message))
    assert [(obj["cnum"], obj["ctype"]) for obj in record["objects"]] == [(o.NUM, o.TYPE) for o in decoded.objects]
    for obj, shown in zip(decoded.objects, record["objects"]):
        if type(obj) in (ClientSpecificDecision, SignaledClientSI):
            nested = decode_packetcable_objects(obj.data)
            assert [(c["snum"], c["stype"]) for c in shown["packetcable"]] == [(o.NUM, o.TYPE) for o in nested]
            for child, child_shown in zip(nested, shown["packetcable"]):
                assert set(child._fields) <= set(child_shown["fields"])
        else:
            assert set(obj._fields) <= set(shown["fields"])


def test_json_documented_keys_and_nested_gate_command():
    result = run("decode", "--json", GATE_SET)
    assert result.exit_code == 0
    record = json.loads(result.output)
    assert record["opcode"] == "DEC"
    assert record["client_type"] == 0x8008 and record["client_type_name"] == "PacketCable DQoS"
    assert record["solicited"] is False and record["length"] == 180
    assert record["gate_command"] == "Gate-Set"
    handle, context, flags, carrier = record["objects"]
    assert handle == {"cnum": 1, "ctype": 1, "name": "Handle", "offset": 8, "length": 8,
                      "fields": {"value": "00000001"}}
    assert context["fields"] == {"r_type": 8, "r_type_name": "Configuration", "m_type": 0}
    assert flags["fields"]["command_name"] == "Install"
    assert (carrier["cnum"], carrier["ctype"], carrier["length"]) == (6, 4, 148)
    tid, subscriber, activity, downstream, upstream = carrier["packetcable"]
    assert tid["fields"] == {"transaction_id": 0x1234, "command": 4, "command_name": "Gate-Set"}
    assert (tid["snum"], tid["stype"], tid["name"], tid["offset"]) == (1, 1, "Transaction-ID", 36)
    assert subscriber["fields"] == {"address": "10.0.1.10"}
    assert activity["fields"] == {"count": 4}
    assert downstream["fields"]["direction_name"] == "Downstream"
    assert upstream["fields"]["source_ip"] == "10.0.1.10"
    assert upstream["fields"]["ds_field"] == 0xB8
    assert upstream["fields"]["token_bucket_rate"] == 10000.0
    assert upstream["fields"]["slack_term"] == 800


def test_a_signed_message_shows_its_integrity_object_field_by_field():
    result = run("decode", KA_SIGNED)
    assert result.exit_code == 0, result.output
    for line in ("COPS Keep-Alive (KA), 32 bytes", "Message Integrity (HMAC) (C-Num/C-Type 16/1), 24 bytes",
                 "Key ID: 0x00000001", "Sequence Number: 42", "Keyed Message Digest: 0xa02e2a3f8522233828119583"):
        assert line in result.output
    assert "⚠" not in result.output  # an Integrity object as the last object breaks no rule


def test_json_gate_id_and_error_objects():
    lines = run("decode", "--json", GATE_SET_ACK + GATE_SET_ERR).output.splitlines()
    ack, err = map(json.loads, lines)
    assert ack["gate_command"] == "Gate-Set-Ack" and ack["solicited"] is True
    assert ack["objects"][2]["packetcable"][2]["fields"] == {"gate_id": 0xA001}
    assert err["objects"][1]["fields"] == {"report_type": 2, "report_type_name": "Failure", "reserved": 0}
    assert err["objects"][2]["packetcable"][2]["fields"] == {
        "code": 6, "code_name": "Missing required object", "subcode": 0x0501}


def test_several_messages_in_one_input_in_any_hex_spelling():
    spelled = "0x10:0x09:0x00:0x00:0x00:0x00:0x00:0x08\n" + OPN.replace(" ", ":") + "\n" + CAT.upper()
    result = run("decode", spelled)
    assert result.exit_code == 0, result.output
    titles = [line for line in result.output.splitlines() if line.startswith("COPS ")]
    assert [title.split(",")[0] for title in titles] == ["COPS Keep-Alive (KA)", "COPS Client-Open (OPN)",
                                                         "COPS Client-Accept (CAT)"]


def test_hex_from_stdin_with_and_without_dash():
    for args in (["decode"], ["decode", "-"]):
        result = run(*args, input=GATE_SET_ACK + "\n")
        assert result.exit_code == 0
        assert "Gate Identifier: 0x0000a001" in result.output


def test_binary_and_hex_text_files(tmp_path):
    binary = tmp_path / "messages.bin"
    binary.write_bytes(_hex(OPN) + _hex(GATE_SET))
    text = tmp_path / "messages.txt"
    text.write_text(GATE_CLOSE + "\n")
    for args in (["decode", str(binary)], ["decode", "--file", str(binary)]):
        result = run(*args)
        assert result.exit_code == 0, result.output
        assert "PEP Id: CMTS-LAB1" in result.output and "Gate-Set (4)" in result.output
    result = run("decode", str(text))
    assert result.exit_code == 0 and "Reason Code: Gate-Close (1)" in result.output


def test_malformed_message_reports_offset_and_fails_while_others_print():
    bad = "11 03 80 08 00 00 00 10  00 02 01 01 00 00 00 01"  # Handle length 2
    result = run("decode", KA + bad + OPN)
    assert result.exit_code == 1
    out = result.output
    assert ("✗ Malformed COPS message, 16 bytes: object 1/1 has length 2, below the 4-byte minimum"
            " (at offset 8)") in out
    assert "Bad message format (3), sub-code 0x0101" in out
    assert "COPS Keep-Alive (KA)" in out and "PEP Id: CMTS-LAB1" in out
    assert out.index("Keep-Alive") < out.index("Malformed") < out.index("Client-Open")


def test_malformed_message_in_json():
    bad = "11 03 80 08 00 00 00 10  00 02 01 01 00 00 00 01"
    result = run("decode", "--json", KA + bad + OPN)
    assert result.exit_code == 1
    first, error, last = map(json.loads, result.output.splitlines())
    assert first["opcode"] == "KA" and last["opcode"] == "OPN"
    assert error["error"] == "object 1/1 has length 2, below the 4-byte minimum"
    assert (error["offset"], error["error_code"], error["error_subcode"]) == (8, 3, 0x0101)
    assert error["error_scope"] == "message" and error["raw"] == _hex(bad).hex()


def test_a_gate_command_without_a_required_object_is_shown_in_full_with_a_finding():
    """A Gate-Set without its Gate-Spec: every byte reads, so it decodes (exit 0); the gap is a finding."""
    no_spec = ("10 02 80 08 00 00 00 3c  00 08 01 01 00 00 00 01  00 08 02 01 00 08 00 00  00 08 06 01 00 01 00 01"
               "  00 1c 06 04  00 08 01 01 12 34 00 04  00 08 02 01 0a 00 01 0a  00 08 04 01 00 00 00 04")
    result = run("decode", no_spec)
    assert result.exit_code == 0, result.output
    assert "Gate-Set, 60 bytes" in result.output and "Subscriber Identifier: 10.0.1.10" in result.output
    assert "Count: 4" in result.output and "Malformed" not in result.output
    assert ("⚠ dqos.missing-object: Gate-Set lacks its Gate-Spec (5/1); a CMTS answers PacketCable-Error 6, "
            "sub-code 0x0501 (protocol.md §3.4, §3.6)") in result.output
    assert run("decode", "--strict", no_spec).exit_code == 1
    record = json.loads(run("decode", "--json", no_spec).output)
    assert (record["gate_command"], record["transaction_id"], record["subscriber"]) == ("Gate-Set", 0x1234, "10.0.1.10")
    assert record["findings"] == [{"rule": "dqos.missing-object", "section": "protocol.md §3.4, §3.6",
                                   "text": "Gate-Set lacks its Gate-Spec (5/1); a CMTS answers PacketCable-Error 6, "
                                           "sub-code 0x0501"}]
    assert "error" not in record


def test_an_unreadable_packetcable_object_is_malformed_and_fails():
    """A Gate-ID object 12 bytes long cannot be read: PacketCable-Error 7, and exit 1 with or without --strict."""
    bad_gate_id = ("10 02 80 08 00 00 00 38  00 08 01 01 00 00 00 01  00 08 02 01 00 08 00 00  00 08 06 01 00 01 00 01"
                   "  00 18 06 04  00 08 01 01 12 34 00 07  00 0c 03 01 00 00 a0 01 00 00 00 00")
    result = run("decode", bad_gate_id)
    assert result.exit_code == 1
    assert "Malformed PacketCable payload: GateID object length 12, expected 8 (at offset 44)" in result.output
    assert "Invalid object (7), sub-code 0x0301" in result.output
    record = json.loads(run("decode", "--json", bad_gate_id).output)
    assert (record["gate_command"], record["transaction_id"]) == ("Gate-Info", 0x1234)
    assert (record["pc_error_code"], record["pc_error_subcode"], record["offset"]) == (7, 0x0301, 44)


def test_unframeable_stream_and_truncated_input():
    result = run("decode", KA + "20 09 00 00 00 00 00 08" + KA)
    assert result.exit_code == 1
    assert "Stream cannot be cut into messages: COPS version 2, expected 1 (at stream offset 8)" in result.output
    assert result.output.count("COPS Keep-Alive") == 1  # nothing after a framing fault is trusted
    result = run("decode", OPN + GATE_SET[:100])
    assert result.exit_code == 1
    assert "PEP Id: CMTS-LAB1" in result.output
    assert "input ends inside a message" in result.output and "the header announces 180" in result.output


def test_bad_hex_is_refused():
    result = run("decode", "10 09 zz")
    assert result.exit_code == 2
    assert "not a hex digit: 'z'" in result.output


def test_version_and_help_examples():
    result = run("--version")
    assert result.exit_code == 0 and __version__ in result.output
    result = run("--help")
    assert result.exit_code == 0 and "Examples:" in result.output and "decode" in result.output
    assert "Examples:" in run("decode", "--help").output


def test_console_script_output_to_a_pipe_has_no_ansi_codes():
    script = shutil.which("cms-sim", path=str(Path(sys.executable).parent))
    assert script, "the cms-sim console script is not installed (pip install -e .)"
    env = {**os.environ, "TERM": "xterm-256color"}
    env.pop("FORCE_COLOR", None)
    done = subprocess.run([script, "decode", GATE_SET_ACK + "00"], capture_output=True, text=True, env=env)
    assert done.returncode == 1  # the stray byte is a truncated message
    assert "Gate Identifier: 0x0000a001" in done.stdout
    assert "\x1b[" not in done.stdout
