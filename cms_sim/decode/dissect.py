"""What every COPS and PacketCable field means: spec names, enum names, units and hex.

:func:`dissect` turns one COPS frame into a :class:`MessageView`, a plain tree
of objects and fields that both renderers read (``tree`` for people, ``jsonview``
for scripts), so the two always agree.  Decoding itself is the codec's job
(:func:`cops_core.decode_message`, :func:`cops_core.dqos.gate_command_of`);
this module only names and formats what the codec returns.
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
from cops_core.codes import HEADER_SIZE, OPCODE_TITLES, ClientType, OpCode
from cops_core.dqos import codes as pc_codes, objects as pc
from cops_core.dqos import decode_packetcable_objects, gate_command_of
from cops_core.errors import PacketCableDecodeError
from cops_core.messages import Decision, Report, decode_message
from cops_core.wire import OBJECT_HEADER

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
    """One decoded message; ``error`` is a DQoS payload fault (the COPS layer itself was sound)."""

    opcode: OpCode
    client_type: int
    solicited: bool
    length: int
    objects: tuple[ObjectView, ...]
    gate_command: str | None = None
    error: PacketCableDecodeError | None = None

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


def _float32(obj, value: float) -> Shown:
    """The shortest decimal that reads back as the same IEEE-754 single: 0.1, not 0.10000000149011612."""
    if not math.isfinite(value):
        return Shown(str(value), str(value))  # JSON has no NaN or infinity
    for digits in range(1, 10):  # 9 significant digits always round-trip a single
        number = float(f"{value:.{digits}g}")
        try:
            if struct.unpack("!f", struct.pack("!f", number))[0] == value:
                break
        except OverflowError:  # rounded up past the largest single
            continue
    return Shown(number, repr(number))


def _enum(enum: type[IntEnum], names: dict[int, str] | None = None) -> Formatter:
    def show(obj, value: int) -> Shown:
        try:
            name = names[value] if names else code_name(enum(value))
        except (KeyError, ValueError):
            name = "unknown"
        return Shown(value, f"{name} ({value})", name)

    return show


def _flags(flags: type[IntFlag], digits: int) -> Formatter:
    def show(obj, value: int) -> Shown:
        names = [code_name(flag) for flag in flags if value & flag]
        if value & ~sum(flags):
            names.append(f"unknown 0x{value & ~sum(flags):0{digits}x}")
        joined = ", ".join(names) if names else "none"
        return Shown(value, f"0x{value:0{digits}x} ({joined})", joined)

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
        "ds_field": ("DS Field", _hex(2)),
        "t1": ("Timer T1", _unit("s")),
        "t7": ("Timer T7", _unit("s")),
        "t8": ("Timer T8", _unit("s")),
        "token_bucket_rate": ("Token Bucket Rate (r)", _float32),
        "token_bucket_size": ("Token Bucket Size (b)", _float32),
        "peak_data_rate": ("Peak Data Rate (p)", _float32),
        "minimum_policed_unit": ("Minimum Policed Unit (m)", _unit("bytes")),
        "maximum_packet_size": ("Maximum Packet Size (M)", _unit("bytes")),
        "rate": ("Rate (R)", _float32),
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
    """Decode and describe one whole COPS message; a malformed one raises :class:`DecodeError`.

    In a DQoS DEC or RPT, the carrier of the gate command (Decision 6/4 or
    ClientSI 9/1) gets its PacketCable objects as children.  A fault in those
    does not raise: it is returned as ``MessageView.error`` with what could be shown.
    """
    message = decode_message(frame)
    carrier_type = {Decision: cops.ClientSpecificDecision, Report: cops.SignaledClientSI}.get(type(message))
    if message.client_type != ClientType.PACKETCABLE_DQOS:
        carrier_type = None
    views = []
    for obj, (offset, length) in zip(message.objects, _spans(frame, HEADER_SIZE, len(frame), aligned=True)):
        children = None
        if type(obj) is carrier_type:
            try:
                children = _children(obj.data, offset + 4)
            except PacketCableDecodeError:
                pass  # gate_command_of below reports the same fault; show the payload as bytes
        views.append(_object_view("C", obj, offset, length, children))
    gate_command, error = None, None
    if carrier_type is not None and any(type(obj) is carrier_type for obj in message.objects):
        try:
            gate_command = gate_command_of(message).title
        except PacketCableDecodeError as exc:
            error = exc
            gate_command = _command_name(exc.command_type) if exc.command_type else None
    return MessageView(type(message).OPCODE, message.client_type, message.solicited, len(frame), tuple(views),
                       gate_command, error)


def _children(data: bytes, base: int) -> tuple[ObjectView, ...]:
    objects = decode_packetcable_objects(data, base)
    spans = _spans(data, 0, len(data), aligned=False)
    return tuple(_object_view("S", obj, base + offset, length) for obj, (offset, length) in zip(objects, spans))


def _command_name(command: int) -> str:
    try:
        return pc_codes.GateCommandType(command).title
    except ValueError:
        return f"unknown gate command {command}"


def _object_view(layer: str, obj, offset: int, length: int, children=None) -> ObjectView:
    name, specs = OBJECT_SPECS[type(obj)]
    if type(obj) in (cops.UnknownObject, pc.UnknownPacketCableObject):
        num, kind = obj[0], obj[1]
    else:
        num, kind = obj.NUM, obj.TYPE
    spans = _field_spans(type(obj), length)
    fields = []
    for key, (label, formatter) in specs.items():
        if children is not None and key == "data":
            continue  # the children say it better
        shown = formatter(obj, getattr(obj, key))
        start, size = spans[key]
        fields.append(Field(key, label, shown.value, shown.text, shown.name, offset + 4 + start, size))
    return ObjectView(layer, num, kind, name, offset, length, tuple(fields), children)


_VARIABLE_HEADS = {cops.IntegrityHMAC: "II"}
"""Variable objects whose first fields have a fixed layout; their last field takes the rest of the body."""
_STRUCT_ITEM = re.compile(r"(\d*)([xcbB?hHiIlLqQefds])")


def _field_spans(cls: type, length: int) -> dict[str, tuple[int, int]]:
    """(offset in the body, size) of each of ``cls``'s fields, so a view can point at a field's bytes.

    A fixed object's fields come from its struct format; a variable object's
    last field (its data, handle, PEP Id) takes what its head leaves of the body.
    """
    if getattr(cls, "LENGTH", None) is not None:
        return dict(zip(cls._fields, _struct_spans(cls.FORMAT)))
    head = _struct_spans(_VARIABLE_HEADS.get(cls, ""))
    names = cls._fields[-len(head) - 1:]  # an unknown object's C-Num and C-Type are its header, not its body
    spans = dict(zip(names, head))
    start = head[-1][0] + head[-1][1] if head else 0
    spans[names[-1]] = (start, length - 4 - start)
    return spans


@functools.cache
def _struct_spans(fmt: str) -> tuple[tuple[int, int], ...]:
    """(offset, size) of each value a struct format (network order, no alignment) unpacks; pad bytes skipped."""
    spans, offset = [], 0
    for count, code in _STRUCT_ITEM.findall(fmt):
        repeat, size = int(count or 1), struct.calcsize("!" + code)
        if code == "x":
            offset += repeat
        elif code == "s":  # one value of ``repeat`` bytes
            spans.append((offset, repeat))
            offset += repeat
        else:
            for _ in range(repeat):
                spans.append((offset, size))
                offset += size
    return tuple(spans)


def _spans(buf, start: int, end: int, *, aligned: bool) -> list[tuple[int, int]]:
    """(offset, Length) of each object in ``buf[start:end]``, stepping as the codec's walk does."""
    spans = []
    offset = start
    while offset + OBJECT_HEADER.size <= end:
        length = OBJECT_HEADER.unpack_from(buf, offset)[0]
        spans.append((offset, length))
        offset += (length + 3) & ~3 if aligned else length
    return spans
