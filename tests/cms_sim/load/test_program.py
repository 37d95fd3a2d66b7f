"""Compiling a scenario for load: steps flattened, repeats unrolled, connection steps refused."""

import ipaddress

import pytest

from cms_sim import media
from cms_sim.load.program import compile_program
from cms_sim.scenario import ScenarioError
from cms_sim.scenario.loader import parse_scenario
from cms_sim.scenario.values import Template

HEAD = """
name: t
description: t
variables: {subscriber: 10.0.1.10, remote: 10.1.1.20, passes: 2}
steps:
"""


def program(steps: str):
    return compile_program(parse_scenario(HEAD + steps, "s.yaml"))


def test_steps_keep_their_file_numbers_and_gate_commands_their_names():
    compiled = program("""
  - name: allocate
    gate_alloc: {}
    save: {gate: gate_id}
  - gate_set: {gate_id: "${gate}", profile: G711-20, remote_ip: "${remote}"}
  - hold: 1s
""")
    assert [op.title for op in compiled.ops] == ["1. allocate", "2. gate_set", "3. hold"]
    assert compiled.command_titles == ["Gate-Alloc", "Gate-Set"]


def test_a_repeat_is_unrolled_and_sets_iteration_as_each_pass_begins():
    compiled = program("""
  - repeat:
      count: 3
      steps:
        - wait: 1s
        - hold: 1s
""")
    assert [op.title for op in compiled.ops] == ["1.1. wait", "1.2. hold"] * 3
    assert [op.setting for op in compiled.ops] == [(("iteration", 1),), (), (("iteration", 2),), (),
                                                   (("iteration", 3),), ()]
    assert compiled.step_titles == ["1.1. wait", "1.2. hold"]


@pytest.mark.parametrize("steps, message", [
    ("  - disconnect\n", r"s.yaml:6: disconnect: cannot run under load: it acts on the connection"),
    ("  - sync\n", r"s.yaml:6: sync: cannot run under load"),
    ("  - expect_event: {event: connection_lost}\n", r"s.yaml:6: expect_event: under load only gate events"),
    ("  - repeat: {count: \"${passes}\", steps: [wait: 1s]}\n", r"s.yaml:6: repeat: under load the repeat count "
                                                                r"must be a number"),
    ("  - wait: 1s\nfinally:\n  - wait: 1s\n", r"s.yaml:8: finally: not run under load"),
])
def test_what_cannot_run_as_many_calls_is_refused_with_file_and_line(steps, message):
    with pytest.raises(ScenarioError, match=message):
        program(steps)


BOUND = """
name: t
description: t
variables: {subscriber: 10.0.1.10, remote: 10.1.1.20, codec: G711-20, patience: 2s, talk: 1s}
steps:
  - gate_alloc: {}
    save: {gate: gate_id}
  - gate_set: {gate_id: "${gate}", profile: "${codec}", remote_ip: "${remote}"}
  - commit: "${gate}"
  - expect_event: {event: gate_close, gate_id: "${gate}", timeout: "${patience}"}
  - hold: "${talk}"
"""


def test_bind_works_out_what_every_call_shares_and_builds_the_same_commands():
    scenario = parse_scenario(BOUND, "s.yaml")
    compiled = compile_program(scenario)
    bound = compiled.bind(scenario.variables, ("subscriber", "call"))
    call = {**scenario.variables, "subscriber": ipaddress.ip_address("10.64.0.5"), "call": 3, "gate": 7}
    for op, general in zip(bound.ops, compiled.ops):
        if general.build is not None:
            assert op.build(call) == general.build(call)
    alloc, gate_set, commit, expect, hold = bound.ops
    assert gate_set.build(call).gate_specs == media.profile("G711-20").gate_specs("10.64.0.5", "10.1.1.20")
    assert isinstance(commit.gate, Template) and isinstance(expect.gate, Template)  # ${gate} is saved: per call
    assert (expect.timeout, hold.pause) == (2.0, 1.0)
    # Unbound, the same fields are resolved by every call.
    assert isinstance(compiled.ops[3].timeout, Template) and isinstance(compiled.ops[4].pause, Template)


def test_bind_leaves_a_shared_value_a_field_does_not_take_to_fail_each_call_as_before():
    scenario = parse_scenario(BOUND, "s.yaml")  # the loader refuses a bad default: the value comes later here
    variables = {**scenario.variables, "patience": "soon"}
    bound = compile_program(scenario).bind(variables, ("subscriber", "call"))
    timeout = bound.ops[3].timeout
    assert isinstance(timeout, Template)
    with pytest.raises(ValueError, match="expected a duration"):
        timeout.resolve(variables)


def test_bind_keeps_per_call_what_a_call_or_a_step_changes():
    scenario = parse_scenario(BOUND.replace("timeout: \"${patience}\"", "timeout: \"${call}\""), "s.yaml")
    bound = compile_program(scenario).bind({**scenario.variables, "call": 1}, ("subscriber", "call"))
    assert isinstance(bound.ops[3].timeout, Template)
