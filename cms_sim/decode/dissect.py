"""What every COPS and PacketCable field means: spec names, enum names, units and hex.

:func:`dissect` turns one COPS frame into a :class:`MessageView`, a plain tree
of objects and fields that the renderers read (``tree`` for people, ``jsonview``
for scripts, ``summary`` one line each), so they always agree.  Decoding itself
is the codec's job (:func:`cops_core.decode_message`,
:func:`cops_core.dqos.read_gate_command`); this module names and formats what
the codec returns, reserved bytes included, and :mod:`.findings` judges it.
What an object and its fields are called, their units, codes and bytes come
from the object's declarations (:mod:`cops_core.fields`), as do the JSON
field names; the formatters here say how each kind of field reads.

Reading is lenient where the wire allows it: a message whose objects can all
be read but that breaks a grammar or a DQoS rule is shown in full, with
findings, as Wireshark shows it; only bytes that cannot be read raise.
"""

from __future__ import annotations

import functools
import math
import struct
from enum import Enum, IntEnum, IntFlag
from ipaddress import IPv4Address, IPv6Address
from typing import Any, Callable, NamedTuple

from cops_core import codes, objects as cops
from cops_core.codes import HEADER_SIZE, OPCODE_TITLES, VERSION, ClientType, OpCode
from cops_core.dqos import codes as pc_codes, objects as pc
from cops_core.dqos import GateCommandReading, read_gate_command
from cops_core.errors import DecodeError, PacketCableDecodeError
from cops_core.fields import IPV4, IPV6, TEXT
from cops_core.fields import Field as FieldDeclaration
from cops_core.messages import HEADER, MESSAGE_CLASSES, Decision, Message, Report, decode_header, decode_message
from cops_core.wire import OBJECT_HEADER, walk

from . import findings as rules
from .descriptions import describe, dscp_name

CLIENT_TYPE_NAMES = {
    ClientType.CONNECTION: "Connection",
    ClientType.RSVP: "RSVP",
    ClientType.COPS_PR: "COPS-PR",
    ClientType.PACKETCABLE_DQOS: "PacketCable DQoS",
    ClientType.THREEGPP_GO: "3GPP Go",
    ClientType.PACKETCABLE_MM: "PacketCable Multimedia",
}


class Field(NamedTuple):
    """One decoded field: ``key`` is the codec's field name, ``label`` the spec's."""

    key: str
    label: str
    value: Any  # JSON-ready: int, float, str or bool
    text: str  # how people read it: "Success (1)", "0x0000a001", "250 s"
    name: str | None = None  # the enum or flag name(s), when the value is a code
    offset: int = 0  # where its bytes start, from the start of the message
    size: int = 0  # how many bytes it takes


class ObjectView(NamedTuple):
    """One object: a COPS object (``layer`` "C") or a PacketCable object nested in its carrier ("S")."""

    layer: str
    num: int
    type: int
    name: str
    offset: int  # from the start of the message
    length: int  # the object's Length field
    fields: tuple[Field, ...]
    children: tuple["ObjectView", ...] | None = None  # PacketCable objects, for a DQoS carrier


class MessageView(NamedTuple):
    """One decoded message, the keys it is looked up by, and the rules it breaks.

    ``error`` is a DQoS payload that could not be read (the COPS layer itself
    was sound); ``findings`` are rules a readable message breaks.
    """

    opcode: OpCode
    client_type: int
    flags: int  # the common header's four flag bits: 0x1 solicited, the others undefined
    length: int
    header: tuple[Field, ...]  # the common header, field by field
    objects: tuple[ObjectView, ...]
    gate_command: str | None = None
    transaction_id: int | None = None
    gate_id: int | None = None
    subscriber: str | None = None
    pc_error: int | None = None  # the PacketCable-Error code of a Gate-*-Err
    findings: tuple[rules.Finding, ...] = ()
    error: PacketCableDecodeError | None = None

    @property
    def solicited(self) -> bool:
        return bool(self.flags & 1)

    @property
    def title(self) -> str:
        return f"{OPCODE_TITLES[self.opcode]} ({self.opcode.name})"

    @property
    def client_type_name(self) -> str:
        return CLIENT_TYPE_NAMES.get(self.client_type, "unknown")


