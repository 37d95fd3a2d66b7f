"""What every COPS and PacketCable field means: spec names, enum names, units and hex.

:func:`dissect` turns one COPS frame into a :class:`MessageView`, a plain tree
of objects and fields that the renderers read (``tree`` for people, ``jsonview``
for scripts, ``summary`` one line each), so they always agree.  Decoding itself
is the codec's job (:func:`cops_core.decode_message`,
:func:`cops_core.dqos.read_gate_command`); this module names and formats what
the codec returns, reserved bytes included, and :mod:`.findings` judges it.

Reading is lenient where the wire allows it: a message whose objects can all
be read but that breaks a grammar or a DQoS rule is shown in full, with
findings, as Wireshark shows it; only bytes that cannot be read raise.
"""

from __future__ import annotations

import functools
import math
import re
import struct
from enum import Enum, IntEnum, IntFlag
from ipaddress import IPv4Address, IPv6Address
from typing import Any, Callable, NamedTuple

from cops_core import codes, objects as cops
from cops_core.codes import HEADER_SIZE, OPCODE_TITLES, VERSION, ClientType, OpCode
from cops_core.dqos import codes as pc_codes, objects as pc
from cops_core.dqos import GateCommandReading, read_gate_command
from cops_core.errors import DecodeError, PacketCableDecodeError
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


def _enum(enum: type[IntEnum], names: dict[int, str] | None = None) -> Formatter:
    """A code as "Name (value)", followed by what it means when the name does not say it all."""
    def show(obj, value: int) -> Shown:
        member = enum._value2member_map_.get(value)
        name = names.get(value, "unknown") if names else code_name(member) if member is not None else "unknown"
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
        name = OBJECT_SPECS[cls][0] if cls else "unknown object"
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


# --- what each object is called and how its fields read ---------------------------------

_DATA = {"data": ("Data", _bytes)}
_OPAQUE = {"data": ("Data (opaque)", _bytes)}
_INTERFACE4 = {"address": ("IPv4 Address", _address), "if_index": ("ifIndex", _plain)}
_INTERFACE6 = {"address": ("IPv6 Address", _address), "if_index": ("ifIndex", _plain)}
_PDP4 = {"address": ("IPv4 Address", _address), "port": ("TCP Port", _plain)}
_PDP6 = {"address": ("IPv6 Address", _address), "port": ("TCP Port", _plain)}
_DECISION_FLAGS = {"command": ("Command-Code", _enum(codes.DecisionCommand)),
                   "flags": ("Flags", _flags(codes.DecisionFlag, 4))}
_BCID = {"bcid_timestamp": ("BCID Timestamp", _plain), "bcid_element_id": ("BCID Element ID", _quoted),
         "bcid_time_zone": ("BCID Time Zone", _quoted), "bcid_event_counter": ("BCID Event Counter", _plain)}

