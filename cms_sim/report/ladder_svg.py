"""The ladder as an SVG drawing: light, printable, sized to its content, nothing cut.

Drawn from the same model as the terminal (:mod:`.ladder_model`).  Text is
set in the viewer's own monospace font (a local stack that ends in the
generic ``monospace``: nothing is fetched) and measured in characters with
room to spare, so each lane is as wide as its longest label and every line
of text sits inside the drawing.  Each call (gate) has its own colour; a
timeline on the left puts every row at its true time.  With ``interactive``
each arrow is a focusable group numbered in model order, which the HTML
ladder makes clickable.
"""

from __future__ import annotations

import itertools
import math
import textwrap
from typing import NamedTuple
from xml.sax.saxutils import escape, quoteattr

from ..scenario.result import ScenarioResult, Verdict
from .ladder import COLUMN_NAMES, Row
from .ladder_model import Arrow, LadderModel, Pause, Phase, Remark, ScenarioLadder, call_gates
from .summary import scenario_summary, step_timing, totals

# Colours: dark ink on white, every text colour at least 4.5:1 against every background here (WCAG AA), every
# line at least 3:1 (tests/cms_sim/report/test_ladder_files.py measures both in the files written).
PAPER, BAND, SELECTED, MARKED = "#ffffff", "#f3f5f8", "#e6effc", "#ffe58f"  # backgrounds
INK, DIM, PASS, FAIL, WARN = "#1f2328", "#57606a", "#116329", "#b3261e", "#7d4e00"  # text
RULE, CONNECTION = "#6e7781", "#424a53"  # lifelines and axes; the connection's own messages
CALLS = ("#0550ae", "#6639ba", "#0b6e75", "#9a2a6d", "#5c6300", "#8a4600")  # one per gate, in turn
VERDICT_COLOURS = {Verdict.PASSED: PASS, Verdict.FAILED: FAIL, Verdict.SKIPPED: DIM}

FONTS = 'ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace'
FONT_SIZE = 13
CHAR = 8.0  # px a character is given: 0.615 em, more than monospace fonts take (DejaVu Sans Mono 0.602 em)
LINE = 17  # px from one line of text to the next
PAD = 16  # px of paper around everything
LANE_PAD = 3 * CHAR  # between a label and the lifelines it runs between
MIN_LANE = 24 * CHAR
VERDICT_CHARS = 36  # a verdict or a step's message wraps here
AXIS = PAD + 8 * CHAR  # the timeline's axis: its tick labels ("0.5 s", "20 ms") to its left
HEADS = 22  # px: a column's name box

PRINT_STYLE = "@media print { svg { width: 100%; height: auto } }"
"""Printed from a browser, a wide ladder shrinks to the paper instead of being cut at its edge."""


def width_of(text: str) -> float:
    return len(text) * CHAR


def wrap(text: str, chars: int) -> list[str]:
    """``text`` in lines of at most ``chars`` characters; a word longer than that (a hex dump) is split, not cut."""
    return textwrap.wrap(text, max(chars, 20), break_on_hyphens=False) or [""]


class Layout(NamedTuple):
    """Where the columns go, from the widest text each must hold."""

    time: float  # right edge of the time labels
    lifelines: tuple[float, ...]
    verdict: float  # left edge of the verdicts
    right: float  # right edge of the verdicts: the ladder's own width

    @property
    def body_chars(self) -> int:
        """Characters a note or a remark may take under the ladder."""
        return max(60, int((self.right - self.lifelines[0]) / CHAR))

    @property
    def page_chars(self) -> int:
        """Characters a line across the whole drawing may take: a description, a finding, the summary."""
        return max(80, int((self.right - PAD) / CHAR))


