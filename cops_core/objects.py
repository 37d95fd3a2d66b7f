"""RFC 2748 / RFC 4261 objects, C-Num 1 to 16: one class per (C-Num, C-Type).

Each class is an immutable ``NamedTuple`` whose fields are declared in wire
order (:mod:`cops_core.fields`); its layout decorator derives ``encode() ->
bytes`` (header, body and padding) and ``decode_body(buf, start, end)`` from
them.  Objects this module does not know decode to :class:`UnknownObject`,
which re-encodes byte for byte.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from typing import NamedTuple

from .codes import CNum, DecisionCommand, DecisionFlag, ErrorCode, IntegrityFlag, ReasonCode, ReportType, RType
from .fields import ipv4_address, ipv6_address, reserved_bytes, rest, u16, u32
from .wire import OBJECT_HEADER, Registry, fixed_layout, pad4, variable_layout

COPS_OBJECTS = Registry("COPS", "CNUM", "CTYPE")


def _fixed(cnum: CNum, ctype: int, label: str):
    return fixed_layout(COPS_OBJECTS, cnum, ctype, label)


def _variable(cnum: CNum, ctype: int, label: str):
    return variable_layout(COPS_OBJECTS, cnum, ctype, label, pad=True)


# --- C-Num 1: Handle --------------------------------------------------------


@_variable(CNum.HANDLE, 1, "Handle")
class Handle(NamedTuple):
    """Client Handle (1/1): opaque, chosen by the PEP, unique per connection and client-type."""

    value: bytes = rest("Handle")

    @classmethod
    def from_int(cls, number: int) -> "Handle":
        """The 4-byte handle the emulator uses (Asterisk and Wireshark key on 4 bytes)."""
        return cls(number.to_bytes(4, "big"))


# --- C-Num 2: Context -------------------------------------------------------


@_fixed(CNum.CONTEXT, 1, "Context")
class Context(NamedTuple):
    """Context (2/1): R-Type (a :class:`~cops_core.codes.RType` bit set) and M-Type."""

    r_type: int = u16("R-Type", enum=RType)
    m_type: int = u16("M-Type", default=0)


# --- C-Num 3/4: In-Interface, Out-Interface ----------------------------------


@_fixed(CNum.IN_INT, 1, "In-Interface (IPv4)")
class InInterfaceIPv4(NamedTuple):
    """In-Interface (3/1): IPv4 address and ifIndex."""

    address: IPv4Address = ipv4_address("IPv4 Address")
    if_index: int = u32("ifIndex", default=0)


@_fixed(CNum.IN_INT, 2, "In-Interface (IPv6)")
class InInterfaceIPv6(NamedTuple):
    """In-Interface (3/2): IPv6 address and ifIndex."""

    address: IPv6Address = ipv6_address("IPv6 Address")
    if_index: int = u32("ifIndex", default=0)


@_fixed(CNum.OUT_INT, 1, "Out-Interface (IPv4)")
class OutInterfaceIPv4(NamedTuple):
    """Out-Interface (4/1): IPv4 address and ifIndex."""

    address: IPv4Address = ipv4_address("IPv4 Address")
    if_index: int = u32("ifIndex", default=0)


@_fixed(CNum.OUT_INT, 2, "Out-Interface (IPv6)")
class OutInterfaceIPv6(NamedTuple):
    """Out-Interface (4/2): IPv6 address and ifIndex."""

    address: IPv6Address = ipv6_address("IPv6 Address")
    if_index: int = u32("ifIndex", default=0)


# --- C-Num 5: Reason ----------------------------------------------------------


@_fixed(CNum.REASON, 1, "Reason")
class Reason(NamedTuple):
    """Reason (5/1), carried in a DRQ: a :class:`~cops_core.codes.ReasonCode` and sub-code."""

    code: int = u16("Reason-Code", enum=ReasonCode)
    subcode: int = u16("Reason Sub-code", show="object-subcode", default=0)


# --- C-Num 6/7: Decision and LPDP Decision -------------------------------------


@_fixed(CNum.DECISION, 1, "Decision: Flags")
class DecisionFlags(NamedTuple):
    """Decision Flags (6/1): Command-Code (:class:`DecisionCommand`) and Flags (:class:`DecisionFlag`)."""

    command: int = u16("Command-Code", enum=DecisionCommand, default=DecisionCommand.INSTALL)
    flags: int = u16("Flags", enum=DecisionFlag, default=0)


@_variable(CNum.DECISION, 2, "Decision: Stateless Data")
class StatelessData(NamedTuple):
    """Stateless Data decision (6/2): client-specific, opaque here."""

    data: bytes = rest("Data")


@_variable(CNum.DECISION, 3, "Decision: Replacement Data")
class ReplacementData(NamedTuple):
    """Replacement Data decision (6/3): opaque."""

    data: bytes = rest("Data")


@_variable(CNum.DECISION, 4, "Decision: Client Specific Decision Data")
class ClientSpecificDecision(NamedTuple):
    """Client Specific Decision Data (6/4): for DQoS the gate command's PacketCable objects."""

    data: bytes = rest("Data")


