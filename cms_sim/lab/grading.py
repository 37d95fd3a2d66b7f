"""Is a student's answer right?  If not, what went wrong, and a hint that fits it.

In order, as a teaching assistant would look: blanks left unfilled (the
hint for that blank); a file that is no longer a scenario (each problem's
line, and the hint of the blank on it); the rest of the exercise changed
or, where the exercise fixes it, its steps moved; then the answer runs
against the embedded CMTS with the exercise's settings, and the first
failing step picks the lab's hint for that step and that failure (a wrong
error code expected, a step in the wrong place ...).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import NamedTuple

import yaml

from pktcable_settings import compose, locate

from ..scenario import ScenarioError, StepResult, Verdict, parse_scenario, run_embedded
from .catalog import Lab
from .exercise import Blank, blank_of, blanks, differences, moved, unfilled

CHANGED = ("Only the blanks (___) are yours to fill; the rest of the exercise sets the scene. Put it back as "
           "it was (cms-sim lab start copies a fresh one into another folder).")
NOT_A_SCENARIO = "The file must stay a scenario: fix the line named above."
RUN_HINT = ("Read task.md again for this step. `cms-sim run --step FILE` shows each message as it goes, and "
            "`cms-sim explain` names any error or reason (cms-sim explain error 2, cms-sim explain reason 5).")


class Grade(NamedTuple):
    right: bool
    lines: tuple[str, ...]  # what was found, one line each
    hint: str | None = None


async def grade(lab: Lab, path: Path, text: str) -> Grade:
    """Grade the answer ``text`` (read from ``path``) to ``lab``."""
    exercise = lab.text("scenario.yaml")
    holes = blanks(exercise)
    left = unfilled(text)
    if left:
        return Grade(False, tuple(f"{path}:{line}: a blank (___) is still to fill" for line in left),
                     _blank_hint(lab, holes, text, left[0]))
    changed = _changes(lab, exercise, text, path)  # first: moved steps may also break the file's ${variables}
    if changed is not None:
        return changed
    try:
        scenario = parse_scenario(text, str(path))
    except ScenarioError as exc:
        lines = [_line_of(problem, path) for problem in exc.problems]
        hint = next((found for line in lines if (found := _blank_hint(lab, holes, text, line))), NOT_A_SCENARIO)
        return Grade(False, tuple(exc.problems), hint)
    result = await run_embedded(scenario)
    if result.verdict is Verdict.PASSED:
        return Grade(True, (lab.settings.right,))
    step = result.failures[0]
    line = f", line {step.line}" if step.line else ""
    return Grade(False, (f"{path}: step {step.id} ({step.title}{line}): {step.message}",), _run_hint(lab, step))


def _changes(lab: Lab, exercise: str, text: str, path: Path) -> Grade | None:
    """The answer changed the exercise outside its blanks (or moved its steps where it may not).

    None also when the answer is no YAML mapping: loading it as a scenario then says what is wrong, and where.
    """
    wanted = _exercise_data(exercise)
    try:
        root, given = compose(text)
    except yaml.YAMLError:
        return None
    if not isinstance(given, dict):
        return None
    steps, given_steps = wanted.get("steps"), given.get("steps")
    if isinstance(given_steps, list) and any(differences(steps, given_steps)) and moved(steps, given_steps):
        if lab.settings.order == "fixed":
            return Grade(False, (f"{path}: the steps are not in the exercise's order",), lab.settings.moved)
        wanted, given = {**wanted, "steps": None}, {**given, "steps": None}  # in any order: each step is as given
    found = list(differences(wanted, given))
    if not found:
        return None
    lines = []
    for where, expected in found[:3]:
        _, line, field = locate(root, where)
        lines.append(f"{path}:{line}: {field or '(top level)'}: expected {expected}")
    return Grade(False, tuple(lines), CHANGED)


@functools.lru_cache(maxsize=16)
def _exercise_data(exercise: str):
    """The exercise as plain data, read once per exercise (a class checks the same lab again and again)."""
    return compose(exercise)[1]


def _blank_hint(lab: Lab, holes: list[Blank], text: str, line: int) -> str | None:
    """The hint of the blank that line ``line`` of the answer fills, if it fills one."""
    lines = text.splitlines()
    index = blank_of(holes, lines[line - 1]) if 0 < line <= len(lines) else None
    return lab.settings.blanks[index] if index is not None else None


def _line_of(problem: str, path: Path) -> int:
    """The line a ``FILE:LINE: ...`` problem names (0 if none)."""
    number = problem.removeprefix(f"{path}:").split(":", 1)[0]
    return int(number) if number.isdigit() else 0


def _run_hint(lab: Lab, step: StepResult) -> str:
    for hint in lab.settings.hints:
        if hint.step in (step.title, step.kind) and (hint.got is None or hint.got.lower() in step.message.lower()):
            return hint.hint
    return RUN_HINT
