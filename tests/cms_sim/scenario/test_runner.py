"""The scenario runner: against the embedded CMTS, and against a hand-driven PEP with a real-gear modem."""

from __future__ import annotations

import random
import textwrap

import pytest
import trio

from cms_sim.events import GateOpened
from cms_sim.pool import GateControllerPool
from cms_sim.scenario import RealModem, ScenarioError, ScenarioRunner, Verdict, parse_scenario, run_embedded
from cops_core import ClientAccept, ClientOpen, Decision, Report, Request
from cops_core.dqos import GateSetAck, gate_command_of

from ..fake_pep import FakePep

HEADER = """\
name: test
description: what it tests
variables:
  subscriber: 10.0.1.10
  remote: 10.1.1.20
  codec: G711-20
"""


def scenario_of(body: str):
    return parse_scenario(HEADER + textwrap.dedent(body), "test.yaml")


def summary(result) -> list[tuple[str, str, str]]:
    return [(step.id, step.kind, step.verdict.value) for step in result.steps]


CALL = """\
cmts: {timers: {t1: 60}}
steps:
  - gate_alloc: {activity_count: 4}
    save: {gate: gate_id}
  - gate_set: {gate_id: "${gate}", profile: "${codec}", remote_ip: "${remote}"}
    within: 50ms
  - reserve: ${gate}
  - commit: ${gate}
  - expect_event: {event: gate_open, gate_id: "${gate}"}
  - hold: 2s
  - repeat:
      count: 2
      steps:
        - gate_info: {gate_id: "${gate}"}
        - wait: 1s
  - release: ${gate}
  - expect_event: {event: gate_close, gate_id: "${gate}", reason: client_initiated_release}
  - sync
"""


async def test_a_full_call_passes_against_the_embedded_cmts(autojump_clock):
    result = await run_embedded(scenario_of(CALL))
    assert result.verdict is Verdict.PASSED and not result.interrupted
    assert summary(result) == [
        ("1", "gate_alloc", "passed"), ("2", "gate_set", "passed"), ("3", "reserve", "passed"),
        ("4", "commit", "passed"), ("5", "expect_event", "passed"), ("6", "hold", "passed"),
        ("7.1.1", "gate_info", "passed"), ("7.1.2", "wait", "passed"),
        ("7.2.1", "gate_info", "passed"), ("7.2.2", "wait", "passed"),
        ("8", "release", "passed"), ("9", "expect_event", "passed"), ("10", "sync", "passed")]
    assert [step.line for step in result.steps[:3]] == [9, 11, 13]
    gate = result.variables["gate"]
    gate_set = result.steps[1]
    assert type(gate_set.reply) is GateSetAck and gate_set.reply.gate_id == gate
    assert [(type(r.message), r.outgoing) for r in gate_set.messages] == [(Decision, True), (Report, False)]
    assert gate_set.messages[0].message.decisions  # the Gate-Set itself, as sent
    assert f"gate 0x{gate:08x}" in gate_set.message and gate_set.latency_ms is not None
    assert result.steps[5].duration_ms == pytest.approx(2000)
    assert [type(record.message) for record in result.trace[:3]] == [ClientOpen, ClientAccept, Request]
    closed = result.steps[11].message
    assert closed.startswith("Gate-Close gate") and "client_initiated_release" in closed


async def test_the_first_failure_ends_the_run_and_skips_the_rest(autojump_clock):
    result = await run_embedded(scenario_of("""\
        steps:
          - gate_info: {gate_id: 0x1234}
            expect: {error: unknown_gate_id}
            save: {code: error_code}
          - gate_set: {profile: G729-10, remote_ip: "${remote}"}
            expect: {error: insufficient_resources}
          - wait: 1s
          - repeat: {count: 2, steps: [sync]}
        """))
    assert result.verdict is Verdict.FAILED and result.variables["code"] == 2
    assert summary(result) == [("1", "gate_info", "passed"), ("2", "gate_set", "failed"),
                               ("3", "wait", "skipped"), ("4", "repeat", "skipped"),
                               ("cleanup.1", "cleanup", "passed")]  # the gate the unexpected Ack made
    assert result.steps[1].message.startswith(
        "expected Gate-Set-Err insufficient_resources (1), got Gate-Set-Ack")
    assert result.failures == [result.steps[1]] and result.count(Verdict.SKIPPED) == 2
    assert result.steps[4].message == f"gate 0x{result.steps[1].reply.gate_id:08x} left up: deleted"