OBJECT_SPECS: dict[type, tuple[str, dict[str, tuple[str, Formatter]]]] = {
    cops.Handle: ("Handle", {"value": ("Handle", _bytes)}),
    cops.Context: ("Context", {"r_type": ("R-Type", _flags(codes.RType, 4)), "m_type": ("M-Type", _plain)}),
    cops.InInterfaceIPv4: ("In-Interface (IPv4)", _INTERFACE4),
    cops.InInterfaceIPv6: ("In-Interface (IPv6)", _INTERFACE6),
    cops.OutInterfaceIPv4: ("Out-Interface (IPv4)", _INTERFACE4),
    cops.OutInterfaceIPv6: ("Out-Interface (IPv6)", _INTERFACE6),
    cops.Reason: ("Reason", {"code": ("Reason-Code", _enum(codes.ReasonCode)),
                             "subcode": ("Reason Sub-code", _object_subcode)}),
    cops.DecisionFlags: ("Decision: Flags", _DECISION_FLAGS),
    cops.StatelessData: ("Decision: Stateless Data", _DATA),
    cops.ReplacementData: ("Decision: Replacement Data", _DATA),
    cops.ClientSpecificDecision: ("Decision: Client Specific Decision Data", _DATA),
    cops.NamedDecisionData: ("Decision: Named Decision Data", _DATA),
    cops.LPDPDecisionFlags: ("LPDP Decision: Flags", _DECISION_FLAGS),
    cops.LPDPStatelessData: ("LPDP Decision: Stateless Data", _DATA),
    cops.LPDPReplacementData: ("LPDP Decision: Replacement Data", _DATA),
    cops.LPDPClientSpecificDecision: ("LPDP Decision: Client Specific Decision Data", _DATA),
    cops.LPDPNamedDecisionData: ("LPDP Decision: Named Decision Data", _DATA),
    cops.Error: ("Error", {"code": ("Error-Code", _enum(codes.ErrorCode)),
                           "subcode": ("Error Sub-code", _object_subcode)}),
    cops.SignaledClientSI: ("ClientSI: Signaled", _DATA),
    cops.NamedClientSI: ("ClientSI: Named", _DATA),
    cops.KATimer: ("KA Timer", {"seconds": ("KA Timer Value", _unit("s"))}),
    cops.PEPID: ("PEPID", {"identifier": ("PEP Id", _text)}),
    cops.ReportTypeObject: ("Report-Type", {"report_type": ("Report-Type", _enum(codes.ReportType))}),
    cops.PDPRedirectAddressIPv4: ("PDP Redirect Address (IPv4)", _PDP4),
    cops.PDPRedirectAddressIPv6: ("PDP Redirect Address (IPv6)", _PDP6),
    cops.LastPDPAddressIPv4: ("Last PDP Address (IPv4)", _PDP4),
    cops.LastPDPAddressIPv6: ("Last PDP Address (IPv6)", _PDP6),
    cops.AccountingTimer: ("Accounting Timer", {"seconds": ("ACCT Timer Value", _unit("s"))}),
    cops.IntegrityHMAC: ("Message Integrity (HMAC)", {"key_id": ("Key ID", _hex(8)),
                                                      "sequence": ("Sequence Number", _plain),
                                                      "digest": ("Keyed Message Digest", _bytes)}),
    cops.IntegrityTLS: ("Integrity (TLS)", {"flags": ("Flags", _flags(codes.IntegrityFlag, 4))}),
    cops.UnknownObject: ("Unknown object", _DATA),
    pc.TransactionID: ("Transaction-ID", {"transaction_id": ("Transaction Identifier", _hex_and_decimal(4)),
                                          "command": ("Gate Command Type", _enum(pc_codes.GateCommandType))}),
    pc.SubscriberIDIPv4: ("Subscriber-ID (IPv4)", {"address": ("Subscriber Identifier", _address)}),
    pc.SubscriberIDIPv6: ("Subscriber-ID (IPv6)", {"address": ("Subscriber Identifier", _address)}),
    pc.GateID: ("Gate-ID", {"gate_id": ("Gate Identifier", _hex(8))}),
    pc.ActivityCount: ("Activity-Count", {"count": ("Count", _plain)}),
    pc.GateSpec: ("Gate-Spec", {
        "direction": ("Direction", _enum(pc_codes.Direction)),
        "protocol": ("Protocol ID", _protocol),
        "flags": ("Flags", _hex(2)),
        "session_class": ("Session Class", _enum(pc_codes.SessionClass)),
        "source_ip": ("Source IP Address", _wildcard(_address)),
        "destination_ip": ("Destination IP Address", _address),
        "source_port": ("Source Port", _wildcard(_plain)),
        "destination_port": ("Destination Port", _plain),
        "ds_field": ("DS Field", _ds_field),
        "t1": ("Timer T1", _unit("s")),
        "t7": ("Timer T7", _unit("s")),
        "t8": ("Timer T8", _unit("s")),
        "token_bucket_rate": ("Token Bucket Rate (r)", _float32("bytes/s")),
        "token_bucket_size": ("Token Bucket Size (b)", _float32("bytes")),
        "peak_data_rate": ("Peak Data Rate (p)", _float32("bytes/s")),
        "minimum_policed_unit": ("Minimum Policed Unit (m)", _unit("bytes")),
        "maximum_packet_size": ("Maximum Packet Size (M)", _unit("bytes")),
        "rate": ("Rate (R)", _float32("bytes/s")),
        "slack_term": ("Slack Term (S)", _unit("µs")),
    }),
    pc.RemoteGateInfo: ("Remote-Gate-Info", _OPAQUE),
    pc.EventGenerationInfo: ("Event-Generation-Info", {
        "primary_rks_ip": ("Primary RKS IP Address", _address),
        "primary_rks_port": ("Primary RKS Port", _plain),
        "primary_rks_flags": ("Primary RKS Flags", _hex(2)),
        "secondary_rks_ip": ("Secondary RKS IP Address", _address),
        "secondary_rks_port": ("Secondary RKS Port", _plain),
        "secondary_rks_flags": ("Secondary RKS Flags", _hex(2)),
        **_BCID,
    }),
    pc.MediaConnectionEventInfo: ("Media-Connection-Event-Info", _OPAQUE),
    pc.PacketCableError: ("PacketCable-Error", {
        "code": ("Error-Code", _enum(pc_codes.PacketCableErrorCode)),
        "subcode": ("Error Sub-code", _object_subcode),
    }),
    pc.ElectronicSurveillanceParameters: ("Electronic-Surveillance-Parameters", {
        "df_cdc_ip": ("DF IP Address for CDC", _address),
        "df_cdc_port": ("DF Port for CDC", _plain),
        "flags": ("Flags", _hex(4)),
        "df_ccc_ip": ("DF IP Address for CCC", _address),
        "df_ccc_port": ("DF Port for CCC", _plain),
        "ccc_id": ("CCC-ID", _hex_and_decimal(8)),
        **_BCID,
    }),
    pc.SessionDescriptionParameters: ("Session-Description-Parameters", _OPAQUE),
    pc.PacketCableReason: ("PacketCable-Reason", {
        "code": ("Reason Code", _enum(pc_codes.PacketCableReasonCode, {0: "Gate-Delete", 1: "Gate-Close"})),
        "subcode": ("Reason Sub-code", _reason_subcode),
    }),
    pc.UnknownPacketCableObject: ("Unknown PacketCable object", _DATA),
}


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
    return OBJECT_SPECS[cls][0]


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
    version_flags, opcode_at, client_type_at, length_at = (span[1:] for span in _struct_items(HEADER.format))
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
    """One object's view; a fixed layout's fields come in wire order, reserved bytes among them."""
    name, specs = OBJECT_SPECS[type(obj)]
    if type(obj) in (cops.UnknownObject, pc.UnknownPacketCableObject):
        num, kind = obj[0], obj[1]
    else:
        num, kind = obj.NUM, obj.TYPE
    body = offset + 4
    if getattr(type(obj), "FORMAT", None) is None:
        spans = _variable_spans(type(obj), length)
        fields = [_field(obj, key, specs[key], body + spans[key][0], spans[key][1]) for key in specs
                  if not (children is not None and key == "data")]
    else:
        fields = [_field(obj, key, specs[key], body + at, size) if key is not None
                  else _reserved(frame, body + at, size, place)
                  for key, at, size, place in _layout(type(obj))]
    return ObjectView(layer, num, kind, name, offset, length, tuple(fields), children)


