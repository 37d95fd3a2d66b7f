"""The call engine's deadlines: fixed delays queued in order, the rest in a heap, all due in time order."""

from __future__ import annotations

import random

import pytest

from cms_sim.events import GateClosed, GateOpened
from cms_sim.load.calls import CallEngine
from cms_sim.load.program import compile_program
from cms_sim.load.stats import Recorder
from cms_sim.scenario.loader import parse_scenario
from cops_core.dqos import GateClose, GateCloseSubcode, GateOpen

PEER = ("10.0.0.1", 2126)
SCENARIO = """\
name: pauses
description: a fixed wait, then a hold sampled for each call, then a wait whose length each call sets
variables: {pause: 1s}
steps:
  - wait: 2s
  - hold: {distribution: uniform, min: 0.1s, max: 3s}
  - wait: ${pause}
"""


def engine() -> CallEngine:
    program = compile_program(parse_scenario(SCENARIO, "pauses.yaml"))
    return CallEngine(program.bind({"pause": "1s"}, ["pause"]), Recorder(), clock=lambda: 0.0,
                      rng=random.Random(5))


def run_deadlines(engine: CallEngine) -> list[tuple[float, int, int]]:
    """Expire deadline after deadline: (when, call, step the call went on to) for each call a deadline moved."""
    moved = []
    while (when := engine.next_deadline) is not None:
        steps = {number: call.pc for number, call in engine.calls.items()}
        engine.expire(when)
        moved += [(when, number, engine.calls[number].pc if number in engine.calls else 3)
                  for number, pc in steps.items() if number not in engine.calls or engine.calls[number].pc != pc]
    return moved


def test_deadlines_of_fixed_sampled_and_per_call_delays_fall_due_in_time_order():
    calls = engine()
    rearmed = []
    calls.on_deadline = lambda: rearmed.append(calls.next_deadline)
    for number in range(1, 21):
        calls.start(number, {"pause": f"{number % 4 * 0.3 + 0.1:.1f}s"}, None, number * 0.25)
    assert rearmed == [2.25]  # the first deadline re-armed the timer; later ones fell due after it
    moved = run_deadlines(calls)
    assert [when for when, _, _ in moved] == sorted(when for when, _, _ in moved)
    assert sorted((number, step) for _, number, step in moved) == [(n, s) for n in range(1, 21) for s in (1, 2, 3)]
    assert calls.tally.completed == 20 and not calls.calls and calls.next_deadline is None


def test_a_deadline_earlier_than_its_queues_last_still_falls_due_first():
    calls = engine()
    calls.start(1, {"pause": "1s"}, None, 10.0)
    calls.start(2, {"pause": "1s"}, None, 4.0)  # a clock read before the first call's: out of its queue's order
    assert calls.next_deadline == 6.0
    calls.expire(6.0)
    assert calls.calls[2].pc == 1 and calls.calls[1].pc == 0


EVENTS = """\
name: events
description: the gate opens, then closes for the reason expected
variables: {gate: 0x99}
steps:
  - expect_event: {event: gate_open, gate_id: "${gate}", timeout: 1s}
  - expect_event: {event: gate_close, gate_id: "${gate}", reason: client_initiated_release, timeout: 1s}
"""


@pytest.mark.parametrize("reason, failed", [(GateCloseSubcode.CLIENT_INITIATED_RELEASE, {}),
                                            (GateCloseSubcode.TIMER_T1_EXPIRATION,
                                             {"2. expect_event: Gate-Close reason timer_t1_expiration (5)": 1})])
def test_an_awaited_event_is_judged_only_by_the_step_that_checks_it(reason, failed):
    calls = CallEngine(compile_program(parse_scenario(EVENTS, "events.yaml")), Recorder(), clock=lambda: 1.0)
    calls.start(1, {"gate": 0x99}, None, 0.0)
    calls.by_gate[0x99] = calls.calls[1]  # as a Gate-Alloc-Ack would have made it the call's gate
    calls.on_event(GateOpened(0.5, PEER, 0x99, GateOpen(0, 0x99)))
    calls.on_event(GateClosed(0.5, PEER, 0x99, reason, GateClose(0, 0x99)))
    assert (calls.tally.completed, dict(calls.tally.failed_by_cause)) == (0 if failed else 1, failed)
