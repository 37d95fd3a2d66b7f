"""A scenario compiled for load: its steps as a flat list of operations that a call walks through.

``cms-sim load`` runs a scenario as thousands of calls at once, each a small
record with a program counter (SIPp's model), instead of a task per call.
Compiling flattens ``repeat`` (its count must be a number) and refuses the
steps that act on the connection every call shares (disconnect, reconnect,
sync): they make sense in one call flow, not in a thousand at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Mapping

from ..scenario.actions import REQUEST_CLASS, command_builder, fold
from ..scenario.loader import ScenarioError
from ..scenario.model import (
    CommitStep,
    DisconnectStep,
    ExpectEventStep,
    Exponential,
    GateCommandStep,
    HoldStep,
    ModemStep,
    Normal,
    ReconnectStep,
    ReleaseStep,
    RepeatStep,
    ReserveStep,
    Scenario,
    Step,
    SyncStep,
    Uniform,
    WaitStep,
)
from ..scenario.values import Template

CONNECTION_STEPS = (DisconnectStep, ReconnectStep, SyncStep)
LOAD_STEPS = (GateCommandStep, ReserveStep, CommitStep, ReleaseStep, ExpectEventStep, HoldStep, WaitStep)
GATE_EVENTS = ("gate_open", "gate_close")
DISTRIBUTIONS = (Uniform, Exponential, Normal)
MAX_OPS = 10_000  # steps in one call, repeats unrolled


@dataclass(frozen=True, slots=True)
class Op:
    """One step of the program: the step, the name its latency is recorded under, loop variables to set."""

    step: Step
    title: str  # "3. authorize the media": unique per step, in file order
    setting: tuple[tuple[str, int], ...] = ()  # (variable, value) set before the step: ${iteration}
    build: Callable[[dict[str, Any]], Any] | None = None  # a gate-command step: variables -> the command
    # The step's fields a call reads as it runs, each a value or a Template still to resolve for the call
    # (Program.bind works out those that are the same in every call):
    gate: Any = None  # modem and expect_event steps: the gate
    timeout: Any = None  # gate commands, modem and expect_event steps
    pause: Any = None  # a wait, or a hold of a fixed time (None: a hold sampled from a distribution)

    @property
    def command_title(self) -> str | None:
        """The gate command's name (``Gate-Set``) for a gate-command step, else None."""
        if isinstance(self.step, GateCommandStep):
            return REQUEST_CLASS[type(self.step)].title
        return None


@dataclass(frozen=True, slots=True)
class Program:
    ops: tuple[Op, ...]

    @property
    def command_titles(self) -> list[str]:
        """The gate commands the program sends, in first-use order (the report's ``latency_ms`` keys)."""
        return list(dict.fromkeys(op.command_title for op in self.ops if op.command_title))

    @property
    def steps_by_command(self) -> dict[str, list[str]]:
        """Each gate command and the steps that send it (a command's latency is that of its steps)."""
        steps: dict[str, list[str]] = {}
        for op in self.ops:
            if op.command_title and op.title not in steps.setdefault(op.command_title, []):
                steps[op.command_title].append(op.title)
        return steps

    @property
    def step_titles(self) -> list[str]:
        return list(dict.fromkeys(op.title for op in self.ops))

    def bind(self, variables: Mapping[str, Any], varying: Iterable[str]) -> "Program":
        """This program for calls that start from ``variables``, where only the names in ``varying`` differ per call.

        Fields whose templates use only variables no call changes (those a
        step saves or a repeat sets change too) are worked out here, once,
        instead of in every call: ``gate_set: {profile: ${codec}}`` then makes
        its Gate-Specs as if the profile were written out.
        """
        changing = set(varying)
        for op in self.ops:
            changing.update(getattr(op.step, "save", None) or ())
            changing.update(name for name, _ in op.setting)
        constants = {name: value for name, value in variables.items() if name not in changing}
        return Program(tuple(_op(op.step, op.title, op.setting, constants) for op in self.ops))


def compile_program(scenario: Scenario) -> Program:
    """The scenario's steps as a :class:`Program`; ScenarioError (FILE:LINE: ...) for what cannot run as load."""
    problems: list[str] = []
    ops: list[Op] = []
    _flatten(scenario.steps, scenario.source or scenario.name, ops, problems, "")
    if scenario.cleanup:
        problems.append(f"{scenario.source or scenario.name}:{scenario.cleanup[0].line}: finally: not run under "
                        f"load; a failed call's gates get Gate-Delete by themselves")
    if problems:
        raise ScenarioError(problems)
    return Program(tuple(ops))


def _flatten(steps: list[Step], source: str, ops: list[Op], problems: list[str], prefix: str) -> None:
    """Append ``steps`` to ``ops``; titles number them as the file does (``4.2.`` inside repeat step 4)."""
    for number, step in enumerate(steps, 1):
        where = f"{source}:{step.line}: {step.KIND}"
        if isinstance(step, CONNECTION_STEPS):
            problems.append(f"{where}: cannot run under load: it acts on the connection that every call shares")
        elif isinstance(step, RepeatStep):
            count = step.repeat.count
            if isinstance(count, Template):
                problems.append(f"{where}: under load the repeat count must be a number, not {count}")
            elif count * len(step.repeat.steps) > MAX_OPS:
                problems.append(f"{where}: {count} passes of {len(step.repeat.steps)} steps is too long for one call")
            else:
                for iteration in range(1, count + 1):
                    mark = len(ops)
                    _flatten(step.repeat.steps, source, ops, problems, f"{prefix}{number}.")
                    if len(ops) > mark:  # ${iteration} is set as the pass begins
                        first = ops[mark]
                        ops[mark] = replace(first, setting=first.setting + (("iteration", iteration),))
        elif step.continue_on_failure:
            problems.append(f"{where}: continue_on_failure cannot apply under load: a failed call ends there")
        elif isinstance(step, ExpectEventStep) and isinstance(step.expect_event.event, Template):
            problems.append(f"{where}: under load the event must be written out, not {step.expect_event.event}")
        elif isinstance(step, ExpectEventStep) and step.expect_event.event not in GATE_EVENTS:
            problems.append(f"{where}: under load only gate events ({', '.join(GATE_EVENTS)}) can be awaited; "
                            f"connection events belong to the connection every call shares")
        elif isinstance(step, LOAD_STEPS):
            ops.append(_op(step, f"{prefix}{number}. {step.name or step.KIND}"))
        else:  # a step type added to the model but not taught to load
            problems.append(f"{where}: this step type cannot run under load")


def _op(step: Step, title: str, setting: tuple[tuple[str, int], ...] = (),
        constants: Mapping[str, Any] | None = None) -> Op:
    """The op of ``step``, its fields folded with ``constants`` (see :func:`~cms_sim.scenario.actions.fold`)."""
    if isinstance(step, GateCommandStep):
        return Op(step, title, setting, command_builder(step, constants), timeout=fold(step.timeout, constants))
    if isinstance(step, ModemStep):
        action = step.action
        return Op(step, title, setting, gate=fold(action.gate_id, constants), timeout=fold(action.timeout, constants))
    if isinstance(step, ExpectEventStep):
        params = step.expect_event
        return Op(step, title, setting, gate=fold(params.gate_id, constants), timeout=fold(params.timeout, constants))
    if isinstance(step, WaitStep):
        return Op(step, title, setting, pause=fold(step.wait, constants))
    if isinstance(step, HoldStep) and not isinstance(step.hold, DISTRIBUTIONS):  # a fixed time, not a distribution
        return Op(step, title, setting, pause=fold(step.hold, constants))
    return Op(step, title, setting)
