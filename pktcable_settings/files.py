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


MAX_FILE_BYTES = 1 << 20
"""A scenario or config file is a few KiB: past a MiB it is the wrong file (or /dev/zero)."""
MAX_DEPTH = 64
"""Nesting deeper than this is no settings file; the limit stops a RecursionError on 5,000 nested ``[``."""


def read_text(path: str | Path) -> str:
    """The UTF-8 text of a settings or scenario file, read up to :data:`MAX_FILE_BYTES`; SettingsFileError."""
    name = str(path)
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise SettingsFileError([f"{name}: cannot read: {exc.strerror or exc}"]) from None
    if len(data) > MAX_FILE_BYTES:
        raise SettingsFileError([f"{name}: larger than {MAX_FILE_BYTES >> 20} MiB; not a settings or scenario file"])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SettingsFileError([f"{name}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                                 f"{exc.start})"]) from None


class _GuardedLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and deep nesting, the two ways a small file becomes a huge document.

    An alias bomb is a few hundred bytes that expand to billions of nodes
    for any walk of the tree; a scenario has no need of ``*name``.
    """

    _depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not supported: write the value out",
                                              self.peek_event().start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep",
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def compose(text: str) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (with line marks) and its plain data; raises yaml.YAMLError."""
    loader = _GuardedLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()
    return root, data


def read_yaml(path: str | Path) -> tuple[Any, yaml.Node | None]:
    """The file's data and its node tree (for line numbers); SettingsFileError on I/O or syntax errors."""
    name = str(path)
    text = read_text(path)
    try:
        root, data = compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise SettingsFileError([f"{name}:{line}: YAML syntax: {exc.problem or exc.context}"]) from None
    except yaml.YAMLError as exc:
        raise SettingsFileError([f"{name}: YAML: {exc}"]) from None
    return data, root
