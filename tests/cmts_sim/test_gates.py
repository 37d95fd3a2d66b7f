"""GateTable as a pure state machine: commands and modem actions in, replies and events out, time passed in."""

from __future__ import annotations

import ipaddress
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmts_sim.admission import Admission, Capacity
from cmts_sim.gates import Event, GatePolicy, GateState, GateTable, Refused, Timers
from cops_core.dqos import (
    ActivityCount,
    EventGenerationInfo,
    GateAlloc,
    GateAllocAck,
    GateAllocErr,
    GateClose,
    GateDelete,
    GateDeleteAck,
    GateDeleteErr,
    GateInfo,
    GateInfoAck,
    GateInfoErr,
    GateOpen,
    GateSet,
    GateSetAck,
    GateSetErr,
    GateCommandType,
    PacketCableError,
    PacketCableReason,
    decode_gate_command,
)
from cops_core.dqos.codes import GateCloseSubcode

from ..cops_core.strategies import gate_command
from ..cops_core.strategies import gate_spec as gate_spec_strategy
from .conftest import SUBSCRIBER, gate_spec

OWNER = "gc-a"
OTHER = "gc-b"
GATE_SPEC_SUBCODE = 0x0501


def make_table(*, timers: Timers | None = None, policy: GatePolicy | None = None, capacity: Capacity | None = None,
               rng=None) -> GateTable:
    return GateTable(Admission(capacity or Capacity()), timers or Timers(), policy or GatePolicy(),
                     rng or random.Random(7))


def set_gate(table: GateTable, now: float = 0.0, specs=None, *, gate_id=None, limit=None, owner=OWNER,
             subscriber=SUBSCRIBER) -> int:
    specs = specs if specs is not None else (gate_spec(0), gate_spec(1))
    reply, events = table.handle(GateSet(1, subscriber, specs, gate_id=gate_id, activity_count=limit), owner, now)
    assert type(reply) is GateSetAck, reply
    assert events == []
    return reply.gate_id


def closes(events) -> list[tuple]:
    """(owner, gate, reason code, sub-code) of each Gate-Close event."""
    assert all(type(event.command) is GateClose for event in events), events
    return [(e.owner, e.command.gate_id, e.command.reason.code, e.command.reason.subcode) for e in events]


# --- state transitions ----------------------------------------------------------------------------------------


def test_gate_alloc_then_gate_set_moves_allocated_to_authorized():
    table = make_table()
    reply, events = table.handle(GateAlloc(7, SUBSCRIBER, 4), OWNER, 100.0)
    assert type(reply) is GateAllocAck and events == []
    assert (reply.transaction_id, reply.subscriber, reply.activity_count) == (7, SUBSCRIBER, 1)
    gate = table.gates[reply.gate_id]
    assert gate.state is GateState.ALLOCATED
    assert (gate.t0_at, gate.t1_at) == (130.0, None)

    assert set_gate(table, 110.0, gate_id=reply.gate_id) == reply.gate_id
    assert gate.state is GateState.AUTHORIZED
    assert (gate.t0_at, gate.t1_at) == (None, 310.0)  # T0 stopped, T1 (default 200 s) started
    assert table.held_by(SUBSCRIBER) == 1


def test_gate_set_without_gate_id_allocates_and_authorizes():
    table = make_table()
    authorized = []
    table.on_authorized = lambda gate_id, now: authorized.append((gate_id, now))
    gate_id = set_gate(table, 5.0)
    gate = table.gates[gate_id]
    assert gate.state is GateState.AUTHORIZED and gate.t1_at == 205.0
    assert gate.specs == (gate_spec(0), gate_spec(1))
    assert authorized == [(gate_id, 5.0)]
    set_gate(table, 6.0, gate_id=gate_id)  # a modify is not a new authorization for the modem
    assert authorized == [(gate_id, 5.0)]


