"""An exercise and a student's answer to it, side by side: the blanks, and what else the answer changed.

A blank is ``___`` in a line of the exercise's scenario (outside comments).
Filled, the line must still read as the exercise wrote it around the
blank, which is how a line of the answer is traced back to its blank (and
its hint) even after lines above it moved.  Everything that is not a blank
must stay as the exercise gives it: :func:`differences` walks the two YAML
documents side by side, a blank in the exercise matching any value.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, NamedTuple

BLANK = "___"
_COMMENT = re.compile(r"(^|\s)#.*$")


class Blank(NamedTuple):
    """One line of the exercise with a blank: where, and patterns its filled-in form matches."""

    line: int
    pattern: re.Pattern  # the line's code, filled
    whole: re.Pattern  # the line with its comment (its question): tells apart two blanks whose code is the same


def code(line: str) -> str:
    """The line without its comment (the exercise's questions are comments, and may say ___)."""
    return _COMMENT.sub("", line).rstrip()


def blanks(text: str) -> list[Blank]:
    """The lines of ``text`` holding a blank, in order."""
    return [Blank(number, _filled(code(line)), _filled(line))
            for number, line in enumerate(text.splitlines(), 1) if BLANK in code(line)]


def _filled(text: str) -> re.Pattern:
    """What ``text`` looks like with its blanks filled: spacing may change, what surrounds a blank may not."""
    pieces = [re.sub(r"\\ ", r"\\s*", re.escape(piece.strip())) for piece in text.split(BLANK)]
    return re.compile(r"\s*" + r"\s*(.+?)\s*".join(pieces) + r"\s*")


def unfilled(text: str) -> list[int]:
    """The lines of an answer that still hold a blank."""
    return [number for number, line in enumerate(text.splitlines(), 1) if BLANK in code(line)]


def blank_of(exercise: list[Blank], line: str) -> int | None:
    """Which blank (its index in ``exercise``) a line of the answer fills, if any: by the line and its question
    first, then (the comment changed) by its code alone."""
    for index, blank in enumerate(exercise):
        if blank.whole.fullmatch(line.rstrip()):
            return index
    part = code(line)
    return next((index for index, blank in enumerate(exercise) if blank.pattern.fullmatch(part)), None)


def differences(exercise: Any, answer: Any, at: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """Each place where ``answer`` departs from ``exercise`` other than in a blank: (location, what is expected)."""
    if isinstance(exercise, str) and BLANK in exercise:
        if answer is None:  # a value may be a mapping too: expect: ___ takes {error: 2}
            yield at, "a value here, to fill the blank"
        return
    if isinstance(exercise, dict):
        yield from _mapping(exercise, answer, at)
    elif isinstance(exercise, list):
        if not isinstance(answer, list) or len(answer) != len(exercise):
            yield at, f"{_count(exercise)} as the exercise has"
            return
        for index, (item, given) in enumerate(zip(exercise, answer)):
            yield from differences(item, given, at + (index,))
    elif answer != exercise or type(answer) is not type(exercise):
        yield at, f"{_show(exercise)}, as the exercise has it"


def _mapping(exercise: dict, answer: Any, at: tuple) -> Iterator[tuple[tuple, str]]:
    if not isinstance(answer, dict):
        yield at, "a mapping, as the exercise has"
        return
    blank_keys = [key for key in exercise if isinstance(key, str) and BLANK in key]
    for key, value in exercise.items():
        if key in blank_keys:
            continue
        if key not in answer:
            yield at + (key,), f"{key}: {_show(value)}, as the exercise has it (it is missing)"
        else:
            yield from differences(value, answer[key], at + (key,))
    extra = [key for key in answer if key not in exercise]
    for blank_key, key in zip(blank_keys, extra):  # a blank key (a step's action) is filled by one key
        yield from differences(exercise[blank_key], answer[key], at + (key,))
    for key in extra[len(blank_keys):]:
        yield at + (key,), "nothing: the exercise has no such field"


def moved(exercise: list, answer: list) -> bool:
    """True when ``answer`` holds the exercise's items, each as the exercise has it, in another order."""
    if len(exercise) != len(answer):
        return False
    left = list(range(len(exercise)))
    for given in answer:
        match = next((index for index in left if not any(differences(exercise[index], given))), None)
        if match is None:
            return False
        left.remove(match)
    return True


def _count(items: list) -> str:
    return f"{len(items)} item" + ("" if len(items) == 1 else "s")


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."
