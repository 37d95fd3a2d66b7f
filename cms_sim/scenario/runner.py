"""Run one scenario against a gate controller, step by step, with a verdict per step.

The first failing step ends the run (the steps after it depend on it) and
the rest are recorded as skipped.  A lost connection, a Client-Close or a
DRQ that the scenario does not wait for fails the step under way at once,
with that cause.  Whatever happened, the scenario's ``finally`` steps run
next, and then every gate it made and did not see go is deleted (on a new
connection if the old one is gone), so one scenario never leaves gates
behind for the next.

Every message the controller sends or receives goes into the result's
trace, and each step keeps the slice of it that happened while it ran.
:attr:`ScenarioRunner.result` is filled in as the run goes, so a run cut
short (:meth:`ScenarioRunner.interrupt`, Ctrl-C) still leaves a partial
result to report.
"""

from __future__ import annotations

import math
import random
import time
from typing import Any, Awaitable, Callable

import trio

from cops_core.trace import TraceRecord

from cops_core.dqos import GateAllocAck, GateDelete, GateDeleteAck, GateSetAck, PacketCableErrorCode

from ..controller import GateController
from ..errors import ControllerError, GateError, RequestTimeout
from ..judge import PeerJudge
from ..events import EVENT_KINDS, ConnectionLost, GateClosed, RequestStateDeleted
from .actions import EVENT_TITLES, StepFailed, build_command, judge_event, judge_reply, sample_hold, save
from .eventlog import EventLog
from .loader import ScenarioError
from .model import (
    BUILTIN_VARIABLES,
    CommitStep,
    DisconnectStep,
    ExpectEventStep,
    ExpectNoEventStep,
    GateAllocStep,
    GateCommandStep,
    GateDeleteStep,
    GateInfoStep,
    GateSetStep,
    HoldStep,
    ReconnectStep,
    ReleaseStep,
    RepeatStep,
    ReserveStep,
    SavingStep,
    Scenario,
    Step,
    SyncStep,
    WaitStep,
)
from .modem import ModemDriver, ModemRefused, ModemTimeout
from .result import ScenarioResult, StepResult, Verdict
from .values import UnsetVariable, resolve

Pause = Callable[["ScenarioRunner", Any, StepResult], Awaitable[None]]
"""``await pause(runner, step, result)`` before a step runs (``cms-sim run --step``); ``result`` is its StepResult."""

CLEANUP_TIMEOUT = 10.0
"""Seconds the automatic cleanup may take in all (reconnecting included), so a dead CMTS cannot hang the end."""


