"""The CMTS gate table: a pure state machine (protocol.md 3.5).

Gate commands and modem actions go in with the time (``now``); replies and
events (Gate-Open, Gate-Close, each addressed to the connection that owns the
gate) come out.  Timers T0, T1, T7 and T8 are deadlines in one heap, with lazy
deletion: an entry is live only while the gate still carries that deadline.
Stale entries are swept out once they outnumber the live ones (see
:meth:`GateTable._start_drain`), so the heap's size follows the gates, not
the calls of the last T1.  Nothing here sleeps, so 100k gates cost 100k records and heap entries, not
100k tasks, and every timer is testable to the millisecond.

States: Allocated -> Authorized -> Reserved -> Committed.

* T0: Allocated without a Gate-Set; expiry closes with sub-code 4.
* T1: Authorized/Reserved without a commit; expiry closes with sub-code 5.
* T7: Reserved (admitted but not activated); expiry closes with sub-code 6.
* T8: Committed with the media stopped (inactivity); expiry closes with sub-code 7.

A Gate-Spec's own T1/T7/T8 win over the defaults when non-zero.
"""

from __future__ import annotations

import heapq
import random
import struct
from dataclasses import dataclass
from ipaddress import IPv4Address
from enum import IntEnum
from typing import Any, Callable, NamedTuple

from cops_core.dqos import (
    SET_EXTRAS,
    Direction,
    GateAlloc,
    GateAllocAck,
    GateAllocErr,
    GateClose,
    GateCloseSubcode,
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
    PacketCableError,
    PacketCableErrorCode,
    PacketCableReason,
    PacketCableReasonCode,
    SessionClass,
)
from cops_core.dqos.objects import GateSpec, decode_packetcable_objects
from cops_core.wire import OBJECT_HEADER

from .admission import Admission

_SPEC_SIZE = 60  # a Gate-Spec object on the wire, header included
_SPEC_BODY = struct.Struct("!" + GateSpec.FORMAT).unpack_from
_DIRECTION_AT, _FLAGS_AT, _SESSION_CLASS_AT, _T7_AT, _RATE_AT = map(
    GateSpec._fields.index, ("direction", "flags", "session_class", "t7", "token_bucket_rate"))


class GateState(IntEnum):
    ALLOCATED = 1
    AUTHORIZED = 2
    RESERVED = 3
    COMMITTED = 4


# The members as module globals for the per-command paths: on CPython 3.11 ``GateState.AUTHORIZED`` goes through
# EnumType's attribute lookup, ~0.2 us a read on the reference VM against ~0.02 us for a global.
_ALLOCATED, _AUTHORIZED, _RESERVED, _COMMITTED = GateState


class Timer(IntEnum):
    T0 = 0
    T1 = 1
    T7 = 7
    T8 = 8
    LINGER = 99  # how long a closed gate's ID still takes a Gate-Delete


_CLOSE_SUBCODE = {
    Timer.T0: GateCloseSubcode.TIMER_T0_EXPIRATION,
    Timer.T1: GateCloseSubcode.TIMER_T1_EXPIRATION,
    Timer.T7: GateCloseSubcode.TIMER_T7_EXPIRATION,
    Timer.T8: GateCloseSubcode.TIMER_T8_EXPIRATION,
}


@dataclass
class Timers:
    """Timer defaults in seconds (protocol.md 3.5); 0 disables T7/T8.  The one place they are written: the
    settings file, the flags' help and the gate table take them from here."""

    t0: float = 30.0
    t1: float = 200.0
    t7: float = 200.0
    t8: float = 0.0


@dataclass
class GatePolicy:
    """Behaviour protocol.md marks UNVERIFIED, as settings with its defaults."""

    close_on_t0: bool = True  # send Gate-Close sub-code 4 when an allocated gate's T0 expires
    close_on_delete: bool = False  # send Gate-Close as well as Gate-Delete-Ack
    auto_commit_flag: int = 0x01  # Gate-Spec flag bit: activate on reservation
    event_transaction_id: int = 0  # TID carried by Gate-Open / Gate-Close
    closed_gate_linger: float = 30.0  # a closed gate's ID still answers Gate-Delete with an Ack this long


