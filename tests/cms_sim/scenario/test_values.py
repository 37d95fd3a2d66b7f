"""Resolving ``${var}`` templates: the value each field type parses, however often the same value comes."""

from __future__ import annotations

import pytest

from cms_sim.scenario.values import UINT8, UINT32, UnsetVariable


def test_templates_of_one_type_resolving_one_value_give_its_parse_and_refuse_another_value_as_before():
    reserve, commit = UINT32.template("${gate}"), UINT32.template("${gate}")
    gate = 0x10002
    assert reserve.resolve({"gate": gate}) == commit.resolve({"gate": gate}) == gate
    assert commit.resolve({"gate": "0x10"}) == 16  # another value: parsed, not the last one's
    with pytest.raises(ValueError, match=r"expected an integer from 0 to 4294967295.*\$\{gate\} = -1"):
        reserve.resolve({"gate": -1})
    with pytest.raises(UnsetVariable):
        reserve.resolve({})


def test_a_value_one_type_took_is_still_refused_by_another():
    number = 300
    assert UINT32.template("${n}").resolve({"n": number}) == 300
    with pytest.raises(ValueError, match="expected an integer from 0 to 255"):
        UINT8.template("${n}").resolve({"n": number})
    with pytest.raises(ValueError, match="expected an integer from 0 to 255"):
        UINT8.template("${n}").resolve({"n": number})  # a refusal is not kept either
