"""Loading scenario files: the model, and one ``FILE:LINE: FIELD.PATH: expected ...`` line per mistake."""

from __future__ import annotations

import ipaddress
import textwrap

import pytest

from cmts_sim.config import CmtsConfig
from cms_sim.scenario import ScenarioError, load_scenario, parse_scenario
from cms_sim.scenario.embedded import embedded_config
from cms_sim.scenario.model import CommitStep, GateSetStep, HoldStep, RepeatStep, SyncStep, Uniform, WaitStep
from cms_sim.scenario.schema import SCHEMA_PATH, generate, main
from cms_sim.scenario.values import Template, parse_duration

HEADER = """\
name: test
description: what it tests
variables:
  subscriber: 10.0.1.10
  remote: 10.1.1.20
steps:
"""


def problems(tmp_path, steps: str, header: str = HEADER) -> list[str]:
    path = tmp_path / "scenario.yaml"
    path.write_text(header + textwrap.dedent(steps))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(caught.value) == "\n".join(caught.value.problems)
    return [problem.replace(f"{path}:", "FILE:") for problem in caught.value.problems]


def test_a_full_scenario_loads_with_step_lines_and_templates(tmp_path):
    path = tmp_path / "call.yaml"
    path.write_text(HEADER + textwrap.dedent("""\
          - gate_set: {profile: G711-20, remote_ip: "${remote}"}
            save: {gate: gate_id}
            within: 50ms
          - commit: ${gate}
          - repeat:
              count: 2
              steps:
                - hold: {distribution: uniform, min: 1s, max: 2.5}
                - wait: 500ms
          - sync
        """))
    scenario = load_scenario(path)
    gate_set, commit, repeat, sync = scenario.steps
    assert scenario.source == str(path)
    assert [type(step) for step in scenario.steps] == [GateSetStep, CommitStep, RepeatStep, SyncStep]
    assert [step.line for step in scenario.steps] == [7, 10, 11, 16]
    assert [step.line for step in repeat.repeat.steps] == [14, 15]
    assert gate_set.within == 0.05 and gate_set.expect == "ack" and gate_set.save == {"gate": "gate_id"}
    assert isinstance(gate_set.gate_set.subscriber, Template)  # the default, ${subscriber}
    assert gate_set.gate_set.subscriber.resolve(scenario.variables) == ipaddress.IPv4Address("10.0.1.10")
    assert isinstance(commit.commit.gate_id, Template) and commit.commit.gate_id.names == ["gate"]
    hold, wait = repeat.repeat.steps
    assert isinstance(hold, HoldStep) and hold.hold == Uniform(distribution="uniform", min=1.0, max=2.5)
    assert isinstance(wait, WaitStep) and wait.wait == 0.5


def test_unknown_step_type(tmp_path):
    assert problems(tmp_path, """\
          - gate_alloc: {}
          - gate_sett: {profile: G711-20}
        """) == ["FILE:8: steps[1]: unknown step type 'gate_sett'; expected one of: gate_alloc, gate_set, gate_info, "
                 "gate_delete, reserve, commit, release, expect_event, expect_no_event, hold, wait, repeat, disconnect, "
                 "reconnect, sync"]


def test_two_actions_in_one_step(tmp_path):
    assert problems(tmp_path, """\
          - commit: 1
            release: 1
        """) == ["FILE:7: steps[0]: one action per step, found commit and release"]


def test_wrong_type(tmp_path):
    assert problems(tmp_path, """\
          - gate_info:
              gate_id: [1, 2]
        """) == ["FILE:8: steps[0].gate_info.gate_id: expected an integer from 0 to 4294967295 (0x prefix for hex) "
                 "or ${variable}, got [1, 2]"]


def test_action_that_is_not_a_mapping(tmp_path):
    assert problems(tmp_path, "  - gate_set: G711-20\n") == [
        "FILE:7: steps[0].gate_set: expected a mapping of fields, got 'G711-20'"]


def test_missing_field(tmp_path):
    assert problems(tmp_path, """\
          - wait: 1s
          - gate_delete:
              subscriber: 10.0.1.10
        """) == ["FILE:8: steps[1].gate_delete.gate_id: required field missing"]