def test_reserve_commit_release_walk_the_states_and_tell_the_owner():
    table = make_table()
    gate_id = set_gate(table)
    assert table.reserve(gate_id, 1.0) == []
    assert table.gates[gate_id].state is GateState.RESERVED
    assert table.commit(gate_id, 2.0) == [Event(OWNER, GateOpen(0, gate_id, SUBSCRIBER))]
    assert table.gates[gate_id].state is GateState.COMMITTED
    events = table.release(gate_id, 3.0)
    assert events == [Event(OWNER, GateClose(0, gate_id, SUBSCRIBER, PacketCableReason(1, 0)))]
    assert gate_id not in table.gates and table.held_by(SUBSCRIBER) == 0
    assert table.count_by_state() == dict.fromkeys(GateState, 0)
    assert table.by_subscriber == {}  # nothing left behind for a subscriber with no gates


def test_auto_commit_flag_commits_on_reservation():
    table = make_table()
    gate_id = set_gate(table, specs=(gate_spec(0, flags=0x01), gate_spec(1)))
    assert table.reserve(gate_id, 1.0) == [Event(OWNER, GateOpen(0, gate_id, SUBSCRIBER))]
    assert table.gates[gate_id].state is GateState.COMMITTED


def test_events_go_to_the_connection_that_last_set_the_gate():
    table = make_table()
    gate_id = set_gate(table, owner=OWNER)
    set_gate(table, gate_id=gate_id, owner=OTHER)
    table.reserve(gate_id, 1.0)
    assert [event.owner for event in table.commit(gate_id, 2.0)] == [OTHER]


def test_modem_actions_in_the_wrong_state_are_refused():
    table = make_table()
    gate_id = set_gate(table)
    with pytest.raises(Refused, match="not RESERVED"):
        table.commit(gate_id, 1.0)
    with pytest.raises(Refused, match="nothing to release"):
        table.release(gate_id, 1.0)
    with pytest.raises(Refused, match="not COMMITTED"):
        table.media_stopped(gate_id, 1.0)
    table.reserve(gate_id, 1.0)
    with pytest.raises(Refused, match="not AUTHORIZED"):
        table.reserve(gate_id, 1.0)
    with pytest.raises(Refused, match="no gate"):
        table.reserve(0x1234, 1.0)
    with pytest.raises(Refused, match="direction 7"):  # a direction no Gate-Spec has is refused, not a crash
        table.reserve(set_gate(table), 1.0, {7: 1.0})


# --- timers ---------------------------------------------------------------------------------------------------


def test_t0_expiry_closes_an_allocated_gate_with_subcode_4():
    table = make_table(timers=Timers(t0=30.0))
    gate_id = table.handle(GateAlloc(1, SUBSCRIBER), OWNER, 10.0)[0].gate_id
    assert table.next_deadline == 40.0
    assert table.expire(39.999) == []
    assert closes(table.expire(40.0)) == [(OWNER, gate_id, 1, 4)]
    assert gate_id not in table.gates and table.admission.gates == 0


def test_t0_expiry_without_close_policy_frees_the_gate_silently():
    table = make_table(policy=GatePolicy(close_on_t0=False))
    gate_id = table.handle(GateAlloc(1, SUBSCRIBER), OWNER, 0.0)[0].gate_id
    assert table.expire(30.0) == []
    assert gate_id not in table.gates


@pytest.mark.parametrize("state", ["authorized", "reserved"])
def test_t1_expiry_closes_with_subcode_5(state):
    table = make_table(timers=Timers(t1=50.0, t7=100.0))
    gate_id = set_gate(table, 0.0)
    if state == "reserved":
        table.reserve(gate_id, 1.0)
    assert table.expire(49.9) == []
    assert closes(table.expire(50.0)) == [(OWNER, gate_id, 1, 5)]
    assert table.admission.used_kbps == {0: 0.0, 1: 0.0}  # a reservation's bandwidth comes back


def test_t7_expiry_closes_a_reserved_gate_with_subcode_6():
    table = make_table(timers=Timers(t1=200.0, t7=20.0))
    gate_id = set_gate(table, 0.0)
    table.reserve(gate_id, 5.0)
    assert table.admission.used_kbps == {0: 80.0, 1: 80.0}
    assert table.expire(24.9) == []
    assert closes(table.expire(25.0)) == [(OWNER, gate_id, 1, 6)]
    assert table.admission.used_kbps == {0: 0.0, 1: 0.0}


