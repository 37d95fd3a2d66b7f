"""The simulated modems: automatic reserve/commit/release on a schedule, and driven steps that can be refused."""

from __future__ import annotations

import pytest
import trio

from cmts_sim.admission import Admission, Capacity
from cmts_sim.config import ModemSettings
from cmts_sim.gates import Event, GateState, GateTable, Timers
from cmts_sim.mta import SimulatedModems, ModemError
from cops_core.dqos import Direction, GateClose, GateDelete, GateOpen, GateSet, GateSetAck, PacketCableReason

from .conftest import SUBSCRIBER, connect, gate_spec, start_cmts

UP, DOWN = Direction.UPSTREAM, Direction.DOWNSTREAM


class Bench:
    """A gate table and its modem on a hand-turned clock; dispatched events are collected."""

    def __init__(self, capacity: Capacity | None = None, **settings) -> None:
        self.now = 0.0
        self.events: list[Event] = []
        self.schedules = 0
        self.table = GateTable(Admission(capacity or Capacity()), Timers(t1=200.0, t7=0.0))
        self.modem = SimulatedModems(self.table, ModemSettings(**settings), self.events.extend, lambda: self.now)
        self.modem.on_schedule = self._scheduled
        self.table.on_authorized = self.modem.gate_authorized

    def _scheduled(self) -> None:
        self.schedules += 1

    def set_gate(self, specs=None) -> int:
        specs = specs if specs is not None else (gate_spec(0), gate_spec(1))
        reply, _ = self.table.handle(GateSet(1, SUBSCRIBER, specs), "gc", self.now)
        assert type(reply) is GateSetAck
        return reply.gate_id

    def run_until(self, when: float) -> list[Event]:
        self.now = when
        return self.modem.run_due(when)

    def state(self, gate_id: int) -> GateState | None:
        gate = self.table.gates.get(gate_id)
        return gate.state if gate else None


# --- automatic -----------------------------------------------------------------------------------------------


def test_auto_reserves_commits_and_releases_on_schedule():
    bench = Bench(mode="auto", reserve_delay=0.5, commit_delay=0.25, hold=10.0)
    bench.now = 1.0
    gate_id = bench.set_gate()
    assert bench.modem.next_deadline == 1.5 and bench.schedules == 1  # the server's timer task was told
    assert bench.run_until(1.49) == [] and bench.state(gate_id) is GateState.AUTHORIZED
    assert bench.run_until(1.5) == [] and bench.state(gate_id) is GateState.RESERVED
    assert bench.modem.next_deadline == 1.75
    assert bench.run_until(1.75) == [Event("gc", GateOpen(0, gate_id, SUBSCRIBER))]
    assert bench.state(gate_id) is GateState.COMMITTED and bench.modem.next_deadline == 11.75
    assert bench.run_until(11.7) == []
    assert bench.run_until(11.75) == [Event("gc", GateClose(0, gate_id, SUBSCRIBER, PacketCableReason(1, 0)))]
    assert bench.state(gate_id) is None and bench.modem.next_deadline is None


def test_auto_without_hold_keeps_the_call_up():
    bench = Bench(mode="auto", reserve_delay=0.1, commit_delay=0.1, hold=None)
    gate_id = bench.set_gate()
    events = bench.run_until(0.1) + bench.run_until(0.2)
    assert [type(event.command) for event in events] == [GateOpen]
    assert bench.modem.next_deadline is None and bench.state(gate_id) is GateState.COMMITTED


def test_auto_commit_flag_opens_at_reservation_and_holds_from_there():
    bench = Bench(mode="auto", reserve_delay=1.0, commit_delay=5.0, hold=3.0)
    gate_id = bench.set_gate((gate_spec(0, flags=0x01), gate_spec(1, flags=0x01)))
    assert [type(e.command) for e in bench.run_until(1.0)] == [GateOpen]
    assert bench.modem.next_deadline == 4.0
    assert [type(e.command) for e in bench.run_until(4.0)] == [GateClose]
    assert bench.state(gate_id) is None


def test_auto_modem_gives_up_on_gates_that_went_or_do_not_fit():
    bench = Bench(Capacity(upstream_kbps=100.0), mode="auto", reserve_delay=1.0, commit_delay=1.0, hold=1.0)
    deleted = bench.set_gate()
    too_big = bench.set_gate((gate_spec(0), gate_spec(1, rate=20_000.0)))  # 160 kbit/s upstream
    bench.table.handle(GateDelete(2, SUBSCRIBER, deleted), "gc", 0.5)
    assert bench.run_until(10.0) == []
    assert bench.state(too_big) is GateState.AUTHORIZED  # left for T1, as a real modem that was refused
    assert bench.modem.next_deadline is None