# --- value formatters: (object, value) -> Shown ---------------------------------------


class Shown(NamedTuple):
    """What a formatter makes of one value; becomes a :class:`Field`."""

    value: Any
    text: str
    name: str | None = None


Formatter = Callable[[Any, Any], Shown]
_WORDS = {"pdp": "PDP", "lpdp": "LPDP", "cops": "COPS", "pep": "PEP", "docsis": "DOCSIS", "mac": "MAC", "id": "ID",
          "t0": "T0", "t1": "T1", "t7": "T7", "t8": "T8", "starttls": "StartTLS"}


def code_name(member: Enum) -> str:
    """An enum member as the specs write it: ``BAD_MESSAGE_FORMAT`` -> "Bad message format"."""
    title = getattr(member, "title", None)  # gate commands spell themselves: "Gate-Set"
    if isinstance(title, str):
        return title
    words = [_WORDS.get(word, word) for word in member.name.lower().split("_")]
    text = " ".join(words)
    return text[0].upper() + text[1:]


def _plain(obj, value) -> Shown:
    return Shown(value, str(value))


def _unit(suffix: str) -> Formatter:
    return lambda obj, value: Shown(value, f"{value} {suffix}")


def _hex(digits: int) -> Formatter:
    return lambda obj, value: Shown(value, f"0x{value:0{digits}x}")


def _hex_and_decimal(digits: int) -> Formatter:
    return lambda obj, value: Shown(value, f"0x{value:0{digits}x} ({value})")


def _bytes(obj, value: bytes) -> Shown:
    return Shown(value.hex(), "0x" + value.hex() if value else "(empty)")


def _address(obj, value: IPv4Address | IPv6Address) -> Shown:
    return Shown(str(value), str(value))


def _text(obj, value: str) -> Shown:
    return Shown(value, value if value.isprintable() else repr(value))


def _quoted(obj, value: str) -> Shown:
    """Fixed-width text, quoted so its padding shows."""
    return Shown(value, repr(value))


def _float32(unit: str) -> Formatter:
    """An IEEE-754 single in ``unit``, as the shortest decimal that reads back the same: 0.1, not 0.10000000149011612.

    The Gate-Spec's rates and sizes are singles; their units are UNVERIFIED
    (protocol.md §3.3), shown as cmts-sim reads them by default (bytes).
    """
    def show(obj, value: float) -> Shown:
        if not math.isfinite(value):
            return Shown(str(value), f"{value} {unit}")  # JSON has no NaN or infinity
        for digits in range(1, 10):  # 9 significant digits always round-trip a single
            number = float(f"{value:.{digits}g}")
            try:
                if struct.unpack("!f", struct.pack("!f", number))[0] == value:
                    break
            except OverflowError:  # rounded up past the largest single
                continue
        return Shown(number, f"{number!r} {unit}")

    return show


def _enum(enum: type[IntEnum]) -> Formatter:
    """A code as "Name (value)", followed by what it means when the name does not say it all."""
    def show(obj, value: int) -> Shown:
        member = enum._value2member_map_.get(value)
        name = code_name(member) if member is not None else "unknown"
        meaning = describe(member) if member is not None else None
        return Shown(value, f"{name} ({value})" + (f" — {meaning}" if meaning else ""), name)

    return show


def _flags(flags: type[IntFlag], digits: int) -> Formatter:
    """Flag bits as "0x0001 (Trigger error — what it does)": each set bit, and any bit no flag defines."""
    def show(obj, value: int) -> Shown:
        names = [code_name(flag) for flag in flags if value & flag]
        texts = [f"{code_name(flag)} — {describe(flag)}" if describe(flag) else code_name(flag)
                 for flag in flags if value & flag]
        undefined = value & ~sum(flags)
        if undefined:
            names.append(f"unknown 0x{undefined:0{digits}x}")
            texts.append(f"undefined 0x{undefined:0{digits}x}")
        return Shown(value, f"0x{value:0{digits}x} ({'; '.join(texts) or 'none'})", ", ".join(names) or "none")

    return show


