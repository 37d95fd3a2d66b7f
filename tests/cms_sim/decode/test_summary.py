"""``cms-sim decode --summary``: one line per message, like tshark without -V."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cms_sim.cli import main

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "dqos_call.pcap"


def summary(*args: str):
    return CliRunner().invoke(main, ["decode", "--summary", *args])


def test_a_capture_is_one_line_per_message_with_time_peer_opcode_command_gate_and_tid():
    result = summary(str(SAMPLE))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) == 16
    assert lines[0].split() == ["4", "0.001000", "10.0.0.1:2126", "→", "10.0.0.2:49152", "OPN"]
    assert lines[3].split() == ["7", "1.000000", "10.0.0.2:49152", "→", "10.0.0.1:2126", "DEC", "Gate-Alloc",
                                "tid", "4659"]
    assert lines[5].split() == ["9", "1.100000", "10.0.0.2:49152", "→", "10.0.0.1:2126", "DEC", "Gate-Set",
                                "gate", "0x0000a001", "tid", "4660"]
    assert lines[9].split()[5:] == ["RPT", "Gate-Open", "gate", "0x0000a001", "tid", "0"]
    assert len({line.index("tid") for line in lines if "tid" in line}) == 1  # the TIDs line up


def test_hex_input_is_numbered_and_errors_and_findings_end_their_line():
    ka, ka_dqos = "10 09 00 00 00 00 00 08", "10 09 80 08 00 00 00 08"
    gate_limit_err = ("11 03 80 08 00 00 00 34  00 08 01 01 00 00 00 01  00 08 0c 01 00 02 00 00  00 1c 09 01"
                      "  00 08 01 01 00 07 00 06  00 08 02 01 0a 00 01 0a  00 08 09 01 00 04 00 00")
    malformed = "11 03 80 08 00 00 00 10  00 02 01 01 00 00 00 01"
    result = summary(" ".join([ka, malformed, ka_dqos, gate_limit_err]))
    assert result.exit_code == 1  # the malformed message
    assert [line.split() for line in result.output.splitlines()] == [
        ["1", "KA"],
        ["2", "✗", "malformed", "COPS", "message:", "object", "1/1", "has", "length", "2,", "below", "the", "4-byte",
         "minimum", "(at", "offset", "8)"],
        ["3", "KA", "⚠", "ka.client-type"],
        ["4", "RPT", "Gate-Set-Err", "tid", "7", "error", "4"],
    ]


def test_summary_and_json_are_one_or_the_other():
    result = summary("--json", str(SAMPLE))
    assert result.exit_code == 2
    assert "--json and --summary: choose one" in result.output
