"""Read a scenario file and turn every mistake in it into one line: ``FILE:LINE: FIELD.PATH: what was expected``.

The YAML is composed into nodes first, which keep their line numbers; the
data built from them is validated by the pydantic models; each validation
error's location is then walked down the node tree to the line it names.
After that, checks pydantic cannot make: duplicate keys, and ``${name}``
references to variables that no ``variables:`` entry, earlier ``save:`` or
enclosing ``repeat`` defines.  All problems come back together in one
:class:`ScenarioError`, whose text is the whole message for the user.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, Iterator

import yaml
from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pktcable_settings import SettingsFileError, compose, read_text
from pktcable_settings import locate as _locate, yaml_path as _path

from .model import BUILTIN_VARIABLES, TAGS, RepeatParams, RepeatStep, SavingStep, Scenario, Step

from .values import Template, show


class ScenarioError(Exception):
    """A scenario file that cannot be used; ``problems`` holds one ``FILE:LINE: ...`` line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_scenario(path: str | Path) -> Scenario:
    """The scenario in ``path``; raises :class:`ScenarioError`."""
    try:
        text = read_text(path)
    except SettingsFileError as exc:
        raise ScenarioError(exc.lines) from None
    return parse_scenario(text, str(path))


def parse_scenario(text: str, filename: str = "<scenario>") -> Scenario:
    """The scenario in ``text`` (``filename`` names it in errors); raises :class:`ScenarioError`."""
    root, data = _compose(text, filename)
    problems = [f"{filename}:{line}: {path}: duplicate key" for line, path in _duplicate_keys(root, ())]
    if problems:
        raise ScenarioError(problems)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        problems = sorted((_problem(root, error) for error in exc.errors()), key=lambda problem: problem[0])
        raise ScenarioError([f"{filename}:{line}: {text}" for line, text in problems]) from None
    problems = []
    for name in scenario.requires.variables:
        if name not in scenario.variables:
            _, line, path = locate(root, ("requires", "variables", name))
            problems.append(f"{filename}:{line}: {path}: no such variable; requires: names variables that "
                            f"variables: declares, with the default the embedded CMTS takes")
    sites: list[tuple[int, str, Template]] = []
    defined = _check_variables(scenario.steps, ("steps",), set(scenario.variables) | set(BUILTIN_VARIABLES), root,
                               filename, problems, sites)
    # A finally: step may use what the steps save; if a failure came first, the runner skips it.
    _check_variables(scenario.cleanup, ("finally",), defined, root, filename, problems, sites)
    if problems:
        raise ScenarioError(problems)
    saved = defined - set(scenario.variables) - set(BUILTIN_VARIABLES)
    scenario._value_sites = [(line, path, template) for line, path, template in sites
                             if getattr(template, "field_type", None) is not None and not set(template.names) & saved]
    _attach_lines(scenario.steps, locate(root, ("steps",))[0])
    if scenario.cleanup:
        _attach_lines(scenario.cleanup, locate(root, ("finally",))[0])
    scenario._source = filename
    problems = check_values(scenario)
    if problems:
        raise ScenarioError(problems)
    return scenario


def _compose(text: str, filename: str) -> tuple[Node, Any]:
    """The document's node tree (with line marks) and the plain data built from it."""
    try:
        root, data = compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context
        if exc.context and exc.problem:
            what = f"{exc.problem} ({exc.context})"
        raise ScenarioError([f"{filename}:{mark.line + 1 if mark else 1}: YAML syntax: {what}"]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([f"{filename}:1: YAML: {exc}"]) from None
    if root is None:
        raise ScenarioError([f"{filename}:1: the file is empty; expected a scenario (name, description, steps)"])
    return root, data


def _duplicate_keys(node: Node, loc: tuple) -> Iterator[tuple[int, str]]:
    if isinstance(node, MappingNode):
        seen = set()
        for key, value in node.value:
            if isinstance(key, ScalarNode):
                if key.value in seen:
                    yield key.start_mark.line + 1, _path(loc + (key.value,))
                seen.add(key.value)
                yield from _duplicate_keys(value, loc + (key.value,))
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, loc + (index,))


# --- from a pydantic error location to a line ---------------------------------------------------------


def locate(root: Node, loc: tuple) -> tuple[Node, int, str]:
    """Where a validation-error location points in the file, skipping the scenario's union tags."""
    return _locate(root, loc, skip=TAGS)


_MAPPING_ERRORS = ("model_type", "model_attributes_type", "dict_type")
_OWN_MESSAGES = ("invalid_value", "step_action", "step_type", "save")


def _problem(root: Node, error: dict) -> tuple[int, str]:
    """(line, "FIELD.PATH: what was expected") for one pydantic error."""
    loc = tuple(error["loc"])
    _, line, path = locate(root, loc)
    kind, value = error["type"], error.get("input")
    if kind == "missing":
        message = "required field missing"
    elif kind == "extra_forbidden":
        allowed = allowed_keys(loc[:-1])
        message = "unknown field" + (f"; expected one of: {', '.join(allowed)}" if allowed else "")
    elif kind in _MAPPING_ERRORS:
        message = f"expected a mapping of fields, got {show(value)}"
    elif kind == "list_type":
        message = f"expected a list, got {show(value)}"
    else:
        message = error["msg"].removeprefix("Value error, ")
        if message.startswith("Input should be "):
            message = "expected " + message.removeprefix("Input should be ")
        if kind not in _OWN_MESSAGES and not isinstance(value, (dict, list)):
            message += f", got {show(value)}"
    return line, f"{path}: {message}" if path else message


