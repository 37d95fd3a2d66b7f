"""Richer expectations: reply contents, expect_no_event, continue_on_failure, ${var} everywhere, checks at load."""

from __future__ import annotations

import textwrap

import pytest

from cms_sim.pool import GateControllerPool
from cms_sim.scenario import RealModem, ScenarioError, ScenarioRunner, Verdict, parse_scenario, run_embedded
from cops_core.dqos import GateInfoAck, GateSetAck

from ..fake_pep import FakePep

HEADER = """\
name: test
description: what it tests
variables:
  subscriber: 10.0.1.10
  remote: 10.1.1.20
  code: unknown_gate_id
  event: gate_open
  subcode: 0
"""


def scenario_of(body: str):
    return parse_scenario(HEADER + textwrap.dedent(body), "test.yaml")


def summary(result) -> list[tuple[str, str]]:
    return [(step.id, step.verdict.value) for step in result.steps if step.phase == "steps"]


def problems(body: str) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        scenario_of(body)
    return caught.value.problems


async def run_against_pep(nursery, body: str, respond=None):
    pep = FakePep()
    if respond is not None:
        pep.respond = respond(pep)
    host, port = await pep.listen(nursery)
    runner = ScenarioRunner(scenario_of(body), RealModem(timeout=5))
    async with GateControllerPool() as pool:
        return await runner.run(await pool.connect(f"{host}:{port}"))


CODEC_CHANGE = """\
steps:
  - gate_set: {profile: G711-20, remote_ip: "${remote}"}
    save: {gate: gate_id}
  - name: to G.729
    gate_set: {gate_id: "${gate}", profile: G729-20, remote_ip: "${remote}"}
    reply: {gate_id: "${gate}"}
  - name: audit
    gate_info: {gate_id: "${gate}"}
    reply:
      gate_id: ${gate}
      subscriber: ${subscriber}
      gate_specs:
        - {direction: downstream, token_bucket_rate: 3000, destination_ip: "${subscriber}"}
        - {direction: upstream, token_bucket_rate: 3000}
"""


async def test_the_embedded_cmts_shows_the_modified_gate_field_by_field(autojump_clock):
    result = await run_embedded(scenario_of(CODEC_CHANGE))
    assert result.verdict is Verdict.PASSED, result.failures


async def test_a_cmts_that_ignores_a_modification_fails_the_audit_naming_the_fields(nursery, autojump_clock):
    def keeps_the_first_codec(pep):
        first: dict[int, tuple] = {}

        def respond(command):
            reply = pep.answer(command)
            if type(reply) is GateSetAck:
                first.setdefault(reply.gate_id, command.gate_specs)
            if type(reply) is GateInfoAck:
                return reply._replace(gate_specs=first[command.gate_id])
            return reply
        return respond

    result = await run_against_pep(nursery, CODEC_CHANGE, keeps_the_first_codec)
    audit = result.steps[2]
    assert summary(result) == [("1", "passed"), ("2", "passed"), ("3", "failed")]
    assert audit.message == ("Gate-Info-Ack: gate_specs[0].token_bucket_rate is 10000, expected 3000; "
                             "gate_specs[1].token_bucket_rate is 10000, expected 3000")


async def test_a_modification_that_changes_the_gate_id_fails(nursery, autojump_clock):
    def new_id_each_time(pep):
        def respond(command):
            reply = pep.answer(command)
            return reply._replace(gate_id=reply.gate_id + 0x100) if command.gate_id is not None else reply
        return respond

    result = await run_against_pep(nursery, CODEC_CHANGE, new_id_each_time)
    assert summary(result)[:2] == [("1", "passed"), ("2", "failed")]
    assert result.steps[1].message == "Gate-Set-Ack: gate_id is 0x0000a101, expected 0x0000a001"


