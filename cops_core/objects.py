"""RFC 2748 / RFC 4261 objects, C-Num 1 to 16: one class per (C-Num, C-Type).

Each class is an immutable ``NamedTuple`` with ``encode() -> bytes`` (header,
body and padding) and ``decode_body(buf, start, end)``.  Objects this module
does not know decode to :class:`UnknownObject`, which re-encodes byte for byte.
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address
from typing import NamedTuple

from .codes import CNum, DecisionCommand, ReportType
from .wire import IPV4, IPV6, OBJECT_HEADER, Registry, fixed_layout, pad4, variable_layout

COPS_OBJECTS = Registry("COPS", "CNUM", "CTYPE")


def _fixed(cnum: CNum, ctype: int, fmt: str, convs=None):
    return fixed_layout(COPS_OBJECTS, cnum, ctype, fmt, convs)


def _variable(cnum: CNum, ctype: int):
    return variable_layout(COPS_OBJECTS, cnum, ctype, pad=True)


class _Opaque:
    """Body helpers for objects whose whole body is one opaque byte string."""

    @staticmethod
    def body(obj) -> bytes:
        return obj.data

    @staticmethod
    def decode(cls, buf, start: int, end: int):
        return tuple.__new__(cls, (bytes(buf[start:end]),))


# --- C-Num 1: Handle --------------------------------------------------------


@_variable(CNum.HANDLE, 1)
class Handle(NamedTuple):
    """Client Handle (1/1): opaque, chosen by the PEP, unique per connection and client-type."""

    value: bytes

    def body(self) -> bytes:
        return self.value

    @classmethod
    def decode_body(cls, buf, start: int, end: int) -> "Handle":
        return tuple.__new__(cls, (bytes(buf[start:end]),))

    @classmethod
    def from_int(cls, number: int) -> "Handle":
        """The 4-byte handle the emulator uses (Asterisk and Wireshark key on 4 bytes)."""
        return cls(number.to_bytes(4, "big"))


# --- C-Num 2: Context -------------------------------------------------------


@_fixed(CNum.CONTEXT, 1, "HH")
class Context(NamedTuple):
    """Context (2/1): R-Type (a :class:`~cops_core.codes.RType` bit set) and M-Type."""

    r_type: int
    m_type: int = 0


# --- C-Num 3/4: In-Interface, Out-Interface ----------------------------------


@_fixed(CNum.IN_INT, 1, "II", {0: IPV4})
class InInterfaceIPv4(NamedTuple):
    """In-Interface (3/1): IPv4 address and ifIndex."""

    address: IPv4Address
    if_index: int = 0


@_fixed(CNum.IN_INT, 2, "16sI", {0: IPV6})
class InInterfaceIPv6(NamedTuple):
    """In-Interface (3/2): IPv6 address and ifIndex."""

    address: IPv6Address
    if_index: int = 0


@_fixed(CNum.OUT_INT, 1, "II", {0: IPV4})
class OutInterfaceIPv4(NamedTuple):
    """Out-Interface (4/1): IPv4 address and ifIndex."""

    address: IPv4Address
    if_index: int = 0


@_fixed(CNum.OUT_INT, 2, "16sI", {0: IPV6})
class OutInterfaceIPv6(NamedTuple):
    """Out-Interface (4/2): IPv6 address and ifIndex."""

    address: IPv6Address
    if_index: int = 0


# --- C-Num 5: Reason ----------------------------------------------------------


@_fixed(CNum.REASON, 1, "HH")
class Reason(NamedTuple):
    """Reason (5/1), carried in a DRQ: a :class:`~cops_core.codes.ReasonCode` and sub-code."""

    code: int
    subcode: int = 0


# --- C-Num 6/7: Decision and LPDP Decision -------------------------------------


@_fixed(CNum.DECISION, 1, "HH")
class DecisionFlags(NamedTuple):
    """Decision Flags (6/1): Command-Code (:class:`DecisionCommand`) and Flags (:class:`DecisionFlag`)."""

    command: int = DecisionCommand.INSTALL
    flags: int = 0


@_variable(CNum.DECISION, 2)
class StatelessData(NamedTuple):
    """Stateless Data decision (6/2): client-specific, opaque here."""

    data: bytes
    body = _Opaque.body
    decode_body = classmethod(_Opaque.decode)


@_variable(CNum.DECISION, 3)
class ReplacementData(NamedTuple):
    """Replacement Data decision (6/3): opaque."""

    data: bytes
    body = _Opaque.body
    decode_body = classmethod(_Opaque.decode)


@_variable(CNum.DECISION, 4)
class ClientSpecificDecision(NamedTuple):
    """Client Specific Decision Data (6/4): for DQoS the gate command's PacketCable objects."""

    data: bytes
    body = _Opaque.body
    decode_body = classmethod(_Opaque.decode)


