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
from ..fields import f32, ipv4_address, ipv6_address, reserved_bytes, rest, text, u8, u16, u32
from ..wire import OBJECT_HEADER, Registry, fixed_layout, variable_layout, walk
from .codes import Direction, GateCommandType, PacketCableErrorCode, PacketCableReasonCode, SessionClass, SNum

PACKETCABLE_OBJECTS = Registry("PacketCable", "SNUM", "STYPE")


def _fixed(snum: SNum, stype: int, label: str):
    return fixed_layout(PACKETCABLE_OBJECTS, snum, stype, label)


def _opaque(snum: SNum, stype: int, label: str):
    return variable_layout(PACKETCABLE_OBJECTS, snum, stype, label, pad=False)


@_fixed(SNum.TRANSACTION_ID, 1, "Transaction-ID")
class TransactionID(NamedTuple):
    """Transaction-ID (1/1): the GC-chosen TID, echoed in the reply, and the Gate Command Type."""

    transaction_id: int = u16("Transaction Identifier", show="hex+decimal")
    command: int = u16("Gate Command Type", enum=GateCommandType)


@_fixed(SNum.SUBSCRIBER_ID, 1, "Subscriber-ID (IPv4)")
class SubscriberIDIPv4(NamedTuple):
    """Subscriber-ID (2/1): the subscriber's (MTA's) IPv4 address."""

    address: IPv4Address = ipv4_address("Subscriber Identifier")


@_fixed(SNum.SUBSCRIBER_ID, 2, "Subscriber-ID (IPv6)")
class SubscriberIDIPv6(NamedTuple):
    """Subscriber-ID (2/2): the subscriber's IPv6 address."""

    address: IPv6Address = ipv6_address("Subscriber Identifier")


@_fixed(SNum.GATE_ID, 1, "Gate-ID")
class GateID(NamedTuple):
    """Gate-ID (3/1): 32-bit, chosen by the CMTS."""

    gate_id: int = u32("Gate Identifier", show="hex")


@_fixed(SNum.ACTIVITY_COUNT, 1, "Activity-Count")
class ActivityCount(NamedTuple):
    """Activity-Count (4/1): GC to CMTS the subscriber's gate limit, CMTS to GC the gates it holds."""

    count: int = u32("Count")


@_fixed(SNum.GATE_SPEC, 1, "Gate-Spec")
class GateSpec(NamedTuple):
    """Gate-Spec (5/1), 60 bytes: the flow's classifier, DOCSIS timers and token-bucket envelope.

    r, b, p, R are IEEE-754 single floats carried bit-exactly (their units are
    UNVERIFIED, protocol.md 3.3, shown as cmts-sim reads them by default);
    T1/T7/T8 of 0 mean the CMTS's defaults.  The defaults are a voice call's
    (UDP, normal session class, EF, any source port, S 800 us): what scenario
    files and media profiles leave out.
    """

    direction: int = u8("Direction", enum=Direction)
    protocol: int = u8("Protocol ID", show="protocol", default=17)
    flags: int = u8("Flags", show="hex", default=0)
    session_class: int = u8("Session Class", enum=SessionClass, default=SessionClass.NORMAL)
    source_ip: IPv4Address = ipv4_address("Source IP Address", show="wildcard")
    destination_ip: IPv4Address = ipv4_address("Destination IP Address")
    source_port: int = u16("Source Port", show="wildcard", default=0)
    destination_port: int = u16("Destination Port", default=0)
    ds_field: int = u8("DS Field", show="dscp", default=0xB8)
    reserved_1 = reserved_bytes(3)
    t1: int = u16("Timer T1", unit="s", default=0)
    reserved_2 = reserved_bytes(2)  # this DQoS version has no T2 here
    t7: int = u16("Timer T7", unit="s", default=0)
    t8: int = u16("Timer T8", unit="s", default=0)
    token_bucket_rate: float = f32("Token Bucket Rate (r)", unit="bytes/s")
    token_bucket_size: float = f32("Token Bucket Size (b)", unit="bytes")
    peak_data_rate: float = f32("Peak Data Rate (p)", unit="bytes/s")
    minimum_policed_unit: int = u32("Minimum Policed Unit (m)", unit="bytes")
    maximum_packet_size: int = u32("Maximum Packet Size (M)", unit="bytes")
    rate: float = f32("Rate (R)", unit="bytes/s")
    slack_term: int = u32("Slack Term (S)", unit="µs", default=800)