class Gate:
    """One gate, kept small: 100k of them must fit in 100 MB.

    The Gate-Specs are kept as their 60-byte wire form and decoded when asked
    for (Gate-Info, a reservation): decoded, two of them cost ~760 bytes and
    a dozen objects for the garbage collector to walk; encoded, one bytes
    object of 120.
    """

    __slots__ = ("gate_id", "subscriber", "owner", "state", "specs_wire", "extras", "limit", "reserved_up",
                 "reserved_down", "media_active", "t0_at", "t1_at", "t7_at", "t8_at", "wake_at")

    def __init__(self, gate_id: int, subscriber, owner: Any, state: GateState) -> None:
        self.gate_id = gate_id
        self.subscriber = subscriber
        self.owner = owner
        self.state = state
        self.specs_wire = b""
        self.extras: dict[str, Any] | None = None  # optional Gate-Set objects, echoed in Gate-Info-Ack
        self.limit: int | None = None
        # kbit/s admitted each way (0.0: none): two numbers, not a tuple of pairs (~150 bytes less a gate).
        self.reserved_up = self.reserved_down = 0.0
        self.media_active = False
        self.t0_at: float | None = None
        self.t1_at: float | None = None
        self.t7_at: float | None = None
        self.t8_at: float | None = None
        # When the gate's one entry in the timer heap falls due (None: it has none).  A timer armed later than
        # that waits behind it: the entry, when due, arms itself again for the earliest timer still running.
        self.wake_at: float | None = None

    @property
    def specs(self) -> tuple[GateSpec, ...]:
        return tuple(decode_packetcable_objects(self.specs_wire))

    @specs.setter
    def specs(self, specs: tuple[GateSpec, ...]) -> None:
        self.specs_wire = b"".join([spec.encode() for spec in specs])

    def spec_fields(self) -> list[tuple]:
        """Each Gate-Spec's fields as the wire holds them (addresses as ints), in GateSpec's field order.

        What a reservation reads, at a fraction of building GateSpec objects:
        ``specs_wire`` is always whole 60-byte Gate-Specs back to back.
        """
        wire = self.specs_wire
        return [_SPEC_BODY(wire, start) for start in range(4, len(wire), _SPEC_SIZE)]


class Event(NamedTuple):
    """An unsolicited message for the connection that owns a gate."""

    owner: Any
    command: GateOpen | GateClose


class Refused(Exception):
    """A modem action the gate table will not do (outside the envelope, no capacity, wrong state)."""


_TIMER_FIELD = {Timer.T0: "t0_at", Timer.T1: "t1_at", Timer.T7: "t7_at", Timer.T8: "t8_at"}
_TIMER_NAME = {timer: timer.name.lower() for timer in _TIMER_FIELD}  # the Gate-Spec / Timers field: t0, t1 ...
_SET_EXTRAS = tuple(slot.field for slot in SET_EXTRAS)
_SET_EXTRAS_AT = slice(GateSet._fields.index(_SET_EXTRAS[0]), GateSet._fields.index(_SET_EXTRAS[0]) + len(_SET_EXTRAS))
_NO_EXTRAS = (None,) * len(_SET_EXTRAS)
_T1_AT = GateSpec._fields.index("t1")


def _check_layouts() -> None:
    """The field orders this module indexes by position and builds with tuple.__new__ (NamedTuple's own __new__ is
    Python code); checked at import, explicitly (an assert would vanish under -O)."""
    expected = {
        "Gate-Set's optional objects": (GateSet._fields[_SET_EXTRAS_AT], _SET_EXTRAS),
        "GateSet": (GateSet._fields[:5], ("transaction_id", "subscriber", "gate_specs", "gate_id", "activity_count")),
        "GateOpen": (GateOpen._fields, ("transaction_id", "gate_id", "subscriber", "extra")),
        "GateAlloc": (GateAlloc._fields[:3], ("transaction_id", "subscriber", "activity_count")),
        "GateAllocAck": (GateAllocAck._fields, ("transaction_id", "gate_id", "subscriber", "activity_count", "extra")),
        "GateDeleteAck": (GateDeleteAck._fields, ("transaction_id", "gate_id", "subscriber", "extra")),
        "GateClose": (GateClose._fields, ("transaction_id", "gate_id", "subscriber", "reason", "extra")),
    }
    for name, (found, wanted) in expected.items():
        if found != wanted:
            raise RuntimeError(f"cmts_sim.gates builds {name} by position as {wanted}, but its fields are {found}")


