"""``cms-sim run`` against an independent CMTS that behaves like gear (tests/gear/independent_cmts.py).

Two processes, as in a lab: no failure that is not the peer's.  What cannot
apply is skipped with its reason, gates a failed scenario left are deleted
before the next one, a Client-Close mid-call fails the call at once with
that cause, and every message passes the findings.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
GEAR = ROOT / "tests" / "gear" / "independent_cmts.py"
SCENARIOS = ROOT / "scenarios"


@pytest.fixture
def gear(request):
    """Start the stand-in with the test's switches (``@pytest.mark.parametrize`` passes them); yields its port."""
    process = subprocess.Popen([sys.executable, str(GEAR), "--port", "0", *getattr(request, "param", [])],
                               stdout=subprocess.PIPE, text=True)
    try:
        port = int(re.search(r"listening on (\d+)", process.stdout.readline()).group(1))
        yield port
    finally:
        process.kill()
        process.wait()


def cms_sim_run(port: int, *args: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict]:
    report = tmp_path / "report.json"
    run = subprocess.run([sys.executable, "-c", "import sys; from cms_sim.cli import main; sys.exit(main())",
                          "run", "--cmts", f"127.0.0.1:{port}", "-q", "--report", str(report), *args],
                         capture_output=True, text=True, timeout=120, env={"COLUMNS": "200", "PATH": ""})
    return run, json.loads(report.read_text())


@pytest.mark.parametrize("gear", [["--t0", "1"]], indirect=True)
def test_every_shipped_scenario_passes_or_is_skipped_with_its_reason(gear, tmp_path):
    # Real time on a shared machine: an audit gets a second, not the 50 ms an idle lab CMTS is held to.
    run, report = cms_sim_run(gear, "--var", "t0_wait=3s", "--var", "audit_within=1s",
                              *map(str, sorted(SCENARIOS.glob("*.yaml"))), tmp_path=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    verdicts = {Path(result["file"]).stem: (result["verdict"], result["skipped"]) for result in report["results"]}
    skipped = {name: reason for name, (verdict, reason) in verdicts.items() if verdict == "skipped"}
    assert set(skipped) == {"admission_rejection", "keepalive_timeout", "basic_call", "codec_change", "reconnect",
                            "set_without_alloc"}
    assert skipped["keepalive_timeout"].startswith("needs the embedded CMTS")
    assert skipped["basic_call"].endswith("run with --mta")
    assert report["summary"] == {"scenarios": 14, "passed": 8, "failed": 0, "skipped": 6, "findings": 0,
                                 "interrupted": False}


@pytest.mark.parametrize("gear", [["--refuse-gate-info"]], indirect=True)
def test_a_failure_that_is_the_peers_leaves_no_gate_for_the_next_scenario(gear, tmp_path):
    # gate_info_audit fails (the gear refuses Gate-Info) holding a gate of 10.0.1.10; gate_limit, next, allows
    # that subscriber one gate: it passes only because the failed scenario's gate was deleted.
    run, report = cms_sim_run(gear, str(SCENARIOS / "gate_info_audit.yaml"), str(SCENARIOS / "gate_limit.yaml"),
                              tmp_path=tmp_path)
    audit, limit = report["results"]
    assert run.returncode == 1
    assert audit["verdict"] == "failed"
    assert "expected Gate-Info-Ack, got Gate-Info-Err: unspecified (code 127" in audit["steps"][1]["message"]
    cleanup = [step for step in audit["steps"] if step["phase"] == "cleanup"]
    assert [(step["verdict"], step["message"][-7:]) for step in cleanup] == [("passed", "deleted")]
    assert limit["verdict"] == "passed"


@pytest.mark.parametrize("gear", [["--client-close-after", "1"]], indirect=True)
def test_a_client_close_mid_call_fails_the_call_within_a_second_naming_it(gear, tmp_path):
    run, report = cms_sim_run(gear, "--var", "hold=20s", str(SCENARIOS / "gate_churn.yaml"), tmp_path=tmp_path)
    [churn] = report["results"]
    hold = churn["steps"][1]
    assert run.returncode == 1
    assert (hold["verdict"], hold["duration_ms"] < 1500) == ("failed", True)
    assert hold["message"].endswith("sent Client-Close (error 11 SHUTTING_DOWN, sub-code 0)")
    assert churn["steps"][2]["verdict"] == "skipped"
    assert [step["phase"] for step in churn["steps"]][-1] == "cleanup"  # on a new connection
    assert churn["duration_ms"] < 5000
