"""The 14 DQoS gate commands as typed values (protocol.md 3.2 and 3.4).

A gate command is the list of PacketCable objects in a Decision 6/4 (GC to
CMTS) or a Signaled ClientSI 9/1 (CMTS to GC), led by the Transaction-ID whose
Gate Command Type names it.  Each class here holds plain values (the TID, the
subscriber address, the Gate-ID) and PacketCable objects where they are rich
(Gate-Specs, errors, reasons), knows which objects it must have, and emits
them in the order protocol.md 3.4 gives.  Objects a command does not expect
(unknown S-Nums included) are kept in ``extra`` and emitted last, untouched.
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address
from typing import Callable, NamedTuple, Union

from .. import fastpath
from ..codes import CNum, DecisionCommand, DecisionFlag, OpCode, ReportType, RType
from ..errors import PacketCableDecodeError
from ..messages import Decision, Report, _offset_of, decode_message
from ..messages import _encode_general as _encode_message_general
from ..objects import ClientSpecificDecision, Context, DecisionFlags, Handle, ReportTypeObject, SignaledClientSI
from ..wire import MAX_OBJECTS, OBJECT_HEADER
from .codes import GateCommandType, PacketCableErrorCode
from .objects import (
    PACKETCABLE_OBJECTS,
    ActivityCount,
    ElectronicSurveillanceParameters,
    EventGenerationInfo,
    GateID,
    GateSpec,
    MediaConnectionEventInfo,
    PacketCableError,
    PacketCableReason,
    RemoteGateInfo,
    SessionDescriptionParameters,
    SubscriberIDIPv4,
    SubscriberIDIPv6,
    TransactionID,
    decode_packetcable_objects,
)
from .templates import CommandTemplates

Address = Union[IPv4Address, IPv6Address]
_new = tuple.__new__


def _subscriber(address: Address):
    return _new(SubscriberIDIPv4 if isinstance(address, IPv4Address) else SubscriberIDIPv6, (address,))


def _one_field(cls: type) -> Callable:
    """value -> ``cls(value)``, skipping NamedTuple's Python-level ``__new__`` on the encode path."""
    return lambda value: _new(cls, (value,))


class Slot(NamedTuple):
    """One field of a gate command and the PacketCable object(s) that carry it."""

    field: str
    classes: tuple[type, ...]
    wrap: Callable | None = None  # value -> object; None when the field holds the object itself
    repeated: bool = False


SUBSCRIBER = Slot("subscriber", (SubscriberIDIPv4, SubscriberIDIPv6), _subscriber)
GATE_ID = Slot("gate_id", (GateID,), _one_field(GateID))
ACTIVITY_COUNT = Slot("activity_count", (ActivityCount,), _one_field(ActivityCount))
GATE_SPECS = Slot("gate_specs", (GateSpec,), repeated=True)
ERROR = Slot("error", (PacketCableError,))
REASON = Slot("reason", (PacketCableReason,))
REMOTE_GATE_INFO = Slot("remote_gate_info", (RemoteGateInfo,))
EVENT_GENERATION_INFO = Slot("event_generation_info", (EventGenerationInfo,))
MEDIA_CONNECTION_EVENT_INFO = Slot("media_connection_event_info", (MediaConnectionEventInfo,))
ELECTRONIC_SURVEILLANCE = Slot("electronic_surveillance_parameters", (ElectronicSurveillanceParameters,))
SESSION_DESCRIPTION = Slot("session_description_parameters", (SessionDescriptionParameters,))
SET_EXTRAS = (REMOTE_GATE_INFO, EVENT_GENERATION_INFO, MEDIA_CONNECTION_EVENT_INFO, ELECTRONIC_SURVEILLANCE,
              SESSION_DESCRIPTION)
"""The optional objects a Gate-Set carries after its Gate-Specs, and a Gate-Info-Ack gives back (protocol.md 3.4)."""

COMMAND_CLASSES: dict[int, type] = {}