@_variable(CNum.DECISION, 5, "Decision: Named Decision Data")
class NamedDecisionData(NamedTuple):
    """Named Decision Data (6/5): opaque."""

    data: bytes = rest("Data")


@_fixed(CNum.LPDP_DECISION, 1, "LPDP Decision: Flags")
class LPDPDecisionFlags(NamedTuple):
    """LPDP Decision Flags (7/1), laid out as the Decision Flags."""

    command: int = u16("Command-Code", enum=DecisionCommand, default=DecisionCommand.INSTALL)
    flags: int = u16("Flags", enum=DecisionFlag, default=0)


@_variable(CNum.LPDP_DECISION, 2, "LPDP Decision: Stateless Data")
class LPDPStatelessData(NamedTuple):
    """LPDP Stateless Data (7/2): opaque."""

    data: bytes = rest("Data")


@_variable(CNum.LPDP_DECISION, 3, "LPDP Decision: Replacement Data")
class LPDPReplacementData(NamedTuple):
    """LPDP Replacement Data (7/3): opaque."""

    data: bytes = rest("Data")


@_variable(CNum.LPDP_DECISION, 4, "LPDP Decision: Client Specific Decision Data")
class LPDPClientSpecificDecision(NamedTuple):
    """LPDP Client Specific Decision Data (7/4): opaque."""

    data: bytes = rest("Data")


@_variable(CNum.LPDP_DECISION, 5, "LPDP Decision: Named Decision Data")
class LPDPNamedDecisionData(NamedTuple):
    """LPDP Named Decision Data (7/5): opaque."""

    data: bytes = rest("Data")


# --- C-Num 8: Error -------------------------------------------------------------


@_fixed(CNum.ERROR, 1, "Error")
class Error(NamedTuple):
    """Error (8/1): an :class:`~cops_core.codes.ErrorCode` and sub-code."""

    code: int = u16("Error-Code", enum=ErrorCode)
    subcode: int = u16("Error Sub-code", show="object-subcode", default=0)


# --- C-Num 9: Client Specific Information ---------------------------------------


@_variable(CNum.CLIENT_SI, 1, "ClientSI: Signaled")
class SignaledClientSI(NamedTuple):
    """Signaled ClientSI (9/1): for DQoS the reply's or event's PacketCable objects."""

    data: bytes = rest("Data")


@_variable(CNum.CLIENT_SI, 2, "ClientSI: Named")
class NamedClientSI(NamedTuple):
    """Named ClientSI (9/2): opaque."""

    data: bytes = rest("Data")


# --- C-Num 10: Keep-Alive Timer -------------------------------------------------


@_fixed(CNum.KA_TIMER, 1, "KA Timer")
class KATimer(NamedTuple):
    """Keep-Alive Timer (10/1): seconds, 0 = no keep-alives."""

    reserved = reserved_bytes(2)
    seconds: int = u16("KA Timer Value", unit="s")


# --- C-Num 11: PEP Identification -----------------------------------------------

