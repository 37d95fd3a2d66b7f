"""Fail fast, name the cause: a lost connection, Client-Close or DRQ ends the waiting step at once."""

from __future__ import annotations

import textwrap

import pytest
import trio

from cms_sim.pool import GateControllerPool
from cms_sim.scenario import RealModem, ScenarioRunner, Verdict, parse_scenario
from cops_core import ClientOpen, ErrorCode

from ..fake_pep import FakePep

HEADER = """\
name: test
description: what it tests
variables:
  subscriber: 10.0.1.10
  remote: 10.1.1.20
"""

CALL = """\
steps:
  - gate_set: {profile: G711-20, remote_ip: "${remote}"}
    save: {gate: gate_id}
  - hold: 20s
  - release: ${gate}
  - gate_delete: {gate_id: "${gate}"}
"""


def scenario_of(body: str):
    return parse_scenario(HEADER + textwrap.dedent(body), "test.yaml")


async def run_while(nursery, body: str, act) -> tuple[FakePep, object]:
    """Run the scenario against a hand-driven PEP; ``act(pep)`` misbehaves one second in."""
    pep = FakePep()
    host, port = await pep.listen(nursery)

    async def one_second_in():
        await trio.sleep(1)
        await act(pep)

    runner = ScenarioRunner(scenario_of(body), RealModem(timeout=60))
    async with GateControllerPool() as pool:
        runner.attach(pool)
        gc = await pool.connect(f"{host}:{port}")
        nursery.start_soon(one_second_in)
        result = await runner.run(gc)
    return pep, result


def summary(result) -> list[tuple[str, str]]:
    return [(step.id, step.verdict.value) for step in result.steps]


async def test_client_close_mid_call_fails_the_hold_at_once_with_its_error(nursery, autojump_clock):
    pep, result = await run_while(nursery, CALL, lambda pep: pep.client_close(ErrorCode.SHUTTING_DOWN))
    hold = result.steps[1]
    assert summary(result)[:4] == [("1", "passed"), ("2", "failed"), ("3", "skipped"), ("4", "skipped")]
    assert hold.duration_ms == pytest.approx(1000, abs=5)
    assert hold.message.endswith("sent Client-Close (error 11 SHUTTING_DOWN, sub-code 0)")
    # The cleanup dialled again and deleted the gate the call left.
    assert summary(result)[4:] == [("cleanup.1", "passed")]
    assert [type(record.message) for record in result.trace].count(ClientOpen) == 2
    assert pep.gates == {}


async def test_a_dropped_tcp_connection_fails_a_waiting_modem_step_at_once(nursery, autojump_clock):
    pep, result = await run_while(nursery, """\
        steps:
          - gate_set: {profile: G711-20, remote_ip: "${remote}"}
            save: {gate: gate_id}
          - commit: ${gate}
        """, lambda pep: pep.close_tcp())
    commit = result.steps[1]
    assert commit.verdict is Verdict.FAILED and commit.duration_ms == pytest.approx(1000, abs=5)
    assert commit.message.endswith("closed the TCP connection")
    assert pep.gates == {}


async def test_a_drq_fails_the_waiting_step_with_its_reason(nursery, autojump_clock):
    pep, result = await run_while(nursery, CALL, lambda pep: pep.delete_request_state())
    hold = result.steps[1]
    assert hold.verdict is Verdict.FAILED and hold.duration_ms == pytest.approx(1000, abs=5)
    assert hold.message.startswith("the CMTS deleted the request state (DRQ reason")
    assert summary(result)[-1] == ("cleanup.1", "passed") and pep.gates == {}


async def test_a_loss_the_scenario_waits_for_is_not_a_failure(nursery, autojump_clock):
    _, result = await run_while(nursery, """\
        steps:
          - gate_alloc: {}
          - hold: 3s
          - expect_event: {event: connection_lost, timeout: 5s}
        """, lambda pep: pep.close_tcp())
    assert summary(result)[:3] == [("1", "passed"), ("2", "passed"), ("3", "passed")]
    assert result.steps[2].duration_ms == pytest.approx(0, abs=5)  # it came during the hold, and was kept


async def test_a_client_close_right_after_the_request_names_itself_in_the_first_step(nursery, autojump_clock):
    from cops_core import ClientClose, Request
    from cops_core.objects import Handle

    async def closes_at_once(stream):
        await stream.send_all(ClientOpen.new("CLOSER").encode())
        await stream.receive_some(1000)  # the Client-Accept
        await stream.send_all(Request.new(Handle.from_int(1)).encode() + ClientClose.new(ErrorCode.SHUTTING_DOWN).encode())
        await stream.aclose()

    listeners = await nursery.start(trio.serve_tcp, closes_at_once, 0)
    port = listeners[0].socket.getsockname()[1]
    runner = ScenarioRunner(scenario_of("steps: [gate_alloc: {}, sync]\n"), RealModem())
    async with GateControllerPool() as pool:
        result = await runner.run(await pool.connect(f"127.0.0.1:{port}"))
    assert [(step.id, step.verdict.value) for step in result.steps] == [("1", "failed"), ("2", "skipped")]
    assert "sent Client-Close (error 11 SHUTTING_DOWN, sub-code 0)" in result.steps[0].message
