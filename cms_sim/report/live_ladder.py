"""The ladder a person watches while ``cms-sim run`` works: rows appear as each step ends.

A :class:`~cms_sim.report.ladder_model.LadderModel` turns each step into
entries (arrows, a step's verdict, remarks); this module draws them on the
terminal as they come.  ``--ladder FILE.svg|html`` renders the same model
again as a file (:mod:`cms_sim.report.ladder_files`).
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.text import Text

from ..scenario.result import ScenarioResult, StepResult, Verdict
from .ladder import COLUMN_NAMES, LANE, header, lane_for, render
from .ladder_model import Arrow, Entry, LadderModel, Pause, Phase, ScenarioLadder


class LadderPrinter:
    """Draws one scenario after another on ``console`` and keeps the model, for the files."""

    def __init__(self, console: Console, *, explain: bool = False, show: bool = True) -> None:
        self.console = console
        self.explain = explain
        self.show = show
        self.model = LadderModel()
        # A terminal under ~150 columns gets the compact ladder (details below the arrows) rather than wrapped
        # lines; pipes and files get the full one.
        self.lane = lane_for(console.width) if console.is_terminal else LANE

    def _emit(self, line: Text, *, wrap: bool = False) -> None:
        if self.show:
            self.console.print(line, soft_wrap=not wrap)

    def begin(self, result: ScenarioResult, source: str) -> None:
        for line, wrap in self._heading(self.model.begin(result, source)):
            self._emit(line, wrap=wrap)

    def step_done(self, step: StepResult) -> None:
        """Draw everything traced since the last step, then this step's verdict."""
        for entry in self.model.step_done(step):
            self._emit(self._draw(entry))

    def catch_up(self) -> None:
        """Draw what was traced since the last row, with no verdict yet: a step-through pause shows it at once."""
        for entry in self.model.catch_up():
            self._emit(self._draw(entry))

    def drawn(self) -> list[Text]:
        """The scenario under way as drawn so far, heading included: a step-through pause draws it again whole."""
        scenario = self.model.scenarios[-1]
        return [line for line, _ in self._heading(scenario)] + [self._draw(entry) for entry in scenario.entries]

    def end(self, result: ScenarioResult) -> None:
        """Draw what came after the last step (a Client-Close at the end, late events), and the findings."""
        for entry in self.model.end(result):
            self._emit(self._draw(entry))
        if result.findings:
            self._emit(Text(f"{len(result.findings)} finding(s) about the CMTS's protocol:", style="bold yellow"))
            for finding in result.findings:
                self._emit(Text(f"  ⚠ {finding}  [{finding.data.hex()}]", style="yellow"))

    def _heading(self, scenario: ScenarioLadder) -> list[tuple[Text, bool]]:
        """A scenario's first lines (each with whether it may wrap): its name and file, what it shows, the columns."""
        result = scenario.result
        lines = [(Text.assemble(("\n▶ " + result.name, "bold"), (f"  ({scenario.source})", "dim")), False)]
        if result.description:
            lines.append((Text(" ".join(result.description.split()), style="dim"), True))
        if result.skip_reason is not None:
            return lines + [(Text(f"- skipped: {result.skip_reason}", style="yellow"), True)]
        return lines + [(header(self.lane), False)]

    def _draw(self, entry: Entry) -> Text:
        """One entry of the model as terminal lines."""
        if type(entry) is Arrow:
            return render(entry.row, verdict=entry.mark.text if entry.mark else "", explain_rows=self.explain,
                          lane=self.lane)
        if type(entry) is Pause:
            return self._pause(entry)
        if type(entry) is Phase:
            return Text(f"── {entry.title} ──", style="bold dim")
        if entry.failure:
            return Text(f"{'':10}{entry.text}", style="red")
        return Text(f"{'':10}⚠ {entry.text}", style="yellow")

    def _pause(self, pause: Pause) -> Text:
        text = Text(f"{pause.time:8.3f}s ", style="dim")
        # Compact (a narrow terminal): the verdict right after the CMS lane, or it would not fit the line.
        columns = len(COLUMN_NAMES) if self.lane == LANE else 1
        for column in range(columns):
            text.append("│")
            if column < columns - 1:
                text.append(" " * self.lane)
        text.append("  " if columns > 1 else " ")
        verdict = pause.mark.verdict
        text.append(pause.mark.text, style="bold red" if verdict is Verdict.FAILED else
                    ("dim" if verdict is Verdict.SKIPPED else "bold green"))
        if pause.message:
            text.append(f"  {pause.message}", style="dim")
        return text

    def export(self, path: str | Path, title: str) -> None:
        """Write the ladder drawn so far as SVG or HTML, by the file's suffix."""
        from . import ladder_html, ladder_svg  # only a run that writes a ladder file pays for the dissector

        if Path(path).suffix.lower() == ".svg":
            text = ladder_svg.drawing(self.model, title, explain=self.explain)
        else:
            text = ladder_html.page(self.model, title, explain=self.explain)
        Path(path).write_text(text, encoding="utf-8")