async def test_within_bounds_the_reply_time(autojump_clock):
    result = await run_embedded(scenario_of("""\
        cmts: {faults: {reply_delay: 0.2}}
        steps:
          - gate_alloc: {}
            within: 250ms
          - gate_alloc: {}
            within: 50ms
        """))
    assert summary(result)[1][2] == "failed"
    assert result.steps[0].verdict is Verdict.PASSED and result.steps[1].latency_ms == pytest.approx(200)
    assert result.steps[1].message == "Gate-Alloc-Ack after 200.0 ms, expected within 50 ms"


async def test_event_with_the_wrong_reason_fails_and_names_both(autojump_clock):
    result = await run_embedded(scenario_of("""\
        cmts: {timers: {t1: 3}}
        steps:
          - gate_set: {profile: G711-10, remote_ip: "${remote}", t1: 0}
            save: {gate: gate_id}
          - expect_event: {event: gate_close, gate_id: "${gate}", reason: client_initiated_release, timeout: 10s}
        """))
    gate = result.variables["gate"]
    assert result.steps[1].verdict is Verdict.FAILED
    assert result.steps[1].message == (f"Gate-Close for gate 0x{gate:08x} with reason timer_t1_expiration (5), "
                                       f"expected client_initiated_release (0)")
    assert result.steps[1].duration_ms == pytest.approx(3000)


async def test_missing_event_fails_after_its_timeout(autojump_clock):
    result = await run_embedded(scenario_of("""\
        steps:
          - gate_alloc: {}
            save: {gate: gate_id}
          - expect_event: {event: gate_open, gate_id: "${gate}", timeout: 1.5s}
        """))
    gate = result.variables["gate"]
    assert result.steps[1].message == f"no Gate-Open for gate 0x{gate:08x} within 1.5 s"
    assert result.steps[1].duration_ms == pytest.approx(1500)


async def test_modem_refusals_pass_when_expected_and_fail_otherwise(autojump_clock):
    result = await run_embedded(scenario_of("""\
        steps:
          - commit: 0x1234
            expect: refused
          - reserve: 0x1234
        """))
    assert summary(result) == [("1", "commit", "passed"), ("2", "reserve", "failed")]
    assert result.steps[0].message.startswith("refused as expected")
    assert result.steps[1].message.startswith("the CMTS refused to reserve gate 0x00001234")


async def test_disconnect_and_reconnect_keep_the_gates_on_the_cmts(autojump_clock):
    result = await run_embedded(scenario_of("""\
        steps:
          - gate_set: {profile: G711-20, remote_ip: "${remote}"}
            save: {gate: gate_id}
          - disconnect
          - wait: 1s
          - reconnect
          - gate_info: {gate_id: "${gate}"}
        """))
    assert result.verdict is Verdict.PASSED, result.failures
    assert [type(record.message) for record in result.trace].count(ClientOpen) == 2


async def test_variable_overrides_seed_and_runtime_value_errors(autojump_clock):
    scenario = scenario_of("""\
        seed: 7
        steps:
          - hold: {distribution: uniform, min: 1s, max: 2s}
          - hold: {distribution: exponential, mean: 10s, max: 0.5s}
          - gate_set: {profile: "${codec}", remote_ip: "${remote}"}
            save: {number: gate_id}
          - gate_info: {subscriber: "${number}", gate_id: 1}
        """)
    with pytest.raises(ScenarioError, match="no variable 'codex' to set"):
        await run_embedded(scenario, variables={"codex": "G729-20"})
    result = await run_embedded(scenario, variables={"codec": "G729-20"})
    expected = random.Random(7).uniform(1, 2)
    assert result.steps[0].duration_ms == pytest.approx(expected * 1000)
    assert result.steps[1].duration_ms == pytest.approx(500)
    gate_set = gate_command_of(result.steps[2].messages[0].message)
    assert [spec.token_bucket_rate for spec in gate_set.gate_specs] == [3000.0, 3000.0]  # G.729 at 20 ms
    # What a step saves is only known at run time: a value the field does not take fails that step.
    assert result.steps[3].message == f"expected an IPv4 or IPv6 address, got ${{number}} = {result.variables['number']}"


