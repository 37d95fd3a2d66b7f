"""The shipped labs: where they are, and each one's ``lab.yaml`` read and checked against its files.

A lab is a folder ``NN-name`` (NN its number) holding :data:`FILES`.  A
broken lab (a file missing, ``lab.yaml`` not as :class:`LabSettings` says,
a hint per blank that does not add up) is a :class:`LabError`, one line per
problem naming file, line and field, never a traceback.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pktcable_settings import SettingsFileError, format_validation_error, locate, read_text, read_yaml

from .exercise import blanks

FILES = ("task.md", "scenario.yaml", "answer.yaml", "notes.md", "lab.yaml")
STUDENT_FILES = ("scenario.yaml", "task.md")
"""What ``cms-sim lab start`` copies: the answer and the instructor notes stay behind."""
_FOLDER = re.compile(r"^(\d+)-[a-z0-9-]+$")


class LabError(Exception):
    """A lab that cannot be used; ``lines`` says why, one problem each."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Hint(_Model):
    """A hint for a wrong answer, given when the run fails at ``step`` and its message holds ``got``."""

    step: str = Field(description="the failing step's name (or kind, for a step without a name)")
    got: str | None = Field(None, description="only when the failure message contains this (any case)")
    hint: str


class LabSettings(_Model):
    """``lab.yaml``: what the list shows, and what the check tells a student."""

    title: str = Field(min_length=1)
    teaches: str = Field(description="one line for cms-sim lab list")
    minutes: int = Field(gt=0, description="about how long it takes a class")
    order: Literal["fixed", "yours"] = Field(
        "fixed", description="yours: the task is to put the steps in order, so the answer may move them")
    blanks: list[str] = Field(description="a hint per line of scenario.yaml holding a blank (___), in order")
    hints: list[Hint] = Field(default_factory=list, description="hints keyed to where and how a wrong answer fails")
    moved: str = Field("The steps are not in the order the exercise gives them: put them back and fill only the "
                       "blanks.", description="the hint when a fixed-order answer moved steps")
    right: str = Field(description="said when the answer is right: what it has shown")


class Lab(NamedTuple):
    number: int
    folder: Path
    settings: LabSettings

    @property
    def title(self) -> str:
        return self.settings.title

    def text(self, name: str) -> str:
        return read_text(self.folder / name)


def labs_folder() -> Path:
    """The shipped labs: inside the package when installed from a wheel, at the repository root in a checkout."""
    here = Path(__file__).resolve().parent
    installed = here / "exercises"
    return installed if installed.is_dir() else here.parents[1] / "labs"


def all_labs(folder: Path | None = None) -> list[Lab]:
    """Every lab, by number; :class:`LabError` listing every problem found in any of them."""
    labs, problems = [], []
    for number, path in _folders(folder).items():
        try:
            labs.append(_load(number, path))
        except LabError as exc:
            problems += exc.lines
    if problems:
        raise LabError(problems)
    return labs


def find(number: int, folder: Path | None = None) -> Lab:
    """Lab ``number`` (the others need not load); :class:`LabError` if there is none or it is broken."""
    folders = _folders(folder)
    if number not in folders:
        raise LabError([f"no lab {number}; the labs are {', '.join(map(str, folders))} (cms-sim lab list)"])
    return _load(number, folders[number])


def _folders(folder: Path | None) -> dict[int, Path]:
    """Number -> folder of each lab, in order."""
    folder = folder or labs_folder()
    found: dict[int, Path] = {}
    for path in sorted(folder.iterdir()) if folder.is_dir() else ():
        match = _FOLDER.match(path.name)
        if path.is_dir() and match:
            number = int(match.group(1))
            if number in found:
                raise LabError([f"{folder}: two labs numbered {number}: {found[number].name} and {path.name}"])
            found[number] = path
    if not found:
        raise LabError([f"{folder}: no labs here (folders named NN-name)"])
    return dict(sorted(found.items()))


def _load(number: int, folder: Path) -> Lab:
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise LabError([f"{folder}: {', '.join(missing)} missing; a lab has {', '.join(FILES)}"])
    try:
        settings, root = _settings(folder / "lab.yaml")
        exercise = read_text(folder / "scenario.yaml")
    except SettingsFileError as exc:
        raise LabError(exc.lines) from None
    count = len(blanks(exercise))
    if count != len(settings.blanks):
        line = locate(root, ("blanks",))[1]
        raise LabError([f"{folder / 'lab.yaml'}:{line}: blanks: {len(settings.blanks)} hint(s), but scenario.yaml "
                        f"has {count} line(s) with a blank (___); expected one hint per line"])
    return Lab(number, folder, settings)


def _settings(path: Path) -> tuple[LabSettings, yaml.Node]:
    """``lab.yaml`` validated, and its node tree for line numbers; SettingsFileError, one line per problem."""
    data, root = read_yaml(path)
    try:
        return LabSettings.model_validate(data if data is not None else {}), root
    except ValidationError as exc:
        raise SettingsFileError(format_validation_error(str(path), root, exc)) from None
