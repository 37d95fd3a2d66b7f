"""The ladder a person watches while ``cms-sim run`` works: rows appear as each step ends.

Each step's COPS messages (and, for modem steps, the modem's arrow) are drawn
as ladder rows with the step's verdict on its last row; a step without
messages (a hold, a wait) gets a row of its own.  Every line drawn is kept,
so ``--ladder FILE.svg|html`` exports exactly what was on the screen.
"""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from rich.text import Text

from ..scenario.result import ScenarioResult, StepResult, Verdict
from .explain import Explainer
from .ladder import COLUMN_NAMES, LANE, header, lane_for, modem_row, render, row_from_trace

_MODEM_STEPS = ("reserve", "commit", "release")
_MARK = {Verdict.PASSED: "✓", Verdict.FAILED: "✗ FAIL", Verdict.SKIPPED: "- skipped"}
_PHASE_TITLES = {"finally": "── finally ──", "cleanup": "── cleanup: Gate-Delete for the gates left up ──"}


class LadderPrinter:
    """Draws one scenario after another on ``console``; keeps the lines for export."""

    def __init__(self, console: Console, *, explain: bool = False, show: bool = True) -> None:
        self.console = console
        self.explain = explain
        self.show = show
        self.lines: list[Text] = []
        self._result: ScenarioResult | None = None
        self._printed = 0
        self._start = 0.0
        self._phase = "steps"
        self._explainer = Explainer()
        # A terminal under ~150 columns gets the compact ladder (details below the arrows) rather than wrapped
        # lines; pipes and files get the full one.
        self.lane = lane_for(console.width) if console.is_terminal else LANE

    def _emit(self, line: Text, *, wrap: bool = False) -> None:
        self.lines.append(line)
        if self.show:
            self.console.print(line, soft_wrap=not wrap)

    def begin(self, result: ScenarioResult, source: str) -> None:
        self._result = result
        self._printed = 0
        self._start = 0.0
        self._phase = "steps"
        self._explainer = Explainer()  # each scenario's gates are its own
        self._emit(Text.assemble(("\n▶ " + result.name, "bold"), (f"  ({source})", "dim")))
        if result.description:
            self._emit(Text(" ".join(result.description.split()), style="dim"), wrap=True)
        if result.skip_reason is not None:
            self._emit(Text(f"- skipped: {result.skip_reason}", style="yellow"), wrap=True)
            return
        self._emit(header(self.lane))

    def step_done(self, step: StepResult) -> None:
        """Draw everything traced since the last step, then this step's verdict."""
        trace = self._result.trace
        self._set_start()
        if step.phase != self._phase:
            self._phase = step.phase
            self._emit(Text(_PHASE_TITLES[step.phase], style="bold dim"))
        rows = [row_from_trace(record, self._start, explainer=self._explainer) for record in trace[self._printed:]]
        self._printed = len(trace)
        if step.kind in _MODEM_STEPS and step.verdict is Verdict.PASSED and step.gate_id is not None:
            rows.append(modem_row(step.started, step.kind, step.gate_id, self._start))
            rows.sort(key=lambda row: row.time)
        verdict = self._verdict(step)
        if not rows:
            self._emit(self._step_line(step, verdict))
        for index, row in enumerate(rows):
            last = index == len(rows) - 1
            self._emit(render(row, verdict=verdict if last else "", explain_rows=self.explain, lane=self.lane))
        if step.verdict is Verdict.FAILED and step.message:
            self._emit(Text(f"{'':10}{step.where}: {step.message}", style="red"))
        if step.phase != "findings":
            for finding in step.findings:
                self._emit(Text(f"{'':10}⚠ {finding}", style="yellow"))

    def catch_up(self) -> None:
        """Draw what was traced since the last row, with no verdict: a step-through pause shows it at once."""
        trace = self._result.trace
        if self._printed < len(trace):
            self._set_start()
        for record in trace[self._printed:]:
            self._emit(render(row_from_trace(record, self._start, explainer=self._explainer),
                              explain_rows=self.explain, lane=self.lane))
        self._printed = len(trace)

    def end(self, result: ScenarioResult) -> None:
        """Draw what came after the last step (a Client-Close at the end, late events), and the findings."""
        self.catch_up()
        if result.findings:
            self._emit(Text(f"{len(result.findings)} finding(s) about the CMTS's protocol:", style="bold yellow"))
            for finding in result.findings:
                self._emit(Text(f"  ⚠ {finding}  [{finding.data.hex()}]", style="yellow"))

    def _set_start(self) -> None:
        """Time 0 of the ladder: the first message traced, or the start of the steps if that came first."""
        if self._start:
            return
        result = self._result
        trace = result.trace
        self._start = min(trace[0].time, result.started or trace[0].time) if trace else result.started

    def _verdict(self, step: StepResult) -> str:
        mark = _MARK.get(step.verdict, "")
        if step.verdict is Verdict.SKIPPED:
            return f"{mark} {step.title}" + (f": {step.message}" if step.message else "")
        timing = f"{step.latency_ms:.1f} ms" if step.latency_ms is not None else f"{step.duration_ms:.0f} ms"
        return f"{mark} {step.title} ({timing})"

    def _step_line(self, step: StepResult, verdict: str) -> Text:
        time = (step.started - self._start) if step.started else 0.0
        text = Text(f"{time:8.3f}s ", style="dim")
        # Compact (a narrow terminal): the verdict right after the CMS lane, or it would not fit the line.
        columns = len(COLUMN_NAMES) if self.lane == LANE else 1
        for column in range(columns):
            text.append("│")
            if column < columns - 1:
                text.append(" " * self.lane)
        text.append("  " if columns > 1 else " ")
        text.append(verdict, style="bold red" if step.verdict is Verdict.FAILED else
                    ("dim" if step.verdict is Verdict.SKIPPED else "bold green"))
        if step.message and step.verdict is Verdict.PASSED and step.kind in ("hold", "wait", "expect_event",
                                                                             "cleanup"):
            text.append(f"  {step.message}", style="dim")
        return text

    def export(self, path: str | Path, title: str) -> None:
        """Write the lines drawn so far as SVG or HTML, by the file's suffix."""
        width = 12 + 2 * (self.lane + 1) + 60
        console = Console(record=True, width=width, file=io.StringIO(), force_terminal=True)
        console.print(Text(title, style="bold"))
        for line in self.lines:
            console.print(line, soft_wrap=True)
        path = Path(path)
        if path.suffix.lower() == ".svg":
            path.write_text(console.export_svg(title=title), encoding="utf-8")
        else:
            path.write_text(console.export_html(), encoding="utf-8")
