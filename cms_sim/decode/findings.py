"""The rules a readable message breaks: the decoder's expert info.

Wireshark decodes a Gate-Delete without Subscriber-ID, and so must we: some
gate controllers send one.  A message whose bytes can be read is therefore
always shown in full; what it does against RFC 2748's grammar or the DQoS
rules of docs/protocol.md is a :class:`Finding` (a warning line under the
message, a ``findings`` list in JSON), and ``cms-sim decode --strict`` turns
findings into exit status 1.  A CMTS is stricter: it answers the same missing
object with PacketCable-Error 6 (:func:`cops_core.dqos.decode_gate_command`).

Every check looks at one message alone: whether a reply answers a request of
the capture is a matter for ``cms-sim run``'s judge, which sees both.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable, NamedTuple

from cops_core.codes import ClientType, ReportType
from cops_core.dqos import GateClose, GateCommandReading, GateDelete, PacketCableReasonCode
from cops_core.dqos.codes import Direction, SessionClass
from cops_core.dqos.objects import GateSpec, PacketCableReason, TransactionID, UnknownPacketCableObject
from cops_core.errors import DecodeError
from cops_core.messages import Decision, KeepAlive, Message, Report
from cops_core.objects import ReportTypeObject, UnknownObject


class Rule(NamedTuple):
    """A rule a finding reports: a short stable name (what ``--filter finding=`` takes) and where it is written."""

    name: str
    section: str


FLAGS = Rule("header.flags", "protocol.md §2.1")
GRAMMAR = Rule("cops.grammar", "protocol.md §2.6")
UNKNOWN_OBJECT = Rule("cops.unknown-object", "protocol.md §2.4")
KA_CLIENT_TYPE = Rule("ka.client-type", "protocol.md §2.6")
RESERVED = Rule("reserved", "protocol.md §2.4, §3.3")
COMMAND_TYPE = Rule("dqos.command-type", "protocol.md §3.2")
CARRIER = Rule("dqos.carrier", "protocol.md §3.1, §3.2")
MISSING_OBJECT = Rule("dqos.missing-object", "protocol.md §3.4, §3.6")
EXTRA_OBJECT = Rule("dqos.extra-object", "protocol.md §3.4")
OBJECT_ORDER = Rule("dqos.object-order", "protocol.md §3.4")
REPORT_TYPE = Rule("dqos.report-type", "protocol.md §3.1")
REASON = Rule("dqos.reason", "protocol.md §3.3")
GATE_SPEC = Rule("dqos.gate-spec", "protocol.md §3.3, §3.6")
RULE_NAMES = tuple(rule.name for rule in (FLAGS, GRAMMAR, UNKNOWN_OBJECT, KA_CLIENT_TYPE, RESERVED, COMMAND_TYPE,
                                          CARRIER, MISSING_OBJECT, EXTRA_OBJECT, OBJECT_ORDER, REPORT_TYPE, REASON,
                                          GATE_SPEC))


class Finding(NamedTuple):
    """One rule one message breaks, and how."""

    rule: str
    text: str
    section: str  # where the rule is written: "protocol.md §3.4"

    def __str__(self) -> str:
        return f"{self.rule}: {self.text} ({self.section})"


def _finding(rule: Rule, text: str) -> Finding:
    return Finding(rule.name, text, rule.section)


Names = Callable[[type], str]
"""A PacketCable object class's name as the decoder shows it: ``GateSpec`` -> "Gate-Spec"."""


def check(message: Message, flags: int, reading: GateCommandReading | None, grammar: DecodeError | None,
          objects: tuple, names: Names) -> tuple[Finding, ...]:
    """Every finding about one message.

    ``flags`` are its header's flag bits, ``reading`` its gate command as
    read leniently, ``grammar`` the grammar fault its objects were read past,
    ``objects`` its object views (reserved fields among their fields).
    """
    found = []
    if flags & ~1:
        found.append(_finding(FLAGS, f"flags 0x{flags:x}: only 0x1 (solicited) is defined, the others must be 0"))
    if grammar is not None:
        found.append(_finding(GRAMMAR, grammar.reason))
    if type(message) is KeepAlive and message.client_type != ClientType.CONNECTION:
        found.append(_finding(KA_CLIENT_TYPE, f"client-type 0x{message.client_type:04x}; a Keep-Alive's is 0"))
    unknown = [f"{obj.cnum}/{obj.ctype}" for obj in message.objects if type(obj) is UnknownObject]
    if unknown:
        found.append(_finding(UNKNOWN_OBJECT, f"objects RFC 2748 does not define: C-Num/C-Type {', '.join(unknown)}"))
    found += _reserved(objects)
    if reading is not None:
        found += _gate_command(message, reading, lambda cls: f"{names(cls)} ({cls.SNUM}/{cls.STYPE})")
    return tuple(found)


def _reserved(objects: tuple) -> list[Finding]:
    """Reserved bytes that are not zero, in any object or PacketCable object."""
    found = []
    for obj in objects:
        for field in obj.fields:
            if field.key.startswith("reserved") and field.value:
                found.append(_finding(RESERVED, f"{obj.name}: reserved bytes {field.text}, not zero"))
        found += _reserved(obj.children or ())
    return found


