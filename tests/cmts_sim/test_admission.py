"""Admission control: gate count and per-direction bandwidth, alone and as the gate table uses it."""

from __future__ import annotations

import pytest

from cmts_sim.admission import Admission, Capacity
from cmts_sim.gates import GateState, GateTable, Refused, Timers
from cops_core.dqos import Direction, GateSet

from .conftest import SUBSCRIBER, gate_spec

UP, DOWN = Direction.UPSTREAM, Direction.DOWNSTREAM


@pytest.mark.parametrize(("unit", "rate", "kbps"), [("bytes", 10_000.0, 80.0), ("bits", 128_000.0, 128.0)])
def test_gate_spec_rate_unit(unit, rate, kbps):
    assert Admission(Capacity(rate_unit=unit)).kbps(rate) == kbps


def test_bandwidth_is_counted_per_direction():
    admission = Admission(Capacity(upstream_kbps=100.0, downstream_kbps=300.0))
    assert admission.limit(UP) == 100.0 and admission.limit(DOWN) == 300.0
    assert admission.fits(UP, 100.0) and not admission.fits(UP, 100.5)
    admission.take(UP, 60.0)
    assert not admission.fits(UP, 60.0) and admission.fits(DOWN, 300.0)
    admission.give_back(UP, 60.0)
    assert admission.fits(UP, 100.0)
    admission.give_back(UP, 5.0)  # never below zero
    assert admission.used_kbps[UP] == 0.0


def test_gate_count_limit():
    admission = Admission(Capacity(max_gates=2))
    assert admission.can_add_gate()
    admission.gates = 2
    assert not admission.can_add_gate()


def _table(**capacity) -> GateTable:
    return GateTable(Admission(Capacity(**capacity)), Timers(t1=10.0, t7=0.0))


def _gate(table: GateTable, rate: float = 10_000.0) -> int:
    reply, _ = table.handle(GateSet(1, SUBSCRIBER, (gate_spec(0, rate=rate), gate_spec(1, rate=rate))), "gc", 0.0)
    return reply.gate_id


def test_reservation_takes_the_envelope_and_every_exit_gives_it_back():
    table = _table(upstream_kbps=200.0, downstream_kbps=200.0)
    released, expired, preempted = _gate(table), _gate(table), _gate(table)
    table.reserve(released, 0.0)
    table.reserve(expired, 0.0)
    assert table.admission.used_kbps == {DOWN: 160.0, UP: 160.0}
    with pytest.raises(Refused, match="no downstream capacity"):
        table.reserve(preempted, 0.0)
    assert table.gates[preempted].state is GateState.AUTHORIZED  # a refusal changes nothing

    table.commit(released, 0.0)
    table.release(released, 1.0)
    assert table.admission.used_kbps == {DOWN: 80.0, UP: 80.0}
    table.reserve(preempted, 2.0)
    table.preempt(preempted, 3.0)
    table.expire(10.0)  # T1 of the reserved, uncommitted gate
    assert expired not in table.gates
    assert table.admission.used_kbps == {DOWN: 0.0, UP: 0.0}
    assert table.admission.gates == 0


def test_a_partial_reservation_takes_only_what_is_asked():
    table = _table()
    gate_id = _gate(table)
    table.reserve(gate_id, 0.0, {UP: 64.0})
    assert table.admission.used_kbps == {DOWN: 0.0, UP: 64.0}
    gate = table.gates[gate_id]
    assert (gate.reserved_up, gate.reserved_down) == (64.0, 0.0)
    table.release(gate_id, 1.0)
    assert table.admission.used_kbps == {DOWN: 0.0, UP: 0.0}  # what it took, given back


def test_gate_count_follows_the_table():
    table = _table(max_gates=3)
    gates = [_gate(table) for _ in range(3)]
    assert table.admission.gates == 3 and not table.admission.can_add_gate()
    table.preempt(gates[0], 0.0)
    assert table.admission.gates == 2 and table.admission.can_add_gate()
