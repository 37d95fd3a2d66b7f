"""Loading a YAML file into a pydantic model, with errors a person can act on.

Every problem becomes one line, ``FILE:LINE: FIELD.PATH: what was expected``:
YAML syntax errors from the parser's mark, validation errors by walking the
YAML node tree along the error's location to the line that holds the value
(or its parent, for a missing key).  No traceback reaches the user.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Collection, TypeVar

import pydantic
import yaml

Model = TypeVar("Model", bound=pydantic.BaseModel)


class SettingsFileError(Exception):
    """A file that does not load; ``lines`` holds one message per problem."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def locate(root: yaml.Node, loc: tuple, *, skip: Collection[str] = ()) -> tuple[yaml.Node, int, str]:
    """The node a validation-error location points at, its 1-based line, and the location as the file spells it.

    Names in ``skip`` (union tags pydantic adds, not keys in the file) are
    passed over; a key missing from a mapping stops the walk at that mapping
    (the place to add it); a scalar where the location goes deeper stops it
    at the scalar.
    """
    node, line, parts = root, root.start_mark.line + 1, []
    for index, segment in enumerate(loc):
        if segment in skip:
            continue
        if isinstance(node, yaml.MappingNode) and isinstance(segment, str):
            pair = next(((key, value) for key, value in node.value
                         if isinstance(key, yaml.ScalarNode) and key.value == segment), None)
            if pair is None:
                if index == len(loc) - 1:
                    parts.append(segment)  # a missing field: report it at its mapping
                continue  # a discriminator value (e.g. a distribution's name): not a key
            parts.append(segment)
            line, node = pair[0].start_mark.line + 1, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(segment, int) and segment < len(node.value):
            parts.append(segment)
            node = node.value[segment]
            line = node.start_mark.line + 1
        else:
            break
    return node, line, yaml_path(parts)


def yaml_path(parts) -> str:
    """``timers.t1``, ``steps[2].gate_set``: a location as a person reads it."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts).lstrip(".")


def _describe(error: dict) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required, but missing"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "value_error":  # our own validators' messages say what they got
        return error["msg"].removeprefix("Value error, ")
    message = error["msg"][0].lower() + error["msg"][1:]
    return f"{message} (got {error['input']!r})" if "input" in error else message


def format_validation_error(path: str, root: yaml.Node | None, exc: pydantic.ValidationError) -> list[str]:
    """One line per pydantic error, located in the YAML."""
    lines = []
    for error in exc.errors():
        full = tuple(error["loc"])
        if root is None:
            lines.append(f"{path}:1: {yaml_path(full) or '(top level)'}: {_describe(error)}")
            continue
        _, line, field = locate(root, full)
        lines.append(f"{path}:{line}: {field or '(top level)'}: {_describe(error)}")
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
