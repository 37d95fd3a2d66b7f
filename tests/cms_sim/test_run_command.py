"""``cms-sim run`` as users and CI systems see it: exit codes, reports, captures, two processes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from junitparser import Failure, JUnitXml

from cms_sim.cli import main

ROOT = Path(__file__).parents[2]
BASIC = ROOT / "scenarios" / "basic_call.yaml"

QUICK = """\
name: quick info
description: Gate-Set, Gate-Info, Gate-Delete; no modem steps, so it runs against any CMTS.
variables: {subscriber: 10.0.1.10}
steps:
  - gate_set: {profile: G711-20, remote_ip: 10.1.1.20}
    save: {gate: gate_id}
  - gate_info: {gate_id: "${gate}"}
  - gate_delete: {gate_id: "${gate}"}
"""

FAILING = """\
name: expects the wrong thing
description: Gate-Info on a gate that does not exist, expecting an ack; must fail at step 1.
variables: {subscriber: 10.0.1.10}
steps:
  - gate_info: {gate_id: 0x12345678}
"""


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from cms_sim.cli import main; sys.exit(main())", *args]


def _cmts_cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from cmts_sim.cli import main; sys.exit(main())", *args]


def _env() -> dict:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "160"}


def test_the_basic_call_passes_against_the_embedded_cmts_and_writes_every_report(tmp_path):
    paths = {name: tmp_path / name for name in ("r.json", "r.xml", "r.pcap", "r.svg", "r.html")}
    result = CliRunner().invoke(main, ["run", str(BASIC), "--report", str(paths["r.json"]), "--junit",
                                       str(paths["r.xml"]), "--pcap", str(paths["r.pcap"]), "--ladder",
                                       str(paths["r.svg"]), "--ladder", str(paths["r.html"])])
    assert result.exit_code == 0, result.output
    for needle in ("DEC Gate-Alloc", "RPT Gate-Set-Ack", "reserve gate", "RPT Gate-Open", "RPT Gate-Close",
                   "RPT Gate-Delete-Ack", "passed"):
        assert needle in result.output, needle
    report = json.loads(paths["r.json"].read_text())
    assert report["summary"] == {"scenarios": 1, "passed": 1, "failed": 0, "skipped": 0, "findings": 0,
                                 "interrupted": False}
    steps = report["results"][0]["steps"]
    assert [step["verdict"] for step in steps] == ["passed"] * len(steps)
    assert steps[1]["latency_ms"] < 50 and steps[1]["messages"][0]["gate_command"] == "Gate-Set"
    # A Gate-ID has one form everywhere: in the saved variable, the reply and the message summary.
    variables = report["results"][0]["variables"]
    assert variables["subscriber"] == "10.0.1.10" and re.fullmatch(r"0x[0-9a-f]{8}", variables["gate"])
    assert steps[0]["reply"]["gate_id"] == steps[0]["messages"][1]["gate_id"] == variables["gate"]
    assert steps[0]["reply"]["gate_command"] == "Gate-Alloc-Ack"
    xml = JUnitXml.fromfile(str(paths["r.xml"]))
    assert (xml.tests, xml.failures, xml.errors) == (1, 0, 0)
    assert paths["r.svg"].read_text().startswith("<svg")
    assert "<html" in paths["r.html"].read_text() and "Gate-Set-Ack" in paths["r.html"].read_text()
    assert paths["r.pcap"].stat().st_size > 1000


def test_junit_counts_a_failing_scenario_as_a_failure(tmp_path):
    good, bad = tmp_path / "quick.yaml", tmp_path / "failing.yaml"
    good.write_text(QUICK)
    bad.write_text(FAILING)
    junit = tmp_path / "results.xml"
    result = CliRunner().invoke(main, ["run", "--quiet", str(good), str(bad), "--junit", str(junit)])
    assert result.exit_code == 1, result.output
    xml = JUnitXml.fromfile(str(junit))
    assert (xml.tests, xml.failures, xml.errors) == (2, 1, 0)
    suites = {suite.name: suite for suite in xml}
    assert set(suites) == {"quick", "failing"}
    failing_case = next(iter(suites["failing"]))
    assert isinstance(failing_case.result[0], Failure)
    assert "step 1" in failing_case.result[0].message and "unknown" in failing_case.result[0].message.lower()
    assert next(iter(suites["quick"])).is_passed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\ndescription: d\nsteps:\n  - gate_sett: {}\n", r":4: steps\[0\]: unknown step type"),
        ("name: x\ndescription: d\nsteps:\n  - hold: forever\n", r":4: steps\[0\]\.hold: "),
        ("name: x\ndescription: d\nsteps: [\n", r":\d+: YAML syntax"),
        ("name: x\nsteps:\n  - wait: 1s\n", r":1: description: required"),
    ],
    ids=["unknown-step", "bad-duration", "yaml-syntax", "missing-field"],
)
def test_a_bad_scenario_file_gets_one_line_and_exit_2(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"cms-sim: {path}:") and re.search(expected, lines[0]), lines[0]
    assert "Traceback" not in result.output


def test_an_unknown_variable_on_the_command_line_is_a_usage_error():
    result = CliRunner().invoke(main, ["run", "--var", "nosuch=1", str(BASIC)])
    assert result.exit_code == 2
    assert "no scenario has such a variable" in result.output


def _start_cmts(*flags: str) -> tuple[subprocess.Popen, int]:
    server = subprocess.Popen(_cmts_cli("serve", "--listen", "127.0.0.1:0", "--quiet", *flags),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env())
    line = server.stdout.readline()
    match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
    assert match, line
    return server, int(match.group(1))


def test_cms_and_cmts_in_two_processes_over_loopback(tmp_path, tshark):
    # The CMTS's modems act by themselves here (auto mode, released after a second), as real gear's would.
    server, port = _start_cmts("--hold", "1")
    try:
        pcap = tmp_path / "two.pcap"
        run = subprocess.run(_cli("run", "--cmts", f"127.0.0.1:{port}", "--mta", "--pcap", str(pcap), str(BASIC)),
                             capture_output=True, text=True, env=_env(), timeout=60)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "RPT Gate-Open" in run.stdout and "RPT Gate-Close" in run.stdout
        server.send_signal(signal.SIGINT)
        out, _ = server.communicate(timeout=10)
        assert server.returncode == 0
        assert "stopped" in out
    finally:
        if server.poll() is None:
            server.kill()
    _assert_tshark_clean(tshark, pcap, port, ["Gate Alloc", "Gate Alloc Ack", "Gate Set", "Gate Set Ack", "Gate Open",
                                "Gate Close", "Gate Delete", "Gate Delete Ack"])


def test_cms_and_cmts_in_two_processes_sign_every_message_with_a_shared_key_file(tmp_path, tshark):
    keys = tmp_path / "lab.keys"
    keys.write_text("# shared with the CMTS (protocol.md 2.8)\n7:00112233445566778899aabbccddeeff\n")
    server, port = _start_cmts("--hold", "1", "--integrity-key", f"@{keys}", "--integrity-required")
    try:
        pcap = tmp_path / "signed.pcap"
        run = subprocess.run(_cli("run", "--cmts", f"127.0.0.1:{port}", "--mta", "--pcap", str(pcap),
                                  "--integrity-key", f"@{keys}", "--integrity-required", str(BASIC)),
                             capture_output=True, text=True, env=_env(), timeout=60)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "OPN CMTS-SIM (integrity, client-type 0)" in run.stdout and "RPT Gate-Close" in run.stdout
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
    _assert_tshark_clean(tshark, pcap, port, ["Gate Set", "Gate Set Ack", "Gate Delete Ack"])
    fields = tshark("-r", str(pcap), "-d", f"tcp.port=={port},cops", "-Y", "cops", "-T", "fields",
                    "-e", "cops.op_code", "-e", "cops.integrity.key_id").split("\n")
    # One row per TCP segment; a segment with several COPS messages lists each one's fields, comma-separated.
    rows = [[value.split(",") for value in line.split("\t")] for line in fields if line]
    assert sum(len(opcodes) for opcodes, _ in rows) >= 12
    assert all(key_ids == ["7"] * len(opcodes) for opcodes, key_ids in rows)  # every message carries Key ID 7


def _assert_tshark_clean(tshark, pcap: Path, port: int, infos: list[str]) -> None:
    """tshark decodes every message with no malformed packet or expert warning (port: "Decode As" COPS)."""
    decode_as = ["-d", f"tcp.port=={port},cops"]
    summary = tshark("-r", str(pcap), *decode_as)
    for info in infos:
        assert re.search(rf"- {info}\s*$", summary, re.M), f"{info!r} not in\n{summary}"
    detail = tshark("-r", str(pcap), "-V", *decode_as)
    assert "Malformed" not in detail
    assert not re.search(r"\[Expert Info \((Error|Warning)", detail)


def test_ctrl_c_sends_client_close_writes_partial_reports_and_exits_130(tmp_path):
    long_call = tmp_path / "long.yaml"
    long_call.write_text(QUICK.replace("  - gate_info", "  - hold: 1h\n  - gate_info"))
    report = tmp_path / "partial.json"
    run = subprocess.Popen(_cli("run", str(long_call), "--report", str(report)), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, env=_env())
    try:
        seen = []
        for line in run.stdout:
            seen.append(line)
            if "Gate-Set-Ack" in line:
                break
        run.send_signal(signal.SIGINT)
        rest, _ = run.communicate(timeout=20)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, "".join(seen) + rest
    assert "CC error 11" in rest  # Client-Close, Shutting down
    partial = json.loads(report.read_text())
    assert partial["summary"]["interrupted"] is True
    steps = partial["results"][0]["steps"]
    assert steps[0]["verdict"] == "passed"
    # The gate the interrupted call held was deleted before the Client-Close.
    assert (steps[-1]["phase"], steps[-1]["verdict"]) == ("cleanup", "passed")
    assert steps[-1]["messages"][0]["gate_id"] == steps[0]["messages"][1]["gate_id"]
    assert rest.index("DEC Gate-Delete") < rest.index("CC error 11")