def layout(model: LadderModel) -> Layout:
    """Lanes as wide as their longest label or detail, so no arrow's text is ever cut or squeezed."""
    lanes = [MIN_LANE] * (len(COLUMN_NAMES) - 1)
    times = [0.0]
    verdicts = [""]  # every line of every verdict and step message, as wrapped beside the ladder
    for scenario in model.scenarios:
        for entry, detail in zip(scenario.arrows, arrow_details(scenario)):
            left, right = sorted((entry.row.source, entry.row.target))
            need = max(width_of(entry.row.label), width_of(detail)) + 2 * LANE_PAD
            if right - left == 1:
                lanes[left] = max(lanes[left], need)
            else:  # across two lanes: the second grows if both are too narrow
                lanes[right - 1] = max(lanes[right - 1], need - sum(lanes[left:right - 1]))
        times += [entry.row.time if type(entry) is Arrow else entry.time for entry in scenario.entries
                  if type(entry) in (Arrow, Pause)]
        for entry in scenario.entries:
            if type(entry) in (Arrow, Pause) and entry.mark is not None:
                verdicts += wrap(entry.mark.text, VERDICT_CHARS)
            if type(entry) is Pause and entry.message:
                verdicts += ["  " + line for line in wrap(entry.message, VERDICT_CHARS)]  # indented under it
    time = AXIS + 4 * CHAR + width_of(time_label(max(times)))
    lifelines = [time + 3 * CHAR]
    for lane in lanes:
        lifelines.append(lifelines[-1] + lane)
    verdict = lifelines[-1] + 2 * CHAR
    return Layout(time, tuple(lifelines), verdict, verdict + max(map(width_of, verdicts)))


def time_label(seconds: float) -> str:
    return f"{seconds:.3f} s"


def arrow_details(scenario: ScenarioLadder) -> list[str]:
    """Each arrow's detail line; a request that names no gate (a Gate-Alloc) gets the one its reply names."""
    rows = [arrow.row for arrow in scenario.arrows]
    return [row.detail if row.gate_id is not None or gate is None else
            f"{row.detail} (gate 0x{gate:08x}, named in the reply)".lstrip()
            for row, gate in zip(rows, call_gates(rows))]


def call_colours(model: LadderModel) -> dict[int, str]:
    """A colour per gate, in the order the gates first appear."""
    colours: dict[int, str] = {}
    for scenario in model.scenarios:
        for gate in call_gates([arrow.row for arrow in scenario.arrows]):
            if gate is not None and gate not in colours:
                colours[gate] = CALLS[len(colours) % len(CALLS)]
    return colours


class Canvas:
    """SVG elements in drawing order, the lowest y still free, and the rightmost x any text reaches."""

    def __init__(self) -> None:
        self.backgrounds: list[str] = []  # bands that span the whole width, known only at the end
        self.elements: list[str] = []
        self.y = float(PAD)
        self.right = 0.0

    def text(self, x: float, y: float, text: str, fill: str = INK, *, anchor: str = "start", bold: bool = False,
             italic: bool = False, size: int = FONT_SIZE) -> None:
        width = width_of(text) * size / FONT_SIZE
        self.right = max(self.right, x + {"start": width, "middle": width / 2, "end": 0}[anchor])
        style = (' font-weight="bold"' if bold else "") + (' font-style="italic"' if italic else "")
        style += f' font-size="{size}"' if size != FONT_SIZE else ""
        anchor_attribute = f' text-anchor="{anchor}"' if anchor != "start" else ""
        self.elements.append(f'<text x="{x:.1f}" y="{y:.1f}" fill="{fill}"{anchor_attribute}{style}>'
                             f'{escape(text)}</text>')

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str = RULE, width: float = 1.0,
             dash: str = "") -> None:
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        self.elements.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" '
                             f'stroke-width="{width}"{dashes}/>')

    def lines(self, x: float, texts: list[str], fill: str, **style) -> None:
        """Lines of text from the cursor down; the cursor ends below them."""
        for text in texts:
            self.y += LINE
            self.text(x, self.y - 4, text, fill, **style)


