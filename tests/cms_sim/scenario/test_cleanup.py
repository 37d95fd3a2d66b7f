"""Cleanup that always runs: a scenario's finally steps, then Gate-Delete for every gate it left up."""

from __future__ import annotations

import textwrap

import pytest
import trio

from cmts_sim.config import CmtsConfig
from cmts_sim.server import CmtsServer
from cms_sim.pool import GateControllerPool
from cms_sim.run import Run
from cms_sim.scenario import RealModem, ScenarioRunner, Verdict, parse_scenario
from cms_sim.scenario.embedded import embedded_config
from cms_sim.scenario.runner import CLEANUP_TIMEOUT

from ..fake_pep import FakePep

HEADER = """\
name: {name}
description: what it tests
variables:
  subscriber: 10.0.1.10
  remote: 10.1.1.20
"""


def scenario_of(body: str, name: str = "test"):
    return parse_scenario(HEADER.format(name=name) + textwrap.dedent(body), f"{name}.yaml")


def summary(result) -> list[tuple[str, str, str]]:
    return [(step.id, step.kind, step.verdict.value) for step in result.steps]


async def run_on(server: CmtsServer, *scenarios, nursery, interrupt_after: float | None = None, **options):
    """Run ``scenarios`` with ``cms-sim run``'s Run against ``server`` as if it were real gear."""
    await nursery.start(server.serve)
    host, port = server.addresses[0]
    run = Run([(scenario, {}) for scenario in scenarios], cmts=f"{host}:{port}", mta=True, **options)
    if interrupt_after is not None:
        async def press_ctrl_c():
            await trio.sleep(interrupt_after)
            run.interrupt()
        nursery.start_soon(press_ctrl_c)
    return await run.run()


def automatic_cmts() -> CmtsServer:
    """A CMTS whose modems commit by themselves, as gear's would with a call on the line."""
    return CmtsServer(CmtsConfig(listen=["127.0.0.1:0"], modem={"mode": "auto"}))


async def test_finally_steps_run_after_a_failure_and_skip_what_needs_an_unsaved_value(nursery, autojump_clock):
    server = automatic_cmts()
    [result] = await run_on(server, scenario_of("""\
        steps:
          - gate_set: {profile: G711-20, remote_ip: "${remote}"}
            save: {gate: gate_id}
          - gate_info: {gate_id: 0x1234}
          - gate_alloc: {}
            save: {late: gate_id}
        finally:
          - gate_delete: {gate_id: "${gate}"}
          - gate_delete: {gate_id: "${late}"}
        """), nursery=nursery)
    assert summary(result) == [("1", "gate_set", "passed"), ("2", "gate_info", "failed"),
                               ("3", "gate_alloc", "skipped"), ("finally.1", "gate_delete", "passed"),
                               ("finally.2", "gate_delete", "skipped")]
    assert result.steps[4].message == "variable ${late} is not set: the step that saves it did not run"
    assert result.steps[3].where == "finally step 1 (line 13)"
    assert result.verdict is Verdict.FAILED and result.failures == [result.steps[1]]
    assert server.gates.gates == {}  # the finally step deleted it: nothing for the automatic cleanup


async def test_gates_left_by_a_failed_scenario_are_deleted_so_the_next_one_passes(nursery, autojump_clock):
    # Activity-Count 2: two gates for the subscriber at most, so a leak would fail the second scenario.
    server = automatic_cmts()
    leaks = scenario_of("""\
        steps:
          - gate_set: {profile: G711-20, remote_ip: "${remote}"}
          - gate_alloc: {}
          - gate_info: {gate_id: 0x1234}
        """, "leaks")
    needs_room = scenario_of("""\
        steps:
          - gate_set: {profile: G711-20, remote_ip: "${remote}", activity_count: 2}
            save: {a: gate_id}
          - gate_set: {profile: G711-20, remote_ip: "${remote}", activity_count: 2}
            save: {b: gate_id}
          - gate_delete: {gate_id: "${a}"}
          - gate_delete: {gate_id: "${b}"}
        """, "needs_room")
    first, second = await run_on(server, leaks, needs_room, nursery=nursery)
    made = {step.reply.gate_id for step in first.steps[:2]}
    assert summary(first)[3:] == [("cleanup.1", "cleanup", "passed"), ("cleanup.2", "cleanup", "passed")]
    assert {step.gate_id for step in first.steps[3:]} == made
    assert all(step.message.endswith("left up: deleted") for step in first.steps[3:])
    assert [type(record.message).__name__ for record in first.steps[3].messages] == ["Decision", "Report"]
    assert second.verdict is Verdict.PASSED, second.failures
    assert server.gates.gates == {}


