"""The call engine's deadlines: fixed delays queued in order, the rest in a heap, all due in time order."""

from __future__ import annotations

import random

from cms_sim.load.calls import CallEngine
from cms_sim.load.program import compile_program
from cms_sim.load.stats import Recorder
from cms_sim.scenario.loader import parse_scenario

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