_check_layouts()
_GATE_CLOSE, _CLIENT_INITIATED_RELEASE = PacketCableReasonCode.GATE_CLOSE, GateCloseSubcode.CLIENT_INITIATED_RELEASE
_LINGER = int(Timer.LINGER)
_UPSTREAM, _DOWNSTREAM = int(Direction.UPSTREAM), int(Direction.DOWNSTREAM)
_WAKE = -1  # a heap entry's kind: a gate's earliest timer (the others: _LINGER, a closed gate's ID)
_new = tuple.__new__
_LIVE_PER_GATE = 1  # live heap entries a gate has at once (see Gate.wake_at)
_DRAIN_SLICE = 1024  # stale-entry sweep: entries moved per step (~0.5 ms here) ...
_DRAIN_PERIOD = 0.005  # ... and seconds between steps


class GateTable:
    """Every gate of one CMTS, their timers, and the admission state."""

    def __init__(self, admission: Admission, timers: Timers | None = None, policy: GatePolicy | None = None,
                 rng: random.Random | None = None) -> None:
        self.admission = admission
        self.timers = timers or Timers()
        self.policy = policy or GatePolicy()
        self.gates: dict[int, Gate] = {}
        self.closed: dict[int, float] = {}  # closed gate ID -> when it stops taking a Gate-Delete
        # Gates each subscriber holds (a count: a set costs ~200 B/gate), keyed by _count_key(subscriber).
        self.by_subscriber: dict[Any, int] = {}
        self._by_state = dict.fromkeys(GateState, 0)  # kept as gates move: the panel and metrics ask often
        self._heap: list[tuple[float, int, int]] = []  # (deadline, gate ID, _WAKE or _LINGER): where new ones go
        self._draining: list[tuple[float, int, int]] = []  # an older heap being swept into _heap, tail first
        self._drain_at = 0.0  # when the next sweep step is due
        self.compact_floor = 4096  # heap entries below which stale ones are not worth a sweep
        self._rng = rng or random.SystemRandom()
        self.on_authorized: Callable[[int, float], None] = lambda gate_id, now: None  # the automatic modem

    # --- commands from the gate controller ------------------------------------------------

    def handle(self, command, owner: Any, now: float, payload: bytes = b"") -> tuple[Any, list[Event]]:
        """Apply a GC command; return its Ack or Err and any events it causes.

        ``payload`` is the 6/4 payload ``command`` was decoded from, if there
        is one: a Gate-Set's Gate-Specs are kept as their bytes in it rather
        than encoded again.
        """
        handler = _HANDLERS[type(command)]
        return handler(self, command, owner, now, payload)

    def _gate_alloc(self, command: GateAlloc, owner, now: float, payload: bytes):
        tid, subscriber, activity_count = command[:3]  # as _gate_set reads a Gate-Set: by index, reply by tuple.__new__
        error, held = self._check_new_gate(subscriber, activity_count)
        if error:
            return GateAllocErr(tid, error, subscriber), []
        gate = self._add(subscriber, owner, _ALLOCATED, activity_count, held)
        self._arm(gate, Timer.T0, now + self.timers.t0)
        return _new(GateAllocAck, (tid, gate.gate_id, subscriber, held + 1, ())), []

    def _gate_set(self, command: GateSet, owner, now: float, payload: bytes):
        # Every Gate-Set passes here: fields read once by index (GateSet order: tid, subscriber, gate_specs,
        # gate_id, activity_count), no closure, the reply built without NamedTuple's Python-level __new__.
        tid, subscriber, specs, gate_id, activity_count = command[:5]
        invalid = _check_specs(specs)
        if invalid is not None:
            return _new(GateSetErr, (tid, PacketCableError(*invalid), subscriber, gate_id, ())), []
        if gate_id is None:
            error, held = self._check_new_gate(subscriber, activity_count)
            if error:
                return _new(GateSetErr, (tid, error, subscriber, None, ())), []
            gate = self._add(subscriber, owner, _AUTHORIZED, activity_count, held)
            held += 1
            newly_authorized = True
        else:
            gate = self.gates.get(gate_id)
            if gate is None:
                error = PacketCableError(PacketCableErrorCode.UNKNOWN_GATE_ID)
                return _new(GateSetErr, (tid, error, subscriber, gate_id, ())), []
            gate.owner = owner
            if activity_count is not None:
                gate.limit = activity_count
            held = self.held_by(gate.subscriber)
            newly_authorized = gate.state is _ALLOCATED
            if newly_authorized:
                self._move(gate, _AUTHORIZED)
                gate.t0_at = None  # T0 stops
        gate.specs_wire = _specs_wire(specs, payload)
        if command[_SET_EXTRAS_AT] == _NO_EXTRAS:  # the usual Gate-Set: one slice, not five getattrs
            gate.extras = None
        else:
            gate.extras = {name: value for name in _SET_EXTRAS if (value := getattr(command, name)) is not None}
        if gate.state is _AUTHORIZED:
            # T1: the smallest non-zero Gate-Spec T1, else the default (what _timer computes, inlined: every
            # Gate-Set arms it; a plain loop, as a comprehension is a function call of its own on CPython 3.11).
            t1 = 0
            for spec in specs:
                value = spec[_T1_AT]
                if value and (not t1 or value < t1):
                    t1 = value
            deadline = now + (float(t1) if t1 else self.timers.t1)
            gate.t1_at = deadline
            if gate.wake_at is None or deadline < gate.wake_at:  # what _wake does, in line
                gate.wake_at = deadline
                heapq.heappush(self._heap, (deadline, gate.gate_id, _WAKE))
        if newly_authorized:
            self.on_authorized(gate.gate_id, now)
        return _new(GateSetAck, (tid, gate.gate_id, subscriber, held, ())), []

    def _gate_info(self, command: GateInfo, owner, now: float, payload: bytes):
        gate = self.gates.get(command.gate_id)
        if gate is None:
            return GateInfoErr(command.transaction_id, PacketCableError(PacketCableErrorCode.UNKNOWN_GATE_ID),
                               command.subscriber, command.gate_id), []
        return GateInfoAck(command.transaction_id, gate.gate_id, gate.subscriber, self.held_by(gate.subscriber),
                           gate.specs, **(gate.extras or {})), []

    def _gate_delete(self, command: GateDelete, owner, now: float, payload: bytes):
        # Real gate controllers send Subscriber-ID 0.0.0.0 here: match by Gate-ID alone (protocol.md 5).
        gate = self.gates.get(command.gate_id)
        if gate is None and self.closed.pop(command.gate_id, None) is not None:
            # The gate closed (Gate-Close went out) and the GC cleans up after it, as a call flow does.
            return _new(GateDeleteAck, (command.transaction_id, command.gate_id, command.subscriber, ())), []
        if gate is None:
            return GateDeleteErr(command.transaction_id, PacketCableError(PacketCableErrorCode.UNKNOWN_GATE_ID),
                                 command.subscriber, command.gate_id), []
        events = [self._close_event(gate, GateCloseSubcode.CLIENT_INITIATED_RELEASE)] \
            if self.policy.close_on_delete else []
        self._remove(gate)
        return _new(GateDeleteAck, (command.transaction_id, gate.gate_id, command.subscriber, ())), events

    def _check_new_gate(self, subscriber, activity_count: int | None) -> tuple[PacketCableError | None, int]:
        """The error refusing ``subscriber`` a new gate, or None; and the gates it holds now.

        The count comes back so that the caller does not look it up again.
        """
        held = self.by_subscriber.get(subscriber._ip if type(subscriber) is IPv4Address else subscriber, 0)
        if not self.admission.can_add_gate():
            return PacketCableError(PacketCableErrorCode.INSUFFICIENT_RESOURCES), held
        if activity_count is not None and held >= activity_count:
            return PacketCableError(PacketCableErrorCode.SUBSCRIBER_EXCEEDED_GATE_LIMIT), held
        return None, held

    # --- the modem side -------------------------------------------------------------------------

    def reserve(self, gate_id: int, now: float, kbps: dict[int, float] | None = None) -> list[Event]:
        """The modem asks for its flows (DSA); admitted inside the envelope and capacity -> Reserved.

        ``kbps`` maps a direction to the rate asked for; by default the whole envelope.
        Auto-Commit in the Gate-Spec flags commits at once.
        """
        gate = self._gate(gate_id)
        if gate.state is not _AUTHORIZED:
            raise Refused(f"gate 0x{gate_id:08x} is {gate.state.name}, not AUTHORIZED")
        specs = gate.spec_fields()
        kbps_of = self.admission.kbps
        envelope = {spec[_DIRECTION_AT]: kbps_of(spec[_RATE_AT]) for spec in specs}
        wanted = envelope if kbps is None else kbps
        for direction, rate in wanted.items():
            if direction not in envelope or rate > envelope[direction] + 1e-9:
                raise Refused(f"{_direction_name(direction)} {rate:g} kbit/s is outside the authorized envelope of "
                              f"gate 0x{gate_id:08x}")
            if not self.admission.fits(direction, rate):
                raise Refused(f"no {_direction_name(direction)} capacity for {rate:g} kbit/s")
        for direction, rate in wanted.items():
            self.admission.take(direction, rate)
        gate.reserved_up = wanted.get(_UPSTREAM, 0.0)
        gate.reserved_down = wanted.get(_DOWNSTREAM, 0.0)
        self._move(gate, _RESERVED)
        own = [value for spec in specs if (value := spec[_T7_AT])]  # as _timer computes T7
        t7 = float(min(own)) if own else self.timers.t7
        if t7:  # what _arm does, in line: the automatic modem reserves every gate
            gate.t7_at = deadline = now + t7
            if gate.wake_at is None or deadline < gate.wake_at:  # what _wake does, in line
                gate.wake_at = deadline
                heapq.heappush(self._heap, (deadline, gate.gate_id, _WAKE))
        auto_commit = self.policy.auto_commit_flag
        for spec in specs:  # a plain loop: any() over a generator costs more for two Gate-Specs
            if spec[_FLAGS_AT] & auto_commit:
                return self.commit(gate_id, now)
        return []

    def commit(self, gate_id: int, now: float) -> list[Event]:
        """The modem activates its flows: Committed, T1 and T7 stop, Gate-Open goes to the owner."""
        gate = self._gate(gate_id)
        if gate.state is not _RESERVED:
            raise Refused(f"gate 0x{gate_id:08x} is {gate.state.name}, not RESERVED")
        self._move(gate, _COMMITTED)
        gate.media_active = True
        gate.t1_at = gate.t7_at = None  # T1 and T7 stop (what _disarm does, for the automatic modem's every call)
        opened = _new(GateOpen, (self.policy.event_transaction_id, gate.gate_id, gate.subscriber, ()))
        return [_new(Event, (gate.owner, opened))]

    def media_stopped(self, gate_id: int, now: float) -> list[Event]:
        """The modem's media goes quiet: T8 (inactivity) starts if it is non-zero."""
        gate = self._gate(gate_id)
        if gate.state is not _COMMITTED:
            raise Refused(f"gate 0x{gate_id:08x} is {gate.state.name}, not COMMITTED")
        gate.media_active = False
        t8 = self._timer(gate, Timer.T8)
        if t8:
            self._arm(gate, Timer.T8, now + t8)
        return []

    def release(self, gate_id: int, now: float) -> list[Event]:
        """The modem tears its flows down (DSD): the gate goes, Gate-Close sub-code 0."""
        gate = self._gate(gate_id)
        if gate.state not in (_RESERVED, _COMMITTED):
            raise Refused(f"gate 0x{gate_id:08x} is {gate.state.name}: nothing to release")
        event = self._close_event(gate, _CLIENT_INITIATED_RELEASE, now)
        self._remove(gate)
        return [event]

    def preempt(self, gate_id: int, now: float,
                subcode: int = GateCloseSubcode.RESERVATION_REASSIGNMENT) -> list[Event]:
        """The CMTS takes the gate away (preemption, modem lost): Gate-Close with ``subcode``."""
        gate = self._gate(gate_id)
        event = self._close_event(gate, subcode, now)
        self._remove(gate)
        return [event]

    # --- timers ------------------------------------------------------------------------------------

    @property
    def next_deadline(self) -> float | None:
        """When :meth:`expire` next has work (may be a stale entry: then it just finds none)."""
        heap, draining = self._heap, self._draining
        if draining:  # a sweep step is work too
            return min(draining[0][0], self._drain_at, heap[0][0]) if heap else min(draining[0][0], self._drain_at)
        return heap[0][0] if heap else None

    def expire(self, now: float) -> list[Event]:
        """Fire every timer due by ``now``, in deadline order; Gate-Close events for the gates that go."""
        events: list[Event] = []
        heap, draining = self._heap, self._draining
        if draining and now >= self._drain_at:
            self._drain_step(now)
        while True:
            if heap and heap[0][0] <= now and not (draining and draining[0] < heap[0]):
                entry = heapq.heappop(heap)
            elif draining and draining[0][0] <= now:
                entry = heapq.heappop(draining)
            else:
                break
            self._fire(entry, now, events)
        if not draining and len(heap) > self.compact_floor + 2 * (
                _LIVE_PER_GATE * len(self.gates) + len(self.closed)):
            self._start_drain(now)
        return events

    def _fire(self, entry: tuple[float, int, int], now: float, events: list[Event]) -> None:
        deadline, gate_id, kind = entry
        if kind == _LINGER:
            if self.closed.get(gate_id) == deadline:
                del self.closed[gate_id]
            return
        gate = self.gates.get(gate_id)
        if gate is None or gate.wake_at != deadline:
            return  # stale: the gate went, or an earlier entry took this one's place
        gate.wake_at = None
        timer, due = _earliest_timer(gate)
        if timer is None:
            return  # every timer it was due for was stopped
        if due != deadline:  # that one stopped, a later one runs: its turn comes in deadline order
            self._wake(gate, due)
            return
        if timer is Timer.T0 and not self.policy.close_on_t0:
            self._remove(gate)
            return
        events.append(self._close_event(gate, _CLOSE_SUBCODE[timer], now))
        self._remove(gate)

    def _start_drain(self, now: float) -> None:
        """Most of the heap is stale: new timers go to an empty heap, the old one is swept into it in steps.

        Stale entries (the gate went, its timer stopped or was re-armed) stay
        until due: T1's 250 s at 1,000 calls/s is half a million of them,
        ~50 MB.  Filtering 200k entries at once stalls every connection for
        ~70 ms; a step of :data:`_DRAIN_SLICE` every :data:`_DRAIN_PERIOD`
        does not.  The old heap's timers keep firing on time meanwhile.
        """
        self._draining, self._heap = self._heap, []
        self._drain_at = now

    def _drain_step(self, now: float) -> None:
        """Move the live entries of the draining heap's last slice into the heap.

        The tail is taken because a heap without its last leaves is still a heap.
        """
        draining, heap = self._draining, self._heap
        chunk = draining[-_DRAIN_SLICE:]
        del draining[-_DRAIN_SLICE:]
        gates, closed = self.gates, self.closed
        for entry in chunk:
            deadline, gate_id, kind = entry
            if kind == _LINGER:
                live = closed.get(gate_id) == deadline
            else:
                gate = gates.get(gate_id)
                live = gate is not None and gate.wake_at == deadline
            if live:
                heapq.heappush(heap, entry)
        self._drain_at = now + _DRAIN_PERIOD

    def _timer(self, gate: Gate, timer: Timer, specs: tuple[GateSpec, ...] | None = None) -> float:
        """A gate's timer in seconds: the smallest non-zero value its Gate-Specs give, else the default."""
        name = _TIMER_NAME[timer]
        own = [value for spec in (gate.specs if specs is None else specs) if (value := getattr(spec, name))]
        return float(min(own)) if own else getattr(self.timers, name)

    def _arm(self, gate: Gate, timer: Timer, deadline: float) -> None:
        setattr(gate, _TIMER_FIELD[timer], deadline)
        self._wake(gate, deadline)

    def _wake(self, gate: Gate, deadline: float) -> None:
        """See that ``gate``'s heap entry falls due by ``deadline``: one live entry a gate, not one a timer.

        A gate arms T0, then T1, then T7 as a call goes, and stops each as it
        moves on; an entry for each would stay in the heap until due (T1's
        200 s), ~90 bytes apiece.  A later timer waits behind the entry the
        gate has; an earlier one takes its place (the old entry goes stale).
        """
        if gate.wake_at is None or deadline < gate.wake_at:
            gate.wake_at = deadline
            heapq.heappush(self._heap, (deadline, gate.gate_id, _WAKE))

    @staticmethod
    def _disarm(gate: Gate, timer: Timer) -> None:
        setattr(gate, _TIMER_FIELD[timer], None)

    # --- bookkeeping -----------------------------------------------------------------------------

    def hand_over(self, owner: Any, successor: Any | None) -> int:
        """The gates ``owner`` still holds go to ``successor``, or are deleted when it is None (no event: nobody
        to tell); how many."""
        gates = [gate for gate in self.gates.values() if gate.owner is owner]
        for gate in gates:
            if successor is None:
                self._remove(gate)
            else:
                gate.owner = successor
        return len(gates)

    def held_by(self, subscriber) -> int:
        return self.by_subscriber.get(_count_key(subscriber), 0)

    def count_by_state(self) -> dict[GateState, int]:
        """Gates in each state, without a walk of the table (which takes ~10 ms at 100k gates)."""
        return dict(self._by_state)

    def _move(self, gate: Gate, state: GateState) -> None:
        """Every change of a live gate's state goes through here, so that the counts by state stay exact."""
        self._by_state[gate.state] -= 1
        self._by_state[state] += 1
        gate.state = state

    def _gate(self, gate_id: int) -> Gate:
        gate = self.gates.get(gate_id)
        if gate is None:
            raise Refused(f"no gate 0x{gate_id:08x}")
        return gate

    def _new_gate_id(self) -> int:
        # Unpredictable, unique and never 0 (0 reads as "no gate" to some gate controllers).
        while True:
            gate_id = self._rng.getrandbits(32)
            # Not the ID of a closed gate either: its clean-up Gate-Delete must not hit the new gate.
            if gate_id and gate_id not in self.gates and gate_id not in self.closed:
                return gate_id

    def _add(self, subscriber, owner, state: GateState, limit: int | None, held: int) -> Gate:
        """A new gate for ``subscriber``, who held ``held`` gates before it."""
        gate = Gate(self._new_gate_id(), subscriber, owner, state)
        gate.limit = limit
        self.gates[gate.gate_id] = gate
        self._by_state[state] += 1
        self.by_subscriber[subscriber._ip if type(subscriber) is IPv4Address else subscriber] = held + 1
        self.admission.gates += 1
        return gate

    def _remove(self, gate: Gate) -> None:
        del self.gates[gate.gate_id]
        self._by_state[gate.state] -= 1
        key = _count_key(gate.subscriber)
        held = self.by_subscriber.pop(key, 0) - 1
        if held > 0:
            self.by_subscriber[key] = held
        if gate.reserved_up:
            self.admission.give_back(_UPSTREAM, gate.reserved_up)
        if gate.reserved_down:
            self.admission.give_back(_DOWNSTREAM, gate.reserved_down)
        self.admission.gates -= 1

    def _close_event(self, gate: Gate, subcode: int, now: float | None = None) -> Event:
        """The Gate-Close for ``gate``; its ID lingers for a clean-up Gate-Delete (given ``now``)."""
        if now is not None and self.policy.closed_gate_linger > 0:
            until = now + self.policy.closed_gate_linger
            self.closed[gate.gate_id] = until
            heapq.heappush(self._heap, (until, gate.gate_id, _LINGER))
        closed = _new(GateClose, (self.policy.event_transaction_id, gate.gate_id, gate.subscriber,
                                  _new(PacketCableReason, (_GATE_CLOSE, subcode)), ()))
        return _new(Event, (gate.owner, closed))