def _field(obj, key: str, spec: tuple[str, Formatter], offset: int, size: int) -> Field:
    label, formatter = spec
    shown = formatter(obj, getattr(obj, key))
    return Field(key, label, shown.value, shown.text, shown.name, offset, size)


def _reserved(frame: bytes, start: int, size: int, key: str) -> Field:
    """Bytes a layout reserves: the codec skips them, a decoder shows them (they must be zero)."""
    value = int.from_bytes(frame[start:start + size], "big")
    return Field(key, "Reserved", value, f"0x{value:0{2 * size}x}", None, start, size)


_STRUCT_ITEM = re.compile(r"(\d*)([a-zA-Z?])")


@functools.cache
def _struct_items(fmt: str) -> tuple[tuple[bool, int, int], ...]:
    """(holds a value, offset, size) of each item of a struct format, network order, no alignment.

    "3x" is one item, three pad bytes (no value); "8s" one value of 8 bytes;
    "2H" two values of 2 bytes each.  A leading byte-order character is skipped.
    """
    items: list[tuple[bool, int, int]] = []
    offset = 0
    for count, code in _STRUCT_ITEM.findall(fmt.lstrip("!<>=@")):
        repeat = int(count or 1)
        if code in "xs":
            items.append((code == "s", offset, repeat))
            offset += repeat
            continue
        size = struct.calcsize("!" + code)
        for _ in range(repeat):
            items.append((True, offset, size))
            offset += size
    return tuple(items)


@functools.cache
def _layout(cls: type) -> tuple[tuple[str | None, int, int, str | None], ...]:
    """A fixed object's body in wire order, from its struct format: (field, body offset, size, reserved key).

    ``field`` is None for reserved (pad) bytes, whose key is "reserved", or
    "reserved_1", "reserved_2" ... when a layout has several.
    """
    names = iter(cls._fields)
    items = [(next(names) if value else None, at, size) for value, at, size in _struct_items(cls.FORMAT)]
    gaps = sum(field is None for field, _, _ in items)
    numbers = iter(range(1, gaps + 1))
    return tuple((field, at, size, None if field else "reserved" if gaps == 1 else f"reserved_{next(numbers)}")
                 for field, at, size in items)


_VARIABLE_HEADS = {cops.IntegrityHMAC: "II"}
"""Variable objects whose first fields have a fixed layout; their last field takes the rest of the body."""


def _variable_spans(cls: type, length: int) -> dict[str, tuple[int, int]]:
    """(body offset, size) of each field of a variable object, so a view can point at a field's bytes.

    The fields of its head (if it has one) come from their struct format; its
    last field (its data, handle, PEP Id, digest) takes what the head leaves of
    the body.  An unknown object's C-Num and C-Type are its header, not its body.
    """
    head = [(at, size) for _, at, size in _struct_items(_VARIABLE_HEADS.get(cls, ""))]
    names = cls._fields[-len(head) - 1:]
    spans = dict(zip(names, head))
    start = head[-1][0] + head[-1][1] if head else 0
    spans[names[-1]] = (start, length - 4 - start)
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