@_variable(CNum.DECISION, 5)
class NamedDecisionData(NamedTuple):
    """Named Decision Data (6/5): opaque."""

    data: bytes
    body = _Opaque.body
    decode_body = classmethod(_Opaque.decode)


@_fixed(CNum.LPDP_DECISION, 1, "HH")
class LPDPDecisionFlags(NamedTuple):
    """LPDP Decision Flags (7/1), laid out as the Decision Flags."""

    command: int = DecisionCommand.INSTALL
    flags: int = 0


@_variable(CNum.LPDP_DECISION, 2)
class LPDPStatelessData(NamedTuple):
    """LPDP Stateless Data (7/2): opaque."""

    data: bytes
    body = _Opaque.body
    decode_body = classmethod(_Opaque.decode)


@_variable(CNum.LPDP_DECISION, 3)
class LPDPReplacementData(NamedTuple):
    """LPDP Replacement Data (7/3): opaque."""

    data: bytes
    body = _Opaque.body
    decode_body = classmethod(_Opaque.decode)


@_variable(CNum.LPDP_DECISION, 4)
class LPDPClientSpecificDecision(NamedTuple):
    """LPDP Client Specific Decision Data (7/4): opaque."""

    data: bytes
    body = _Opaque.body
    decode_body = classmethod(_Opaque.decode)


@_variable(CNum.LPDP_DECISION, 5)
class LPDPNamedDecisionData(NamedTuple):
    """LPDP Named Decision Data (7/5): opaque."""

    data: bytes
    body = _Opaque.body
    decode_body = classmethod(_Opaque.decode)


# --- C-Num 8: Error -------------------------------------------------------------


@_fixed(CNum.ERROR, 1, "HH")
class Error(NamedTuple):
    """Error (8/1): an :class:`~cops_core.codes.ErrorCode` and sub-code."""

    code: int
    subcode: int = 0


# --- C-Num 9: Client Specific Information ---------------------------------------


@_variable(CNum.CLIENT_SI, 1)
class SignaledClientSI(NamedTuple):
    """Signaled ClientSI (9/1): for DQoS the reply's or event's PacketCable objects."""

    data: bytes
    body = _Opaque.body
    decode_body = classmethod(_Opaque.decode)


@_variable(CNum.CLIENT_SI, 2)
class NamedClientSI(NamedTuple):
    """Named ClientSI (9/2): opaque."""

    data: bytes
    body = _Opaque.body
    decode_body = classmethod(_Opaque.decode)


# --- C-Num 10: Keep-Alive Timer -------------------------------------------------


@_fixed(CNum.KA_TIMER, 1, "2xH")
class KATimer(NamedTuple):
    """Keep-Alive Timer (10/1): seconds, 0 = no keep-alives."""

    seconds: int


# --- C-Num 11: PEP Identification -----------------------------------------------