def allowed_keys(loc: tuple) -> list[str]:
    """The field names of the model(s) at ``loc``, for an "unknown field" message."""
    candidates: list = [Scenario]
    for segment in loc:
        found = [child for candidate in candidates for child in _children(candidate, segment)]
        candidates = found or candidates  # nothing matched: a union tag, which does not move us
    names: dict[str, None] = {}
    for candidate in candidates:
        for model in _models(candidate):
            names.update(dict.fromkeys(model.model_fields))
    return list(names)


def _children(annotation, segment) -> list:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _children(args[0], segment)
    if origin in (typing.Union, types.UnionType):
        chosen = [member for member in args if _is_tagged(member, segment)]
        return chosen or [child for member in args for child in _children(member, segment)]
    if origin is list:
        return [args[0]] if isinstance(segment, int) else []
    if origin is dict:
        return [args[1]] if isinstance(segment, str) else []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and segment in annotation.model_fields:
        return [annotation.model_fields[segment].annotation]
    return []


def _is_tagged(member, segment) -> bool:
    """Is ``member`` the union branch that pydantic names ``segment`` (a Tag, or a Literal discriminator value)?"""
    if typing.get_origin(member) is typing.Annotated:
        if any(getattr(meta, "tag", None) == segment for meta in typing.get_args(member)[1:]):
            return True
        member = typing.get_args(member)[0]
    if isinstance(member, type) and issubclass(member, BaseModel):
        return any(segment in typing.get_args(field.annotation)
                   for field in member.model_fields.values() if typing.get_origin(field.annotation) is typing.Literal)
    return False


def _models(annotation) -> list[type[BaseModel]]:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _models(args[0])
    if origin in (typing.Union, types.UnionType):
        return [model for member in args for model in _models(member)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


# --- variables and lines ------------------------------------------------------------------------------------


def _templates(value: Any, loc: tuple, explicit: bool) -> Iterator[tuple[tuple, Template, bool]]:
    """Every template in a step (repeat bodies excepted): its location, and whether the file wrote it."""
    if isinstance(value, Template):
        yield loc, value, explicit
    elif isinstance(value, BaseModel):
        written = value.model_fields_set
        for name in type(value).model_fields:
            if not (isinstance(value, RepeatParams) and name == "steps"):
                yield from _templates(getattr(value, name), loc + (name,), explicit and name in written)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _templates(item, loc + (index,), explicit)
    elif isinstance(value, dict):  # reply: {field: value}
        for key, item in value.items():
            yield from _templates(item, loc + (key,), explicit)


def _check_variables(steps: list[Step], loc: tuple, defined: set[str], root: Node, filename: str,
                     problems: list[str], sites: list[tuple[int, str, Template]]) -> set[str]:
    """Report ``${name}`` references to names not defined before their step; returns the names defined after.

    Every template goes into ``sites`` with its line and path, for :func:`check_values`.
    """
    defined = set(defined)
    for index, step in enumerate(steps):
        for where, template, explicit in _templates(step, loc + (index,), True):
            _, line, path = locate(root, where)
            sites.append((line, path, template))
            for name in template.names:
                if name not in defined:
                    _, line, path = locate(root, where)
                    known = ", ".join(sorted(defined - set(BUILTIN_VARIABLES))) or "none"
                    origin = "" if explicit else " (this field's default; set the field or define the variable)"
                    problems.append(f"{filename}:{line}: {path}: unknown variable ${{{name}}}{origin}; "
                                    f"defined here: {known}")
        if isinstance(step, RepeatStep):
            inner = _check_variables(step.repeat.steps, loc + (index, "repeat", "steps"), defined | {"iteration"},
                                     root, filename, problems, sites)
            defined |= inner - {"iteration"}
        if isinstance(step, SavingStep):
            defined |= set(step.save)
    return defined


def check_values(scenario: Scenario, overrides: dict[str, Any] | None = None) -> list[str]:
    """Each field whose ``${var}`` gets a value the field does not take, from the defaults or ``overrides``.

    Only variables known before the run (not what steps save) are checked,
    so a bad ``--var subscriber=...`` is refused before anything is sent.
    """
    variables = {**BUILTIN_VARIABLES, "iteration": 1, **scenario.variables, **(overrides or {})}
    problems: list[str] = []
    by_option: dict[str, list[str]] = {}  # a bad --var is one line, however many fields use it
    for line, path, template in scenario._value_sites:
        try:
            template.resolve(variables)
        except ValueError as exc:
            given = [name for name in template.names if name in (overrides or {})]
            problem = f"{scenario.source}:{line}: {path}: {exc}"
            if given:
                by_option.setdefault(given[0], []).append(problem)
            else:
                problems.append(problem)
    for name, found in by_option.items():
        more = f" (and {len(found) - 1} more field(s))" if len(found) > 1 else ""
        problems.append(f"--var {name}: {found[0]}{more}")
    return problems


def _attach_lines(steps: list[Step], node: Node) -> None:
    for step, item in zip(steps, node.value, strict=True):
        step._line = item.start_mark.line + 1
        if isinstance(step, RepeatStep):
            _attach_lines(step.repeat.steps, locate(item, ("repeat", "steps"))[0])