def _object_subcode(obj, value: int) -> Shown:
    """A sub-code that, for some codes, names an object: C-Num/C-Type (COPS) or S-Num/S-Type (PacketCable)."""
    text = f"0x{value:04x}"
    names_object = {
        cops.Error: obj.code == codes.ErrorCode.UNKNOWN_COPS_OBJECT,
        cops.Reason: obj.code == codes.ReasonCode.UNKNOWN_COPS_OBJECT_FROM_PDP,
        pc.PacketCableError: obj.code in (pc_codes.PacketCableErrorCode.MISSING_REQUIRED_OBJECT,
                                          pc_codes.PacketCableErrorCode.INVALID_OBJECT),
    }[type(obj)]
    if names_object and value:
        packetcable = type(obj) is pc.PacketCableError
        registry, layer = (pc.PACKETCABLE_OBJECTS, "S") if packetcable else (cops.COPS_OBJECTS, "C")
        cls = registry.get(value >> 8, value & 0xFF)
        name = cls.LABEL if cls else "unknown object"
        text += f" ({name} {layer}-Num/{layer}-Type {value >> 8}/{value & 0xFF})"
    return Shown(value, text)


def _reason_subcode(obj: pc.PacketCableReason, value: int) -> Shown:
    """PacketCable-Reason sub-codes come from the Gate-Delete or the Gate-Close list, as the code says."""
    lists = {pc_codes.PacketCableReasonCode.GATE_DELETE: pc_codes.GateDeleteSubcode,
             pc_codes.PacketCableReasonCode.GATE_CLOSE: pc_codes.GateCloseSubcode}
    enum = lists.get(obj.code)
    return _enum(enum)(obj, value) if enum else Shown(value, str(value))


def _wildcard(formatter: Formatter) -> Formatter:
    """Gate-Spec source address and port: 0 matches anything (protocol.md 3.3)."""
    def show(obj, value) -> Shown:
        shown = formatter(obj, value)
        return shown._replace(text=shown.text + " (any)") if not int(value) else shown

    return show


def _ds_field(obj, value: int) -> Shown:
    """The DS byte, with the DSCP it carries and that code point's name: 0xb8 is DSCP 46, EF."""
    return Shown(value, f"0x{value:02x} (DSCP {value >> 2}, {dscp_name(value)})")


_PROTOCOLS = {0: "any", 1: "ICMP", 6: "TCP", 17: "UDP"}


def _protocol(obj, value: int) -> Shown:
    name = _PROTOCOLS.get(value, "unknown")
    return Shown(value, f"{name} ({value})", name)


# --- how each declared field reads ------------------------------------------------------


def _formatter(field: FieldDeclaration) -> Formatter:
    """How ``field`` reads, from its declaration: its ``show`` hint, else its enum, conversion, wire type and unit."""
    if field.show == "hex":
        return _hex(2 * field.size)
    if field.show == "hex+decimal":
        return _hex_and_decimal(2 * field.size)
    if field.show == "wildcard":
        return _wildcard(_by_type(field))
    return _SHOWN.get(field.show) or _by_type(field)


_SHOWN: dict[str | None, Formatter] = {"dscp": _ds_field, "protocol": _protocol, "object-subcode": _object_subcode,
                                       "reason-subcode": _reason_subcode, "text": _text}


def _by_type(field: FieldDeclaration) -> Formatter:
    if field.enum is not None:
        return _flags(field.enum, 2 * field.size) if issubclass(field.enum, IntFlag) else _enum(field.enum)
    if field.conv in (IPV4, IPV6):
        return _address
    if field.conv is TEXT:
        return _quoted
    if field.type is bytes:
        return _bytes
    if field.type is float:
        return _float32(field.unit)
    return _unit(field.unit) if field.unit else _plain


_DATA = (FieldDeclaration("", "Data", name="data"),)  # an unknown object's body: all the decoder can show