def drawing(model: LadderModel, title: str, *, explain: bool = False, interactive: bool = False) -> str:
    """The whole run as one SVG document: title, totals, each scenario's ladder, the summary.

    ``interactive`` draws it for the HTML page, which has a heading and a summary of its own: only the
    ladders, each arrow a button.
    """
    shape = layout(model)
    canvas = Canvas()
    colours = call_colours(model)
    results = [scenario.result for scenario in model.scenarios]
    if not interactive:
        canvas.text(PAD, canvas.y + 16, title, INK, bold=True, size=16)
        canvas.y += 24
        canvas.lines(PAD, [totals(results)], DIM)
    numbered = itertools.count()  # arrows numbered across scenarios, as the HTML's message data is
    for scenario in model.scenarios:
        _scenario(canvas, scenario, shape, colours, explain, numbered if interactive else None)
    if not interactive:
        _summary(canvas, results, shape)
    width, height = math.ceil(max(canvas.right, shape.right) + PAD), math.ceil(canvas.y + PAD)
    bands = "".join(band.format(width=width) for band in canvas.backgrounds)
    role = "" if interactive else f' role="img" aria-label={quoteattr(title)}'  # an image, unless it has buttons
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}"{role}>'
            f"<title>{escape(title)}</title><style>{PRINT_STYLE}</style>"
            f'<rect width="{width}" height="{height}" fill="{PAPER}"/>{bands}'
            f'<g font-family={quoteattr(FONTS)} font-size="{FONT_SIZE}">{"".join(canvas.elements)}</g></svg>\n')


def _scenario(canvas: Canvas, scenario: ScenarioLadder, shape: Layout, colours: dict[int, str], explain: bool,
              numbered) -> None:
    """A scenario's heading band, its column heads and lifelines, its rows and the findings after them."""
    result = scenario.result
    top = canvas.y + 12
    canvas.y = top
    canvas.lines(PAD, [f"▶ {result.name}"], INK, bold=True)
    canvas.text(PAD + width_of(f"▶ {result.name}  "), canvas.y - 4, f"({scenario.source})", DIM)
    canvas.lines(PAD, wrap(" ".join(result.description.split()), shape.page_chars), DIM)
    if result.skip_reason is not None:
        canvas.lines(PAD, wrap(f"- skipped: {result.skip_reason}", shape.page_chars), WARN)
    canvas.y += 6
    canvas.backgrounds.append(f'<rect x="0" y="{top:.1f}" width="{{width}}" height="{canvas.y - top:.1f}" '
                              f'fill="{BAND}"/>')
    if result.skip_reason is not None:
        return
    canvas.y += 8
    for x, name in zip(shape.lifelines, COLUMN_NAMES):
        half = width_of(name) / 2 + CHAR
        canvas.elements.append(f'<rect x="{x - half:.1f}" y="{canvas.y:.1f}" width="{2 * half:.1f}" height="{HEADS}" '
                               f'rx="3" fill="{PAPER}" stroke="{RULE}"/>')
        canvas.text(x, canvas.y + 15, name, INK, anchor="middle", bold=True)
    canvas.y += HEADS
    segments: list[tuple[float, float]] = [(canvas.y, canvas.y + 6)]  # where the lifelines are drawn
    canvas.y += 6
    marks: list[tuple[float, float, str]] = []  # (time, y, colour) of each row, for the timeline
    details = iter(arrow_details(scenario))
    gates = iter(call_gates([arrow.row for arrow in scenario.arrows]))
    for entry in scenario.entries:
        top = canvas.y
        if type(entry) is Arrow:
            gate = next(gates)
            colour = colours.get(gate, CONNECTION)
            number = next(numbered) if numbered is not None else None
            bottom = _arrow(canvas, entry, next(details), colour, shape, explain, number)
            marks.append((entry.row.time, top + 20, colour))
        elif type(entry) is Pause:
            bottom = _pause(canvas, entry, shape)
            marks.append((entry.time, top + 9, CONNECTION))
        elif type(entry) is Phase:
            _phase(canvas, entry, shape)
            bottom = canvas.y
        else:
            _remark(canvas, entry, shape)
            continue
        segments.append((top, bottom))
        canvas.y += 6
        segments.append((canvas.y - 6, canvas.y))
    for x in shape.lifelines:
        for y1, y2 in _merged(segments):
            canvas.line(x, y1, x, y2)
    _timeline(canvas, marks, shape)
    if result.findings:
        canvas.lines(PAD, [f"{len(result.findings)} finding(s) about the CMTS's protocol:"], WARN, bold=True)
        for finding in result.findings:
            canvas.lines(PAD + 2 * CHAR, wrap(f"⚠ {finding} [{finding.data.hex()}]", shape.page_chars - 2), WARN)


