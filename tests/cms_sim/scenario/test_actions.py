"""Step semantics shared by both engines: the shortcuts cms-sim load takes agree with the general judging."""

from __future__ import annotations

import ipaddress

import pytest

from cms_sim.events import GateClosed
from cms_sim.scenario import parse_scenario
from cms_sim.scenario.actions import (StepFailed, check_event, judge_event, judge_reply, judges_acks, save_from_ack,
                                      saves_only)
from cops_core.dqos import GateAllocAck, GateSetAck

HEADER = """\
name: test
description: what it tests
variables: {subscriber: 10.0.1.10, remote: 10.1.1.20, gate: 7}
steps:
"""
GATE_SET = '  - gate_set: {gate_id: "${gate}", profile: G711-20, remote_ip: "${remote}"}\n'


def step_of(extra: str = ""):
    return parse_scenario(HEADER + GATE_SET + extra, "test.yaml").steps[0]


@pytest.mark.parametrize("extra, judged", [
    ("", False),
    ("    within: 1ms\n", True),
    ("    save: {gate2: gate_id}\n", True),
    ("    expect: timeout\n", True),
    ("    expect: {error: unknown_gate_id}\n", True),
])
def test_only_acks_that_judging_passes_untouched_go_unjudged(extra, judged):
    step = step_of(extra)
    assert judges_acks(step) is judged
    ack = GateSetAck(5, 7, ipaddress.IPv4Address("10.0.1.10"), 4)
    variables = {"gate": 7}
    try:
        judge_reply(step, ack, None, 10.0, variables)  # a slow Ack: it fails ``within``
        passed = True
    except StepFailed:
        passed = False
    if not judged:  # then judging passes every Ack and saves nothing
        assert passed and variables == {"gate": 7}
    else:
        assert not passed or variables != {"gate": 7}


def test_check_event_fails_as_judge_event_does_and_passes_what_it_passes():
    steps = parse_scenario(HEADER + '  - expect_event: {event: gate_close, gate_id: "${gate}", reason: '
                                    'client_initiated_release}\n', "test.yaml").steps
    params = steps[0].expect_event
    right = GateClosed(0.0, ("127.0.0.1", 2126), 7, 0, None)
    wrong = right._replace(reason=2)
    assert check_event(params, right, {}, "1. close") is None
    judge_event(params, right, {}, "1. close")
    with pytest.raises(StepFailed) as judged:
        judge_event(params, wrong, {}, "1. close")
    with pytest.raises(StepFailed) as checked:
        check_event(params, wrong, {}, "1. close")
    assert (str(checked.value), checked.value.cause) == (str(judged.value), judged.value.cause)


def test_a_step_field_judges_acks_does_not_know_counts_as_an_expectation_when_set():
    class GateSetWithMore(type(step_of())):  # as the model may grow a new expectation
        reply_fields: dict | None = None

    plain = GateSetWithMore.model_validate(step_of().model_dump())
    assert not judges_acks(plain)
    assert judges_acks(plain.model_copy(update={"reply_fields": {"gate_id": 7}}))


@pytest.mark.parametrize("extra, fast", [
    ("    save: {gate2: gate_id}\n", True),
    ("    save: {gate2: gate_id, count: activity_count, who: subscriber}\n", True),
    ("    save: {gate2: gate_id, count: activity_count}\n    within: 1s\n", False),
    ("    save: {gate2: gate_id}\n    expect: timeout\n", False),
    ("", False),
])
def test_saves_only_steps_only_save(extra, fast):
    assert saves_only(step_of(extra)) is fast


@pytest.mark.parametrize("save", [
    "{gate2: gate_id}",
    "{gate2: gate_id, count: activity_count}",  # an Ack without activity_count: nothing to save
    "{count: activity_count, gate2: gate_id}",  # a failure after nothing, or after one saved
    "{gate2: gate_id, tid: transaction_id, who: subscriber}",
])
@pytest.mark.parametrize("ack", [
    GateSetAck(5, 7, ipaddress.IPv4Address("10.0.1.10"), 4),
    GateSetAck(5, 7, ipaddress.IPv4Address("10.0.1.10"), None),
    GateAllocAck(6, 0x1234, ipaddress.IPv4Address("10.0.1.11"), 2),
])
def test_saving_from_an_ack_does_what_judging_it_does(save, ack):
    step = step_of(f"    save: {save}\n")
    assert saves_only(step)
    outcomes = []
    for judge in (lambda variables: judge_reply(step, ack, None, 10.0, variables),
                  lambda variables: save_from_ack(step, ack, variables)):
        variables = {"gate": 7}
        try:
            judge(variables)
            failed = None
        except StepFailed as exc:
            failed = (str(exc), exc.cause)
        outcomes.append((variables, failed))
    assert outcomes[0] == outcomes[1]