def test_t8_expiry_closes_an_inactive_committed_gate_with_subcode_7():
    table = make_table(timers=Timers(t8=0.0))
    gate_id = set_gate(table, 0.0, (gate_spec(0, t8=30), gate_spec(1, t8=30)))
    table.reserve(gate_id, 1.0)
    table.commit(gate_id, 2.0)
    assert table.expire(1000.0) == []  # media flowing: no T8
    table.media_stopped(gate_id, 1000.0)
    assert table.expire(1029.9) == []
    assert closes(table.expire(1030.0)) == [(OWNER, gate_id, 1, 7)]


def test_t7_and_t8_of_zero_are_off():
    table = make_table(timers=Timers(t7=0.0, t8=0.0))
    gate_id = set_gate(table, 0.0)
    table.reserve(gate_id, 1.0)
    assert table.gates[gate_id].t7_at is None
    table.commit(gate_id, 2.0)
    table.media_stopped(gate_id, 3.0)
    assert table.gates[gate_id].t8_at is None
    assert table.expire(10_000.0) == [] and table.gates[gate_id].state is GateState.COMMITTED


@pytest.mark.parametrize("timer", ["t1", "t7", "t8"])
@pytest.mark.parametrize(("downstream", "upstream", "expected"), [
    (0, 0, 100.0),  # neither Gate-Spec has one: the CMTS default
    (40, 0, 40.0),  # the Gate-Spec's own value wins
    (40, 30, 30.0),  # two: the smaller non-zero one
])
def test_gate_spec_timers_win_over_defaults(timer, downstream, upstream, expected):
    table = make_table(timers=Timers(t1=100.0, t7=100.0, t8=100.0))
    specs = (gate_spec(0, **{timer: downstream}), gate_spec(1, **{timer: upstream}))
    gate_id = set_gate(table, 0.0, specs)
    gate = table.gates[gate_id]
    if timer == "t1":
        armed_at = gate.t1_at
    elif timer == "t7":
        table.reserve(gate_id, 0.0)
        armed_at = gate.t7_at
    else:
        table.reserve(gate_id, 0.0)
        table.commit(gate_id, 0.0)
        table.media_stopped(gate_id, 0.0)
        armed_at = gate.t8_at
    assert armed_at == expected


def test_commit_stops_t1_and_t7():
    table = make_table(timers=Timers(t1=10.0, t7=8.0))
    gate_id = set_gate(table, 0.0)
    table.reserve(gate_id, 1.0)
    table.commit(gate_id, 2.0)
    gate = table.gates[gate_id]
    assert (gate.t1_at, gate.t7_at) == (None, None)
    assert table.expire(10_000.0) == []
    assert gate.state is GateState.COMMITTED


def test_stopped_timer_leaves_a_stale_heap_entry_that_expires_as_nothing():
    table = make_table(timers=Timers(t1=10.0, t7=0.0))
    gate_id = set_gate(table, 0.0)
    table.reserve(gate_id, 1.0)
    table.commit(gate_id, 2.0)
    assert table.next_deadline == 10.0  # lazy deletion: commit did not touch the heap
    assert table.expire(10.0) == []
    assert table.next_deadline is None and gate_id in table.gates


def test_rearmed_timer_fires_at_the_new_deadline_only():
    table = make_table(timers=Timers(t1=10.0))
    gate_id = set_gate(table, 0.0)
    set_gate(table, 5.0, gate_id=gate_id)  # a Gate-Set on an authorized gate restarts T1
    assert table.gates[gate_id].t1_at == 15.0
    assert len(table._heap) == 1  # later than the gate's entry: it waits behind it
    assert table.expire(10.0) == []  # the entry finds T1 not due, and comes back for it
    assert gate_id in table.gates and table.next_deadline == 15.0
    assert closes(table.expire(15.0)) == [(OWNER, gate_id, 1, 5)]


def test_a_call_s_gate_keeps_one_heap_entry_through_t0_t1_and_t7():
    table = make_table(timers=Timers(t0=30.0, t1=200.0, t7=200.0))
    reply, _ = table.handle(GateAlloc(7, SUBSCRIBER, 4), OWNER, 0.0)
    gate_id = reply.gate_id
    set_gate(table, 1.0, gate_id=gate_id)
    table.reserve(gate_id, 2.0)
    table.commit(gate_id, 3.0)
    assert table._heap == [(30.0, gate_id, table._heap[0][2])]  # T0's, stale since the Gate-Set
    assert table.expire(30.0) == [] and table._heap == [] and gate_id in table.gates