class ScenarioRunner:
    """``await ScenarioRunner(scenario, modem).run(controller)`` -> :class:`ScenarioResult`.

    ``variables`` override the scenario's defaults (only names it declares);
    ``seed`` overrides its seed for hold-time distributions.  Call
    :meth:`attach` on the controller or pool before connecting to have the
    handshake in the trace too.
    """

    def __init__(self, scenario: Scenario, modem: ModemDriver, *, variables: dict[str, Any] | None = None,
                 seed: int | None = None, on_step: Callable[[StepResult], None] | None = None,
                 strict: bool = False, pause: Pause | None = None) -> None:
        overrides = variables or {}
        unknown = sorted(set(overrides) - set(scenario.variables))
        if unknown:
            raise ScenarioError([f"{scenario.source or scenario.name}: no variable {name!r} to set; "
                                 f"it has: {', '.join(scenario.variables) or 'none'}" for name in unknown])
        self.scenario = scenario
        self.modem = modem
        self.overrides = dict(overrides)  # the values given on the command line (--var)
        self.variables: dict[str, Any] = {**BUILTIN_VARIABLES, **scenario.variables, **overrides}
        self.seed = seed if seed is not None else scenario.seed
        self.rng = random.Random(self.seed)
        self.events = EventLog()
        self.result = ScenarioResult(scenario.name, scenario.description, scenario.source, "", dict(self.variables),
                                     self.seed, time.time(), gate_variables=_gate_variables(scenario.steps))
        self.on_step = on_step  # told of each step as it ends: the live ladder draws it
        self.judge = PeerJudge()  # what the CMTS sends, checked message by message
        self.result.findings = self.judge.findings
        self.strict = strict  # any finding fails the scenario
        self.pause = pause  # step-through: awaited before each step runs, its clock not yet started
        self.gates: dict[int, Any] = {}  # Gate-ID -> subscriber: gates made here and not yet seen to go
        self._attached = False
        self._failed = False
        self._controller: GateController | None = None
        self._steps_scope = trio.CancelScope()  # the scenario's steps; interrupt() cancels it
        self._step_scope: trio.CancelScope | None = None  # the step under way; a lost connection cancels it
        self._lost: str | None = None  # why the step under way was cut short
        self._phase = "steps"
        self._disconnected = False  # a disconnect step closed the connection and no reconnect followed yet
        self._awaited = _awaited_events(scenario.steps, self.variables)

    def attach(self, source) -> None:
        """Trace ``source`` (a controller or a pool) from now on."""
        source.add_tap(self.record)
        self._attached = True

    def record(self, record: TraceRecord) -> None:
        self.result.trace.append(record)
        self.judge(record)

    @property
    def controller(self) -> GateController | None:
        """The connection the steps run on (None before :meth:`run`)."""
        return self._controller

    @property
    def interrupted(self) -> bool:
        """:meth:`interrupt` was called: the steps are over, the finally steps and cleanup may still be running."""
        return self._steps_scope.cancel_called

    def interrupt(self) -> None:
        """Stop the steps (Ctrl-C): the step under way ends as interrupted; finally steps and cleanup still run."""
        self._steps_scope.cancel()

    async def run(self, controller: GateController) -> ScenarioResult:
        self._controller = controller
        result = self.result
        result.target = controller.name
        result.started = trio.current_time()
        tapped = not self._attached
        if tapped:
            controller.add_tap(self.record)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._watch, controller.events())
                with self._steps_scope:
                    await self._run_steps(self.scenario.steps, ())
                self._phase = "finally"
                await self._run_steps(self.scenario.cleanup, ())
                self._phase = "cleanup"
                await self._cleanup()
                nursery.cancel_scope.cancel()
        finally:
            if tapped:
                controller.remove_tap(self.record)
            result.duration_ms = (trio.current_time() - result.started) * 1000
            result.variables = dict(self.variables)
            result.interrupted = self._steps_scope.cancel_called or any(step.verdict is None for step in result.steps)
            for step in result.steps:
                if step.verdict is None:
                    step.verdict, step.message = Verdict.FAILED, "interrupted"
            if self.strict and result.findings:
                rules = sorted({finding.rule for finding in result.findings})
                result.steps.append(StepResult((1,), "findings", "--strict", None, Verdict.FAILED,
                                               f"{len(result.findings)} finding(s) about the CMTS: {', '.join(rules)}",
                                               phase="findings", findings=list(result.findings)))
            result.verdict = Verdict.FAILED if result.failures else Verdict.PASSED
        return result

    # --- what the connection does -------------------------------------------------------------------

    async def _watch(self, channel) -> None:
        """Log every event; a connection loss or DRQ that no step waits for cuts the step under way short."""
        async for event in channel:
            self.events.add(event)
            if type(event) is ConnectionLost and self._disconnected:
                continue
            if type(event) in (ConnectionLost, RequestStateDeleted) and self._phase == "steps" \
                    and event.KIND not in self._awaited and self._step_scope is not None:
                self._lost = _cause(event)
                self._step_scope.cancel()

    # --- steps ----------------------------------------------------------------------------------------

    async def _run_steps(self, steps: list[Step], path: tuple[int, ...]) -> None:
        for number, step in enumerate(steps, 1):
            if isinstance(step, RepeatStep) and not self._failed:
                await self._repeat(step, path + (number,))
            else:
                await self._run_step(step, path + (number,))

    async def _repeat(self, step: RepeatStep, path: tuple[int, ...]) -> None:
        try:
            count = resolve(step.repeat.count, self.variables)
        except ValueError as exc:
            await self._run_step(step, path, failure=str(exc))
            return
        outer = self.variables.get("iteration")
        for iteration in range(1, count + 1):
            self.variables["iteration"] = iteration
            await self._run_steps(step.repeat.steps, path + (iteration,))
            if self._failed and self._phase == "steps":
                break
        if outer is None:
            self.variables.pop("iteration", None)
        else:
            self.variables["iteration"] = outer

    async def _run_step(self, step: Step, path: tuple[int, ...], failure: str | None = None) -> None:
        result = StepResult(path, step.KIND, step.name or step.KIND, step.line, phase=self._phase)
        self.result.steps.append(result)
        if self._failed and self._phase == "steps":
            result.verdict = Verdict.SKIPPED
            self._told(result)
            return
        if self.pause is not None and failure is None:
            # Before the step's clock starts: the time a person reads is no step's latency.
            await self.pause(self, step, result)
        trace = self.result.trace
        first, first_finding = len(trace), len(self.judge.findings)
        result.started = trio.current_time()
        try:
            if failure is not None:
                raise StepFailed(failure)
            with trio.CancelScope() as self._step_scope:
                result.message = await self._HANDLERS[type(step)](self, step, result)
                result.verdict = Verdict.PASSED
            if self._step_scope.cancelled_caught:
                raise StepFailed(self._lost)
        except UnsetVariable as exc:
            if self._phase != "finally":
                raise StepFailed(str(exc)) from None
            # A finally step that uses what a step cut short never saved has nothing to act on.
            result.verdict, result.message = Verdict.SKIPPED, f"{exc}: the step that saves it did not run"
        except (StepFailed, ValueError, ControllerError, ModemTimeout) as exc:
            result.verdict, result.message = Verdict.FAILED, str(exc)
            if not getattr(step, "continue_on_failure", False):
                self._failed = True
        finally:
            self._step_scope = None
            result.duration_ms = (trio.current_time() - result.started) * 1000
            result.messages = trace[first:]
            result.findings = self.judge.findings[first_finding:]
            if result.verdict is not None:
                self._told(result)

    def _told(self, result: StepResult) -> None:
        if self.on_step is not None:
            self.on_step(result)

    async def _cleanup(self) -> None:
        """Gate-Delete for every gate made here and not seen to go; on a new connection if need be."""
        closed = {event.gate_id for event in self.events.events if type(event) is GateClosed}
        self.gates = {gate: subscriber for gate, subscriber in self.gates.items() if gate not in closed}
        if not self.gates:
            return
        with trio.move_on_after(CLEANUP_TIMEOUT) as deadline:
            for number, (gate, subscriber) in enumerate(list(self.gates.items()), 1):
                await self._run_step(_CleanupStep(gate, subscriber), (number,))
        if deadline.cancelled_caught:
            step = self.result.steps[-1]
            step.verdict, step.message = Verdict.FAILED, f"cleanup took over {CLEANUP_TIMEOUT:g} s; gates may be left"

    async def _delete_leftover(self, step: "_CleanupStep", result: StepResult) -> str:
        controller = self._controller
        result.gate_id = step.gate_id
        if not controller.connected:
            if controller.target is None:
                raise StepFailed(f"gate 0x{step.gate_id:08x} may be left: the CMTS's connection is gone")
            await controller.reconnect()
        command = GateDelete(0, step.subscriber, step.gate_id)
        try:
            reply = await controller.request(command)
        except GateError as exc:
            if exc.code != PacketCableErrorCode.UNKNOWN_GATE_ID:
                raise
            reply, gone = exc.reply, "already gone (unknown Gate-ID)"
        else:
            gone = "deleted"
        result.reply = reply
        self.gates.pop(step.gate_id, None)
        return f"gate 0x{step.gate_id:08x} left up: {gone}"

    async def _gate_command(self, step: GateCommandStep, result: StepResult) -> str:
        variables = self.variables
        timeout = resolve(step.timeout, variables)
        command = build_command(step, variables)
        error: ControllerError | None = None
        try:
            reply = await self._controller.request(command, timeout=timeout)
        except (GateError, RequestTimeout) as exc:
            error, reply = exc, getattr(exc, "reply", None)
        latency = trio.current_time() - result.started
        result.latency_ms, result.reply = latency * 1000, reply
        self._track(command, reply, error)
        got = judge_reply(step, reply, error, latency, variables)
        gate = f" gate 0x{reply.gate_id:08x}" if getattr(reply, "gate_id", None) is not None else ""
        return f"{got}{gate} in {latency * 1000:.1f} ms"

    def _track(self, command, reply, error: ControllerError | None) -> None:
        """Keep :attr:`gates` up to date: made by a Set/Alloc-Ack, gone with a Delete-Ack or unknown Gate-ID."""
        if type(reply) in (GateSetAck, GateAllocAck) and reply.gate_id is not None:
            self.gates[reply.gate_id] = command.subscriber
        elif type(reply) is GateDeleteAck or (
                isinstance(error, GateError) and error.code == PacketCableErrorCode.UNKNOWN_GATE_ID):
            self.gates.pop(getattr(command, "gate_id", None), None)

    async def _modem_action(self, step: ReserveStep | CommitStep | ReleaseStep, result: StepResult) -> str:
        params = step.action
        gate_id = resolve(params.gate_id, self.variables)
        result.gate_id = gate_id
        action = getattr(self.modem, step.KIND)
        try:
            note = await action(gate_id, events=self.events, timeout=resolve(params.timeout, self.variables))
        except ModemRefused as exc:
            if step.expect == "refused":
                return f"refused as expected: {exc}"
            raise StepFailed(f"the CMTS refused to {step.KIND} gate 0x{gate_id:08x}: {exc}") from None
        if step.expect == "refused":
            raise StepFailed(f"expected the CMTS to refuse to {step.KIND} gate 0x{gate_id:08x}; it did not")
        return note

    def _event_test(self, params, since: float = -math.inf) -> tuple[Callable, str, int | None]:
        """What an ``expect_event``/``expect_no_event`` looks for: a test of events since ``since``, the event's
        title, the Gate-ID if one is named."""
        event_name = resolve(params.event, self.variables)
        kind, title = EVENT_KINDS[event_name], EVENT_TITLES[event_name]
        gate_id = resolve(params.gate_id, self.variables)

        def match(event) -> bool:
            return type(event) is kind and event.time >= since and (gate_id is None or event.gate_id == gate_id)

        return match, title, gate_id

    async def _expect_event(self, step: ExpectEventStep, result: StepResult) -> str:
        params, variables = step.expect_event, self.variables
        match, title, gate_id = self._event_test(params)
        timeout = resolve(params.timeout, variables)
        event = await self.events.wait_for(match, timeout, claim=True)
        if event is None:
            gate = f" for gate 0x{gate_id:08x}" if gate_id is not None else ""
            raise StepFailed(f"no {title}{gate} within {timeout:g} s")
        result.reply = event
        seen = judge_event(params, event, variables, step.name or step.KIND, title)
        save(step.save, event._asdict(), title, variables)
        waited = trio.current_time() - result.started
        return f"{seen} after {waited * 1000:.1f} ms"

    async def _expect_no_event(self, step: ExpectNoEventStep, result: StepResult) -> str:
        params, since = step.expect_no_event, result.started
        # Only what comes in the window: earlier events are other steps' business.
        match, title, gate_id = self._event_test(params, since)
        window = resolve(params.window, self.variables)
        event = await self.events.wait_for(match, window, claim=False)
        gate = f" for gate 0x{gate_id:08x}" if gate_id is not None else ""
        if event is not None:
            result.reply = event
            raise StepFailed(f"{title}{gate} after {(event.time - since) * 1000:.1f} ms, expected none for "
                             f"{window:g} s")
        return f"no {title}{gate} for {window:g} s"

    async def _hold(self, step: HoldStep, result: StepResult) -> str:
        seconds = sample_hold(step.hold, self.variables, self.rng)
        await trio.sleep(seconds)
        return f"held {seconds:.3f} s"

    async def _wait(self, step: WaitStep, result: StepResult) -> str:
        seconds = resolve(step.wait, self.variables)
        await trio.sleep(seconds)
        return f"waited {seconds:g} s"

    async def _disconnect(self, step: DisconnectStep, result: StepResult) -> str:
        client_close = step.disconnect.client_close
        self._disconnected = True
        await self._controller.disconnect(client_close=client_close)
        return "sent Client-Close and closed TCP" if client_close else "closed TCP"

    async def _reconnect(self, step: ReconnectStep, result: StepResult) -> str:
        await self._controller.reconnect()
        self._disconnected = False
        return f"connected again to {self._controller.pep_id}"

    async def _sync(self, step: SyncStep, result: StepResult) -> str:
        await self._controller.sync(timeout=resolve(step.sync.timeout, self.variables))
        return "Synchronize Complete"

    _HANDLERS = {
        GateAllocStep: _gate_command, GateSetStep: _gate_command, GateInfoStep: _gate_command,
        GateDeleteStep: _gate_command, ReserveStep: _modem_action, CommitStep: _modem_action,
        ReleaseStep: _modem_action, ExpectEventStep: _expect_event, ExpectNoEventStep: _expect_no_event,
        HoldStep: _hold, WaitStep: _wait,
        DisconnectStep: _disconnect, ReconnectStep: _reconnect, SyncStep: _sync,
    }


