"""The pytest plugin, as a user's project sees it (pytester): scenario files as items, fixtures, --cmts."""

from __future__ import annotations

import textwrap

PASSING = """\
name: passes
description: a Gate-Alloc on the embedded CMTS
variables: {subscriber: 10.0.1.10}
steps:
  - gate_alloc: {}
"""

FAILING = """\
name: fails
description: expects an Ack for a gate that does not exist
variables: {subscriber: 10.0.1.10}
steps:
  - gate_info: {gate_id: 0x1234}
"""

EMBEDDED_ONLY = """\
name: embedded only
description: needs the embedded CMTS's capacity setting
variables: {subscriber: 10.0.1.10}
requires: {embedded: it sets the CMTS's capacity}
cmts: {capacity: {max_gates: 1}}
steps:
  - gate_alloc: {}
"""


def test_scenario_files_are_items_with_the_same_verdicts(pytester):
    pytester.makefile(".yaml", passes=PASSING, fails=FAILING, **{"compose": "services: {}\n"})
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)  # compose.yaml is not a scenario: not collected
    result.stdout.fnmatch_lines(["*step 1 (line 5): gate_info: expected Gate-Info-Ack, got Gate-Info-Err*"])


def test_against_real_gear_what_cannot_apply_is_skipped_with_its_reason(pytester):
    pytester.makefile(".yaml", embedded_only=EMBEDDED_ONLY)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs", "--cmts", "127.0.0.1:9")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*needs the embedded CMTS: it sets the CMTS's capacity*"])


def test_the_cmts_and_gate_controller_fixtures(pytester):
    pytester.makeini("[pytest]\ntrio_mode = true\n")
    pytester.makepyfile(textwrap.dedent("""\
        import ipaddress

        import pytest

        from cms_sim.events import GateClosed
        from cops_core.dqos import GateCloseSubcode

        MTA = ipaddress.IPv4Address("10.0.1.10")


        @pytest.mark.cmts(timers={"t0": 1})
        async def test_t0_closes_an_allocated_gate(cmts, gate_controller, autojump_clock):
            ack = await gate_controller.gate_alloc(MTA)
            assert cmts.server is not None and ack.gate_id in cmts.server.gates.gates
            async for event in gate_controller.events():
                if type(event) is GateClosed:
                    assert event.gate_id == ack.gate_id and event.reason == GateCloseSubcode.TIMER_T0_EXPIRATION
                    break
        """))
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
