"""The interactive HTML ladder: one self-contained page, to click through a call message by message.

The ladder itself is the SVG drawing (:mod:`.ladder_svg`) with each arrow a
button.  Clicking one shows its message in a side pane: the tree that
``cms-sim decode`` prints (:func:`cms_sim.decode.tree.message_node`, the same
dissector) and the bytes in hex, where clicking a line of the tree marks the
bytes it stands for.  The messages travel in the page as JSON; the script and
the style sheet (``ladder_page.js``, ``ladder_page.css`` beside this file) are
inlined, so the page needs no network: no fonts, no scripts, nothing fetched.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from string import Template
from typing import Any

from rich.text import Text

from cops_core.errors import DecodeError

from ..decode.dissect import dissect
from ..decode.tree import Node, message_node
from ..scenario.result import ScenarioResult, Verdict
from . import ladder_svg
from .ladder import COLUMN_NAMES
from .ladder_model import Arrow, LadderModel, call_gates
from .summary import scenario_summary, step_timing, totals

HERE = Path(__file__).parent
STYLE_CLASSES = {"bold": "b", "bold cyan": "obj", "dim": "key", "bold red": "err"}
"""The decode tree's emphasis (rich styles) as the page's classes: object names, field names, faults."""
VERDICT_CLASSES = {Verdict.PASSED: "pass", Verdict.FAILED: "fail", Verdict.SKIPPED: "skip"}
MODEM_NOTE = "A modem action (DOCSIS signalling between the modem and the CMTS), not a COPS message: no bytes to show."


def page(model: LadderModel, title: str, *, explain: bool = False) -> str:
    """The whole page: heading, totals and call colours, the ladder, the message pane and the summary."""
    results = [scenario.result for scenario in model.scenarios]
    colours = ladder_svg.call_colours(model)
    legend = "".join(f'<li style="color:{colour}">gate 0x{gate:08x}</li>' for gate, colour in colours.items())
    legend += f'<li style="color:{ladder_svg.CONNECTION}">the connection (no gate)</li>'
    data = json.dumps(messages(model), separators=(",", ":")).replace("</", "<\\/")  # no "</script>" inside
    style = Template((HERE / "ladder_page.css").read_text(encoding="utf-8")).substitute(palette())
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
{style}</style>
</head>
<body>
<header>
<h1>{html.escape(title)}</h1>
<p class="totals">{html.escape(totals(results))}</p>
<ul class="legend" aria-label="a colour per call">{legend}</ul>
<p class="hint">Click an arrow (or tab to it and press Enter) to decode its message; click a line of the tree to
mark its bytes.</p>
</header>
<main>
<div class="ladder">{ladder_svg.drawing(model, title, explain=explain, interactive=True)}</div>
<aside id="detail" aria-live="polite"><p class="hint">No message chosen yet.</p></aside>
</main>
{summary(results)}
<script type="application/json" id="messages">{data}</script>
<script>
{(HERE / "ladder_page.js").read_text(encoding="utf-8")}</script>
</body>
</html>
"""


def palette() -> dict[str, str]:
    """The drawing's colours by name, for the style sheet: one palette for the SVG and the page around it."""
    return {"paper": ladder_svg.PAPER, "band": ladder_svg.BAND, "selected": ladder_svg.SELECTED,
            "marked": ladder_svg.MARKED, "ink": ladder_svg.INK, "dim": ladder_svg.DIM, "pass": ladder_svg.PASS,
            "fail": ladder_svg.FAIL, "warn": ladder_svg.WARN, "rule": ladder_svg.RULE}


def messages(model: LadderModel) -> list[dict[str, Any]]:
    """What the pane shows for each arrow, in the order the drawing numbers them."""
    found = []
    for scenario in model.scenarios:
        rows = [arrow.row for arrow in scenario.arrows]
        for arrow, detail, gate in zip(scenario.arrows, ladder_svg.arrow_details(scenario), call_gates(rows)):
            found.append(message(arrow, detail, gate))
    return found


def message(arrow: Arrow, detail: str, gate: int | None) -> dict[str, Any]:
    """One arrow's message: where and when, the step's verdict, what it means, its tree and its bytes."""
    row = arrow.row
    shown: dict[str, Any] = {
        "label": row.label, "detail": detail, "time": ladder_svg.time_label(row.time),
        "from": COLUMN_NAMES[row.source], "to": COLUMN_NAMES[row.target],
        "gate": None if gate is None else f"0x{gate:08x}", "note": row.note or "", "hex": row.data.hex(),
    }
    if arrow.mark is not None:
        shown["verdict"] = [arrow.mark.text, VERDICT_CLASSES.get(arrow.mark.verdict, "")]
    if not row.data:
        shown["note"] = f"{row.note} {MODEM_NOTE}".strip()
        return shown
    try:
        shown["tree"] = _node(message_node(dissect(row.data)))
    except DecodeError as exc:
        shown["problem"] = f"Malformed COPS message: {exc.reason} (at offset {exc.offset})"
    return shown


def _node(node: Node) -> dict[str, Any]:
    """A tree line as data: its text in styled pieces, its bytes (offset and size) and the lines under it."""
    shown: dict[str, Any] = {"p": _pieces(node.label), "o": node.offset, "n": node.size}
    if node.children:
        shown["c"] = [_node(child) for child in node.children]
    return shown


def _pieces(text: Text) -> list[list[str]]:
    """``text`` as [text, class] pieces, cut where its styles change."""
    cuts = sorted({0, len(text.plain), *(span.start for span in text.spans), *(span.end for span in text.spans)})
    pieces = []
    for start, end in zip(cuts, cuts[1:]):
        styles = [str(text.style)] + [str(span.style) for span in text.spans if span.start <= start and end <= span.end]
        pieces.append([text.plain[start:end], STYLE_CLASSES.get(" ".join(style for style in styles if style), "")])
    return pieces


def summary(results: list[ScenarioResult]) -> str:
    """The run's summary as tables: a line per scenario, then each scenario's steps with their verdicts."""
    classes = {"passed": "pass", "FAILED": "fail", "failed": "fail", "skipped": "skip"}
    rows = "".join(_row((line.name, line.verdict, f"{line.passed}/{line.steps}", f"{line.seconds:.2f} s",
                         str(line.findings) if line.findings else "", line.note), classes.get(line.verdict, ""))
                   for line in map(scenario_summary, results))
    parts = ['<section class="summary"><h2>Summary</h2>', f'<p class="totals">{html.escape(totals(results))}</p>',
             _table(("scenario", "verdict", "steps", "time", "findings", "first failure or why skipped"), rows)]
    for result in results:
        if result.steps:
            verdicts = [step.verdict.value if step.verdict else "not run" for step in result.steps]
            rows = "".join(_row((step.id, verdict, step.title, step_timing(step), step.message),
                                classes.get(verdict, "")) for step, verdict in zip(result.steps, verdicts))
            parts += [f"<h3>Steps of {html.escape(result.name)}</h3>",
                      _table(("step", "verdict", "what", "time", "message"), rows)]
    return "\n".join(parts) + "</section>"


def _table(headings: tuple[str, ...], rows: str) -> str:
    head = "".join(f"<th>{html.escape(heading)}</th>" for heading in headings)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _row(cells: tuple[str, ...], verdict_class: str) -> str:
    """A table row whose second cell is a verdict, in its colour."""
    return "<tr>" + "".join(f'<td class="{verdict_class}">{html.escape(cell)}</td>' if index == 1 else
                            f"<td>{html.escape(cell)}</td>" for index, cell in enumerate(cells)) + "</tr>"