def _arrow(canvas: Canvas, arrow: Arrow, detail: str, colour: str, shape: Layout, explain: bool,
           number: int | None) -> float:
    """One arrow: its label above, its detail below, its time, the step's verdict; the notes (--explain) under
    it.  Returns where the lifelines stop (they do not cross the notes)."""
    row: Row = arrow.row
    top = canvas.y
    start = len(canvas.elements)
    x1, x2 = shape.lifelines[row.source], shape.lifelines[row.target]
    middle, y = (x1 + x2) / 2, top + 20
    ink = FAIL if row.error else colour
    canvas.text(middle, top + 13, row.label, ink, anchor="middle", bold=True)
    canvas.line(x1, y, x2 - math.copysign(8, x2 - x1), y, colour, 1.5)
    tip, back = x2, x2 - math.copysign(9, x2 - x1)
    canvas.elements.append(f'<polygon points="{tip:.1f},{y:.1f} {back:.1f},{y - 4.5:.1f} {back:.1f},{y + 4.5:.1f}" '
                           f'fill="{colour}"/>')
    canvas.text(shape.time, y + 4, time_label(row.time), DIM, anchor="end")
    bottom = top + 26
    if detail:
        canvas.text(middle, top + 35, detail, FAIL if row.error else INK, anchor="middle")
        bottom = top + 40
    if arrow.mark is not None:
        bottom = max(bottom, _verdict(canvas, arrow.mark.text, arrow.mark.verdict, "", shape, y + 4))
    canvas.y = bottom
    if explain and row.note:
        canvas.lines(shape.lifelines[0] + CHAR, wrap(row.note, shape.body_chars), DIM, italic=True)
    if number is not None:  # the HTML ladder: the whole row is a button that shows the message
        hit = (f'<rect class="hit" x="{AXIS + CHAR}" y="{top - 3:.1f}" width="{shape.right - AXIS - CHAR:.1f}" '
               f'height="{canvas.y - top + 6:.1f}" fill="{SELECTED}" fill-opacity="0"/>')
        canvas.elements.insert(start, f'<g class="msg" data-msg="{number}" tabindex="0" role="button" '
                                      f'aria-label={quoteattr(f"{row.label} {detail}".strip())}>{hit}')
        canvas.elements.append("</g>")
    return bottom


def _pause(canvas: Canvas, pause: Pause, shape: Layout) -> float:
    """A step without messages: its time and its verdict, and what it did."""
    canvas.text(shape.time, canvas.y + 13, time_label(pause.time), DIM, anchor="end")
    canvas.y = _verdict(canvas, pause.mark.text, pause.mark.verdict, pause.message, shape, canvas.y + 13)
    return canvas.y


def _verdict(canvas: Canvas, mark: str, verdict: Verdict | None, message: str, shape: Layout, y: float) -> float:
    """A step's verdict at the right of its last row (wrapped, never cut), its message below; returns the bottom."""
    lines = wrap(mark, VERDICT_CHARS)
    for index, text in enumerate(lines):
        canvas.text(shape.verdict, y + index * LINE, text, VERDICT_COLOURS.get(verdict, INK), bold=True)
    notes = wrap(message, VERDICT_CHARS) if message else []
    for index, text in enumerate(notes):
        canvas.text(shape.verdict + 2 * CHAR, y + (len(lines) + index) * LINE, text, DIM)
    return y + (len(lines) + len(notes) - 1) * LINE + 6


def _phase(canvas: Canvas, phase: Phase, shape: Layout) -> None:
    """Where the finally or cleanup steps begin: a dashed rule across the lanes, its title on it."""
    y = canvas.y + 12
    left, right = shape.lifelines[0], shape.lifelines[-1]
    canvas.line(left, y, right, y, RULE, 1, "4 3")
    half = width_of(phase.title) / 2 + CHAR
    canvas.elements.append(f'<rect x="{(left + right) / 2 - half:.1f}" y="{y - 9:.1f}" width="{2 * half:.1f}" '
                           f'height="18" fill="{PAPER}"/>')
    canvas.text((left + right) / 2, y + 4, phase.title, DIM, anchor="middle", bold=True)
    canvas.y += 24


def _remark(canvas: Canvas, remark: Remark, shape: Layout) -> None:
    """Why a step failed, or a finding: lines of their own, the lifelines broken around them."""
    text = remark.text if remark.failure else f"⚠ {remark.text}"
    canvas.lines(shape.lifelines[0], wrap(text, shape.body_chars), FAIL if remark.failure else WARN)
    canvas.y += 4