async def test_a_gate_the_cmts_closed_gets_no_delete(nursery, autojump_clock):
    server = CmtsServer(CmtsConfig(listen=["127.0.0.1:0"], modem={"mode": "auto", "hold": 1}))
    [result] = await run_on(server, scenario_of("""\
        steps:
          - gate_set: {profile: G711-20, remote_ip: "${remote}"}
          - wait: 3s
        """), nursery=nursery)
    assert summary(result) == [("1", "gate_set", "passed"), ("2", "wait", "passed")]


async def test_a_gate_already_gone_counts_as_cleaned_up(nursery, autojump_clock):
    pep = FakePep()
    host, port = await pep.listen(nursery)
    runner = ScenarioRunner(scenario_of("""\
        steps:
          - gate_set: {profile: G711-20, remote_ip: "${remote}"}
          - wait: 1s
        """), RealModem())

    async def cmts_drops_it():
        await trio.sleep(0.5)
        pep.gates.clear()  # as gear may when it reboots a line card

    async with GateControllerPool() as pool:
        gc = await pool.connect(f"{host}:{port}")
        nursery.start_soon(cmts_drops_it)
        result = await runner.run(gc)
    assert summary(result)[-1] == ("cleanup.1", "cleanup", "passed")
    assert result.steps[-1].message == "gate 0x0000a001 left up: already gone (unknown Gate-ID)"


async def test_ctrl_c_stops_the_steps_runs_finally_and_deletes_the_gates(nursery, autojump_clock):
    server = automatic_cmts()
    first, *rest = await run_on(server, scenario_of("""\
        steps:
          - gate_set: {profile: G711-20, remote_ip: "${remote}"}
          - hold: 1h
          - sync
        finally:
          - wait: 1s
        """), scenario_of("steps: [sync]", "never_started"), nursery=nursery, interrupt_after=10)
    assert rest == []  # no scenario starts after Ctrl-C
    assert first.interrupted and first.verdict is Verdict.FAILED
    assert summary(first) == [("1", "gate_set", "passed"), ("2", "hold", "failed"),
                              ("finally.1", "wait", "passed"), ("cleanup.1", "cleanup", "passed")]
    assert first.steps[1].message == "interrupted" and first.steps[1].duration_ms == pytest.approx(10_000, abs=1)
    assert server.gates.gates == {}


async def test_cleanup_that_cannot_finish_fails_within_its_time_bound(nursery, autojump_clock):
    pep = FakePep()
    host, port = await pep.listen(nursery)

    def cmts_stops_answering(step):
        if step.kind == "gate_set":
            pep.hold = True

    runner = ScenarioRunner(scenario_of("""\
        steps:
          - gate_set: {profile: G711-20, remote_ip: "${remote}"}
          - wait: 1s
        """), RealModem(), on_step=cmts_stops_answering)
    async with GateControllerPool(request_timeout=30) as pool:
        stuck = await runner.run(await pool.connect(f"{host}:{port}"))
    assert summary(stuck) == [("1", "gate_set", "passed"), ("2", "wait", "passed"), ("cleanup.1", "cleanup", "failed")]
    assert stuck.steps[2].message == f"cleanup took over {CLEANUP_TIMEOUT:g} s; gates may be left"
    assert stuck.steps[2].duration_ms == pytest.approx(CLEANUP_TIMEOUT * 1000, abs=1)
    assert stuck.verdict is Verdict.FAILED


def test_the_embedded_config_is_unchanged_by_finally_steps():
    scenario = scenario_of("""\
        steps: [sync]
        finally: [sync]
        """)
    assert embedded_config(scenario).modem.mode == "driven"
    assert [step.line for step in scenario.cleanup] == [7]