def test_a_timer_armed_before_the_gate_s_entry_falls_due_takes_its_place():
    table = make_table(timers=Timers(t1=100.0, t7=10.0))
    gate_id = set_gate(table, 0.0)  # T1 at 100
    table.reserve(gate_id, 1.0)  # T7 at 11: earlier, so an entry of its own
    assert table.next_deadline == 11.0
    assert closes(table.expire(11.0)) == [(OWNER, gate_id, 1, GateCloseSubcode.TIMER_T7_EXPIRATION)]
    assert table.expire(100.0) == []  # the entry it replaced is stale


def test_gates_close_when_their_earliest_running_timer_falls_due_in_deadline_then_gate_order():
    # The reference: every gate's timers read straight from it before each expire; what fires is each gate whose
    # earliest running timer is due, in (deadline, gate ID) order.
    random_ops = random.Random(11)
    table = make_table(timers=Timers(t0=4.0, t1=6.0, t7=3.0, t8=2.0), policy=GatePolicy(closed_gate_linger=0))
    table.compact_floor = 50  # sweeps happen too
    fields = ("t0_at", "t1_at", "t7_at", "t8_at")
    now, fired = 0.0, 0
    for _ in range(4000):
        now += random_ops.expovariate(100)
        action = random_ops.random()
        if action < 0.2:
            table.handle(GateAlloc(1, SUBSCRIBER, 10**6), OWNER, now)
        elif action < 0.4:
            set_gate(table, now, limit=10**6)
        elif table.gates:
            gate_id = random_ops.choice(sorted(table.gates))
            gate = table.gates[gate_id]
            if gate.state is GateState.ALLOCATED or (gate.state is GateState.AUTHORIZED and action < 0.5):
                set_gate(table, now, gate_id=gate_id)  # sets an allocated gate; restarts an authorized one's T1
            elif gate.state is GateState.AUTHORIZED:
                table.reserve(gate_id, now)
            elif gate.state is GateState.RESERVED:
                table.commit(gate_id, now)
            elif action < 0.7:
                table.media_stopped(gate_id, now) if gate.media_active else None
            else:
                table.handle(GateDelete(2, SUBSCRIBER, gate_id), OWNER, now)
        due = sorted((at, gate_id) for gate_id, gate in table.gates.items()
                     if (at := min((t for f in fields if (t := getattr(gate, f)) is not None), default=None))
                     is not None and at <= now)
        assert [gate_id for _, gate_id, _, _ in closes(table.expire(now))] == [gate_id for _, gate_id in due]
        fired += len(due)
    assert fired > 100


def test_timers_of_a_deleted_gate_are_stale():
    table = make_table(timers=Timers(t1=10.0))
    gate_id = set_gate(table, 0.0)
    reply, _ = table.handle(GateDelete(2, SUBSCRIBER, gate_id), OWNER, 1.0)
    assert type(reply) is GateDeleteAck
    assert table.expire(100.0) == []


def test_expire_fires_many_gates_in_deadline_order():
    table = make_table(timers=Timers(t1=10.0))
    gates = [set_gate(table, float(start)) for start in (3, 1, 2)]
    assert [event.command.gate_id for event in table.expire(20.0)] == [gates[1], gates[2], gates[0]]


# --- closed gates and Gate-Delete --------------------------------------------------------------------------------


def drain(table: GateTable, now: float) -> float:
    """Step time (5 ms at a time, as the timer task would wake) until the stale-entry sweep is done."""
    while table._draining:
        now = table.next_deadline
        table.expire(now)
    return now


