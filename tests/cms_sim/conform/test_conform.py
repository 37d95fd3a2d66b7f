"""``cms-sim conform``: a requirement per row; every row passes against our CMTS, a fault fails its row."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from click.testing import CliRunner

from cmts_sim.config import CmtsConfig
from cmts_sim.server import CmtsServer
from cms_sim.cli import main
from cms_sim.conform import report
from cms_sim.conform.suite import REQUIREMENTS, Outcome, judge, scenarios
from cms_sim.run import Run


async def conform(nursery, **faults):
    """The suite against a cmts-sim as gear would be: its own process's settings, T0 2 s, idle MTAs."""
    server = CmtsServer(CmtsConfig(listen=["127.0.0.1:0"], modem={"mode": "driven"}, timers={"t0": 2},
                                   faults=faults))
    await nursery.start(server.serve)
    host, port = server.addresses[0]
    suite = [(scenario, {"t0_wait": "4s"} if "t0_wait" in scenario.variables else {}) for scenario in scenarios()]
    results = await Run(suite, cmts=f"{host}:{port}").run()
    return {row.requirement.id: row for row in judge(results)}, results


async def test_every_row_passes_against_cmts_sim_but_what_needs_a_real_mta(nursery, autojump_clock, tmp_path):
    rows, results = await conform(nursery)
    assert list(rows) == [requirement.id for requirement in REQUIREMENTS]
    outcomes = {name: row.outcome for name, row in rows.items()}
    assert outcomes.pop("DQOS-OPEN-CLOSE") is Outcome.NOT_TESTABLE
    assert set(outcomes.values()) == {Outcome.PASS}, {name: row.detail for name, row in rows.items()}
    assert rows["COPS-HEADER"].detail.endswith("messages from the CMTS checked")

    findings = [finding for result in results for finding in result.findings]
    matrix = list(rows.values())
    report.write_json(matrix, findings, "lab-cmts", 0.0, tmp_path / "c.json")
    report.write_junit(matrix, "lab-cmts", tmp_path / "c.xml")
    report.write_html(matrix, findings, "lab-cmts", 0.0, tmp_path / "c.html")
    document = json.loads((tmp_path / "c.json").read_text())
    assert document["summary"] == {"pass": 19, "fail": 0, "skipped": 0, "not_testable": 1}
    suite = ET.parse(tmp_path / "c.xml").getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("20", "0", "1")
    page = (tmp_path / "c.html").read_text()
    assert "conforms on every applicable row" in page and "DQOS-MODIFY" in page
    assert "http" not in page.replace("<!doctype html>", "")  # nothing fetched: it prints and mails as it is


async def test_a_cmts_that_stops_its_keepalives_fails_that_row_only(nursery, autojump_clock):
    rows, _ = await conform(nursery, stop_keepalives=True)
    failed = {name: row.detail for name, row in rows.items() if row.outcome is Outcome.FAIL}
    assert list(failed) == ["COPS-KA"]
    assert "connection loss" in failed["COPS-KA"]


async def test_refusing_every_gate_set_fails_exactly_the_rows_that_need_one(nursery, autojump_clock):
    # Error 1 for every Gate-Set, before any other check (so the session-class row gets 1, not 3).
    rows, _ = await conform(nursery, reject_gate_set={"share": 1.0, "code": 1})
    failed = sorted(name for name, row in rows.items() if row.outcome is Outcome.FAIL)
    assert failed == ["DQOS-DELETE", "DQOS-GATE-LIMIT", "DQOS-INFO", "DQOS-MODIFY", "DQOS-SESSION-CLASS",
                      "DQOS-SET", "DQOS-T1", "DQOS-UNKNOWN-GATE"]
    assert "got Gate-Set-Err: insufficient resources (code 1" in rows["DQOS-SET"].detail


def test_list_prints_the_requirements_and_usage_errors_exit_2():
    runner = CliRunner()
    listed = runner.invoke(main, ["conform", "--list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and all(requirement.id in listed.output for requirement in REQUIREMENTS)
    assert runner.invoke(main, ["conform", "--cmts", "host:port"]).exit_code == 2
    unknown = runner.invoke(main, ["conform", "--var", "t9=1s"])
    assert unknown.exit_code == 2 and "no scenario has such a variable" in unknown.output