def gate_command(command: GateCommandType, order: tuple[Slot, ...], report_type: ReportType | None = None):
    """Declare a NamedTuple a gate command: its type and the objects it emits, in order.

    The objects it must carry are its fields without a default (the Gate-Specs
    of a Gate-Set, the PacketCable-Error of an Err ...): decoding one without
    them is PacketCable-Error 6.  ``report_type`` is the Report-Type of the RPT
    a CMTS reply or event travels in (None for the GC's commands, which travel
    in a DEC).
    """

    def decorate(cls):
        fields = cls._fields
        # Explicit checks: an assert would vanish under -O.
        if fields[0] != "transaction_id" or fields[-1] != "extra":
            raise TypeError(f"{cls.__name__}: a gate command's fields start with transaction_id and end with extra")
        if {slot.field for slot in order} != set(fields[1:-1]):
            raise TypeError(f"{cls.__name__}: its order must name each of its fields but transaction_id and extra")
        cls.COMMAND = command
        cls.ORDER = tuple((slot, fields.index(slot.field)) for slot in order)
        cls.REQUIRED = tuple(slot for slot in order if slot.field not in cls._field_defaults)
        cls.REPORT_TYPE = report_type
        # Acks and errors answer a DEC (solicited, RFC 2748 3.3); Gate-Open/Close are unsolicited events.
        cls.SOLICITED = report_type in (ReportType.SUCCESS, ReportType.FAILURE)
        cls.BY_CLASS = {klass: (slot, fields.index(slot.field)) for slot in order for klass in slot.classes}
        # The same tables as plain tuples for the codec's hot paths (no Slot attribute lookups per object):
        # _EMIT (index, repeated, wrap) in emit order; _SLOT_OF class -> (index, 0 object / 1 unwrap / 2 repeated);
        # _REQUIRED_AT (index, first class); _DEFAULTS_AT (index, default) for non-None defaults but ``extra``.
        cls._EMIT = tuple((index, slot.repeated, slot.wrap) for slot, index in cls.ORDER)
        cls._SLOT_OF = {klass: (index, 2 if slot.repeated else 1 if slot.wrap is not None else 0)
                        for slot, index in cls.ORDER for klass in slot.classes}
        cls._REQUIRED_AT = tuple((fields.index(slot.field), slot.classes[0]) for slot in cls.REQUIRED)
        cls._DEFAULTS_AT = tuple((fields.index(name), default) for name, default in cls._field_defaults.items()
                                 if default is not None and name != "extra")
        cls.encode = _encode_command
        cls.title = command.title
        COMMAND_CLASSES[command] = cls
        return cls

    return decorate


def _encode_command(self) -> bytes:
    """The PacketCable objects of this command: Transaction-ID, then the ORDER, then ``extra``."""
    data = _TEMPLATES.encode(self)  # the common shapes pack in one go
    if data is not None:
        return data
    return _encode_command_general(self)


def _encode_command_general(self) -> bytes:
    """The reference encoding, object by object: what the templates must match."""
    parts = [_new(TransactionID, (self[0], self.COMMAND)).encode()]
    append = parts.append
    for index, repeated, wrap in self._EMIT:
        value = self[index]
        if value is None:
            continue
        if repeated:
            for item in value:
                append(item.encode())
        elif wrap is not None:
            append(wrap(value).encode())
        else:
            append(value.encode())
    for obj in self[-1]:  # extra
        append(obj.encode())
    return b"".join(parts)


@gate_command(GateCommandType.GATE_ALLOC, (SUBSCRIBER, ACTIVITY_COUNT))
class GateAlloc(NamedTuple):
    """Gate-Alloc (GC to CMTS): reserve a Gate-ID for a subscriber; Activity-Count is the subscriber's gate limit."""

    transaction_id: int
    subscriber: Address
    activity_count: int | None = None
    extra: tuple = ()


@gate_command(GateCommandType.GATE_ALLOC_ACK, (SUBSCRIBER, GATE_ID, ACTIVITY_COUNT), ReportType.SUCCESS)
class GateAllocAck(NamedTuple):
    """Gate-Alloc-Ack (CMTS to GC): the new Gate-ID and the gates the subscriber now holds."""

    transaction_id: int
    gate_id: int
    subscriber: Address | None = None
    activity_count: int | None = None
    extra: tuple = ()