async def test_error_subcode_and_event_names_can_come_from_variables(autojump_clock):
    scenario = scenario_of("""\
        steps:
          - gate_info: {gate_id: 0x1234}
            expect: {error: "${code}", subcode: "${subcode}"}
          - gate_set: {profile: G711-20, remote_ip: "${remote}"}
            save: {gate: gate_id}
          - reserve: ${gate}
          - commit: ${gate}
          - expect_event: {event: "${event}", gate_id: "${gate}"}
        """)
    result = await run_embedded(scenario, variables={"code": "2"})
    assert result.verdict is Verdict.PASSED, result.failures
    failed = await run_embedded(scenario, variables={"code": "insufficient_resources"})
    assert failed.steps[0].message.startswith("expected Gate-Info-Err insufficient_resources (1) sub-code 0x0000, got")


async def test_expect_no_event_passes_for_a_quiet_window_and_fails_the_moment_one_comes(autojump_clock):
    result = await run_embedded(scenario_of("""\
        cmts: {timers: {t1: 3}}
        steps:
          - gate_set: {profile: G711-20, remote_ip: "${remote}", t1: 0}
            save: {gate: gate_id}
          - name: T1 has not run out yet
            expect_no_event: {event: gate_close, gate_id: "${gate}", window: 2s}
          - name: but then it does
            expect_no_event: {event: gate_close, window: 5s}
        """))
    assert summary(result) == [("1", "passed"), ("2", "passed"), ("3", "failed")]
    assert result.steps[1].message == f"no Gate-Close for gate 0x{result.variables['gate']:08x} for 2 s"
    assert result.steps[2].message == "Gate-Close after 1000.0 ms, expected none for 5 s"
    assert result.steps[2].duration_ms == pytest.approx(1000)


async def test_continue_on_failure_runs_the_next_steps_and_still_fails_the_scenario(autojump_clock):
    result = await run_embedded(scenario_of("""\
        steps:
          - gate_info: {gate_id: 0x1234}
            continue_on_failure: true
          - gate_alloc: {}
        """))
    assert summary(result) == [("1", "failed"), ("2", "passed")]
    assert result.verdict is Verdict.FAILED


@pytest.mark.parametrize("body, message", [
    ("steps: [hold: {distribution: uniform, min: 2s, max: 1s}]\n",
     "test.yaml:9: steps[0].hold.uniform: min (2 s) is more than max (1 s)"),
    ("steps: [repeat: {count: 0, steps: [sync]}]\n",
     "test.yaml:9: steps[0].repeat.count: expected a whole number from 1 or ${variable}, got 0"),
    ("steps:\n  - gate_info: {gate_id: 1}\n    reply: {gate_spec: []}\n",
     "test.yaml:11: steps[0].reply: Gate-Info-Ack has no field 'gate_spec'; it has: gate_id, subscriber, "
     "activity_count, gate_specs, remote_gate_info, event_generation_info, media_connection_event_info, "
     "electronic_surveillance_parameters, session_description_parameters"),
    ("steps:\n  - gate_info: {gate_id: 1}\n    reply: {gate_specs: [{rate: 1, codec: 2}]}\n",
     "test.yaml:11: steps[0].reply: gate_specs[0]: a Gate-Spec has no field 'codec'"),
    ("steps:\n  - gate_info: {gate_id: 1}\n    reply: {gate_id: '${nope}'}\n",
     "test.yaml:11: steps[0].reply.gate_id: unknown variable ${nope}"),
])
def test_the_loader_rejects_what_cannot_run_with_file_and_line(body, message):
    found = problems(body)
    assert any(problem.startswith(message) for problem in found), found


def test_a_bad_address_among_the_variables_is_refused_where_it_is_used():
    with pytest.raises(ScenarioError) as caught:
        parse_scenario("name: n\ndescription: d\nvariables: {subscriber: 10.0.1}\nsteps:\n"
                       "  - gate_info: {gate_id: 1}\n", "bad.yaml")
    assert caught.value.problems == ["bad.yaml:5: steps[0].gate_info.subscriber: expected an IPv4 or IPv6 "
                                     "address, got ${subscriber} = '10.0.1'"]
