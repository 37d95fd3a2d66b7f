"""Resolving ``${var}`` templates: a lone variable's value is what its field type's parser makes of it."""

from __future__ import annotations

import ipaddress
import math

import pytest

from cms_sim.scenario import model, values
from cms_sim.scenario.values import UINT32, FieldType, UnsetVariable

FIELD_TYPES = sorted({name: value for module in (values, model) for name, value in vars(module).items()
                      if isinstance(value, FieldType)}.items())
SAMPLES = [0, 1, -1, 255, 256, 65535, 65536, 2**32 - 1, 2**32, True, 0.0, -0.0, 1.5, -2.0, 7 * 24 * 3600.0 + 1,
           math.inf, math.nan, "7", "0x10", "2s", "gate_delete", ipaddress.IPv4Address("10.0.0.1"),
           ipaddress.IPv6Address("2001:db8::1"), None]


@pytest.mark.parametrize("name, field_type", FIELD_TYPES, ids=[name for name, _ in FIELD_TYPES])
def test_a_templates_value_is_its_parse_whether_or_not_the_type_keeps_it_as_it_is(name, field_type):
    template = field_type.template("${v}")
    for value in SAMPLES:
        try:
            expected = field_type.parser(value)
        except (ValueError, TypeError):
            with pytest.raises(ValueError, match=r"\$\{v\} = "):
                template.resolve({"v": value})
            continue
        got = template.resolve({"v": value})
        assert type(got) is type(expected) and (got == expected or got != got and expected != expected), value
        if type(value) in field_type.kept:
            assert got is value or got != got  # kept: the value itself


def test_an_unset_variable_is_said_so():
    with pytest.raises(UnsetVariable):
        UINT32.template("${gate}").resolve({})