@_variable(CNum.PEPID, 1, "PEPID")
class PEPID(NamedTuple):
    """PEP Identification (11/1): NUL-terminated ASCII.

    The one object whose Length counts its padding (RFC 2748 section 2.2.11):
    the string, its NUL and zero bytes up to a multiple of four.
    """

    identifier: str = rest("PEP Id", show="text")

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


@_fixed(CNum.REPORT_TYPE, 1, "Report-Type")
class ReportTypeObject(NamedTuple):
    """Report-Type (12/1): a :class:`~cops_core.codes.ReportType`."""

    report_type: int = u16("Report-Type", enum=ReportType, default=ReportType.SUCCESS)
    reserved = reserved_bytes(2)


# --- C-Num 13/14: PDP Redirect Address, Last PDP Address ------------------------


@_fixed(CNum.PDP_REDIR_ADDR, 1, "PDP Redirect Address (IPv4)")
class PDPRedirectAddressIPv4(NamedTuple):
    """PDP Redirect Address (13/1): IPv4 address and TCP port."""

    address: IPv4Address = ipv4_address("IPv4 Address")
    reserved = reserved_bytes(2)
    port: int = u16("TCP Port")


@_fixed(CNum.PDP_REDIR_ADDR, 2, "PDP Redirect Address (IPv6)")
class PDPRedirectAddressIPv6(NamedTuple):
    """PDP Redirect Address (13/2): IPv6 address and TCP port."""

    address: IPv6Address = ipv6_address("IPv6 Address")
    reserved = reserved_bytes(2)
    port: int = u16("TCP Port")


@_fixed(CNum.LAST_PDP_ADDR, 1, "Last PDP Address (IPv4)")
class LastPDPAddressIPv4(NamedTuple):
    """Last PDP Address (14/1): IPv4 address and TCP port."""

    address: IPv4Address = ipv4_address("IPv4 Address")
    reserved = reserved_bytes(2)
    port: int = u16("TCP Port")


@_fixed(CNum.LAST_PDP_ADDR, 2, "Last PDP Address (IPv6)")
class LastPDPAddressIPv6(NamedTuple):
    """Last PDP Address (14/2): IPv6 address and TCP port."""

    address: IPv6Address = ipv6_address("IPv6 Address")
    reserved = reserved_bytes(2)
    port: int = u16("TCP Port")


# --- C-Num 15: Accounting Timer ---------------------------------------------------


@_fixed(CNum.ACCT_TIMER, 1, "Accounting Timer")
class AccountingTimer(NamedTuple):
    """Accounting Timer (15/1): seconds, 0 = no unsolicited accounting reports."""

    reserved = reserved_bytes(2)
    seconds: int = u16("ACCT Timer Value", unit="s")


# --- C-Num 16: Message Integrity -----------------------------------------------------


@_variable(CNum.INTEGRITY, 1, "Message Integrity (HMAC)")
class IntegrityHMAC(NamedTuple):
    """Message Integrity (16/1): Key ID, sequence number and keyed digest (HMAC-MD5-96: 12 bytes)."""

    key_id: int = u32("Key ID", show="hex")
    sequence: int = u32("Sequence Number")
    digest: bytes = rest("Keyed Message Digest")


@_fixed(CNum.INTEGRITY, 2, "Integrity (TLS)")
class IntegrityTLS(NamedTuple):
    """Integrity C-Type 2 (RFC 4261): Flags, 0x0001 = StartTLS. Only in OPN/CAT of client-type 0."""

    reserved = reserved_bytes(2)
    flags: int = u16("Flags", enum=IntegrityFlag, default=1)


# --- anything else ---------------------------------------------------------------------


class UnknownObject(NamedTuple):
    """An object whose C-Num or C-Type this codec does not know; kept byte for byte."""

    cnum: int
    ctype: int
    data: bytes

    LENGTH = None
    LABEL = "Unknown object"

    def encode(self) -> bytes:
        header = OBJECT_HEADER.pack(4 + len(self.data), self.cnum, self.ctype)
        return header + self.data + bytes(pad4(len(self.data)))
