"""``cms-sim decode --filter FIELD=VALUE``: keep the messages a field picks out, like a display filter.

A filter is one or more expressions, all of which a message must meet
(``--filter gate_command=Gate-Set --filter subscriber=10.0.1.10``).  The
fields are the keys the JSON output has at the top level of each message:

  opcode          DEC, RPT, KA ...
  gate_command    Gate-Set, gate-set-ack (any case; "_" or "-")
  gate_id         0x0000a001 or 40961
  transaction_id  0x1234 or 4660
  subscriber      10.0.1.10
  error           the PacketCable-Error code of a Gate-*-Err: 4
  finding         a rule the message breaks: dqos.missing-object
  peer            either end of a captured message: 10.0.0.1 or 10.0.0.1:2126

A bad expression (no "=", an unknown field, a value the field cannot hold)
is a :class:`FilterError` with one line saying why.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Callable, NamedTuple

from cops_core.codes import OpCode
from cops_core.dqos import GateCommandType

from . import findings
from .dissect import MessageView
from .inputs import Origin


class FilterError(ValueError):
    """An expression that is not FIELD=VALUE with a known field and a value it can hold."""


def _opcode(text: str) -> str:
    if text.upper() not in OpCode.__members__:
        raise FilterError(f"not an op-code: {text!r} (one of {', '.join(OpCode.__members__)})")
    return text.upper()


_COMMANDS = {command.title.lower(): command.title for command in GateCommandType}


def _gate_command(text: str) -> str:
    title = _COMMANDS.get(text.lower().replace("_", "-").replace(" ", "-"))
    if title is None:
        raise FilterError(f"not a gate command: {text!r} (Gate-Alloc, Gate-Set-Ack, ... Gate-Close)")
    return title


def _number(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise FilterError(f"not a number: {text!r} (decimal, or hex with 0x)") from None


def _address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise FilterError(f"not an IP address: {text!r}") from None


def _rule(text: str) -> str:
    if text not in findings.RULE_NAMES:
        raise FilterError(f"not a finding's rule: {text!r} (one of {', '.join(findings.RULE_NAMES)})")
    return text


def _peer(text: str) -> str:
    """An address, or an endpoint as captures show it: 10.0.0.1:2126, [2001:db8::1]:2126."""
    host, colon, port = text.rpartition(":")
    if colon and port.isdigit() and host.startswith("[") and host.endswith("]"):
        return f"[{_address(host[1:-1])}]:{port}"
    if colon and port.isdigit() and host and ":" not in host:
        return f"{_address(host)}:{port}"
    return _address(text)


def _peers(view: MessageView, origin: Origin | None) -> set[str]:
    """Both ends of a captured message, as endpoints and as bare addresses."""
    if origin is None:
        return set()
    ends = {origin.src, origin.dst}
    return ends | {end.rpartition(":")[0].strip("[]") for end in ends}


Getter = Callable[[MessageView, "Origin | None"], set]


def _one(read: Callable[[MessageView], Any]) -> Getter:
    """A field with at most one value per message."""
    return lambda view, origin: set() if read(view) is None else {read(view)}


FIELDS: dict[str, tuple[Callable[[str], Any], Getter]] = {
    "opcode": (_opcode, _one(lambda view: view.opcode.name)),
    "gate_command": (_gate_command, _one(lambda view: view.gate_command)),
    "gate_id": (_number, _one(lambda view: view.gate_id)),
    "transaction_id": (_number, _one(lambda view: view.transaction_id)),
    "subscriber": (_address, _one(lambda view: view.subscriber)),
    "error": (_number, _one(lambda view: view.pc_error)),
    "finding": (_rule, lambda view, origin: {finding.rule for finding in view.findings}),
    "peer": (_peer, _peers),
}


class Condition(NamedTuple):
    """One FIELD=VALUE: a message meets it if the field has that value."""

    field: str
    value: Any

    def met(self, view: MessageView, origin: Origin | None) -> bool:
        return self.value in FIELDS[self.field][1](view, origin)


def parse(expression: str) -> Condition:
    """FIELD=VALUE as a :class:`Condition`; raises :class:`FilterError` saying what is wrong."""
    field, equals, value = expression.partition("=")
    field, value = field.strip(), value.strip()
    if not equals or not field or not value:
        raise FilterError(f"expected FIELD=VALUE, e.g. gate_command=Gate-Set (fields: {', '.join(FIELDS)})")
    if field not in FIELDS:
        raise FilterError(f"no field {field!r} (fields: {', '.join(FIELDS)})")
    return Condition(field, FIELDS[field][0](value))


def keeps(conditions: list[Condition], view: MessageView, origin: Origin | None) -> bool:
    """Whether a message meets every condition (no conditions: every message)."""
    return all(condition.met(view, origin) for condition in conditions)