@gate_command(GateCommandType.GATE_ALLOC_ERR, (SUBSCRIBER, GATE_ID, ERROR), ReportType.FAILURE)
class GateAllocErr(NamedTuple):
    """Gate-Alloc-Err (CMTS to GC)."""

    transaction_id: int
    error: PacketCableError
    subscriber: Address | None = None
    gate_id: int | None = None
    extra: tuple = ()


@gate_command(GateCommandType.GATE_SET, (SUBSCRIBER, GATE_ID, ACTIVITY_COUNT, GATE_SPECS, *SET_EXTRAS))
class GateSet(NamedTuple):
    """Gate-Set (GC to CMTS): authorize (no Gate-ID: allocate and authorize) or modify a gate."""

    transaction_id: int
    subscriber: Address
    gate_specs: tuple[GateSpec, ...]
    gate_id: int | None = None
    activity_count: int | None = None
    remote_gate_info: RemoteGateInfo | None = None
    event_generation_info: EventGenerationInfo | None = None
    media_connection_event_info: MediaConnectionEventInfo | None = None
    electronic_surveillance_parameters: ElectronicSurveillanceParameters | None = None
    session_description_parameters: SessionDescriptionParameters | None = None
    extra: tuple = ()


@gate_command(GateCommandType.GATE_SET_ACK, (SUBSCRIBER, GATE_ID, ACTIVITY_COUNT), ReportType.SUCCESS)
class GateSetAck(NamedTuple):
    """Gate-Set-Ack (CMTS to GC): the GC learns the Gate-ID here."""

    transaction_id: int
    gate_id: int
    subscriber: Address | None = None
    activity_count: int | None = None
    extra: tuple = ()


@gate_command(GateCommandType.GATE_SET_ERR, (SUBSCRIBER, GATE_ID, ERROR), ReportType.FAILURE)
class GateSetErr(NamedTuple):
    """Gate-Set-Err (CMTS to GC)."""

    transaction_id: int
    error: PacketCableError
    subscriber: Address | None = None
    gate_id: int | None = None
    extra: tuple = ()


@gate_command(GateCommandType.GATE_INFO, (SUBSCRIBER, GATE_ID))
class GateInfo(NamedTuple):
    """Gate-Info (GC to CMTS): audit one gate."""

    transaction_id: int
    subscriber: Address
    gate_id: int
    extra: tuple = ()


@gate_command(GateCommandType.GATE_INFO_ACK, (SUBSCRIBER, GATE_ID, ACTIVITY_COUNT, GATE_SPECS, *SET_EXTRAS),
              ReportType.SUCCESS)
class GateInfoAck(NamedTuple):
    """Gate-Info-Ack (CMTS to GC): the gate's full state."""

    transaction_id: int
    gate_id: int
    subscriber: Address | None = None
    activity_count: int | None = None
    gate_specs: tuple[GateSpec, ...] = ()
    remote_gate_info: RemoteGateInfo | None = None
    event_generation_info: EventGenerationInfo | None = None
    media_connection_event_info: MediaConnectionEventInfo | None = None
    electronic_surveillance_parameters: ElectronicSurveillanceParameters | None = None
    session_description_parameters: SessionDescriptionParameters | None = None
    extra: tuple = ()


@gate_command(GateCommandType.GATE_INFO_ERR, (SUBSCRIBER, GATE_ID, ERROR), ReportType.FAILURE)
class GateInfoErr(NamedTuple):
    """Gate-Info-Err (CMTS to GC)."""

    transaction_id: int
    error: PacketCableError
    subscriber: Address | None = None
    gate_id: int | None = None
    extra: tuple = ()


@gate_command(GateCommandType.GATE_DELETE, (SUBSCRIBER, GATE_ID, REASON))
class GateDelete(NamedTuple):
    """Gate-Delete (GC to CMTS): remove a gate; real GCs may send Subscriber-ID 0.0.0.0 (match by Gate-ID)."""

    transaction_id: int
    subscriber: Address
    gate_id: int
    reason: PacketCableReason | None = None
    extra: tuple = ()


