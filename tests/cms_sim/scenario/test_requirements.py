"""Applicability: against real gear a scenario whose needs are not met is skipped with its reason, never failed."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cmts_sim.config import CmtsConfig
from cmts_sim.server import CmtsServer
from cms_sim.report.json_report import write_json_report
from cms_sim.report.junit import write_junit
from cms_sim.run import Run
from cms_sim.scenario import ScenarioError, Verdict, load_scenario, parse_scenario
from cms_sim.scenario.requirements import EMBEDDED, Target, gear_table, unmet

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
DOC = ROOT / "docs" / "real-cmts.md"


def scenario_of(body: str, name: str = "test"):
    return parse_scenario(f"name: {name}\ndescription: d\n" + textwrap.dedent(body), f"{name}.yaml")


NEEDY = """\
variables: {subscriber: 10.0.1.10, t0_wait: 3s}
requires:
  mta: a call made on the MTA
  variables: {t0_wait: longer than the CMTS's T0}
steps: [sync]
"""


def test_everything_applies_to_the_embedded_cmts():
    assert unmet(scenario_of(NEEDY), EMBEDDED) is None
    assert unmet(scenario_of("requires: {embedded: it injects faults}\nsteps: [sync]\n"), EMBEDDED) is None


def test_each_unmet_need_is_named_with_its_reason():
    embedded_only = scenario_of("requires: {embedded: it sets the capacity to one gate}\nsteps: [sync]\n")
    needy = scenario_of(NEEDY)
    gear = Target(embedded=False)
    assert unmet(embedded_only, Target(embedded=False, mta=True)) == (
        "needs the embedded CMTS: it sets the capacity to one gate")
    assert unmet(needy, gear) == "needs a call made on the MTA: run with --mta"
    assert unmet(needy, Target(embedded=False, mta=True)) == (
        "needs --var t0_wait=... (longer than the CMTS's T0)")
    assert unmet(needy, Target(embedded=False, mta=True, given=frozenset({"t0_wait"}))) is None


def test_a_required_variable_must_be_declared():
    with pytest.raises(ScenarioError) as caught:
        scenario_of("requires: {variables: {t0: the CMTS's T0}}\nsteps: [sync]\n")
    [problem] = caught.value.problems
    assert problem == ("test.yaml:3: requires.variables.t0: no such variable; requires: names variables that "
                       "variables: declares, with the default the embedded CMTS takes")


def test_docs_real_cmts_lists_what_the_shipped_scenarios_declare():
    table = gear_table([load_scenario(path) for path in SHIPPED])
    assert table in DOC.read_text(encoding="utf-8"), (
        "docs/real-cmts.md's scenario table is out of step with the scenarios' requires:; it should read:\n" + table)


async def test_all_shipped_scenarios_against_gear_skip_what_cannot_apply_and_pass_the_rest(
        nursery, autojump_clock, tmp_path):
    # Gear with idle MTAs: no modem acts unless a call is made ("driven" here, and nothing drives it).
    server = CmtsServer(CmtsConfig(listen=["127.0.0.1:0"], modem={"mode": "driven"}, timers={"t0": 1}))
    await nursery.start(server.serve)
    host, port = server.addresses[0]
    scenarios = [(load_scenario(path), {}) for path in SHIPPED]
    results = await Run(scenarios, cmts=f"{host}:{port}").run()
    verdicts = {Path(result.source).stem: result.verdict for result in results}
    skipped = {Path(result.source).stem: result.skip_reason for result in results if result.skipped}
    assert set(skipped) == {"admission_rejection", "keepalive_timeout", "basic_call", "codec_change", "reconnect",
                            "set_without_alloc", "t0_expiry"}
    assert skipped["t0_expiry"].startswith("needs --var t0_wait=...")
    assert all(verdict is Verdict.PASSED for name, verdict in verdicts.items() if name not in skipped), [
        (result.name, result.failures) for result in results if result.failed]
    assert all(result.steps == [] and result.trace == [] for result in results if result.skipped)

    write_junit(results, tmp_path / "r.xml")
    root = ET.parse(tmp_path / "r.xml").getroot()
    assert root.get("skipped") == "7" and root.get("failures") == "0"
    case = root.find("./testsuite[@name='keepalive_timeout']/testcase")
    assert case.find("skipped").get("message") == skipped["keepalive_timeout"]

    write_json_report(results, tmp_path / "r.json")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["summary"]["skipped"] == 7 and report["summary"]["failed"] == 0
    by_file = {Path(entry["file"]).stem: entry for entry in report["results"]}
    assert by_file["basic_call"]["skipped"] == skipped["basic_call"]
    assert by_file["unknown_gate"]["skipped"] is None


async def test_with_mta_and_the_variable_given_the_gear_runs_them(nursery, autojump_clock):
    server = CmtsServer(CmtsConfig(listen=["127.0.0.1:0"], modem={"mode": "auto", "hold": 0.5}, timers={"t0": 1}))
    await nursery.start(server.serve)
    host, port = server.addresses[0]
    scenarios = [(load_scenario(ROOT / "scenarios" / f"{name}.yaml"), variables) for name, variables in
                 (("basic_call", {}), ("t0_expiry", {"t0_wait": "3s"}))]
    results = await Run(scenarios, cmts=f"{host}:{port}", mta=True).run()
    assert [result.verdict for result in results] == [Verdict.PASSED, Verdict.PASSED], [
        result.failures for result in results]
