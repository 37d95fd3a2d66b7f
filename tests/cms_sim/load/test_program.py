"""Compiling a scenario for load: steps flattened, repeats unrolled, connection steps refused."""

import pytest

from cms_sim.load.program import compile_program
from cms_sim.scenario import ScenarioError
from cms_sim.scenario.loader import parse_scenario

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