@gate_command(GateCommandType.GATE_DELETE_ACK, (SUBSCRIBER, GATE_ID), ReportType.SUCCESS)
class GateDeleteAck(NamedTuple):
    """Gate-Delete-Ack (CMTS to GC)."""

    transaction_id: int
    gate_id: int
    subscriber: Address | None = None
    extra: tuple = ()


@gate_command(GateCommandType.GATE_DELETE_ERR, (SUBSCRIBER, GATE_ID, ERROR), ReportType.FAILURE)
class GateDeleteErr(NamedTuple):
    """Gate-Delete-Err (CMTS to GC)."""

    transaction_id: int
    error: PacketCableError
    subscriber: Address | None = None
    gate_id: int | None = None
    extra: tuple = ()


@gate_command(GateCommandType.GATE_OPEN, (SUBSCRIBER, GATE_ID), ReportType.ACCOUNTING)
class GateOpen(NamedTuple):
    """Gate-Open (CMTS to GC, unsolicited): the modem committed; TID 0 by default (UNVERIFIED)."""

    transaction_id: int
    gate_id: int
    subscriber: Address | None = None
    extra: tuple = ()


@gate_command(GateCommandType.GATE_CLOSE, (SUBSCRIBER, GATE_ID, REASON), ReportType.ACCOUNTING)
class GateClose(NamedTuple):
    """Gate-Close (CMTS to GC, unsolicited): the gate is gone; PacketCable-Reason code 1 says why."""

    transaction_id: int
    gate_id: int
    subscriber: Address | None = None
    reason: PacketCableReason | None = None
    extra: tuple = ()


class Replies(NamedTuple):
    """What answers a gate controller's command: its Ack and its Err."""

    ack: type
    err: type


REPLIES: dict[int, Replies] = {
    command: Replies(COMMAND_CLASSES[command + 1], COMMAND_CLASSES[command + 2])
    for command, cls in COMMAND_CLASSES.items() if cls.REPORT_TYPE is None
}
"""The replies to each request (Gate-Alloc, -Set, -Info, -Delete), by its Gate Command Type, which is all a payload
that fails to decode may give: a request of type n is answered by n + 1 (Ack) or n + 2 (Err), protocol.md 3.2."""

# Every command's common shapes (see cops_core.dqos.templates); _encode_command and decode_gate_command try them first.
_TEMPLATES = CommandTemplates(COMMAND_CLASSES.values())
# Its tables, the dicts themselves, for the hot paths that look a shape up in line: the fast-path switch rewrites
# them in place (verify mode checks every result).
_COMMAND_DECODERS, _COMMAND_ENCODERS = _TEMPLATES.decoders, _TEMPLATES.encoders

GateCommand = Union[GateAlloc, GateAllocAck, GateAllocErr, GateSet, GateSetAck, GateSetErr, GateInfo, GateInfoAck,
                    GateInfoErr, GateDelete, GateDeleteAck, GateDeleteErr, GateOpen, GateClose]


def encode_gate_command(command: GateCommand) -> bytes:
    """The PacketCable objects of ``command`` (the payload of its 6/4 or 9/1 carrier)."""
    return command.encode()


def decode_gate_command(data, offset: int = 0) -> GateCommand:
    """Decode a 6/4 or 9/1 payload into its gate command.

    Raises :class:`PacketCableDecodeError` with the PacketCable-Error the
    CMTS answers with: 6 (missing required object, sub-code its S-Num/S-Type),
    7 (invalid object) or 127 (unknown gate command type).
    """
    if type(data) is bytes:
        command = _TEMPLATES.decode(data)  # the common shapes in one unpack
        if command is not None:
            return command
    return _decode_command_general(data, offset)


