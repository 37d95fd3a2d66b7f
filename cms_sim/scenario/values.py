"""Scalar field types of scenario files: durations, integers, addresses, code names, and ``${var}`` templates.

A scenario field may hold ``${gate}``, a value only known when an earlier
step has run, so a field is checked twice: when the file loads (a literal
must already be valid; a template only needs known variable names, which the
loader checks) and when the step runs (the substituted value must be valid).
A :class:`FieldType` does both with one parser and gives one message saying
what was expected, instead of pydantic's one error per union member.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Annotated, Any, Callable, Mapping

from pydantic import PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from cops_core.fields import IPV4, Field

VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
TEMPLATE_PATTERN = r".*\$\{[A-Za-z_][A-Za-z0-9_]*\}.*"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(us|ms|s|m|h)?\s*$")
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


class UnsetVariable(ValueError):
    """A template names a variable that has no value (yet): an earlier step that saves it did not run."""

    def __init__(self, name: str) -> None:
        super().__init__(f"variable ${{{name}}} is not set")
        self.name = name


class Template(str):
    """A field value with ``${name}`` references, resolved against the variables when its step runs."""

    field_type: "FieldType"

    @classmethod
    def __get_pydantic_core_schema__(cls, source, handler):
        """Serialize as the text it is (JSON Schema defaults such as ``${subscriber}``)."""
        return handler(str)

    @functools.cached_property
    def names(self) -> list[str]:
        return VARIABLE.findall(self)

    @functools.cached_property
    def _whole(self) -> str | None:
        """The variable's name when the template is just ``${name}``."""
        whole = VARIABLE.fullmatch(self)
        return whole.group(1) if whole else None

    def resolve(self, variables: Mapping[str, Any]) -> Any:
        """The field's value: a lone ``${name}`` keeps the variable's type; otherwise text substitution.

        Raises ValueError for an unset variable or a value the field does not take.
        """
        # Under load this runs for every field of every call: the names are parsed once per template.
        name = self._whole
        if name is not None and name in variables:
            value = variables[name]
        else:
            missing = [name for name in self.names if name not in variables]
            if missing:
                raise UnsetVariable(missing[0])
            value = VARIABLE.sub(lambda m: str(variables[m.group(1)]), self)
        # Under load nearly every value is one the parser would return as it is (a saved Gate-ID, a subscriber
        # address): taken here without the two calls into the parser, ten times a call.
        field_type = self.field_type
        if type(value) in field_type.kept:
            low = field_type.low
            if low is None or low <= value <= field_type.high:
                return value
        return field_type.parse(value, template=self)


def resolve(value: Any, variables: Mapping[str, Any]) -> Any:
    """``value`` itself, or a :class:`Template`'s value."""
    return value.resolve(variables) if isinstance(value, Template) else value


class FieldType:
    """A scalar field: ``parser`` turns input into the value or raises ValueError; ``expected`` names it for humans."""

    def __init__(self, expected: str, parser: Callable[[Any], Any], json_schema: dict, *, kept: tuple[type, ...] = (),
                 low: Any = None, high: Any = None) -> None:
        self.expected = expected
        self.parser = parser
        # Values ``parser`` returns as they are (equal, of the same type): of exactly a type in ``kept``, and from
        # ``low`` to ``high`` if a range is given.  Template.resolve takes them without calling it.
        self.kept, self.low, self.high = kept, low, high
        #: the annotation for a field that takes literals only
        self.plain = Annotated[Any, PlainValidator(lambda v: self._validate(v, False)), WithJsonSchema(json_schema)]
        #: the annotation for a field that also takes ``${var}`` templates
        either = {"anyOf": [json_schema, {"type": "string", "pattern": TEMPLATE_PATTERN}]}
        self.templated = Annotated[Any, PlainValidator(lambda v: self._validate(v, True)), WithJsonSchema(either)]

    def parse(self, value: Any, template: str | None = None) -> Any:
        """The value, or ValueError saying what was expected (and the template it came from, if any)."""
        try:
            return self.parser(value)
        except (ValueError, TypeError):
            shown = f"{template} = {value!r}" if template is not None else show(value)
            raise ValueError(f"expected {self.expected}, got {shown}") from None

    def template(self, text: str) -> Template:
        template = Template(text)
        template.field_type = self
        return template

    def _validate(self, value: Any, templated: bool) -> Any:
        if templated and isinstance(value, str) and VARIABLE.search(value):
            return self.template(value)
        try:
            return self.parser(value)
        except (ValueError, TypeError):
            expected = f"{self.expected} or ${{variable}}" if templated else self.expected
            raise PydanticCustomError("invalid_value", "expected {expected}, got {got}",
                                      {"expected": expected, "got": show(value)}) from None