def test_missing_top_level_field(tmp_path):
    assert problems(tmp_path, "steps: [sync]\n", header="name: x\n") == ["FILE:1: description: required field missing"]


def test_bad_duration(tmp_path):
    assert problems(tmp_path, """\
          - gate_alloc: {}
            within: 50 parsecs
        """) == ["FILE:8: steps[0].within: expected a duration such as 50ms, 2s or 1.5 (up to 168h) or ${variable}, "
                 "got '50 parsecs'"]


@pytest.mark.parametrize("duration, shown", [(".inf", "inf"), (".nan", "nan"), ("169h", "'169h'"),
                                             ("-1", "-1")])
def test_a_duration_that_would_never_end_or_makes_no_sense_is_refused(tmp_path, duration, shown):
    assert problems(tmp_path, f"""\
          - hold: {duration}
        """) == [f"FILE:7: steps[0].hold: expected a duration such as 50ms, 2s or 1.5 (up to 168h) or ${{variable}}, "
                 f"got {shown}"]


def test_yaml_syntax_error(tmp_path):
    (problem,) = problems(tmp_path, """\
          - gate_alloc: {activity_count: 4
          - wait: 1s
        """)
    assert problem.startswith("FILE:8: YAML syntax: ")


def test_unknown_variable_names_the_defined_ones(tmp_path):
    assert problems(tmp_path, """\
          - gate_alloc: {}
            save: {gate: gate_id}
          - commit: ${gaet}
        """) == ["FILE:9: steps[1].commit: unknown variable ${gaet}; defined here: gate, remote, subscriber"]


def test_unknown_variable_in_a_default_points_at_the_step(tmp_path):
    assert problems(tmp_path, "  - gate_alloc: {activity_count: 2}\n", header="name: x\ndescription: y\nsteps:\n") == [
        "FILE:4: steps[0].gate_alloc.subscriber: unknown variable ${subscriber} (this field's default; set the field "
        "or define the variable); defined here: none"]


def test_variables_are_scoped_by_order_and_by_repeat(tmp_path):
    assert problems(tmp_path, """\
          - wait: ${later}
          - repeat:
              count: 2
              steps:
                - gate_alloc: {}
                  save: {later: gate_id}
                - wait: ${iteration}
          - wait: ${iteration}
          - commit: ${later}
        """) == [
        "FILE:7: steps[0].wait: unknown variable ${later}; defined here: remote, subscriber",
        "FILE:14: steps[2].wait: unknown variable ${iteration}; defined here: later, remote, subscriber",
    ]


def test_unknown_field_lists_the_known_ones(tmp_path):
    assert problems(tmp_path, """\
          - expect_event: {event: gate_open, timeot: 2s}
          - repeat:
              count: 1
              steps:
                - gate_delete: {gate_id: 1}
                  expect: {error: unknown-gate-id, bogus: 1}
        """) == [
        "FILE:7: steps[0].expect_event.timeot: unknown field; expected one of: event, gate_id, reason, timeout",
        "FILE:12: steps[1].repeat.steps[0].expect.bogus: unknown field; expected one of: error, subcode",
    ]


def test_every_mistake_in_a_file_is_reported_in_line_order(tmp_path):
    assert problems(tmp_path, """\
          - hold: {distribution: uniform, min: 1s}
          - gate_set: {profile: G711-21, remote_ip: "${remote}"}
            save: {gate: gate_idd}
          - gate_info: {gate_id: 1}
            expect: ok
          - expect_event: {event: gate_close, reason: bogus}
          - gate_set: {remote_ip: 10.1.1.20}
        """) == [
        "FILE:7: steps[0].hold.max: required field missing",
        "FILE:8: steps[1].gate_set.profile: expected a media profile (G711-10, G711-20, G729-10, G729-20) or "
        "${variable}, got 'G711-21'",
        "FILE:9: steps[1].save: cannot save 'gate_idd'; expected one of: gate_id, activity_count, transaction_id, "
        "subscriber, error_code, error_subcode",
        "FILE:11: steps[2].expect: expected 'ack' or 'timeout', got 'ok'",
        "FILE:12: steps[3].expect_event.reason: expected a Gate-Close reason (client_initiated_release, "
        "reservation_reassignment, lack_of_reservation_maintenance, lack_of_docsis_mac_layer_responses, "
        "timer_t0_expiration, timer_t1_expiration, timer_t7_expiration, timer_t8_expiration, unspecified) or a "
        "number or ${variable}, got 'bogus'",
        "FILE:13: steps[4].gate_set: give either profile or gate_specs",
    ]


