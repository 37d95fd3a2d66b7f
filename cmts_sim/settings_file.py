"""Loading a YAML file into a pydantic model, with errors a person can act on.

Every problem becomes one line, ``FILE:LINE: FIELD.PATH: what was expected``:
YAML syntax errors from the parser's mark, validation errors by walking the
YAML node tree along the error's location to the line that holds the value
(or its parent, for a missing key).  No traceback reaches the user.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

Model = TypeVar("Model", bound=pydantic.BaseModel)


class SettingsFileError(Exception):
    """A file that does not load; ``lines`` holds one message per problem."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def _line_of(node: yaml.Node | None, location: tuple) -> int:
    """1-based line of the node at ``location`` under ``node``, or of the deepest ancestor found."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in location:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    child = value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node = child
        line = node.start_mark.line + 1
    return line


def _describe(error: dict) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required, but missing"
    if kind == "extra_forbidden":
        return "unknown key"
    message = error["msg"][0].lower() + error["msg"][1:]
    if "input" in error and kind not in ("union_tag_invalid",):
        return f"{message} (got {error['input']!r})"
    return message


def format_validation_error(path: str, root: yaml.Node | None, exc: pydantic.ValidationError,
                            location_prefix: tuple = ()) -> list[str]:
    """One line per pydantic error, located in the YAML."""
    lines = []
    for error in exc.errors():
        # pydantic names union members and wrapped validators in the location; they are not keys in the file.
        location = tuple(part for part in error["loc"] if not (isinstance(part, str) and ("[" in part or "-" in part
                                                                                        and part.startswith("function"))))
        full = location_prefix + location
        field = ".".join(str(part) for part in full) or "(top level)"
        lines.append(f"{path}:{_line_of(root, full)}: {field}: {_describe(error)}")
    return lines


def read_yaml(path: str | Path) -> tuple[Any, yaml.Node | None]:
    """The file's data and its node tree (for line numbers); SettingsFileError on I/O or syntax errors."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsFileError([f"{name}: cannot read: {exc.strerror}"]) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise SettingsFileError([f"{name}:{line}: YAML syntax: {exc.problem or exc.context}"]) from None
    except yaml.YAMLError as exc:
        raise SettingsFileError([f"{name}: YAML: {exc}"]) from None
    return data, root


def load_model(path: str | Path, model: type[Model]) -> Model:
    """Read ``path`` and validate it as ``model``."""
    data, root = read_yaml(path)
    try:
        return model.model_validate(data if data is not None else {})
    except pydantic.ValidationError as exc:
        raise SettingsFileError(format_validation_error(str(path), root, exc)) from None