def test_stale_entries_are_swept_once_they_outnumber_the_live_ones():
    table = make_table(timers=Timers(t1=100.0, t7=80.0), policy=GatePolicy(closed_gate_linger=0))
    table.compact_floor = 100
    live = [set_gate(table, 0.0) for _ in range(10)]
    for _ in range(500):  # a call each: T1 armed, then deleted at once, its entry stale
        gate_id = set_gate(table, 0.0)
        table.handle(GateDelete(2, SUBSCRIBER, gate_id), OWNER, 0.0)
    assert len(table._heap) == 510
    assert table.expire(1.0) == []  # nothing due; the sweep starts
    assert table._draining and table._heap == []
    assert table.next_deadline == 1.0  # a sweep step is due at once
    drain(table, 1.0)
    assert sorted(entry[1] for entry in table._heap) == sorted(live)
    assert sorted(gate_id for _, gate_id, _, _ in closes(table.expire(100.0))) == sorted(live)


def test_timers_in_the_heap_being_swept_still_fire_on_time_and_in_order():
    table = make_table(timers=Timers(t1=10.0), policy=GatePolicy(closed_gate_linger=0))
    table.compact_floor = 0
    early = [set_gate(table, float(start)) for start in (0.5, 0.0)]  # due at 10.5 and 10.0
    for _ in range(3000):
        table.handle(GateDelete(2, SUBSCRIBER, set_gate(table, 0.0)), OWNER, 0.0)
    table.expire(0.9)
    assert table._draining  # 3,002 entries: three steps to sweep
    late = set_gate(table, 0.2)  # due at 10.2, armed in the new heap, between the two old ones
    assert [gate_id for _, gate_id, _, _ in closes(table.expire(10.5))] == [early[1], late, early[0]]


def test_a_table_that_sweeps_fires_the_same_events_as_one_that_never_does():
    random_ops = random.Random(3)
    tables = [make_table(timers=Timers(t1=5.0, t7=3.0)), make_table(timers=Timers(t1=5.0, t7=3.0))]
    tables[0].compact_floor, tables[1].compact_floor = 0, 10**9
    fired: list[list] = [[], []]
    sweeps = 0
    now = 0.0
    for _ in range(3000):
        now += random_ops.expovariate(200)
        action = random_ops.random()
        for index, table in enumerate(tables):
            rng = random.Random(now)  # both tables pick the same gate
            if action < 0.4:
                set_gate(table, now)
            elif table.gates:
                gate_id = rng.choice(sorted(table.gates))
                gate = table.gates[gate_id]
                if action < 0.6 and gate.state is GateState.AUTHORIZED:
                    table.reserve(gate_id, now)
                elif action < 0.75 and gate.state is GateState.RESERVED:
                    table.commit(gate_id, now)
                elif action < 0.9:
                    table.handle(GateDelete(2, SUBSCRIBER, gate_id), OWNER, now)
            sweeping = bool(table._draining)
            fired[index] += closes(table.expire(now))
            sweeps += not sweeping and bool(table._draining)
    assert fired[0] == fired[1] and len(fired[0]) > 50
    assert sweeps >= 2 and tables[1]._draining == []


def test_closed_gate_lingers_for_a_clean_up_gate_delete():
    table = make_table(timers=Timers(t1=10.0), policy=GatePolicy(closed_gate_linger=30.0))
    gate_id = set_gate(table, 0.0)
    assert closes(table.expire(10.0)) == [(OWNER, gate_id, 1, 5)]
    info, _ = table.handle(GateInfo(2, SUBSCRIBER, gate_id), OWNER, 11.0)
    assert type(info) is GateInfoErr and info.error == PacketCableError(2)  # the gate is gone
    reply, events = table.handle(GateDelete(3, SUBSCRIBER, gate_id), OWNER, 20.0)
    assert reply == GateDeleteAck(3, gate_id, SUBSCRIBER) and events == []
    again, _ = table.handle(GateDelete(4, SUBSCRIBER, gate_id), OWNER, 21.0)
    assert type(again) is GateDeleteErr and again.error == PacketCableError(2)


def test_linger_ends():
    table = make_table(policy=GatePolicy(closed_gate_linger=30.0))
    gate_id = set_gate(table, 0.0)
    table.reserve(gate_id, 1.0)
    table.release(gate_id, 5.0)
    assert table.closed == {gate_id: 35.0}
    assert table.expire(35.0) == []
    assert table.closed == {}
    reply, _ = table.handle(GateDelete(3, SUBSCRIBER, gate_id), OWNER, 36.0)
    assert type(reply) is GateDeleteErr and reply.error == PacketCableError(2)