def _merged(segments: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Touching vertical segments as one: a lifeline is a few long lines, broken only where notes cross it."""
    merged: list[tuple[float, float]] = []
    for y1, y2 in sorted(segments):
        if merged and y1 <= merged[-1][1] + 0.5:
            merged[-1] = (merged[-1][0], max(merged[-1][1], y2))
        else:
            merged.append((y1, y2))
    return merged


def _timeline(canvas: Canvas, marks: list[tuple[float, float, str]], shape: Layout) -> None:
    """A time axis beside the rows: each row's dot at its true time, linked to the row; ticks at round times."""
    end = max((time for time, _, _ in marks), default=0.0)
    if len(marks) < 2 or end <= 0:
        return
    top, bottom = marks[0][1], max(y for _, y, _ in marks)
    scale = (bottom - top) / end

    def at(time: float) -> float:
        return top + time * scale

    canvas.line(AXIS, top, AXIS, bottom, RULE)
    step = _tick_step(end)
    for index in range(int(end / step + 1e-9) + 1):
        time = index * step
        canvas.line(AXIS - 4, at(time), AXIS, at(time), RULE)
        label = f"{round(time, 6):g} s" if step >= 0.1 else f"{round(time * 1000, 3):g} ms"
        canvas.text(AXIS - 6, at(time) + 4, label, DIM, anchor="end")
    for time, y, colour in marks:
        canvas.line(AXIS, at(time), shape.time - width_of(time_label(time)) - 6, y, RULE, 0.6)
        canvas.elements.append(f'<circle cx="{AXIS}" cy="{at(time):.1f}" r="2.5" fill="{colour}"/>')


def _tick_step(end: float) -> float:
    """A round step (1, 2 or 5 times a power of ten) that puts three to six ticks on ``end`` seconds."""
    power = 10 ** math.floor(math.log10(end / 3))
    return next(step * power for step in (1, 2, 5, 10) if end / (step * power) <= 6)


def _summary(canvas: Canvas, results: list[ScenarioResult], shape: Layout) -> None:
    """The run's summary, as after the terminal ladder: a line per scenario, then each step's verdict."""
    canvas.y += 16
    canvas.lines(PAD, ["Summary"], INK, bold=True, size=15)
    canvas.lines(PAD, [totals(results)], DIM)
    rows = [(line.name, line.verdict, f"{line.passed}/{line.steps}", f"{line.seconds:.2f} s",
             str(line.findings) if line.findings else "", line.note) for line in map(scenario_summary, results)]
    _table(canvas, ("scenario", "verdict", "steps", "time", "findings", "first failure or why skipped"), rows,
           shape.page_chars)
    for result in results:
        if not result.steps:
            continue
        canvas.y += 8
        canvas.lines(PAD, [f"Steps of {result.name}"], INK, bold=True)
        rows = [(step.id, step.verdict.value if step.verdict else "not run", step.title, step_timing(step),
                 step.message) for step in result.steps]
        _table(canvas, ("step", "verdict", "what", "time", "message"), rows, shape.page_chars)


def _table(canvas: Canvas, headings: tuple[str, ...], rows: list[tuple[str, ...]], chars: int) -> None:
    """Columns as wide as their widest cell, the second a verdict in its colour; the last one wraps at what is
    left of ``chars``."""
    widths = [max(len(cell) for cell in column) for column in zip(headings, *rows)]
    starts = [PAD + sum(widths[:index]) * CHAR + 2 * CHAR * index for index in range(len(widths))]
    last = max(24, chars - int((starts[-1] - PAD) / CHAR))
    colours = {"passed": PASS, "FAILED": FAIL, "failed": FAIL}
    for cells, heading in [(headings, True)] + [(row, False) for row in rows]:
        lines = wrap(cells[-1], last) if cells[-1] else [""]
        canvas.y += LINE
        for index, (x, cell) in enumerate(zip(starts, cells[:-1])):
            colour = colours.get(cell, DIM if cell in ("skipped", "not run") else INK) if index == 1 else INK
            canvas.text(x, canvas.y - 4, cell, colour, bold=heading or index == 1)
        canvas.text(starts[-1], canvas.y - 4, lines[0], INK, bold=heading)
        canvas.lines(starts[-1], lines[1:], INK)