def test_driven_mode_schedules_nothing():
    bench = Bench(mode="driven")
    gate_id = bench.set_gate()
    assert bench.modem.next_deadline is None and bench.schedules == 0
    assert bench.run_until(100.0) == [] and bench.state(gate_id) is GateState.AUTHORIZED


# --- driven ------------------------------------------------------------------------------------------------


async def test_driven_steps_dispatch_their_events():
    bench = Bench(mode="driven")
    gate_id = bench.set_gate()
    await bench.modem.reserve(gate_id, {DOWN: 80.0, UP: 40.0})
    assert bench.table.admission.used_kbps == {DOWN: 80.0, UP: 40.0}
    await bench.modem.commit(gate_id)
    await bench.modem.stop_media(gate_id)
    await bench.modem.release(gate_id)
    assert [type(event.command) for event in bench.events] == [GateOpen, GateClose]


async def test_driven_dispatch_may_be_async():
    delivered = []

    async def dispatch(events):
        await trio.sleep(0)
        delivered.extend(events)

    table = GateTable(Admission(Capacity()))
    modem = SimulatedModems(table, ModemSettings(mode="driven"), dispatch, trio.current_time)
    gate_id = table.handle(GateSet(1, SUBSCRIBER, (gate_spec(0),)), "gc", 0.0)[0].gate_id
    await modem.reserve(gate_id)
    await modem.commit(gate_id)
    assert [type(event.command) for event in delivered] == [GateOpen]


async def test_reserve_outside_the_envelope_is_refused():
    bench = Bench(mode="driven")
    gate_id = bench.set_gate((gate_spec(0),))  # 80 kbit/s downstream only
    with pytest.raises(ModemError, match="outside the authorized envelope"):
        await bench.modem.reserve(gate_id, {DOWN: 81.0})
    with pytest.raises(ModemError, match="upstream .* outside the authorized envelope"):
        await bench.modem.reserve(gate_id, {UP: 1.0})
    assert bench.state(gate_id) is GateState.AUTHORIZED
    assert bench.table.admission.used_kbps == {DOWN: 0.0, UP: 0.0}


async def test_reserve_without_capacity_is_refused():
    bench = Bench(Capacity(upstream_kbps=100.0, downstream_kbps=100.0), mode="driven")
    first, second = bench.set_gate(), bench.set_gate()
    await bench.modem.reserve(first)
    with pytest.raises(ModemError, match="no downstream capacity"):
        await bench.modem.reserve(second)
    assert bench.state(second) is GateState.AUTHORIZED
    assert bench.table.admission.used_kbps == {DOWN: 80.0, UP: 80.0}  # nothing half-taken


async def test_steps_in_the_wrong_state_are_refused():
    bench = Bench(mode="driven")
    gate_id = bench.set_gate()
    with pytest.raises(ModemError, match="not RESERVED"):
        await bench.modem.commit(gate_id)
    with pytest.raises(ModemError, match="nothing to release"):
        await bench.modem.release(gate_id)
    with pytest.raises(ModemError, match="not COMMITTED"):
        await bench.modem.stop_media(gate_id)
    await bench.modem.reserve(gate_id)
    with pytest.raises(ModemError, match="not AUTHORIZED"):
        await bench.modem.reserve(gate_id)
    with pytest.raises(ModemError, match="no gate 0x00000001"):
        await bench.modem.commit(1)
    assert bench.events == [] and bench.state(gate_id) is GateState.RESERVED


# --- automatic, through the server's timer task and over the wire ---------------------------------------------


async def test_auto_modem_over_the_wire(nursery, autojump_clock):
    cmts = await start_cmts(nursery, modem={"mode": "auto", "reserve_delay": 0.2, "commit_delay": 0.3, "hold": 5.0})
    gc = await connect(cmts)
    start = trio.current_time()
    ack = await gc.command(GateSet(1, SUBSCRIBER, (gate_spec(0), gate_spec(1))))
    assert type(ack) is GateSetAck
    opened = await gc.reply()
    assert opened == GateOpen(0, ack.gate_id, SUBSCRIBER)
    assert trio.current_time() - start == pytest.approx(0.5)
    closed = await gc.reply()
    assert closed == GateClose(0, ack.gate_id, SUBSCRIBER, PacketCableReason(1, 0))
    assert trio.current_time() - start == pytest.approx(5.5)
    assert cmts.gates.gates == {}