def test_gate_delete_removes_a_live_gate_without_gate_close():
    table = make_table()
    gate_id = set_gate(table)
    table.reserve(gate_id, 1.0)
    reply, events = table.handle(GateDelete(9, ipaddress.IPv4Address("0.0.0.0"), gate_id), OWNER, 2.0)
    assert reply == GateDeleteAck(9, gate_id, ipaddress.IPv4Address("0.0.0.0")) and events == []
    assert gate_id not in table.gates and table.closed == {}
    assert table.admission.used_kbps == {0: 0.0, 1: 0.0} and table.admission.gates == 0


def test_gate_delete_with_close_policy_sends_gate_close_too():
    table = make_table(policy=GatePolicy(close_on_delete=True))
    gate_id = set_gate(table)
    reply, events = table.handle(GateDelete(9, SUBSCRIBER, gate_id), OWNER, 2.0)
    assert type(reply) is GateDeleteAck
    assert closes(events) == [(OWNER, gate_id, 1, 0)]


# --- Gate-IDs ---------------------------------------------------------------------------------------------------


def test_gate_ids_are_unique_nonzero_and_not_sequential():
    table = GateTable(Admission(Capacity()))  # the production random source
    ids = [set_gate(table, subscriber=ipaddress.IPv4Address(0x0A000000 + n)) for n in range(2000)]
    assert len(set(ids)) == len(ids) and 0 not in ids
    assert all(0 < gate_id < 2**32 for gate_id in ids)
    steps = {b - a for a, b in zip(ids, ids[1:])}
    assert len(steps) > 1000  # unpredictable, not a counter


class ScriptedRandom(random.Random):
    def __init__(self, values):
        super().__init__(0)
        self.values = list(values)

    def getrandbits(self, k):
        return self.values.pop(0)


def test_gate_id_never_zero_nor_in_use():
    table = make_table(rng=ScriptedRandom([0, 0xA001, 0xA001, 0, 0xA002]))
    assert set_gate(table) == 0xA001
    assert set_gate(table) == 0xA002


def test_gate_id_of_a_lingering_closed_gate_is_not_reused():
    table = make_table(rng=ScriptedRandom([0xA001, 0xA001, 0xA002]))
    first = set_gate(table, 0.0)
    table.reserve(first, 0.0)
    table.release(first, 1.0)
    second = set_gate(table, 2.0)
    assert second == 0xA002
    # The clean-up Gate-Delete for the closed gate must not take the new one.
    assert type(table.handle(GateDelete(3, SUBSCRIBER, first), OWNER, 3.0)[0]) is GateDeleteAck
    assert second in table.gates


# --- refusals ----------------------------------------------------------------------------------------------------


def test_unknown_gate_id_in_set_info_delete_is_error_2():
    table = make_table()
    for command in (GateSet(1, SUBSCRIBER, (gate_spec(0),), gate_id=0xDEAD), GateInfo(2, SUBSCRIBER, 0xDEAD),
                    GateDelete(3, SUBSCRIBER, 0xDEAD)):
        reply, events = table.handle(command, OWNER, 0.0)
        assert type(reply) in (GateSetErr, GateInfoErr, GateDeleteErr)
        assert reply.error == PacketCableError(2) and reply.gate_id == 0xDEAD
        assert reply.transaction_id == command.transaction_id and events == []


def test_no_gates_available_is_error_1():
    table = make_table(capacity=Capacity(max_gates=1))
    set_gate(table)
    reply, _ = table.handle(GateAlloc(2, SUBSCRIBER), OWNER, 0.0)
    assert type(reply) is GateAllocErr and reply.error == PacketCableError(1)
    reply, _ = table.handle(GateSet(3, SUBSCRIBER, (gate_spec(0),)), OWNER, 0.0)
    assert type(reply) is GateSetErr and reply.error == PacketCableError(1)
    assert len(table.gates) == 1


