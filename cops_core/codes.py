"""COPS (RFC 2748, RFC 4261) code points, named as the RFC names them."""

from __future__ import annotations

from enum import IntEnum, IntFlag

VERSION = 1
"""The only COPS version (RFC 2748 section 2.1)."""

HEADER_SIZE = 8


class OpCode(IntEnum):
    """Common-header Op Code (RFC 2748 section 2.1)."""

    REQ = 1  # Request
    DEC = 2  # Decision
    RPT = 3  # Report State
    DRQ = 4  # Delete Request State
    SSQ = 5  # Synchronize State Request
    OPN = 6  # Client-Open
    CAT = 7  # Client-Accept
    CC = 8  # Client-Close
    KA = 9  # Keep-Alive
    SSC = 10  # Synchronize Complete


OPCODE_TITLES = {
    OpCode.REQ: "Request",
    OpCode.DEC: "Decision",
    OpCode.RPT: "Report State",
    OpCode.DRQ: "Delete Request State",
    OpCode.SSQ: "Synchronize State Request",
    OpCode.OPN: "Client-Open",
    OpCode.CAT: "Client-Accept",
    OpCode.CC: "Client-Close",
    OpCode.KA: "Keep-Alive",
    OpCode.SSC: "Synchronize Complete",
}


class ClientType(IntEnum):
    """Common-header Client-type (RFC 2748 section 2.1, IANA, protocol.md 2.1)."""

    CONNECTION = 0  # keep-alive and connection-level security (RFC 4261)
    RSVP = 1
    COPS_PR = 2
    PACKETCABLE_DQOS = 0x8008
    THREEGPP_GO = 0x8009
    PACKETCABLE_MM = 0x800A


class CNum(IntEnum):
    """Object class numbers (RFC 2748 section 2.2)."""

    HANDLE = 1
    CONTEXT = 2
    IN_INT = 3
    OUT_INT = 4
    REASON = 5
    DECISION = 6
    LPDP_DECISION = 7
    ERROR = 8
    CLIENT_SI = 9
    KA_TIMER = 10
    PEPID = 11
    REPORT_TYPE = 12
    PDP_REDIR_ADDR = 13
    LAST_PDP_ADDR = 14
    ACCT_TIMER = 15
    INTEGRITY = 16


class RType(IntFlag):
    """Context R-Type request types (RFC 2748 section 2.2.2)."""

    INCOMING_MESSAGE = 0x01
    RESOURCE_ALLOCATION = 0x02
    OUTGOING_MESSAGE = 0x04
    CONFIGURATION = 0x08


class DecisionCommand(IntEnum):
    """Decision Flags object Command-Code (RFC 2748 section 2.2.6)."""

    NULL_DECISION = 0
    INSTALL = 1
    REMOVE = 2


class DecisionFlag(IntFlag):
    """Decision Flags object Flags (RFC 2748 section 2.2.6)."""

    TRIGGER_ERROR = 0x0001


class ReasonCode(IntEnum):
    """Reason object codes, sent in a DRQ (RFC 2748 section 2.2.5)."""

    UNSPECIFIED = 1
    MANAGEMENT = 2
    PREEMPTED = 3
    TEAR = 4
    TIMEOUT = 5
    ROUTE_CHANGE = 6
    INSUFFICIENT_RESOURCES = 7
    PDP_DIRECTIVE = 8
    UNSUPPORTED_DECISION = 9
    SYNCHRONIZE_HANDLE_UNKNOWN = 10
    TRANSIENT_HANDLE = 11
    MALFORMED_DECISION = 12
    UNKNOWN_COPS_OBJECT_FROM_PDP = 13


class ErrorCode(IntEnum):
    """Error object codes (RFC 2748 section 2.2.8, RFC 4261)."""

    BAD_HANDLE = 1
    INVALID_HANDLE_REFERENCE = 2
    BAD_MESSAGE_FORMAT = 3
    UNABLE_TO_PROCESS = 4
    MANDATORY_CLIENT_SPECIFIC_INFO_MISSING = 5
    UNSUPPORTED_CLIENT_TYPE = 6
    MANDATORY_COPS_OBJECT_MISSING = 7
    CLIENT_FAILURE = 8
    COMMUNICATION_FAILURE = 9
    UNSPECIFIED = 10
    SHUTTING_DOWN = 11
    REDIRECT_TO_PREFERRED_SERVER = 12
    UNKNOWN_COPS_OBJECT = 13
    AUTHENTICATION_FAILURE = 14
    AUTHENTICATION_REQUIRED = 15


class ReportType(IntEnum):
    """Report-Type object values (RFC 2748 section 2.2.12)."""

    SUCCESS = 1
    FAILURE = 2
    ACCOUNTING = 3


class IntegrityFlag(IntFlag):
    """Flags of the RFC 4261 Integrity object C-Type 2."""

    STARTTLS = 0x0001


def object_subcode(cnum: int, ctype: int) -> int:
    """The sub-code RFC 2748 gives for an object in error: C-Num in the high octet, C-Type in the low."""
    return (cnum << 8) | ctype


def spoken(codes: type[IntEnum], code: int) -> str:
    """A code's name as words ("subscriber exceeded gate limit"), for people; "(not a defined code)" if none."""
    member = codes._value2member_map_.get(code)
    return member.name.lower().replace("_", " ") if member is not None else "(not a defined code)"
