"""``reply:``: what an Ack must carry, field by field (a Gate-Info-Ack's Gate-Specs, Activity-Count ...).

Only the fields written are compared, so a scenario states exactly what it
cares about: ``reply: {gate_id: "${gate}"}`` proves a modification kept the
Gate-ID; ``reply: {gate_specs: [{token_bucket_rate: 3000}]}`` that the CMTS
took the new codec.  Values may be ``${var}``.  Names are checked when the
file loads, values when the reply comes: each is read as the field's wire
type (a float as the 32-bit float it travels as, an address as an address,
a Gate-Spec code such as the direction by name or number).
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Any, Mapping

from cops_core.dqos import GateSpec

from .values import VARIABLE, Template, declared

_SKIPPED = ("transaction_id", "extra")  # the controller matches the TID; extra holds objects it does not know
_FLOAT32 = struct.Struct("!f")
_CODES = {field.name: declared(field) for field in GateSpec.FIELDS if field.enum is not None}  # direction ...


def reply_fields(ack: type) -> tuple[str, ...]:
    """The fields of ``ack`` that ``reply:`` may name."""
    return tuple(name for name in ack._fields if name not in _SKIPPED)


def check_names(expected: Mapping[str, Any], ack: type) -> str | None:
    """What is wrong with the field names in ``expected`` for ``ack``, or None."""
    allowed = reply_fields(ack)
    for name, value in expected.items():
        if name not in allowed:
            return f"{ack.title} has no field {name!r}; it has: {', '.join(allowed)}"
        if name == "gate_specs":
            if not isinstance(value, list):
                return "gate_specs: expected a list, one mapping of Gate-Spec fields per Gate-Spec"
            for index, spec in enumerate(value):
                if not isinstance(spec, dict):
                    return f"gate_specs[{index}]: expected a mapping of Gate-Spec fields"
                unknown = sorted(set(spec) - set(GateSpec._fields))
                if unknown:
                    return (f"gate_specs[{index}]: a Gate-Spec has no field {unknown[0]!r}; "
                            f"it has: {', '.join(GateSpec._fields)}")
    return None


def templated(value: Any) -> Any:
    """``value`` with every string holding ``${var}`` made a :class:`Template` (read as text)."""
    if isinstance(value, str) and VARIABLE.search(value):
        return Template(value)
    if isinstance(value, dict):
        return {key: templated(item) for key, item in value.items()}
    if isinstance(value, list):
        return [templated(item) for item in value]
    return value


def mismatches(expected: Mapping[str, Any], reply, variables: Mapping[str, Any]) -> list[str]:
    """Each field of ``reply`` that differs from ``expected``: "gate_specs[1].rate is 10000, expected 12000"."""
    found = []
    for name, want in expected.items():
        have = getattr(reply, name)
        if name == "gate_specs":
            if len(have) < len(want):
                found.append(f"gate_specs has {len(have)} Gate-Spec(s), expected at least {len(want)}")
            for index, (spec_want, spec) in enumerate(zip(want, have)):
                found += [f"gate_specs[{index}].{problem}" for problem in mismatches(spec_want, spec, variables)]
        elif (problem := _differs(name, have, want, variables)) is not None:
            found.append(f"{name} {problem}")
    return found


def _differs(name: str, have: Any, want: Any, variables: Mapping[str, Any]) -> str | None:
    """None when ``have`` is ``want`` read as ``have``'s type; else "is X, expected Y"."""
    if isinstance(want, Template):
        want = _resolved(want, variables)
    if have is None:
        return f"is absent, expected {_shown(want)}"
    try:
        if name in _CODES:
            same = have == _CODES[name].parser(want)
        elif isinstance(have, float):
            same = have == _FLOAT32.unpack(_FLOAT32.pack(float(want)))[0]
        elif isinstance(have, int):
            same = have == (int(want, 0) if isinstance(want, str) else want)
        elif isinstance(have, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            same = have == ipaddress.ip_address(str(want))
        elif isinstance(have, bytes):
            same = have == bytes.fromhex(str(want))
        else:
            same = str(have) == str(want)
    except (ValueError, TypeError, struct.error):
        return f"is {_shown(have)}; expected {want!r}, which is not a value of this field"
    if same:
        return None
    if name == "gate_id" and isinstance(want, int):  # as on the ladder and in the reports
        return f"is 0x{have:08x}, expected 0x{want:08x}"
    return f"is {_shown(have)}, expected {_shown(want)}"


def _resolved(template: Template, variables: Mapping[str, Any]) -> Any:
    name = VARIABLE.fullmatch(template)
    if name and name.group(1) in variables:
        return variables[name.group(1)]
    return VARIABLE.sub(lambda m: str(variables[m.group(1)]), template)


def _shown(value: Any) -> str:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
