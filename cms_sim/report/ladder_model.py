"""The ladder as data: one model of what a run drew, which the terminal, the SVG and the HTML all render.

:class:`LadderModel` follows a run (begin, step done, end: the callbacks of
:class:`cms_sim.run.Run`) and turns each step's trace into entries: an
:class:`Arrow` per message or modem action (the step's last arrow carries its
verdict), a :class:`Pause` for a step without messages of its own (a hold, a
wait), a :class:`Phase` where the ``finally`` or cleanup steps begin, and a
:class:`Remark` for a failed step's message or a finding.  Renderers only
draw entries: none of them decides what a row is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Sequence, Union

from ..scenario.result import ScenarioResult, StepResult, Verdict
from .explain import Explainer
from .ladder import Row, modem_row, row_from_trace
from .summary import step_timing

MODEM_STEPS = ("reserve", "commit", "release")
MARKS = {Verdict.PASSED: "✓", Verdict.FAILED: "✗ FAIL", Verdict.SKIPPED: "- skipped"}
PHASE_TITLES = {"finally": "finally", "cleanup": "cleanup: Gate-Delete for the gates left up"}
TELLING_STEPS = ("hold", "wait", "expect_event", "cleanup")
"""Steps whose message says what happened ("held 1.000 s"): shown beside their pass."""


class Mark(NamedTuple):
    """A step's verdict where the ladder shows it, "✓ authorize the media (20.3 ms)", and the step it judges."""

    text: str
    step: StepResult

    @property
    def verdict(self) -> Verdict | None:
        return self.step.verdict


class Arrow(NamedTuple):
    """A message or a modem action; the last one of a step carries the step's verdict."""

    row: Row
    mark: Mark | None = None


class Pause(NamedTuple):
    """A step with no message of its own (a hold, a wait, an event already in): its verdict on a row of its own."""

    time: float  # seconds since the start of the scenario
    mark: Mark
    message: str = ""  # what a passed hold or wait did: "held 1.000 s"


class Phase(NamedTuple):
    """Where the ``finally`` steps or the automatic cleanup begin."""

    title: str


class Remark(NamedTuple):
    """A line under the rows: why a step failed, or a finding about the CMTS's protocol."""

    text: str
    failure: bool = True  # False: a finding (a warning, not a failure)


Entry = Union[Arrow, Pause, Phase, Remark]


@dataclass
class ScenarioLadder:
    """One scenario's ladder: its result (name, description, verdicts, findings) and the entries drawn so far."""

    result: ScenarioResult
    source: str
    entries: list[Entry] = field(default_factory=list)

    @property
    def arrows(self) -> list[Arrow]:
        return [entry for entry in self.entries if type(entry) is Arrow]


def mark(step: StepResult) -> Mark:
    """The step's verdict as the ladder writes it: the mark, the step's title and its timing."""
    sign = MARKS.get(step.verdict, "")
    if step.verdict is Verdict.SKIPPED:
        return Mark(f"{sign} {step.title}" + (f": {step.message}" if step.message else ""), step)
    return Mark(f"{sign} {step.title} ({step_timing(step)})", step)


class LadderModel:
    """Follows a run and keeps every scenario's entries; each call returns the entries it added, to draw."""

    def __init__(self) -> None:
        self.scenarios: list[ScenarioLadder] = []
        self._printed = 0  # trace records of the current scenario already made into rows
        self._start = 0.0
        self._phase = "steps"
        self._explainer = Explainer()

    def begin(self, result: ScenarioResult, source: str) -> ScenarioLadder:
        self._printed = 0
        self._start = 0.0
        self._phase = "steps"
        self._explainer = Explainer()  # each scenario's gates are its own
        self.scenarios.append(ScenarioLadder(result, source))
        return self.scenarios[-1]

    def step_done(self, step: StepResult) -> list[Entry]:
        """Everything traced since the last step, then this step's verdict and what it found."""
        self._set_start()
        entries: list[Entry] = []
        if step.phase != self._phase:
            self._phase = step.phase
            entries.append(Phase(PHASE_TITLES[step.phase]))
        rows = self._rows(self._start)
        if step.kind in MODEM_STEPS and step.verdict is Verdict.PASSED and step.gate_id is not None:
            rows.append(modem_row(step.started, step.kind, step.gate_id, self._start))
            rows.sort(key=lambda row: row.time)
        verdict = mark(step)
        if not rows:
            time = (step.started - self._start) if step.started else 0.0
            telling = step.verdict is Verdict.PASSED and step.kind in TELLING_STEPS
            entries.append(Pause(time, verdict, step.message if telling else ""))
        entries += [Arrow(row, verdict if index == len(rows) - 1 else None) for index, row in enumerate(rows)]
        if step.verdict is Verdict.FAILED and step.message:
            entries.append(Remark(f"{step.where}: {step.message}"))
        if step.phase != "findings":
            entries += [Remark(str(finding), failure=False) for finding in step.findings]
        return self._add(entries)

    def catch_up(self) -> list[Entry]:
        """What was traced since the last entry, as arrows with no verdict yet (a step-through pause draws them)."""
        if self._printed == len(self.scenarios[-1].result.trace):
            return []
        self._set_start()
        return self._add([Arrow(row) for row in self._rows(self._start)])

    def end(self, result: ScenarioResult) -> list[Entry]:
        """What came after the last step: a Client-Close at the end, late events."""
        start = self._start or (result.trace[self._printed].time if self._printed < len(result.trace) else 0.0)
        return self._add([Arrow(row) for row in self._rows(start)])

    def _set_start(self) -> None:
        """Time 0 of the scenario's ladder: its first message, or the start of its steps if that came first."""
        if self._start:
            return
        result = self.scenarios[-1].result
        trace = result.trace
        self._start = min(trace[0].time, result.started or trace[0].time) if trace else result.started

    def _rows(self, start: float) -> list[Row]:
        """The trace records not yet drawn, as rows."""
        trace = self.scenarios[-1].result.trace
        rows = [row_from_trace(record, start, explainer=self._explainer) for record in trace[self._printed:]]
        self._printed = len(trace)
        return rows

    def _add(self, entries: list[Entry]) -> list[Entry]:
        self.scenarios[-1].entries += entries
        return entries


def call_gates(rows: Sequence[Row]) -> list[int | None]:
    """The gate (the call) each row belongs to: the one it names or, for a request that names none (a Gate-Alloc,
    the Gate-Set of a new gate), the one its reply names; None for the connection's own messages."""
    gates = []
    for index, row in enumerate(rows):
        gate = row.gate_id
        if gate is None and row.transaction_id:
            gate = next((later.gate_id for later in rows[index + 1:]
                         if later.transaction_id == row.transaction_id and later.source == row.target), None)
        gates.append(gate)
    return gates