@functools.cache
def _fields_of(cls: type) -> tuple[tuple[FieldDeclaration, Formatter | None], ...]:
    """Each declared field of ``cls`` (reserved bytes included, with no formatter) and how it reads."""
    fields = getattr(cls, "FIELDS", _DATA)
    return tuple((field, None if field.reserved else _formatter(field)) for field in fields)


# --- building the view -----------------------------------------------------------------------------


def dissect(frame: bytes) -> MessageView:
    """Decode and describe one whole COPS message; raises :class:`DecodeError` only if it cannot be read.

    In a DQoS DEC or RPT, the carrier of the gate command (Decision 6/4 or
    ClientSI 9/1) gets its PacketCable objects as children.  A payload whose
    objects cannot be read does not raise: it is shown as bytes, with
    ``MessageView.error`` saying why.
    """
    message, grammar = _read_message(frame)
    carrier_type = _carrier_type(message)
    views = []
    reading = error = None
    for obj, (offset, length) in zip(message.objects, _spans(frame, HEADER_SIZE, len(frame), aligned=True)):
        children = None
        if type(obj) is carrier_type:
            try:
                found = read_gate_command(obj.data, offset + 4)
            except PacketCableDecodeError as exc:
                error = error or exc  # shown as bytes: the objects cannot be walked
            else:
                spans = _spans(frame, offset + 4, offset + length, aligned=False)
                children = tuple(_object_view(frame, "S", child, *span) for child, span in zip(found.objects, spans))
                reading = reading or found
        views.append(_object_view(frame, "C", obj, offset, length, children))
    flags = frame[0] & 0x0F
    view = MessageView(type(message).OPCODE, message.client_type, flags, len(frame), _header(message, flags, frame),
                       tuple(views), error=error, **_keys(reading, error))
    return view._replace(findings=rules.check(message, flags, reading, grammar, view.objects, _name))


def _name(cls: type) -> str:
    return cls.LABEL


def _read_message(frame: bytes) -> tuple[Message, DecodeError | None]:
    """The message, and the grammar rule it breaks if its objects can all be read but not in that order or set.

    A message that breaks RFC 2748's grammar (a DEC without Context, an RPT
    without Report-Type) is still a readable run of objects, which Wireshark
    shows; only a fault in the header or an object's bytes raises.
    """
    try:
        return decode_message(frame), None
    except DecodeError as error:
        try:
            flags, opcode, client_type, length = decode_header(frame)
            if length != len(frame):
                raise error
            objects = walk(memoryview(frame), HEADER_SIZE, length, cops.COPS_OBJECTS, cops.UnknownObject,
                           _unreadable, aligned=True)
        except DecodeError:
            raise error from None
        return tuple.__new__(MESSAGE_CLASSES[opcode], (tuple(objects), client_type, bool(flags & 1))), error


def _unreadable(offset: int, reason: str, num: int, ctype: int) -> DecodeError:
    return DecodeError(offset, reason)


def _carrier_type(message: Message) -> type | None:
    """The object that carries a gate command in this message, if it is a DQoS DEC or RPT (protocol.md §3.1)."""
    if message.client_type != ClientType.PACKETCABLE_DQOS:
        return None
    return {Decision: cops.ClientSpecificDecision, Report: cops.SignaledClientSI}.get(type(message))


_FLAGS = {0: "none", 1: "Solicited message"}


def _header(message: Message, flags: int, frame: bytes) -> tuple[Field, ...]:
    """The common header as Wireshark shows it: version, flag bits, op-code, client-type, length (protocol.md §2.1)."""
    opcode = type(message).OPCODE
    flag_names = _FLAGS[flags & 1] + (f", undefined 0x{flags & ~1:x}" if flags & ~1 else "")
    client_type = message.client_type
    # Version and flags share the first byte (a nibble each): both point at it.
    version_flags, opcode_at, client_type_at, length_at = _header_spans()
    return (
        Field("version", "Version", VERSION, str(VERSION), None, *version_flags),
        Field("flags", "Flags", flags, f"0x{flags:x} ({flag_names})", flag_names, *version_flags),
        Field("opcode", "Op-Code", int(opcode), f"{OPCODE_TITLES[opcode]} ({opcode.name}) ({int(opcode)})",
              opcode.name, *opcode_at),
        Field("client_type", "Client-Type", client_type,
              f"{CLIENT_TYPE_NAMES.get(client_type, 'unknown')} (0x{client_type:04x})", None, *client_type_at),
        Field("length", "Message Length", len(frame), f"{len(frame)} bytes", None, *length_at),
    )