@_variable(CNum.PEPID, 1)
class PEPID(NamedTuple):
    """PEP Identification (11/1): NUL-terminated ASCII.

    The one object whose Length counts its padding (RFC 2748 section 2.2.11):
    the string, its NUL and zero bytes up to a multiple of four.
    """

    identifier: str

    def encode(self) -> bytes:
        text = self.identifier.encode("ascii") + b"\0"
        text += bytes(pad4(len(text)))
        return OBJECT_HEADER.pack(4 + len(text), CNum.PEPID, 1) + text

    @classmethod
    def decode_body(cls, buf, start: int, end: int) -> "PEPID":
        raw = bytes(buf[start:end])
        nul = raw.find(b"\0")
        if nul < 0:
            raise ValueError("PEPID is not NUL-terminated")
        return tuple.__new__(cls, (raw[:nul].decode("ascii"),))


# --- C-Num 12: Report-Type ------------------------------------------------------


@_fixed(CNum.REPORT_TYPE, 1, "H2x")
class ReportTypeObject(NamedTuple):
    """Report-Type (12/1): a :class:`~cops_core.codes.ReportType`."""

    report_type: int = ReportType.SUCCESS


# --- C-Num 13/14: PDP Redirect Address, Last PDP Address ------------------------


@_fixed(CNum.PDP_REDIR_ADDR, 1, "I2xH", {0: IPV4})
class PDPRedirectAddressIPv4(NamedTuple):
    """PDP Redirect Address (13/1): IPv4 address and TCP port."""

    address: IPv4Address
    port: int


@_fixed(CNum.PDP_REDIR_ADDR, 2, "16s2xH", {0: IPV6})
class PDPRedirectAddressIPv6(NamedTuple):
    """PDP Redirect Address (13/2): IPv6 address and TCP port."""

    address: IPv6Address
    port: int


@_fixed(CNum.LAST_PDP_ADDR, 1, "I2xH", {0: IPV4})
class LastPDPAddressIPv4(NamedTuple):
    """Last PDP Address (14/1): IPv4 address and TCP port."""

    address: IPv4Address
    port: int


@_fixed(CNum.LAST_PDP_ADDR, 2, "16s2xH", {0: IPV6})
class LastPDPAddressIPv6(NamedTuple):
    """Last PDP Address (14/2): IPv6 address and TCP port."""

    address: IPv6Address
    port: int


# --- C-Num 15: Accounting Timer ---------------------------------------------------


@_fixed(CNum.ACCT_TIMER, 1, "2xH")
class AccountingTimer(NamedTuple):
    """Accounting Timer (15/1): seconds, 0 = no unsolicited accounting reports."""

    seconds: int


# --- C-Num 16: Message Integrity -----------------------------------------------------

_KEY_SEQUENCE = struct.Struct("!II")


@_variable(CNum.INTEGRITY, 1)
class IntegrityHMAC(NamedTuple):
    """Message Integrity (16/1): Key ID, sequence number and keyed digest (HMAC-MD5-96: 12 bytes)."""

    key_id: int
    sequence: int
    digest: bytes

    def body(self) -> bytes:
        return _KEY_SEQUENCE.pack(self.key_id, self.sequence) + self.digest

    @classmethod
    def decode_body(cls, buf, start: int, end: int) -> "IntegrityHMAC":
        if end - start < 8:
            raise ValueError(f"{end - start} bytes, need at least 8 for Key ID and sequence number")
        key_id, sequence = _KEY_SEQUENCE.unpack_from(buf, start)
        return tuple.__new__(cls, (key_id, sequence, bytes(buf[start + 8 : end])))


@_fixed(CNum.INTEGRITY, 2, "2xH")
class IntegrityTLS(NamedTuple):
    """Integrity C-Type 2 (RFC 4261): Flags, 0x0001 = StartTLS. Only in OPN/CAT of client-type 0."""

    flags: int = 1


# --- anything else ---------------------------------------------------------------------


class UnknownObject(NamedTuple):
    """An object whose C-Num or C-Type this codec does not know; kept byte for byte."""

    cnum: int
    ctype: int
    data: bytes

    LENGTH = None

    def encode(self) -> bytes:
        header = OBJECT_HEADER.pack(4 + len(self.data), self.cnum, self.ctype)
        return header + self.data + bytes(pad4(len(self.data)))