def _earliest_timer(gate: Gate) -> tuple[Timer | None, float]:
    """The gate's running timer that falls due first, and when (None: none runs)."""
    first, due = None, 0.0
    for timer, field in _TIMER_FIELD.items():
        at = getattr(gate, field)
        if at is not None and (first is None or at < due):
            first, due = timer, at
    return first, due


def _count_key(subscriber) -> Any:
    """A subscriber's key in ``by_subscriber``: an IPv4 address's 32-bit value, any other address itself.

    An int hashes in C; IPv4Address's hash is Python code (~0.6 us a lookup
    here), and every Gate-Set looks its subscriber up twice.  ``_ip`` is
    where ipaddress keeps the value (cops_core.fields.ipv4 relies on it too).
    The two hot lookups (_check_new_gate, _add) inline this expression.
    """
    return subscriber._ip if type(subscriber) is IPv4Address else subscriber


_INVALID_SPEC = (PacketCableErrorCode.INVALID_OBJECT, (GateSpec.SNUM << 8) | GateSpec.STYPE)
_DIRECTIONS = frozenset((Direction.DOWNSTREAM, Direction.UPSTREAM))
_SESSION_CLASSES = frozenset((SessionClass.UNSPECIFIED, SessionClass.NORMAL, SessionClass.HIGH_PRIORITY))
_ILLEGAL_SESSION_CLASS = (PacketCableErrorCode.ILLEGAL_SESSION_CLASS, 0)