def test_cmts_settings_are_checked_with_the_simulators_own_models(tmp_path):
    assert problems(tmp_path, "  - sync\n", header=HEADER.replace("steps:", "cmts:\n  timers: {t9: 1}\nsteps:")) == [
        "FILE:7: cmts.timers.t9: unknown field; expected one of: t0, t1, t7, t8"]


def test_duplicate_keys_and_empty_files(tmp_path):
    assert problems(tmp_path, "  - wait: 1\n", header=HEADER.replace("remote:", "subscriber: 1\n  remote:")) == [
        "FILE:5: variables.subscriber: duplicate key"]
    assert problems(tmp_path, "", header="") == [
        "FILE:1: the file is empty; expected a scenario (name, description, steps)"]


def test_unreadable_file_is_a_scenario_error(tmp_path):
    with pytest.raises(ScenarioError, match="missing.yaml: cannot read"):
        load_scenario(tmp_path / "missing.yaml")


def test_short_and_bare_forms():
    scenario = parse_scenario(textwrap.dedent("""\
        name: forms
        description: short forms
        steps:
          - commit: 0x1234
          - release: {gate_id: 7, timeout: 30s}
          - disconnect
          - disconnect: {client_close: false}
          - reconnect:
          - gate_delete: {subscriber: 10.0.1.10, gate_id: 3, reason: authorization-revoked}
            expect: {error: 2, subcode: 0}
        """))
    commit, release, disconnect, hard_disconnect, reconnect, delete = scenario.steps
    assert commit.commit.gate_id == 0x1234 and (release.release.gate_id, release.release.timeout) == (7, 30.0)
    assert disconnect.disconnect.client_close and not hard_disconnect.disconnect.client_close
    assert reconnect.KIND == "reconnect" and delete.gate_delete.reason == 3
    assert (delete.expect.error, delete.expect.subcode) == (2, 0)


@pytest.mark.parametrize(("text", "seconds"), [
    ("50ms", 0.05), ("2s", 2.0), ("1.5", 1.5), (" 500us ", 0.0005), ("2m", 120.0), ("1h", 3600.0), (3, 3.0),
    (0.25, 0.25)])
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["-1", -1, "1 fortnight", "ms", True, None])
def test_bad_durations(text):
    with pytest.raises((ValueError, TypeError)):
        parse_duration(text)


def test_cmts_block_overrides_only_what_it_gives_and_the_modem_is_driven_unless_asked():
    scenario = parse_scenario(textwrap.dedent("""\
        name: t1
        description: T1 expiry
        cmts: {timers: {t1: 5}, capacity: {max_gates: 3}}
        steps:
          - commit: 1
        """))
    config = embedded_config(scenario, CmtsConfig(listen=["127.0.0.1:0"], timers={"t0": 9}))
    assert (config.timers.t0, config.timers.t1, config.capacity.max_gates) == (9, 5, 3)
    assert config.modem.mode == "driven" and config.listen == ["127.0.0.1:0"]
    auto = parse_scenario("name: a\ndescription: b\ncmts: {modem: {mode: auto}}\nsteps: [commit: 1]\n")
    assert embedded_config(auto).modem.mode == "auto"


def test_shipped_schema_is_the_generated_one(tmp_path):
    assert SCHEMA_PATH.read_text() == generate()
    assert main(["--check"]) == 0
    stale = tmp_path / "stale.json"
    stale.write_text("{}\n")
    assert main(["--check", str(stale)]) == 1
    assert main([str(stale)]) == 0 and stale.read_text() == generate()