def test_subscriber_gate_limit_is_error_4():
    table = make_table()
    set_gate(table, limit=2)
    set_gate(table, limit=2)
    for command in (GateSet(3, SUBSCRIBER, (gate_spec(0),), activity_count=2), GateAlloc(4, SUBSCRIBER, 2)):
        reply, _ = table.handle(command, OWNER, 0.0)
        assert reply.error == PacketCableError(4)
    other = ipaddress.IPv4Address("10.0.1.11")
    set_gate(table, limit=2, subscriber=other)  # the limit is per subscriber
    assert table.held_by(SUBSCRIBER) == 2 and table.held_by(other) == 1
    table.preempt(next(iter(table.gates)), 0.0)
    assert table.held_by(SUBSCRIBER) == 1
    set_gate(table, limit=2)  # room again


def test_an_ipv4_and_an_ipv6_subscriber_of_the_same_value_hold_their_gates_apart():
    # The counts are keyed by an IPv4 address's 32-bit value: ::a.b.c.d must not share a.b.c.d's count.
    table = make_table()
    v6 = ipaddress.IPv6Address(int(SUBSCRIBER))
    set_gate(table, limit=1)
    set_gate(table, limit=1, subscriber=v6)
    assert table.held_by(SUBSCRIBER) == 1 and table.held_by(v6) == 1
    table.preempt(next(iter(table.gates)), 0.0)
    assert table.held_by(SUBSCRIBER) == 0 and table.held_by(v6) == 1
    assert table.by_subscriber == {v6: 1}


@pytest.mark.parametrize(("specs", "error"), [
    ((gate_spec(0, session_class=3),), PacketCableError(3, 0)),
    ((gate_spec(0)._replace(direction=2),), PacketCableError(7, GATE_SPEC_SUBCODE)),
    ((gate_spec(0), gate_spec(0)), PacketCableError(7, GATE_SPEC_SUBCODE)),
    ((gate_spec(0), gate_spec(1), gate_spec(1)), PacketCableError(7, GATE_SPEC_SUBCODE)),
])
def test_gate_specs_the_cmts_cannot_take(specs, error):
    table = make_table()
    reply, _ = table.handle(GateSet(5, SUBSCRIBER, specs), OWNER, 0.0)
    assert type(reply) is GateSetErr and reply.error == error and reply.transaction_id == 5
    assert table.gates == {}


def test_gate_info_ack_echoes_the_gate():
    table = make_table()
    egi = EventGenerationInfo(ipaddress.IPv4Address("10.9.9.9"), 1813, 0, ipaddress.IPv4Address("0.0.0.0"), 0, 0,
                              1234, "CMS00001", "0+00000", 42)
    specs = (gate_spec(0, t1=250), gate_spec(1, t1=250))
    reply, _ = table.handle(GateSet(1, SUBSCRIBER, specs, activity_count=4, event_generation_info=egi), OWNER, 0.0)
    info, _ = table.handle(GateInfo(2, SUBSCRIBER, reply.gate_id), OWNER, 1.0)
    assert info == GateInfoAck(2, reply.gate_id, SUBSCRIBER, 1, specs, event_generation_info=egi)


# --- Gate-Specs kept in wire form ------------------------------------------------------------------------------


def with_odd_padding(spec) -> bytes:
    """A Gate-Spec's bytes with its reserved bytes set: they decode alike, but encoding gives zeros there."""
    data = bytearray(spec.encode())
    data[4 + 17] = 0x55  # the 3 reserved bytes after the DS field
    return bytes(data)


def test_a_gate_set_keeps_its_gate_specs_as_the_bytes_they_came_in():
    table = make_table()
    wire = with_odd_padding(gate_spec(0)) + with_odd_padding(gate_spec(1))
    payload = GateSet(1, SUBSCRIBER, ()).encode() + wire
    command = decode_gate_command(payload)
    assert command.gate_specs == (gate_spec(0), gate_spec(1))
    reply, _ = table.handle(command, OWNER, 0.0, payload)
    gate = table.gates[reply.gate_id]
    assert gate.specs_wire == wire != gate_spec(0).encode() + gate_spec(1).encode()
    assert gate.specs == (gate_spec(0), gate_spec(1))