@_opaque(SNum.REMOTE_GATE_INFO, 1, "Remote-Gate-Info")
class RemoteGateInfo(NamedTuple):
    """Remote-Gate-Info (6/1): CMTS-to-CMTS gate coordination; layout UNVERIFIED, kept opaque."""

    data: bytes = rest("Data (opaque)")


@_fixed(SNum.EVENT_GENERATION_INFO, 1, "Event-Generation-Info")
class EventGenerationInfo(NamedTuple):
    """Event-Generation-Info (7/1), 44 bytes: primary and secondary Record Keeping Servers and the BCID.

    The Billing Correlation ID is timestamp, element ID (8 ASCII), time zone
    (8 ASCII: DST flag and offset) and event counter.
    """

    primary_rks_ip: IPv4Address = ipv4_address("Primary RKS IP Address")
    primary_rks_port: int = u16("Primary RKS Port")
    primary_rks_flags: int = u8("Primary RKS Flags", show="hex")
    reserved_1 = reserved_bytes(1)
    secondary_rks_ip: IPv4Address = ipv4_address("Secondary RKS IP Address")
    secondary_rks_port: int = u16("Secondary RKS Port")
    secondary_rks_flags: int = u8("Secondary RKS Flags", show="hex")
    reserved_2 = reserved_bytes(1)
    bcid_timestamp: int = u32("BCID Timestamp")
    bcid_element_id: str = text(8, "BCID Element ID")
    bcid_time_zone: str = text(8, "BCID Time Zone")
    bcid_event_counter: int = u32("BCID Event Counter")


@_opaque(SNum.MEDIA_CONNECTION_EVENT_INFO, 1, "Media-Connection-Event-Info")
class MediaConnectionEventInfo(NamedTuple):
    """Media-Connection-Event-Info (8/1): called/routing/charge numbers; layout UNVERIFIED, opaque."""

    data: bytes = rest("Data (opaque)")


@_fixed(SNum.PACKETCABLE_ERROR, 1, "PacketCable-Error")
class PacketCableError(NamedTuple):
    """PacketCable-Error (9/1): a :class:`PacketCableErrorCode` and sub-code (S-Num/S-Type for 6 and 7)."""

    code: int = u16("Error-Code", enum=PacketCableErrorCode)
    subcode: int = u16("Error Sub-code", show="object-subcode", default=0)


@_fixed(SNum.ELECTRONIC_SURVEILLANCE_PARAMETERS, 1, "Electronic-Surveillance-Parameters")
class ElectronicSurveillanceParameters(NamedTuple):
    """Electronic-Surveillance-Parameters (10/1), 48 bytes: DF addresses for call data and content, CCC-ID, BCID."""

    df_cdc_ip: IPv4Address = ipv4_address("DF IP Address for CDC")
    df_cdc_port: int = u16("DF Port for CDC")
    flags: int = u16("Flags", show="hex")
    df_ccc_ip: IPv4Address = ipv4_address("DF IP Address for CCC")
    df_ccc_port: int = u16("DF Port for CCC")
    reserved = reserved_bytes(2)
    ccc_id: int = u32("CCC-ID", show="hex+decimal")
    bcid_timestamp: int = u32("BCID Timestamp")
    bcid_element_id: str = text(8, "BCID Element ID")
    bcid_time_zone: str = text(8, "BCID Time Zone")
    bcid_event_counter: int = u32("BCID Event Counter")


@_opaque(SNum.SESSION_DESCRIPTION_PARAMETERS, 1, "Session-Description-Parameters")
class SessionDescriptionParameters(NamedTuple):
    """Session-Description-Parameters (11/1): upstream SDP, NUL, downstream SDP, NUL, zero pad (UNVERIFIED).

    Build one with :meth:`from_sdp` so the object stays 4-aligned.
    """

    data: bytes = rest("Data (opaque)")

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


@_fixed(SNum.PACKETCABLE_REASON, 1, "PacketCable-Reason")
class PacketCableReason(NamedTuple):
    """PacketCable-Reason (13/1): code 0 Gate-Delete or 1 Gate-Close, and its sub-code."""

    code: int = u16("Reason Code", enum=PacketCableReasonCode)
    subcode: int = u16("Reason Sub-code", show="reason-subcode", default=0)


class UnknownPacketCableObject(NamedTuple):
    """An S-Num/S-Type this codec does not know; kept byte for byte."""

    snum: int
    stype: int
    data: bytes

    LENGTH = None
    LABEL = "Unknown PacketCable object"

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