def _decode_command_general(data, offset: int = 0) -> GateCommand:
    """The reference decoding, object by object: what the templates must match."""
    objects = _objects_of(data, offset)
    tid = _transaction_id(objects)
    if tid is None:
        raise PacketCableDecodeError(offset, "no Transaction-ID object", PacketCableErrorCode.MISSING_REQUIRED_OBJECT,
                                     (TransactionID.SNUM << 8) | TransactionID.STYPE, **_partial(objects))
    cls = COMMAND_CLASSES.get(tid.command)
    if cls is None:
        raise PacketCableDecodeError(offset, f"unknown Gate Command Type {tid.command}",
                                     PacketCableErrorCode.UNSPECIFIED, transaction_id=tid.transaction_id,
                                     command_type=tid.command, **_partial(objects))
    command, missing = _assemble(cls, tid, objects)
    if missing:
        first = missing[0]
        raise PacketCableDecodeError(
            offset, f"{cls.title} lacks its {first.__name__} object", PacketCableErrorCode.MISSING_REQUIRED_OBJECT,
            (first.SNUM << 8) | first.STYPE, transaction_id=tid.transaction_id, command_type=tid.command,
            **_partial(objects))
    return command


def _objects_of(data, offset: int) -> list:
    """The payload's objects; one that cannot be read raises, with the TID, subscriber and Gate-ID before it."""
    try:
        return decode_packetcable_objects(data, offset)
    except PacketCableDecodeError as exc:
        _echo_what_can_be_read(exc, data)
        raise


class GateCommandReading(NamedTuple):
    """What a lenient read of a 6/4 or 9/1 payload found (see :func:`read_gate_command`)."""

    command: GateCommand | None  # None without a Transaction-ID or with an unknown Gate Command Type
    objects: tuple  # every PacketCable object, in wire order
    missing: tuple[type, ...] = ()  # the required objects that are absent, first class of each


def read_gate_command(data, offset: int = 0) -> GateCommandReading:
    """Read a 6/4 or 9/1 payload the way a decoder shows it: whatever command is there, and what it lacks.

    :func:`decode_gate_command` refuses a command without its required
    objects, because a CMTS must answer it with PacketCable-Error 6; a
    decoder shows the same bytes in full and reports the gap (Wireshark
    decodes a Gate-Delete without Subscriber-ID, which some gate controllers
    send).  The command's absent required fields are None.  Raises
    :class:`PacketCableDecodeError` only for objects that cannot be read
    (code 7: a wrong length, a broken header), with the TID, command type,
    subscriber and Gate-ID that could be read before them.
    """
    objects = _objects_of(data, offset)
    tid = _transaction_id(objects)
    if tid is None:
        return GateCommandReading(None, tuple(objects), (TransactionID,))
    cls = COMMAND_CLASSES.get(tid.command)
    if cls is None:
        return GateCommandReading(None, tuple(objects))
    command, missing = _assemble(cls, tid, objects)
    return GateCommandReading(command, tuple(objects), missing)


def _transaction_id(objects: list) -> TransactionID | None:
    """The payload's Transaction-ID: the first object, as it should be, or the first one anywhere."""
    if objects and type(objects[0]) is TransactionID:
        return objects[0]
    return next((obj for obj in objects if type(obj) is TransactionID), None)


def _assemble(cls: type, tid: TransactionID, objects: list) -> tuple[GateCommand, tuple[type, ...]]:
    """``cls`` built from ``objects`` (those it does not carry go to ``extra``), and its absent required objects."""
    values: list = [None] * len(cls._fields)
    values[0] = tid[0]
    extra = []
    slot_of = cls._SLOT_OF
    for obj in objects:
        if obj is tid:
            continue
        found = slot_of.get(type(obj))
        if found is None:
            extra.append(obj)
            continue
        index, kind = found
        if kind == 2:  # repeated
            values[index] = (values[index] or ()) + (obj,)
        elif values[index] is not None:
            extra.append(obj)  # a second copy: keep it rather than lose bytes
        else:
            values[index] = obj[0] if kind else obj
    missing = tuple(first for index, first in cls._REQUIRED_AT if values[index] is None)
    for index, default in cls._DEFAULTS_AT:
        if values[index] is None:
            values[index] = default
    values[-1] = tuple(extra)
    return _new(cls, values), missing


_ECHOED = (TransactionID, SubscriberIDIPv4, SubscriberIDIPv6, GateID)