def _gate_command(message: Message, reading: GateCommandReading, name: Names) -> list[Finding]:
    """The DQoS rules of protocol.md §3: the command's type, carrier, objects, order and codes."""
    command = reading.command
    if command is None:
        if reading.missing:
            return [_finding(MISSING_OBJECT, "no Transaction-ID, so no gate command; a CMTS answers "
                                             "PacketCable-Error 6, sub-code 0x0101")]
        tid = next(obj for obj in reading.objects if type(obj) is TransactionID)
        return [_finding(COMMAND_TYPE, f"Gate Command Type {tid.command} is not one of the 14 DQoS commands")]
    found = _carrier(message, command) + _report_type(message, command) + _missing(command, reading, name)
    found += _extra(command, name) + _order(command, reading, name) + _gate_specs(reading) + _reason(command)
    return found


def _carrier(message: Message, command) -> list[Finding]:
    """A gate controller's command travels in a DEC, a CMTS's reply or event in an RPT."""
    sent_by_gc = command.REPORT_TYPE is None
    if sent_by_gc == (type(message) is Decision):
        return []
    expected = "a DEC (gate controller to CMTS)" if sent_by_gc else "an RPT (CMTS to gate controller)"
    return [_finding(CARRIER, f"a {command.title} in {'a DEC' if type(message) is Decision else 'an RPT'}; "
                              f"it travels in {expected}")]


def _report_type(message: Message, command) -> list[Finding]:
    """An Ack travels in Report-Type Success, an Err in Failure; an event's is a setting (protocol.md §3.1)."""
    if type(message) is not Report or not command.SOLICITED:
        return []
    report_type = next((obj.report_type for obj in message.objects if type(obj) is ReportTypeObject), None)
    if report_type is None or report_type == command.REPORT_TYPE:
        return []  # no Report-Type at all is the grammar's finding
    expected = ReportType(command.REPORT_TYPE)
    return [_finding(REPORT_TYPE, f"Report-Type {report_type}; a {command.title} travels in Report-Type "
                                  f"{int(expected)} ({expected.name.lower()})")]


def _missing(command, reading: GateCommandReading, name: Names) -> list[Finding]:
    return [_finding(MISSING_OBJECT, f"{command.title} lacks its {name(cls)}; a CMTS answers "
                                     f"PacketCable-Error 6, sub-code 0x{cls.SNUM << 8 | cls.STYPE:04x}")
            for cls in reading.missing]


def _extra(command, name: Names) -> list[Finding]:
    """Objects the command does not carry: unknown S-Nums, other commands' objects, second copies."""
    if not command.extra:
        return []
    names = ", ".join(f"S-Num/S-Type {obj.snum}/{obj.stype}" if type(obj) is UnknownPacketCableObject
                      else name(type(obj)) for obj in command.extra)
    return [_finding(EXTRA_OBJECT, f"objects a {command.title} does not carry (or a second copy): {names}")]


def _order(command, reading: GateCommandReading, name: Names) -> list[Finding]:
    """The Transaction-ID first, then the objects in the order protocol.md §3.4 lists (receivers accept any)."""
    objects = reading.objects
    if type(objects[0]) is not TransactionID:
        return [_finding(OBJECT_ORDER, f"the Transaction-ID is not the first object but number "
                                       f"{[type(obj) for obj in objects].index(TransactionID) + 1}")]
    rank = {klass: rank for rank, (slot, _) in enumerate(type(command).ORDER) for klass in slot.classes}
    ranks = [rank[type(obj)] for obj in objects[1:] if type(obj) in rank]
    if ranks == sorted(ranks):
        return []
    order = ", ".join(name(type(obj)) for obj in objects if type(obj) in rank or type(obj) is TransactionID)
    return [_finding(OBJECT_ORDER, f"objects out of the order the reference lists: {order}")]


def _gate_specs(reading: GateCommandReading) -> list[Finding]:
    """Each Gate-Spec's direction and session class, and at most one per direction (protocol.md §3.6)."""
    specs = [obj for obj in reading.objects if type(obj) is GateSpec]
    found = []
    for number, spec in enumerate(specs, 1):
        if spec.direction not in Direction._value2member_map_:
            found.append(_finding(GATE_SPEC, f"Gate-Spec {number}: direction {spec.direction}, not 0 (downstream) "
                                             f"or 1 (upstream)"))
        if spec.session_class not in SessionClass._value2member_map_ or spec.session_class == SessionClass.RESERVED:
            found.append(_finding(GATE_SPEC, f"Gate-Spec {number}: session class {spec.session_class}, not 0, 1 or "
                                             f"2; a CMTS answers PacketCable-Error 3"))
    for direction, count in Counter(spec.direction for spec in specs).items():
        if count > 1:
            found.append(_finding(GATE_SPEC, f"{count} Gate-Specs for direction {direction}; one per direction"))
    return found


_REASON_CODES = {GateDelete: PacketCableReasonCode.GATE_DELETE, GateClose: PacketCableReasonCode.GATE_CLOSE}


def _reason(command) -> list[Finding]:
    """A Gate-Delete's PacketCable-Reason has code 0, a Gate-Close's code 1."""
    expected = _REASON_CODES.get(type(command))
    reason: PacketCableReason | None = getattr(command, "reason", None)
    if expected is None or reason is None or reason.code == expected:
        return []
    return [_finding(REASON, f"PacketCable-Reason code {reason.code}; a {command.title} carries code "
                             f"{int(expected)} ({expected.name.lower().replace('_', '-')})")]