def show(value: Any) -> str:
    """A value as an error message quotes it: repr, cut at 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


MAX_DURATION = 7 * 24 * 3600.0
"""A week: longer than any soak; a hold of .inf or 1e300 s is a typo that would never end."""


def parse_duration(value: Any) -> float:
    """Seconds from ``50ms``, ``2s``, ``1.5`` (seconds), ``500us``, ``2m``, ``1h`` or a number, up to a week."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a duration")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise ValueError(f"not a duration: {value!r}")
    if not 0 <= seconds <= MAX_DURATION:  # also refuses NaN, which compares false both ways
        raise ValueError(f"not a duration from 0 to a week: {value!r}")
    return seconds


def _int_parser(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise TypeError("a boolean is not an integer")
        number = int(value, 0) if isinstance(value, str) else value
        if not isinstance(number, int) or not low <= number <= high:
            raise ValueError(value)
        return number

    return parse


def _integer(expected: str, low: int, high: int) -> FieldType:
    return FieldType(expected, _int_parser(low, high), {"type": "integer", "minimum": low, "maximum": high},
                     kept=(int,), low=low, high=high)


# Under load the same few address strings (the far end, a profile's defaults) are parsed for every call:
# parse each once.  Address objects pass through as they are.
_parse_ip = functools.lru_cache(maxsize=4096)(ipaddress.ip_address)
_parse_ipv4 = functools.lru_cache(maxsize=4096)(ipaddress.IPv4Address)


def _ip(value: Any):
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return value
    if not isinstance(value, str):
        raise TypeError(value)
    return _parse_ip(value)


def _ipv4(value: Any) -> ipaddress.IPv4Address:
    if isinstance(value, ipaddress.IPv4Address):
        return value
    if not isinstance(value, str):
        raise TypeError(value)
    return _parse_ipv4(value)


def named_code(enum: type, expected: str, high: int = 0xFFFF) -> FieldType:
    """An IntEnum value given by number (up to ``high``) or by member name (any case, ``-`` for ``_``)."""
    names = [member.name.lower() for member in enum]
    number = _int_parser(0, high)

    def parse(value: Any) -> int:
        if isinstance(value, str) and not value.strip().isdigit():
            return enum[value.strip().upper().replace("-", "_")]
        return number(value)

    def lookup(value: Any) -> int:
        try:
            return parse(value)
        except KeyError:
            raise ValueError(value) from None

    schema = {"anyOf": [{"type": "string", "enum": names}, {"type": "integer", "minimum": 0, "maximum": high}]}
    return FieldType(f"{expected} ({', '.join(names)}) or a number", lookup, schema, kept=(int,), low=0, high=high)


DURATION = FieldType("a duration such as 50ms, 2s or 1.5 (up to 168h)", parse_duration,
                     {"anyOf": [{"type": "number", "minimum": 0},
                                {"type": "string", "pattern": _DURATION.pattern}]},
                     kept=(float,), low=0.0, high=MAX_DURATION)
REPEAT_COUNT = _integer("a whole number from 1", 1, 1_000_000_000)
UINT16 = _integer("an integer from 0 to 65535", 0, 0xFFFF)
UINT8 = _integer("an integer from 0 to 255", 0, 0xFF)
UINT32 = _integer("an integer from 0 to 4294967295 (0x prefix for hex)", 0, 0xFFFFFFFF)
IP_ADDRESS = FieldType("an IPv4 or IPv6 address", _ip, {"type": "string"},
                       kept=(ipaddress.IPv4Address, ipaddress.IPv6Address))
IPV4_ADDRESS = FieldType("an IPv4 address", _ipv4, {"type": "string"}, kept=(ipaddress.IPv4Address,))


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    return float(value)


NUMBER = FieldType("a number", _number, {"type": "number"}, kept=(float,))


_INTEGERS = {"B": UINT8, "H": UINT16, "I": UINT32}


def declared(field: Field) -> FieldType:
    """The type of a scenario field that carries a declared wire field (:mod:`cops_core.fields`).

    A code by its enum's names or by number, an IPv4 address, a number for a
    float, an integer as wide as the field.
    """
    if field.enum is not None:
        return named_code(field.enum, f"a {field.label.lower()}", (1 << 8 * field.size) - 1)
    if field.conv is IPV4:
        return IPV4_ADDRESS
    if field.type is float:
        return NUMBER
    return _INTEGERS[field.wire]
