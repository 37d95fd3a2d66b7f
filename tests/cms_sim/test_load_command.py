"""``cms-sim load`` as users and CI see it: a run against the embedded CMTS process, workers, Ctrl-C, bad input.

The CLI runs in its own process, as a user runs it, with the embedded CMTS
in a process of its own; these runs are short (a second or two of calls).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
BASIC = ROOT / "scenarios" / "basic_call.yaml"


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from cms_sim.cli import main; sys.exit(main())", "load", *args]


def _env() -> dict:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "160"}


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(_cli(*args), capture_output=True, text=True, env=_env(), timeout=timeout,
                          stdin=subprocess.DEVNULL)


def test_a_run_against_the_embedded_cmts_ends_by_itself_and_writes_every_output(tmp_path):
    report, stats, junit, plot = (tmp_path / name for name in ("r.json", "s.csv", "j.xml", "p.png"))
    run = _run(str(BASIC), "--rate", "100", "--calls", "150", "--report", str(report), "--stats-csv", str(stats),
               "--junit", str(junit), "--plot", str(plot))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "t=" in run.stdout and "achieved=" in run.stdout  # not a terminal: one plain line per interval
    data = json.loads(report.read_text())
    assert data["calls"] == {"attempted": 150, "completed": 150, "failed": 0, "failed_by_cause": {}}
    assert data["rate"]["target_cps"] == 100 and data["rate"]["achieved_cps"] == pytest.approx(100, rel=0.01)
    assert list(data["latency_ms"]) == ["Gate-Alloc", "Gate-Set", "Gate-Delete"]
    assert data["messages"]["sent"] >= 450 and data["partial"] is False
    assert stats.read_text().startswith("time_s,") and 'failures="0"' in junit.read_text()
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_workers_share_the_calls_and_their_statistics_merge(tmp_path):
    report = tmp_path / "r.json"
    run = _run(str(BASIC), "--rate", "100", "--calls", "101", "--workers", "2", "--report", str(report))
    assert run.returncode == 0, run.stdout + run.stderr
    data = json.loads(report.read_text())
    assert data["calls"]["attempted"] == 101 and data["calls"]["completed"] == 101
    assert data["latency_ms"]["Gate-Set"]["max"] > 0


def test_a_signed_run_gives_the_embedded_cmts_and_every_worker_the_key(tmp_path):
    keys = tmp_path / "lab.keys"
    keys.write_text("1:00112233445566778899aabbccddeeff\n")
    report = tmp_path / "r.json"
    # Required: a worker or a CMTS without the key would fail every call (protocol.md 2.8).
    run = _run(str(BASIC), "--rate", "50", "--calls", "20", "--workers", "2", "--report", str(report),
               "--integrity-key", f"@{keys}", "--integrity-required")
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(report.read_text())["calls"]["completed"] == 20


def test_thresholds_fail_the_run_with_exit_1_and_say_which(tmp_path):
    run = _run(str(BASIC), "--rate", "50", "--calls", "20", "--max-p99", "Gate-Set=1us")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Gate-Set p99" in run.stdout and "exceeds 0.001 ms" in run.stdout


def test_ctrl_c_ends_the_calls_deletes_their_gates_and_writes_a_partial_report(tmp_path):
    report = tmp_path / "r.json"
    run = subprocess.Popen(_cli(str(BASIC), "--rate", "50", "--duration", "60", "--report", str(report)),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(),
                           stdin=subprocess.DEVNULL)
    try:
        first = run.stdout.readline()  # the first interval's line: calls are up
        run.send_signal(signal.SIGINT)
        rest, _ = run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, first + rest
    data = json.loads(report.read_text())
    assert data["partial"] is True
    assert data["calls"]["failed_by_cause"].get("interrupted", 0) == data["calls"]["failed"] > 0
    assert data["calls"]["attempted"] == data["calls"]["completed"] + data["calls"]["failed"]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_cmts_that_cannot_be_reached_is_one_line_and_exit_1(workers):
    run = _run(str(BASIC), "--cmts", "127.0.0.1:1", "--rate", "10", "--calls", "2", "--workers", workers)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "cannot connect to 127.0.0.1:1" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("args, message", [
    (["--rate", "0", "--calls", "1"], "--rate: expected a positive number, got 0.0"),
    (["--rate", "nan", "--calls", "1"], "--rate: expected a positive number"),
    (["--rate", "10"], "give --duration or --calls"),
    (["--duration", "forever"], "--duration: expected a duration such as 20s"),
    (["--duration", "0s"], "--duration: expected a positive number"),
    (["--calls", "0"], "--calls: expected a whole number from 1, got 0"),
    (["--calls", "5", "--workers", "0"], "--workers: expected a whole number from 1, got 0"),
    (["--calls", "5", "--rate-start", "50", "--rate", "10"], "--rate-start 50 is above --rate 10"),
    (["--calls", "5", "--cmts", "cmts1:abc"], "--cmts cmts1:abc: the port must be a number from 1 to 65535"),
    (["--calls", "5", "--cmts", "cmts1:70000"], "the port must be a number from 1 to 65535, got '70000'"),
    (["--calls", "5", "--cmts", "[::1"], "--cmts [::1: expected [IPV6]:PORT"),
    (["--calls", "5", "--cmts", "cmts1@0"], "the weight after @ must be a whole number from 1"),
    (["--calls", "5", "--subscribers", "10.0.0.9-10.0.0.1"], "--subscribers 10.0.0.9-10.0.0.1: expected A-B"),
    (["--calls", "5", "--inf", "/nonexistent/subs.csv"], "/nonexistent/subs.csv: cannot read"),
    (["--calls", "5", "--report", "/nonexistent/r.json"], "--report /nonexistent/r.json: no folder /nonexistent"),
    (["--calls", "5", "--max-p99", "Gate-Set"], "--max-p99: expected NAME=DURATION"),
    (["--calls", "5", "--var", "nosuch=1"], "--var nosuch: the scenario has no such variable"),
    (["--calls", "5", "--metrics-port", "99999"], "--metrics-port 99999: expected [HOST:]PORT with a port from 0"),
    (["--calls", "5", "--var", "subscriber=not-an-ip"], "subscriber: expected an IP address, got 'not-an-ip'"),
])
def test_bad_input_is_one_line_and_exit_2_before_anything_is_sent(args, message):
    run = _run(str(BASIC), *args)
    assert run.returncode == 2, run.stdout + run.stderr
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr


def test_a_scenario_that_cannot_run_as_load_names_file_and_line(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: s\ndescription: s\nvariables: {subscriber: 10.0.1.10}\nsteps:\n  - disconnect\n")
    run = _run(str(scenario), "--calls", "1")
    assert run.returncode == 2
    assert f"{scenario}:5: disconnect: cannot run under load" in run.stderr