async def test_an_interrupted_run_leaves_a_partial_result(autojump_clock):
    scenario = scenario_of("""\
        steps:
          - gate_alloc: {}
          - hold: 1h
          - sync
        """)
    async with trio.open_nursery() as nursery:
        pep = FakePep()
        host, port = await pep.listen(nursery)
        async with GateControllerPool() as pool:
            runner = ScenarioRunner(scenario, RealModem())
            gc = await pool.connect(f"{host}:{port}")
            with trio.move_on_after(10):
                await runner.run(gc)
        nursery.cancel_scope.cancel()
    result = runner.result
    assert result.interrupted and result.verdict is Verdict.FAILED
    assert summary(result) == [("1", "gate_alloc", "passed"), ("2", "hold", "failed")]
    assert result.steps[1].message == "interrupted" and result.duration_ms == pytest.approx(10000)


# --- real gear: the modem is watched, not driven ---------------------------------------------------------


async def run_against_pep(nursery, scenario, act=None, *, hold: bool = False) -> tuple:
    """Run ``scenario`` against a FakePep (holding its replies if ``hold``) while ``act(pep)`` plays the real modem."""
    pep = FakePep()
    host, port = await pep.listen(nursery)
    async with GateControllerPool() as pool:
        runner = ScenarioRunner(scenario, RealModem(timeout=30))
        runner.attach(pool)
        gc = await pool.connect(f"{host}:{port}")
        pep.hold = hold
        if act is not None:
            nursery.start_soon(act, pep)
        result = await runner.run(gc)
    return pep, result


async def test_real_modem_commit_waits_for_gate_open_and_leaves_it_for_expect_event(nursery, autojump_clock):
    async def person_picks_up(pep):
        await trio.sleep(3)
        await pep.gate_open(0xA001)

    _, result = await run_against_pep(nursery, scenario_of("""\
        steps:
          - gate_set: {profile: G711-20, remote_ip: "${remote}"}
            save: {gate: gate_id}
          - reserve: ${gate}
          - commit: ${gate}
          - expect_event: {event: gate_open, gate_id: "${gate}", timeout: 0s}
          - release: {gate_id: "${gate}", timeout: 2s}
        """), person_picks_up)
    assert summary(result)[:4] == [("1", "gate_set", "passed"), ("2", "reserve", "passed"),
                                   ("3", "commit", "passed"), ("4", "expect_event", "passed")]
    assert result.steps[1].message == "real modem: a reservation is not visible to the gate controller"
    assert result.steps[2].duration_ms == pytest.approx(3000)
    assert type(result.steps[3].reply) is GateOpened
    assert result.steps[4].verdict is Verdict.FAILED
    assert result.steps[4].message == "no Gate-Close for gate 0x0000a001 within 2 s"


async def test_expect_timeout_passes_when_the_cmts_stays_silent(nursery, autojump_clock):
    pep, result = await run_against_pep(nursery, scenario_of("""\
        steps:
          - gate_info: {gate_id: 1}
            expect: timeout
            timeout: 2s
          - gate_info: {gate_id: 1}
            timeout: 1s
        """), hold=True)
    assert summary(result) == [("1", "gate_info", "passed"), ("2", "gate_info", "failed")]
    assert result.steps[0].duration_ms == pytest.approx(2000)
    assert result.steps[1].message.startswith("expected Gate-Info-Ack, got no reply to Gate-Info (TID 2) within 1 s")
    assert len(pep.held) == 2