def _echo_what_can_be_read(exc: PacketCableDecodeError, data) -> None:
    """Fill in the TID, command type, subscriber and Gate-ID of a payload whose objects did not all decode.

    The CMTS answers an invalid object with a Gate-*-Err that must echo the TID (GCs match replies by TID
    only, protocol.md 5), so read every well-formed echo object up to the first one that cannot be stepped over.
    """
    buf = data if isinstance(data, memoryview) else memoryview(data)
    objects = []
    position, end = 0, len(buf)
    # No further than the decode itself reads (MAX_OBJECTS): unbounded, a payload of 8,000 Transaction-IDs (64 KB)
    # cost 34 ms of CPU per message (1 ms now), every other peer of the CMTS waiting.
    for _ in range(MAX_OBJECTS):
        if end - position < 4:
            break
        length, snum, stype = OBJECT_HEADER.unpack_from(buf, position)
        if length < 4 or position + length > end:
            break
        cls = PACKETCABLE_OBJECTS.get(snum, stype)
        if cls in _ECHOED and length == cls.LENGTH:
            objects.append(cls.decode_body(buf, position + 4, position + length))
        position += length
    tid = next((obj for obj in objects if type(obj) is TransactionID), None)
    if tid is not None:
        exc.transaction_id, exc.command_type = tid
    partial = _partial(objects)
    exc.subscriber, exc.gate_id = partial["subscriber"], partial["gate_id"]


def _partial(objects: list) -> dict:
    """What an error reply can echo from a command that failed to decode."""
    subscriber = next((obj.address for obj in objects if type(obj) in (SubscriberIDIPv4, SubscriberIDIPv6)), None)
    gate_id = next((obj.gate_id for obj in objects if type(obj) is GateID), None)
    return {"subscriber": subscriber, "gate_id": gate_id}


_DQOS = Decision._field_defaults["client_type"]
_REPORT_TYPES = {value: ReportTypeObject(value) for value in ReportType}
_COMMAND_CONTEXT = Context(RType.CONFIGURATION, 0)
_INSTALL = DecisionFlags(DecisionCommand.INSTALL, DecisionFlag.TRIGGER_ERROR)


def decision_for(handle: Handle, command: GateCommand) -> Decision:
    """The DEC that carries a GC command: Context 8/0, Install + Trigger-Error, the command in 6/4 last."""
    return _new(Decision, ((handle, _COMMAND_CONTEXT, _INSTALL, _new(ClientSpecificDecision, (command.encode(),))),
                           _DQOS, False))


# A DQoS DEC with a 4-byte Handle, up to its 6/4 header: common header, Handle, Context 8/0, Install + Trigger-Error.
_DECISION_HEAD = struct.Struct("!BBHII4sIHHIHHI")
_DEC = int(OpCode.DEC)
_CONTEXT_HEADER = 8 << 16 | CNum.CONTEXT << 8 | 1
_FLAGS_HEADER = 8 << 16 | CNum.DECISION << 8 | 1
_CLIENT_DECISION_TYPE = CNum.DECISION << 8 | 4
# Its codes as plain ints: an IntEnum member read from its class costs ~0.2 us on CPython 3.11, three per DEC.
_CONFIGURATION, _INSTALL_COMMAND, _TRIGGER_ERROR = (int(RType.CONFIGURATION), int(DecisionCommand.INSTALL),
                                                    int(DecisionFlag.TRIGGER_ERROR))


def packed_decision(handle: Handle, command: GateCommand) -> bytes | None:
    """The bytes of ``decision_for(handle, command)``, packed in one go: a gate controller under load sends thousands.

    No Decision is built: a connection that takes the DEC as gate traffic
    (:meth:`cops_core.connection.Connection.send_gate_traffic`) needs none.
    None when the one-go packing does not apply (a Handle other than 4
    bytes, a payload that needs padding, the fast path off): encode
    :func:`decision_for`'s message then.
    """
    encode = _COMMAND_ENCODERS.get((type(command), *map(type, command)))  # command.encode()'s template, in line
    payload = None if encode is None else encode(command)
    if payload is None:
        payload = command.encode()
    value = handle[0]
    n = len(payload)
    if type(value) is not bytes or len(value) != 4 or n & 3:
        return None
    data = _DECISION_HEAD.pack(0x10, _DEC, _DQOS, 36 + n, _HANDLE_HEADER, value,
                               _CONTEXT_HEADER, _CONFIGURATION, 0,
                               _FLAGS_HEADER, _INSTALL_COMMAND, _TRIGGER_ERROR,
                               (n + 4) << 16 | _CLIENT_DECISION_TYPE) + payload
    return data if fastpath.mode == "on" else _packed(lambda: decision_for(handle, command), data)


