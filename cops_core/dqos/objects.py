"""PacketCable DQoS objects (protocol.md 3.3): one class per (S-Num, S-Type).

They travel inside a Decision 6/4 or a Signaled ClientSI 9/1.  Their Length
counts every byte and the walk steps by it exactly, as Wireshark does; every
object we define is a multiple of four bytes.  Layouts that no readable source
confirms (Remote-Gate-Info, Media-Connection-Event-Info, Session-Description-
Parameters) are kept as opaque bytes that round-trip untouched.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from typing import NamedTuple

from ..errors import PacketCableDecodeError
from ..wire import IPV4, IPV6, OBJECT_HEADER, TEXT, Registry, fixed_layout, variable_layout, walk
from .codes import PacketCableErrorCode, SNum

PACKETCABLE_OBJECTS = Registry("PacketCable", "SNUM", "STYPE")


def _fixed(snum: SNum, stype: int, fmt: str, convs=None):
    return fixed_layout(PACKETCABLE_OBJECTS, snum, stype, fmt, convs)


def _opaque(snum: SNum, stype: int):
    return variable_layout(PACKETCABLE_OBJECTS, snum, stype, pad=False)


@_fixed(SNum.TRANSACTION_ID, 1, "HH")
class TransactionID(NamedTuple):
    """Transaction-ID (1/1): the GC-chosen TID, echoed in the reply, and the Gate Command Type."""

    transaction_id: int
    command: int


@_fixed(SNum.SUBSCRIBER_ID, 1, "I", {0: IPV4})
class SubscriberIDIPv4(NamedTuple):
    """Subscriber-ID (2/1): the subscriber's (MTA's) IPv4 address."""

    address: IPv4Address


@_fixed(SNum.SUBSCRIBER_ID, 2, "16s", {0: IPV6})
class SubscriberIDIPv6(NamedTuple):
    """Subscriber-ID (2/2): the subscriber's IPv6 address."""

    address: IPv6Address


@_fixed(SNum.GATE_ID, 1, "I")
class GateID(NamedTuple):
    """Gate-ID (3/1): 32-bit, chosen by the CMTS."""

    gate_id: int


@_fixed(SNum.ACTIVITY_COUNT, 1, "I")
class ActivityCount(NamedTuple):
    """Activity-Count (4/1): GC to CMTS the subscriber's gate limit, CMTS to GC the gates it holds."""

    count: int


@_fixed(SNum.GATE_SPEC, 1, "BBBBIIHHB3xH2xHHfffIIfI", {4: IPV4, 5: IPV4})
class GateSpec(NamedTuple):
    """Gate-Spec (5/1), 60 bytes: the flow's classifier, DOCSIS timers and token-bucket envelope.

    r, b, p, R are IEEE-754 single floats carried bit-exactly (their units are
    UNVERIFIED, protocol.md 3.3); T1/T7/T8 of 0 mean the CMTS's defaults.
    """

    direction: int
    protocol: int
    flags: int
    session_class: int
    source_ip: IPv4Address
    destination_ip: IPv4Address
    source_port: int
    destination_port: int
    ds_field: int
    t1: int
    t7: int
    t8: int
    token_bucket_rate: float
    token_bucket_size: float
    peak_data_rate: float
    minimum_policed_unit: int
    maximum_packet_size: int
    rate: float
    slack_term: int


@_opaque(SNum.REMOTE_GATE_INFO, 1)
class RemoteGateInfo(NamedTuple):
    """Remote-Gate-Info (6/1): CMTS-to-CMTS gate coordination; layout UNVERIFIED, kept opaque."""

    data: bytes

    def body(self) -> bytes:
        return self.data

    @classmethod
    def decode_body(cls, buf, start: int, end: int) -> "RemoteGateInfo":
        return tuple.__new__(cls, (bytes(buf[start:end]),))


@_fixed(SNum.EVENT_GENERATION_INFO, 1, "IHBxIHBxI8s8sI", {0: IPV4, 3: IPV4, 7: TEXT, 8: TEXT})
class EventGenerationInfo(NamedTuple):
    """Event-Generation-Info (7/1), 44 bytes: primary and secondary Record Keeping Servers and the BCID.

    The Billing Correlation ID is timestamp, element ID (8 ASCII), time zone
    (8 ASCII: DST flag and offset) and event counter.
    """

    primary_rks_ip: IPv4Address
    primary_rks_port: int
    primary_rks_flags: int
    secondary_rks_ip: IPv4Address
    secondary_rks_port: int
    secondary_rks_flags: int
    bcid_timestamp: int
    bcid_element_id: str
    bcid_time_zone: str
    bcid_event_counter: int