def _direction_name(direction: int) -> str:
    """How a refusal names a direction: "upstream", or the number of one DQoS does not define."""
    return Direction(direction).name.lower() if direction in tuple(Direction) else f"direction {direction}"


def _check_specs(specs: tuple[GateSpec, ...]) -> tuple[int, int] | None:
    """PacketCable-Error (code, sub-code) for Gate-Specs the CMTS cannot take, else None.

    At most one Gate-Spec each way; then a session class it knows (a bad
    direction anywhere wins over a bad class).  Every Gate-Set passes here:
    one plain loop, fields by index.
    """
    if len(specs) > 2:
        return _INVALID_SPEC
    seen = None
    bad_class = False
    for spec in specs:
        direction = spec[_DIRECTION_AT]
        if direction not in _DIRECTIONS or direction == seen:
            return _INVALID_SPEC
        seen = direction
        if spec[_SESSION_CLASS_AT] not in _SESSION_CLASSES:
            bad_class = True
    return _ILLEGAL_SESSION_CLASS if bad_class else None


def _specs_wire(specs: tuple[GateSpec, ...], payload: bytes) -> bytes:
    """The wire form of ``specs``: their bytes in the payload they were decoded from, else encoded again.

    The decoder collects every Gate-Spec of the payload in order, so when
    they lie back to back at its end (as every gate controller sends them)
    that stretch is exactly their encoding.  The common layout, 8-byte
    objects then the Gate-Specs (what the codec's templates take), is
    recognised in one unpack; anything else walks the objects, which still
    costs a fraction of encoding two Gate-Specs.
    """
    n = len(specs)
    layout = _TAIL_LAYOUTS.get((len(payload), n))
    if layout is not None and layout[0](payload) == layout[1]:
        return payload[-n * _SPEC_SIZE:]
    start = end = None
    offset = 0
    while offset + 4 <= len(payload):
        length, snum, stype = OBJECT_HEADER.unpack_from(payload, offset)
        if length < 4:
            break
        if snum == GateSpec.SNUM and stype == GateSpec.STYPE:
            if end is not None and end != offset:
                break  # Gate-Specs with other objects between them: encode
            start = offset if start is None else start
            end = offset + length
        offset += length
    if start is not None and offset == len(payload) and end - start == n * _SPEC_SIZE:
        return payload[start:end]
    return b"".join([spec.encode() for spec in specs])


# (payload length, Gate-Specs) -> (unpack_from, the object headers it must read) of the common layout: 1-8 objects
# of Length 8, then the Gate-Specs to the end.  One unpack and one tuple comparison check every header.
_TAIL_LAYOUTS = {
    (8 * small + _SPEC_SIZE * n, n): (struct.Struct("!" + "H6x" * small + "I56x" * n).unpack_from,
                                      (8,) * small + (_SPEC_SIZE << 16 | GateSpec.SNUM << 8 | GateSpec.STYPE,) * n)
    for small in range(1, 9) for n in (1, 2)
}


GATE_CONTROLLER_COMMANDS = (GateAlloc, GateSet, GateInfo, GateDelete)
_HANDLERS = {
    GateAlloc: GateTable._gate_alloc,
    GateSet: GateTable._gate_set,
    GateInfo: GateTable._gate_info,
    GateDelete: GateTable._gate_delete,
}