def _packed(message: Callable[[], Decision | Report], data: bytes) -> bytes | None:
    """A packer's ``data`` when the fast path is not simply on: off, None (the caller encodes the message);
    verify, ``data`` once checked against the general codec's bytes for the message."""
    if fastpath.mode == "off":
        return None
    fastpath.check_bytes("packer", message(), data, _encode_message_general)
    return data


def report_for(handle: Handle, command: GateCommand, *, event_report_type: int = ReportType.ACCOUNTING) -> Report:
    """The RPT that carries a CMTS reply (solicited) or event (unsolicited, Report-Type ``event_report_type``)."""
    solicited = command.SOLICITED
    value = command.REPORT_TYPE if solicited else event_report_type
    report_type = _REPORT_TYPES.get(value) or ReportTypeObject(value)
    return _new(Report, ((handle, report_type, _new(SignaledClientSI, (command.encode(),))), _DQOS, solicited))


# A DQoS RPT with a 4-byte Handle, up to its 9/1 header: common header, Handle, Report-Type, 9/1 header.
_REPORT_HEAD = struct.Struct("!BBHII4sIH2xI")
_RPT = int(OpCode.RPT)
_HANDLE_HEADER = 8 << 16 | CNum.HANDLE << 8 | 1
_REPORT_TYPE_HEADER = 8 << 16 | CNum.REPORT_TYPE << 8 | 1
_CLIENT_SI_TYPE = CNum.CLIENT_SI << 8 | 1


def packed_report(handle: Handle, command: GateCommand, *,
                  event_report_type: int = ReportType.ACCOUNTING) -> bytes | None:
    """The bytes of :func:`report_for`'s RPT, packed in one go: a CMTS sends one for every reply and event.

    As :func:`packed_decision`: no Report is built; None when the one-go
    packing does not apply (encode :func:`report_for`'s message then).
    """
    solicited = command.SOLICITED
    type_value = command.REPORT_TYPE if solicited else event_report_type
    payload = _TEMPLATES.encode(command)
    if payload is None:
        payload = command.encode()
    value = handle[0]
    n = len(payload)
    if type(value) is not bytes or len(value) != 4 or n & 3:
        return None
    data = _REPORT_HEAD.pack(0x11 if solicited else 0x10, _RPT, _DQOS, 28 + n, _HANDLE_HEADER, value,
                             _REPORT_TYPE_HEADER, type_value, (n + 4) << 16 | _CLIENT_SI_TYPE) + payload
    return data if fastpath.mode == "on" else \
        _packed(lambda: report_for(handle, command, event_report_type=event_report_type), data)


def gate_command_of(message) -> GateCommand | None:
    """The gate command a DQoS DEC or RPT carries, or None if it carries none.

    Raises :class:`PacketCableDecodeError` (offsets from the message start) if the carrier is malformed.
    """
    kind = type(message)
    if kind is Decision:
        carrier_type = ClientSpecificDecision
    elif kind is Report:
        carrier_type = SignaledClientSI
    else:
        return None
    if message[1] != _DQOS:  # client_type
        return None
    for index, obj in enumerate(message.objects):
        if type(obj) is carrier_type:
            try:
                return decode_gate_command(obj.data)
            except PacketCableDecodeError as exc:
                exc.offset += _offset_of(list(message.objects), index) + 4
                raise
    return None


