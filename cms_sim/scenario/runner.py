"""Run one scenario against a gate controller, step by step, with a verdict per step.

The first failing step ends the run (the steps after it depend on it) and
the rest are recorded as skipped.  Every message the controller sends or
receives goes into the result's trace, and each step keeps the slice of it
that happened while it ran.  :attr:`ScenarioRunner.result` is filled in as
the run goes, so a run cut short (Ctrl-C) still leaves a partial result to
report.
"""

from __future__ import annotations

import random
import time
from typing import Any, Callable

import trio

from cops_core.transport import TraceRecord

from ..controller import GateController
from ..errors import ControllerError, GateError, RequestTimeout
from ..events import EVENT_KINDS
from .actions import EVENT_TITLES, StepFailed, build_command, judge_event, judge_reply, sample_hold, save
from .eventlog import EventLog
from .loader import ScenarioError
from .model import (
    BUILTIN_VARIABLES,
    CommitStep,
    DisconnectStep,
    ExpectEventStep,
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
    Scenario,
    Step,
    SyncStep,
    WaitStep,
)
from .modem import Modem, ModemRefused, ModemTimeout
from .result import ScenarioResult, StepResult, Verdict
from .values import resolve


class ScenarioRunner:
    """``await ScenarioRunner(scenario, modem).run(controller)`` -> :class:`ScenarioResult`.

    ``variables`` override the scenario's defaults (only names it declares);
    ``seed`` overrides its seed for hold-time distributions.  Call
    :meth:`attach` on the controller or pool before connecting to have the
    handshake in the trace too.
    """

    def __init__(self, scenario: Scenario, modem: Modem, *, variables: dict[str, Any] | None = None,
                 seed: int | None = None, on_step: Callable[[StepResult], None] | None = None) -> None:
        overrides = variables or {}
        unknown = sorted(set(overrides) - set(scenario.variables))
        if unknown:
            raise ScenarioError([f"{scenario.source or scenario.name}: no variable {name!r} to set; "
                                 f"it has: {', '.join(scenario.variables) or 'none'}" for name in unknown])
        self.scenario = scenario
        self.modem = modem
        self.variables: dict[str, Any] = {**BUILTIN_VARIABLES, **scenario.variables, **overrides}
        self.seed = seed if seed is not None else scenario.seed
        self.rng = random.Random(self.seed)
        self.events = EventLog()
        self.result = ScenarioResult(scenario.name, scenario.description, scenario.source, "", dict(self.variables),
                                     self.seed, time.time())
        self.on_step = on_step  # told of each step as it ends: the live ladder draws it
        self._attached = False
        self._failed = False
        self._controller: GateController | None = None

    def attach(self, source) -> None:
        """Trace ``source`` (a controller or a pool) from now on."""
        source.add_tap(self.record)
        self._attached = True

    def record(self, record: TraceRecord) -> None:
        self.result.trace.append(record)

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
                nursery.start_soon(self.events.feed, controller.events())
                await self._run_steps(self.scenario.steps, ())
                nursery.cancel_scope.cancel()
        finally:
            if tapped:
                controller.remove_tap(self.record)
            result.duration_ms = (trio.current_time() - result.started) * 1000
            result.variables = dict(self.variables)
            result.interrupted = any(step.verdict is None for step in result.steps)
            for step in result.steps:
                if step.verdict is None:
                    step.verdict, step.message = Verdict.FAILED, "interrupted"
            result.verdict = Verdict.FAILED if result.failures else Verdict.PASSED
        return result

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
            if self._failed:
                break
        if outer is None:
            self.variables.pop("iteration", None)
        else:
            self.variables["iteration"] = outer

    async def _run_step(self, step: Step, path: tuple[int, ...], failure: str | None = None) -> None:
        result = StepResult(path, step.KIND, step.name or step.KIND, step.line)
        self.result.steps.append(result)
        if self._failed:
            result.verdict = Verdict.SKIPPED
            if self.on_step is not None:
                self.on_step(result)
            return
        trace = self.result.trace
        first = len(trace)
        result.started = trio.current_time()
        try:
            if failure is not None:
                raise StepFailed(failure)
            result.message = await self._HANDLERS[type(step)](self, step, result)
            result.verdict = Verdict.PASSED
        except (StepFailed, ValueError, ControllerError, ModemTimeout) as exc:
            result.verdict, result.message = Verdict.FAILED, str(exc)
            self._failed = True
        finally:
            result.duration_ms = (trio.current_time() - result.started) * 1000
            result.messages = trace[first:]
            if self.on_step is not None and result.verdict is not None:
                self.on_step(result)

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
        got = judge_reply(step, reply, error, latency, variables)
        gate = f" gate 0x{reply.gate_id:08x}" if getattr(reply, "gate_id", None) is not None else ""
        return f"{got}{gate} in {latency * 1000:.1f} ms"

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

    async def _expect_event(self, step: ExpectEventStep, result: StepResult) -> str:
        params, variables = step.expect_event, self.variables
        kind = EVENT_KINDS[params.event]
        title = EVENT_TITLES[params.event]
        gate_id = resolve(params.gate_id, variables)
        timeout = resolve(params.timeout, variables)

        def match(event) -> bool:
            return type(event) is kind and (gate_id is None or event.gate_id == gate_id)

        event = await self.events.wait_for(match, timeout, claim=True)
        if event is None:
            gate = f" for gate 0x{gate_id:08x}" if gate_id is not None else ""
            raise StepFailed(f"no {title}{gate} within {timeout:g} s")
        result.reply = event
        seen = judge_event(params, event, variables, step.name or step.KIND)
        save(step.save, event._asdict(), title, variables)
        waited = trio.current_time() - result.started
        return f"{seen} after {waited * 1000:.1f} ms"

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
        await self._controller.disconnect(client_close=client_close)
        return "sent Client-Close and closed TCP" if client_close else "closed TCP"

    async def _reconnect(self, step: ReconnectStep, result: StepResult) -> str:
        await self._controller.reconnect()
        return f"connected again to {self._controller.pep_id}"

    async def _sync(self, step: SyncStep, result: StepResult) -> str:
        await self._controller.sync(timeout=resolve(step.sync.timeout, self.variables))
        return "Synchronize Complete"

    _HANDLERS = {
        GateAllocStep: _gate_command, GateSetStep: _gate_command, GateInfoStep: _gate_command,
        GateDeleteStep: _gate_command, ReserveStep: _modem_action, CommitStep: _modem_action,
        ReleaseStep: _modem_action, ExpectEventStep: _expect_event, HoldStep: _hold, WaitStep: _wait,
        DisconnectStep: _disconnect, ReconnectStep: _reconnect, SyncStep: _sync,
    }