@_opaque(SNum.MEDIA_CONNECTION_EVENT_INFO, 1)
class MediaConnectionEventInfo(NamedTuple):
    """Media-Connection-Event-Info (8/1): called/routing/charge numbers; layout UNVERIFIED, opaque."""

    data: bytes

    def body(self) -> bytes:
        return self.data

    @classmethod
    def decode_body(cls, buf, start: int, end: int) -> "MediaConnectionEventInfo":
        return tuple.__new__(cls, (bytes(buf[start:end]),))


@_fixed(SNum.PACKETCABLE_ERROR, 1, "HH")
class PacketCableError(NamedTuple):
    """PacketCable-Error (9/1): a :class:`PacketCableErrorCode` and sub-code (S-Num/S-Type for 6 and 7)."""

    code: int
    subcode: int = 0


@_fixed(SNum.ELECTRONIC_SURVEILLANCE_PARAMETERS, 1, "IHHIH2xII8s8sI", {0: IPV4, 3: IPV4, 7: TEXT, 8: TEXT})
class ElectronicSurveillanceParameters(NamedTuple):
    """Electronic-Surveillance-Parameters (10/1), 48 bytes: DF addresses for call data and content, CCC-ID, BCID."""

    df_cdc_ip: IPv4Address
    df_cdc_port: int
    flags: int
    df_ccc_ip: IPv4Address
    df_ccc_port: int
    ccc_id: int
    bcid_timestamp: int
    bcid_element_id: str
    bcid_time_zone: str
    bcid_event_counter: int


@_opaque(SNum.SESSION_DESCRIPTION_PARAMETERS, 1)
class SessionDescriptionParameters(NamedTuple):
    """Session-Description-Parameters (11/1): upstream SDP, NUL, downstream SDP, NUL, zero pad (UNVERIFIED).

    Build one with :meth:`from_sdp` so the object stays 4-aligned.
    """

    data: bytes

    def body(self) -> bytes:
        return self.data

    @classmethod
    def decode_body(cls, buf, start: int, end: int) -> "SessionDescriptionParameters":
        return tuple.__new__(cls, (bytes(buf[start:end]),))

    @classmethod
    def from_sdp(cls, upstream: str, downstream: str) -> "SessionDescriptionParameters":
        data = upstream.encode("utf-8", "surrogateescape") + b"\0" + downstream.encode("utf-8", "surrogateescape") + b"\0"
        return cls(data + bytes(-len(data) & 3))

    @property
    def sdp(self) -> tuple[str, str]:
        """(upstream, downstream) SDP text as the vendor layout reads it.

        SDP is UTF-8 (RFC 4566), as :meth:`from_sdp` writes it; bytes that are not
        UTF-8 come back as surrogate escapes, so ``from_sdp(*obj.sdp)`` keeps them.
        """
        parts = self.data.split(b"\0")
        text = [part.decode("utf-8", "surrogateescape") for part in parts[:2]]
        return (text[0], text[1] if len(text) > 1 else "")


@_fixed(SNum.PACKETCABLE_REASON, 1, "HH")
class PacketCableReason(NamedTuple):
    """PacketCable-Reason (13/1): code 0 Gate-Delete or 1 Gate-Close, and its sub-code."""

    code: int
    subcode: int = 0


class UnknownPacketCableObject(NamedTuple):
    """An S-Num/S-Type this codec does not know; kept byte for byte."""

    snum: int
    stype: int
    data: bytes

    LENGTH = None

    def encode(self) -> bytes:
        return OBJECT_HEADER.pack(4 + len(self.data), self.snum, self.stype) + self.data


def _invalid_object(offset: int, reason: str, snum: int, stype: int) -> PacketCableDecodeError:
    return PacketCableDecodeError(offset, reason, PacketCableErrorCode.INVALID_OBJECT, (snum << 8) | stype)


def decode_packetcable_objects(data, offset: int = 0) -> list:
    """The PacketCable objects in a 6/4 or 9/1 payload, in wire order.

    ``offset`` is where the payload starts in its message, so errors point at
    the right byte.  A malformed object raises :class:`PacketCableDecodeError`
    with code 7 (invalid object) and the object's S-Num/S-Type as sub-code.
    """
    buf = data if type(data) is bytes or isinstance(data, memoryview) else memoryview(data)
    try:
        return walk(buf, 0, len(buf), PACKETCABLE_OBJECTS, UnknownPacketCableObject, _invalid_object, aligned=False)
    except PacketCableDecodeError as exc:
        exc.offset += offset
        raise
