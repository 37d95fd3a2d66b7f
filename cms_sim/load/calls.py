"""Thousands of calls at once, each a small record walking a :class:`~.program.Program`: SIPp's model.

A :class:`Call` holds a program counter, its variables and its gates; no
task.  :class:`CallEngine` moves calls along: it sends gate commands through
:meth:`GateController.submit` (the reply comes back as a callback in the
controller's reader), routes Gate-Open/Gate-Close to the call owning the
gate, and keeps every deadline (request timeouts, holds, event waits) in one
heap that one timer task services.  What a step means (the command it sends,
whether a reply passes) comes from :mod:`cms_sim.scenario.actions`, as for
``cms-sim run``.

The engine does no I/O of its own and reads no clock: callers pass ``now``
(callbacks ask ``clock``); commands it queues go out when it calls the
controller's :meth:`~cms_sim.controller.GateController.flush`, which wakes
that connection's writer.  A call that fails deletes
the gates it still holds (cleanup), so one failure does not leak into the
CMTS's gate table for the rest of the run.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import deque
from typing import Any, Callable

from cops_core.dqos import GateAllocAck, GateDelete, GateDeleteAck, GateDeleteErr, GateSetAck

from ..errors import ControllerError, GateControlLost, GateError, RequestTimeout
from ..events import EVENT_KINDS, Connected, ConnectionLost, GateClosed, GateOpened
from ..scenario.actions import (EVENT_TITLES, REQUEST_CLASS, StepFailed, check_event, judge_reply, judges_acks,
                                sample_hold, save, save_from_ack, saves_only)
from ..scenario.model import CommitStep, ExpectEventStep, GateCommandStep, HoldStep, ReleaseStep, ReserveStep, WaitStep
from ..scenario.modem import DEFAULT_MODEM_TIMEOUT
from ..scenario.values import Template
from .program import Op, Program
from .stats import Recorder

_GATE_ACKS = (GateAllocAck, GateSetAck)


class Call:
    """One call in progress.  ``gates`` maps each Gate-ID it was given to its subscriber (None once closed)."""

    __slots__ = ("number", "pc", "variables", "controller", "op_started", "token", "tid", "gates", "events",
                 "waiting")

    def __init__(self, number: int, variables: dict[str, Any], controller) -> None:
        self.number = number
        self.pc = 0
        self.variables = variables
        self.controller = controller
        self.op_started = 0.0
        self.token = 0  # bumped as each step starts: callbacks and deadlines of earlier steps are stale
        self.tid: int | None = None  # the request awaiting its reply
        self.gates: dict[int, Any] = {}
        self.events: list | None = None  # gate events that came before a step waited for them (unclaimed)
        self.waiting: tuple | None = None  # (event kind, gate ID or None, claim) while a step waits for an event


class ModemControl:
    """How modem steps reach the simulated modem (the embedded CMTS's control pipe): ``act`` and a callback.

    ``act(verb, gate_id, done)`` asks for reserve/commit/release; ``done(None)``
    when the CMTS did it, ``done("why")`` when it refused.
    """

    def act(self, verb: str, gate_id: int, done: Callable[[str | None], None]) -> None:
        raise NotImplementedError


class CallEngine:
    """Starts calls, moves them through the program, counts what happens in ``recorder``."""

    def __init__(self, program: Program, recorder: Recorder, *, clock: Callable[[], float],
                 modem: ModemControl | None = None,
                 modem_timeout: float = DEFAULT_MODEM_TIMEOUT, rng: random.Random | None = None) -> None:
        self.ops = program.ops
        self._begins = tuple(self._BEGIN[type(op.step)] for op in self.ops)  # each op's way to start
        self._judged = tuple(isinstance(op.step, GateCommandStep) and judges_acks(op.step) for op in self.ops)
        self._saving = tuple(isinstance(op.step, GateCommandStep) and saves_only(op.step) for op in self.ops)
        # Steps that look at the event they waited for: an expect_event with a reason to check or a field to save
        # (a modem step's, or a bare expect_event's, passes as it comes).
        self._event_judged = tuple(isinstance(op.step, ExpectEventStep)
                                   and (op.step.expect_event.reason is not None or bool(op.step.save))
                                   for op in self.ops)
        self.recorder = recorder
        self.tally = recorder.tally
        self.clock = clock
        self.modem = modem  # None: real gear, where modem steps watch for the events a real MTA causes
        self.modem_timeout = modem_timeout
        self.rng = rng or random.Random()
        self.calls: dict[int, Call] = {}
        self.by_gate: dict[int, Call] = {}
        self.cleanups = 0  # cleanup Gate-Deletes awaiting their reply
        self.on_deadline: Callable[[], None] = lambda: None  # a new earliest deadline: the timer task re-arms
        self._on_reply = self._reply  # bound once: each command hands the controller this and a context tuple
        self._orphans: dict[Any, list[tuple[Any, int]]] = {}  # controller -> gates to delete once it is back
        self._connected_once: set[tuple] = set()  # peers connected before: a Connected again is a reconnect
        # Deadlines, each (when, sequence, call number, token): the number, not the Call, so that the many
        # deadlines a call outlives (a reply beats its timeout) keep nothing alive.  Its Call then dies with the
        # call, young, instead of being kept for the 5 s of a request timeout, walked twice by the garbage
        # collector and frozen.  Nearly all are a fixed delay after their step starts (a request's or a modem's
        # timeout, a fixed hold): those wait in one queue per delay, which is in the order they fall due, so
        # pushing and popping compare nothing (in one heap of 5-60 s of them, 10^5 entries under load, each push
        # and pop cost ~1 us).  The rest (sampled holds, timeouts from a ${var}) go to a heap.  They fall due in
        # (when, sequence) order across all of them, as from one heap.
        self._heap: list[tuple[float, int, int, int]] = []
        self._queues: dict[float, deque[tuple[float, int, int, int]]] = {}
        for delay in (modem_timeout, *(value for op in self.ops for value in (op.timeout, op.pause))):
            if type(delay) in (int, float) and delay > 0:
                self._queues[delay] = deque()
        self._sequence = itertools.count()

    # --- calls ----------------------------------------------------------------------------------

    def start(self, number: int, variables: dict[str, Any], controller, now: float) -> None:
        """Start call ``number`` with its own ``variables`` on ``controller``; it runs until its first wait."""
        call = Call(number, variables, controller)
        self.calls[number] = call
        self.tally.attempted += 1
        self.tally.concurrent += 1
        self._run(call, now)

    def abort(self, cause: str) -> None:
        """End every call in progress as failed with ``cause``; their gates are deleted."""
        for call in list(self.calls.values()):
            self._fail(call, cause)

    @property
    def next_deadline(self) -> float | None:
        """The earliest deadline still in force.

        Most deadlines go stale (a reply beats its timeout): they are dropped
        from the top of the heap here, so the timer task never wakes for them.
        """
        earliest = self._first_in_force(self._heap, heapq.heappop)
        for queue in self._queues.values():
            earliest = min(earliest, self._first_in_force(queue, deque.popleft))
        return None if earliest == math.inf else earliest

    def _first_in_force(self, entries, drop: Callable) -> float:
        """The first of ``entries``' deadlines still in force (inf if none); ``drop`` takes the stale ones off."""
        calls = self.calls
        while entries:
            when, _, number, token = entries[0]
            call = calls.get(number)
            if call is not None and call.token == token:
                return when
            drop(entries)
        return math.inf

    def expire(self, now: float) -> None:
        """Act on every deadline due by ``now``: timeouts fail (or pass) their step, holds end."""
        heap, queues, calls = self._heap, self._queues, self.calls
        while True:
            first = heap[0] if heap and heap[0][0] <= now else None
            source = heap
            for queue in queues.values():
                if queue and queue[0][0] <= now and (first is None or queue[0] < first):
                    first, source = queue[0], queue
            if first is None:
                return
            if source is heap:
                heapq.heappop(heap)
            else:
                source.popleft()
            _, _, number, token = first
            call = calls.get(number)
            if call is not None and call.token == token:
                self._deadline(call, self.ops[call.pc], now)

    # --- the program ----------------------------------------------------------------------------

    def _run(self, call: Call, now: float) -> None:
        """Run steps until one has to wait, or the call ends."""
        ops, begins = self.ops, self._begins
        while call.pc < len(ops):
            op = ops[call.pc]
            if op.setting:
                for name, value in op.setting:
                    call.variables[name] = value
            call.token += 1
            call.op_started = now
            try:
                done = begins[call.pc](self, call, op, now)
            except StepFailed as exc:
                self._fail(call, exc.cause)
                return
            except ValueError as exc:  # a ${var} whose value the field does not take
                self._fail(call, f"{op.title}: {exc}")
                return
            if not done:
                return
            self.recorder.record_instant(op.title)  # done as it started: a latency of 0
            call.pc += 1
        self._end(call)
        self.tally.completed += 1

    def _resume(self, call: Call, now: float) -> None:
        """The step ``call`` waited on is done: record it (a gate command's reply is recorded as it comes) and go on."""
        op = self.ops[call.pc]
        if op.build is None:
            self.recorder.record(op.title, now - call.op_started)
        call.pc += 1
        self._run(call, now)

    def _at(self, now: float, delay: float, call: Call) -> None:
        """The deadline of ``call``'s step, ``delay`` seconds after ``now``."""
        when = now + delay
        entry = (when, next(self._sequence), call.number, call.token)
        queue = self._queues.get(delay)
        if queue:
            if queue[-1][0] <= when:  # as the clock goes: due after this queue's first, so not the earliest
                queue.append(entry)
                return
            queue = None  # due before the queue's last: it would be out of order there
        first = when < self._earliest()
        if queue is None:
            heapq.heappush(self._heap, entry)
        else:
            queue.append(entry)
        if first:
            self.on_deadline()

    def _earliest(self) -> float:
        """The earliest deadline of all, stale or not (inf: none)."""
        earliest = self._heap[0][0] if self._heap else math.inf
        for queue in self._queues.values():
            if queue and queue[0][0] < earliest:
                earliest = queue[0][0]
        return earliest

    # --- gate commands --------------------------------------------------------------------------

    def _command(self, call: Call, op: Op, now: float) -> bool:
        command = op.build(call.variables)
        controller = call.controller
        try:
            call.tid = controller.submit(command, self._on_reply, (call, call.token, command))
        except GateControlLost as exc:
            raise StepFailed(str(exc), exc.cause) from None
        except ControllerError as exc:  # every Transaction-ID in flight: the CMTS is that far behind
            raise StepFailed(str(exc), f"{op.title}: {exc}") from None
        controller.flush()
        # An op's fields are worked out when the program was bound, or templates to resolve now: tested in line
        # here and below, as a helper would be one more Python call for each of ~14 fields a call reads.
        timeout = op.timeout
        if type(timeout) is Template:
            timeout = timeout.resolve(call.variables)
        if not timeout:
            timeout = controller.options.request_timeout
            if timeout not in self._queues and timeout > 0:  # every command's usual deadline: a queue of its own
                self._queues[timeout] = deque()
        self._at(now, timeout, call)
        return False

    def _reply(self, context: tuple[Call, int, Any], reply, error: ControllerError | None) -> None:
        call, token, command = context
        if call.token != token:
            return
        op = self.ops[call.pc]  # the step that sent the command: the token says the call has not moved on
        now = self.clock()
        call.tid = None
        latency = now - call.op_started
        if isinstance(error, GateControlLost):
            self._fail(call, error.cause)
            return
        self.recorder.record(op.title, latency)  # every reply, Ack or Err: the gate command's latency too
        if error is None or isinstance(error, GateError):  # a reply of the wrong type names other gates
            self._track(call, command, reply)
        if error is not None or self._judged[call.pc]:
            try:
                if error is None and self._saving[call.pc]:
                    save_from_ack(op.step, reply, call.variables)
                else:
                    judge_reply(op.step, reply, error, latency, call.variables)
            except StepFailed as exc:
                self._fail(call, exc.cause)
                return
        self._resume(call, now)

    def _track(self, call: Call, command, reply) -> None:
        """Keep the call's Gate-IDs: new from an Alloc/Set-Ack, gone with a Gate-Delete-Ack or -Err."""
        kind = type(reply)
        if kind in _GATE_ACKS and reply.gate_id not in call.gates:
            call.gates[reply.gate_id] = command.subscriber
            self.by_gate[reply.gate_id] = call
            self.tally.gates += 1
        elif kind is GateDeleteAck or kind is GateDeleteErr:
            if call.gates.get(command.gate_id) is not None:
                self.tally.gates -= 1
            call.gates.pop(command.gate_id, None)
            if self.by_gate.get(command.gate_id) is call:
                del self.by_gate[command.gate_id]

    # --- events ---------------------------------------------------------------------------------

    def on_event(self, event) -> None:
        """Every event of every controller: gate events go to the call owning the gate."""
        kind = type(event)
        if kind is GateOpened or kind is GateClosed:
            call = self.by_gate.get(event.gate_id)
            if call is None:
                return  # a gate of a call that has ended (a Gate-Close after its cleanup, ...)
            if kind is GateClosed and call.gates.get(event.gate_id) is not None:
                call.gates[event.gate_id] = None
                self.tally.gates -= 1
            self._deliver(call, event)
        elif kind is Connected:
            self._connected(event)
        elif kind is ConnectionLost:
            self._lost(event)

    def _deliver(self, call: Call, event) -> None:
        waiting = call.waiting
        if waiting is not None and type(event) is waiting[0] and waiting[1] in (None, event.gate_id):
            call.waiting = None
            if not waiting[2]:  # looked at, not claimed: a later expect_event may still take it
                self._keep(call, event)
            if self._event_judged[call.pc]:
                try:
                    self._judge_event(call, self.ops[call.pc], event)
                except StepFailed as exc:
                    self._fail(call, exc.cause)
                    return
            self._resume(call, self.clock())
        else:
            self._keep(call, event)

    @staticmethod
    def _keep(call: Call, event) -> None:
        if call.events is None:
            call.events = []
        call.events.append(event)

    def _await_event(self, call: Call, op: Op, kind: type, gate_id: int | None, claim: bool, timeout: float,
                     now: float) -> bool:
        for index, event in enumerate(call.events or ()):
            if type(event) is kind and gate_id in (None, event.gate_id):
                if claim:
                    del call.events[index]
                if self._event_judged[call.pc]:
                    self._judge_event(call, op, event)
                return True
        call.waiting = (kind, gate_id, claim)
        self._at(now, timeout, call)
        return False

    @staticmethod
    def _judge_event(call: Call, op: Op, event) -> None:
        """An expect_event's check of its event (its reason) and its ``save``; StepFailed if either fails."""
        step = op.step
        check_event(step.expect_event, event, call.variables, op.title)
        if step.save:
            save(step.save, event._asdict(), EVENT_TITLES[step.expect_event.event], call.variables)

    def _expect_event(self, call: Call, op: Op, now: float) -> bool:
        gate_id, timeout = op.gate, op.timeout
        if type(gate_id) is Template:
            gate_id = gate_id.resolve(call.variables)
        if type(timeout) is Template:
            timeout = timeout.resolve(call.variables)
        return self._await_event(call, op, EVENT_KINDS[op.step.expect_event.event], gate_id, True, timeout, now)

    # --- modem, hold, wait --------------------------------------------------------------------

    def _modem(self, call: Call, op: Op, now: float) -> bool:
        step, gate_id, timeout = op.step, op.gate, op.timeout
        if type(gate_id) is Template:
            gate_id = gate_id.resolve(call.variables)
        if type(timeout) is Template:
            timeout = timeout.resolve(call.variables)
        timeout = timeout or self.modem_timeout
        if self.modem is None:  # real gear: a real MTA acts; we see the events it causes
            if isinstance(step, ReserveStep):
                return True
            kind = GateOpened if isinstance(step, CommitStep) else GateClosed
            return self._await_event(call, op, kind, gate_id, False, timeout, now)
        token = call.token
        self.modem.act(step.KIND, gate_id, lambda refusal: self._modem_done(call, token, op, refusal))
        self._at(now, timeout, call)
        return False

    def _modem_done(self, call: Call, token: int, op: Op, refusal: str | None) -> None:
        if call.token != token:
            return
        refused = refusal is not None
        if refused != (op.step.expect == "refused"):
            verb = op.step.KIND
            self._fail(call, f"{op.title}: the CMTS refused to {verb}" if refused
                       else f"{op.title}: expected the CMTS to refuse to {verb}")
            return
        self._resume(call, self.clock())

    def _pause(self, call: Call, op: Op, now: float) -> bool:
        """A wait or a hold."""
        if op.pause is None:
            seconds = sample_hold(op.step.hold, call.variables, self.rng)
        else:
            seconds = op.pause
            if type(seconds) is Template:
                seconds = seconds.resolve(call.variables)
        if seconds <= 0:
            return True
        self._at(now, seconds, call)
        return False

    _BEGIN = {**dict.fromkeys(REQUEST_CLASS, _command), ReserveStep: _modem, CommitStep: _modem,
              ReleaseStep: _modem, ExpectEventStep: _expect_event, HoldStep: _pause, WaitStep: _pause}

    def _deadline(self, call: Call, op: Op, now: float) -> None:
        step = op.step
        if isinstance(step, (HoldStep, WaitStep)):
            self._resume(call, now)
        elif isinstance(step, GateCommandStep):
            call.controller.abandon(call.tid)
            call.tid = None
            timeout = now - call.op_started
            try:
                judge_reply(step, None, RequestTimeout(op.command_title, timeout), timeout, call.variables)
            except StepFailed as exc:
                self._fail(call, exc.cause)
                return
            self._resume(call, now)
        elif call.waiting is not None:
            kind = call.waiting[0]
            title = "Gate-Open" if kind is GateOpened else "Gate-Close"
            self._fail(call, f"{op.title}: no {title}")
        else:
            self._fail(call, f"{op.title}: no answer from the modem")

    # --- ending -----------------------------------------------------------------------------------

    def _end(self, call: Call) -> None:
        del self.calls[call.number]
        self.tally.concurrent -= 1
        call.token = -1
        call.waiting = None
        if call.tid is not None:
            call.controller.abandon(call.tid)
            call.tid = None
        for gate_id in call.gates:
            if self.by_gate.get(gate_id) is call:
                del self.by_gate[gate_id]

    def _fail(self, call: Call, cause: str) -> None:
        self._end(call)
        self.tally.failed += 1
        self.tally.failed_by_cause[cause] += 1
        for gate_id, subscriber in call.gates.items():
            if subscriber is not None:
                self.tally.gates -= 1
                self._delete(call.controller, subscriber, gate_id)

    def _delete(self, controller, subscriber, gate_id: int) -> None:
        """Cleanup: Gate-Delete a gate a failed call left; if it cannot go now, once the connection is (back) up."""
        try:
            controller.submit(GateDelete(0, subscriber, gate_id), self._cleaned)
        except ControllerError:  # the connection is down, or every Transaction-ID is in flight: try again later
            self._orphans.setdefault(controller, []).append((subscriber, gate_id))
            return
        self.cleanups += 1
        controller.flush()

    def _cleaned(self, context: None, reply, error: ControllerError | None) -> None:
        self.cleanups -= 1

    # --- connections ------------------------------------------------------------------------------

    def retry_cleanup(self) -> None:
        """Send the Gate-Deletes that could not go when their calls failed, on every connection now up."""
        for controller, orphans in list(self._orphans.items()):
            if controller.connected:
                del self._orphans[controller]
                for subscriber, gate_id in orphans:
                    self._delete(controller, subscriber, gate_id)

    @property
    def cleanup_pending(self) -> int:
        """Gate-Deletes of failed calls not yet answered, or not yet sent."""
        return self.cleanups + sum(len(orphans) for orphans in self._orphans.values())

    def _connected(self, event: Connected) -> None:
        self.retry_cleanup()
        if event.peer in self._connected_once:
            self.tally.reconnects += 1
        self._connected_once.add(event.peer)

    def _lost(self, event: ConnectionLost) -> None:
        """Calls on a lost connection fail at once with its cause (their gates are deleted once it is back)."""
        self.tally.lost += 1
        for call in list(self.calls.values()):
            if not call.controller.connected:
                self._fail(call, event.cause)