def test_gate_specs_with_another_object_between_them_are_encoded_again():
    table = make_table()
    payload = (GateSet(1, SUBSCRIBER, ()).encode() + with_odd_padding(gate_spec(0)) + ActivityCount(4).encode()
               + with_odd_padding(gate_spec(1)))
    command = decode_gate_command(payload)
    reply, _ = table.handle(command, OWNER, 0.0, payload)
    gate = table.gates[reply.gate_id]
    assert gate.specs_wire == gate_spec(0).encode() + gate_spec(1).encode()
    assert gate.specs == (gate_spec(0), gate_spec(1))


def walk_by_state(table: GateTable) -> dict:
    """Gates by state, counted the slow way."""
    counts = dict.fromkeys(GateState, 0)
    for gate in table.gates.values():
        counts[gate.state] += 1
    return counts


def test_the_counts_by_state_follow_every_move_without_walking_the_table():
    table = make_table(timers=Timers(t0=5.0))
    allocated = table.handle(GateAlloc(1, SUBSCRIBER, 9), OWNER, 0.0)[0].gate_id
    expiring = table.handle(GateAlloc(2, SUBSCRIBER, 9), OWNER, 0.0)[0].gate_id
    authorized, reserved, committed, deleted = (set_gate(table, 1.0) for _ in range(4))
    set_gate(table, 1.0, gate_id=allocated)
    table.reserve(reserved, 2.0)
    table.reserve(committed, 2.0)
    table.commit(committed, 3.0)
    table.handle(GateDelete(3, SUBSCRIBER, deleted), OWNER, 4.0)
    assert table.count_by_state() == walk_by_state(table) == {
        GateState.ALLOCATED: 1, GateState.AUTHORIZED: 2, GateState.RESERVED: 1, GateState.COMMITTED: 1}
    table.expire(5.0)  # T0 of the gate still allocated
    table.release(committed, 6.0)
    assert expiring not in table.gates
    assert table.count_by_state() == walk_by_state(table) == {
        GateState.ALLOCATED: 0, GateState.AUTHORIZED: 2, GateState.RESERVED: 1, GateState.COMMITTED: 0}


# --- the Gate-Specs as kept on the wire ------------------------------------------------------------------------

# Gate-Specs a CMTS takes: one each way, a known session class; every other field arbitrary.
_valid_specs = st.lists(
    gate_spec_strategy.map(lambda spec: spec._replace(direction=spec.direction & 1, session_class=spec.session_class % 3)),
    min_size=1, max_size=2, unique_by=lambda spec: spec.direction).map(tuple)


@settings(max_examples=300, deadline=None)
@given(gate_command(GateCommandType.GATE_SET), _valid_specs, st.booleans(), st.none() | st.integers(1, 0xFFFFFFFF))
def test_a_gate_keeps_the_gate_specs_of_any_gate_set_exactly_as_the_general_codec_reads_them(command, specs, plain,
                                                                                           activity_count):
    # Any layout: optional objects of every size, unknown objects after the Gate-Specs, IPv6 subscribers; and
    # half the time the common one (IPv4 Subscriber-ID, [Activity-Count], Gate-Specs).  The one-unpack
    # recognition of the common layout and the object walk must both give the Gate-Specs' own bytes.
    command = command._replace(gate_id=None, activity_count=activity_count, gate_specs=specs)
    if plain:
        command = GateSet(command.transaction_id, ipaddress.IPv4Address(int(command.subscriber) & 0xFFFFFFFF), specs,
                          activity_count=activity_count)
    payload = command.encode()
    decoded = decode_gate_command(payload)
    table = GateTable(Admission(Capacity(max_gates=10, upstream_kbps=1e30, downstream_kbps=1e30)))
    reply, _ = table.handle(decoded, OWNER, 0.0, payload)
    assert type(reply) is GateSetAck
    gate = table.gates[reply.gate_id]
    assert gate.specs_wire == b"".join(spec.encode() for spec in decoded.gate_specs)
    assert gate.specs == decoded.gate_specs
    # What a reservation reads: the fields as GateSpec has them, addresses as their ints.
    assert gate.spec_fields() == [tuple(int(value) if isinstance(value, ipaddress.IPv4Address) else value
                                        for value in spec) for spec in decoded.gate_specs]