class _CleanupStep:
    """The automatic cleanup's step: Gate-Delete for one gate the scenario left up."""

    KIND = "cleanup"

    def __init__(self, gate_id: int, subscriber) -> None:
        self.gate_id, self.subscriber = gate_id, subscriber
        self.name = f"delete gate 0x{gate_id:08x}"
        self.line = None


ScenarioRunner._HANDLERS[_CleanupStep] = ScenarioRunner._delete_leftover


def _awaited_events(steps: list[Step], variables: dict[str, Any]) -> set[str]:
    """The event kinds some ``expect_event`` waits for: losing the connection is then the scenario's point."""
    kinds = set()
    for step in steps:
        if isinstance(step, ExpectEventStep):
            try:
                kinds.add(resolve(step.expect_event.event, variables))
            except ValueError:  # from a variable a step saves: it could be any
                kinds.update(EVENT_KINDS)
        elif isinstance(step, RepeatStep):
            kinds |= _awaited_events(step.repeat.steps, variables)
    return kinds


def _gate_variables(steps: list[Step]) -> frozenset[str]:
    """The variables some step saves a Gate-ID into."""
    names = set()
    for step in steps:
        if isinstance(step, SavingStep):
            names |= {name for name, field in step.save.items() if field == "gate_id"}
        elif isinstance(step, RepeatStep):
            names |= _gate_variables(step.repeat.steps)
    return frozenset(names)


def _cause(event) -> str:
    """What cut a step short, as its failure message."""
    if type(event) is ConnectionLost:
        return event.reason
    return f"the CMTS deleted the request state (DRQ reason {event.reason}, sub-code {event.subcode})"