def report_command(report: Report) -> GateCommand | None:
    """:func:`gate_command_of` for an RPT: the same command, None or error, the common shape read in line.

    A gate controller reads the command of every RPT (five a call under
    load): an RPT of Handle, Report-Type and Client SI whose payload one
    template takes goes from the payload to the command in one call, not
    through :func:`gate_command_of`'s search of the objects, :func:`decode_gate_command`
    and the template table's method; anything else takes :func:`gate_command_of`.
    """
    objects = report[0]
    if len(objects) == 3 and report[1] == _DQOS:
        carrier = objects[2]
        if type(carrier) is SignaledClientSI:
            data = carrier[0]
            if type(data) is bytes:
                decode = _COMMAND_DECODERS.get((len(data), data[6:8], data[10:19:8]))  # CommandTemplates.decode
                if decode is not None:
                    command = decode(data)
                    if command is not None:
                        return command
    return gate_command_of(report)


fastpath.register("gate-command templates", _TEMPLATES.decoders, _TEMPLATES.encoders, _decode_command_general,
                  _encode_command_general)


# --- gate commands read from a frame ---------------------------------------------------------------------------
# The DEC a gate controller sends and the RPT a CMTS sends, nearly every message of a call, in the shape everyone
# builds them: a 4-byte Handle, Context and Decision Flags (or Report-Type), the 6/4 (9/1) carrier last.  One unpack
# checks every header; the payload goes straight to its command's template; no Message is built.  Anything else
# (another shape, a payload no template takes) is None, and the caller decodes the message.
_DEC_FRAME = struct.Struct("!2xHII4sI4xI4xI")  # client type, length; Handle; Context; Decision Flags; the 6/4's header
_RPT_FRAME = struct.Struct("!2xHII4sI4xI")  # client type, length; Handle; Report-Type; the 9/1's header


def _dec_frame_command(frame: bytes) -> tuple[bytes, GateCommand, bytes] | None:
    if len(frame) > _DEC_FRAME.size:
        client_type, length, handle_header, handle, context, flags, carrier = _DEC_FRAME.unpack_from(frame)
        if (client_type == _DQOS and handle_header == _HANDLE_HEADER and context == _CONTEXT_HEADER
                and flags == _FLAGS_HEADER and carrier == (length - 32) << 16 | _CLIENT_DECISION_TYPE
                and length == len(frame)):
            return _payload_command(handle, frame[_DEC_FRAME.size:])
    return None


def _rpt_frame_command(frame: bytes) -> tuple[bytes, GateCommand, bytes] | None:
    if len(frame) > _RPT_FRAME.size:
        client_type, length, handle_header, handle, report_type, carrier = _RPT_FRAME.unpack_from(frame)
        if (client_type == _DQOS and handle_header == _HANDLE_HEADER and report_type == _REPORT_TYPE_HEADER
                and carrier == (length - 24) << 16 | _CLIENT_SI_TYPE and length == len(frame)):
            return _payload_command(handle, frame[_RPT_FRAME.size:])
    return None


def _payload_command(handle: bytes, payload: bytes) -> tuple[bytes, GateCommand, bytes] | None:
    decode = _COMMAND_DECODERS.get((len(payload), payload[6:8], payload[10:19:8]))  # CommandTemplates.decode
    command = None if decode is None else decode(payload)
    return None if command is None else (handle, command, payload)


def _frame_command_general(frame: bytes) -> tuple[bytes, GateCommand, bytes]:
    """What the frame readers must give: the message decoded, its Handle, its gate command, its carrier's payload."""
    message = decode_message(frame)
    return message.handle.value, gate_command_of(message), message.objects[-1].data


FRAME_COMMANDS: dict[bytes, Callable[[bytes], tuple[bytes, GateCommand, bytes] | None]] = {
    bytes((flags, opcode)): read for opcode, read in ((OpCode.DEC, _dec_frame_command), (OpCode.RPT, _rpt_frame_command))
    for flags in (0x10, 0x11)}
"""A frame's first two bytes (version and flags, op-code) -> its reader: ``(handle, gate command, payload)`` for a
DEC or RPT of the usual shape (the 4-byte handle's value, the 6/4 or 9/1 payload the command was read from), else
None.  Under the fast-path switch: ``off`` empties it, ``verify`` checks every read against the general decode."""

fastpath.register("gate-command frames", FRAME_COMMANDS, {}, _frame_command_general, _encode_message_general)