def _keys(reading: GateCommandReading | None, error: PacketCableDecodeError | None) -> dict[str, Any]:
    """What a message is looked up by: its gate command, Transaction-ID, Gate-ID, subscriber and PacketCable-Error."""
    if error is not None:  # what the codec could still read of a payload it could not walk
        command = _command_name(error.command_type) if error.command_type else None
        return {"gate_command": command, "transaction_id": error.transaction_id if command else None,
                "gate_id": error.gate_id, "subscriber": _text_or_none(error.subscriber)}
    if reading is None:
        return {}
    first = {}
    for obj in reading.objects:
        first.setdefault(type(obj), obj)
    tid = first.get(pc.TransactionID)
    subscriber = first.get(pc.SubscriberIDIPv4) or first.get(pc.SubscriberIDIPv6)
    return {"gate_command": _command_name(tid.command) if tid else None,
            "transaction_id": tid.transaction_id if tid else None,
            "gate_id": first[pc.GateID].gate_id if pc.GateID in first else None,
            "subscriber": _text_or_none(subscriber.address if subscriber else None),
            "pc_error": first[pc.PacketCableError].code if pc.PacketCableError in first else None}


def _text_or_none(value) -> str | None:
    return None if value is None else str(value)


def _command_name(command: int) -> str:
    try:
        return pc_codes.GateCommandType(command).title
    except ValueError:
        return f"unknown gate command {command}"


def _object_view(frame: bytes, layer: str, obj, offset: int, length: int, children=None) -> ObjectView:
    """One object's view: its declared fields in wire order, reserved bytes among them.

    A carrier whose PacketCable objects are shown as its children does not
    show them again as its data.  A variable object's last field takes what
    its fixed fields leave of the body.
    """
    cls = type(obj)
    if cls in (cops.UnknownObject, pc.UnknownPacketCableObject):
        num, kind = obj[0], obj[1]
    else:
        num, kind = obj.NUM, obj.TYPE
    body = offset + 4
    fields = []
    for field, formatter in _fields_of(cls):
        at = body + field.offset
        size = field.size if field.size is not None else length - 4 - field.offset
        if field.reserved:
            fields.append(_reserved(frame, at, size, field.name))
        elif not (children is not None and field.size is None):
            shown = formatter(obj, getattr(obj, field.name))
            fields.append(Field(field.name, field.label, shown.value, shown.text, shown.name, at, size))
    return ObjectView(layer, num, kind, cls.LABEL, offset, length, tuple(fields), children)


def _reserved(frame: bytes, start: int, size: int, key: str) -> Field:
    """Bytes a layout reserves: the codec skips them, a decoder shows them (they must be zero)."""
    value = int.from_bytes(frame[start:start + size], "big")
    return Field(key, "Reserved", value, f"0x{value:0{2 * size}x}", None, start, size)


def _header_spans() -> list[tuple[int, int]]:
    """(offset, size) of each item of the common header's struct format."""
    spans, offset = [], 0
    for code in HEADER.format.lstrip("!"):
        size = struct.calcsize("!" + code)
        spans.append((offset, size))
        offset += size
    return spans


def _spans(buf, start: int, end: int, *, aligned: bool) -> list[tuple[int, int]]:
    """(offset, Length) of each object in ``buf[start:end]``, stepping as the codec's walk does."""
    spans = []
    offset = start
    while offset + OBJECT_HEADER.size <= end:
        length = OBJECT_HEADER.unpack_from(buf, offset)[0]
        spans.append((offset, length))
        offset += (length + 3) & ~3 if aligned else length
    return spans
