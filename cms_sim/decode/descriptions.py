"""What a code means, in a few words, next to its name: the richer enum text Wireshark shows.

A field reads ``Install (1) — admit the request, install the configuration``:
the name stays short (it is also the JSON ``<field>_name``), the description
says what the code does.  Meanings follow RFC 2748 section 2.2 and
docs/protocol.md (protocol.md §2.5, §3.3, §3.6); codes whose name says it
all have no entry.
"""

from __future__ import annotations

from enum import Enum

from cops_core import codes
from cops_core.dqos import codes as pc_codes

DESCRIPTIONS: dict[type[Enum], dict[int, str]] = {
    codes.DecisionCommand: {
        codes.DecisionCommand.NULL_DECISION: "no configuration data available",
        codes.DecisionCommand.INSTALL: "admit the request, install the configuration",
        codes.DecisionCommand.REMOVE: "remove the request, remove the configuration",
    },
    codes.DecisionFlag: {
        codes.DecisionFlag.TRIGGER_ERROR: "report an error if the decision cannot be carried out",
    },
    codes.ReasonCode: {
        codes.ReasonCode.PREEMPTED: "another request state takes precedence",
        codes.ReasonCode.TEAR: "a signaled state was removed",
        codes.ReasonCode.TIMEOUT: "the local state timed out",
        codes.ReasonCode.ROUTE_CHANGE: "the change invalidates the request state",
        codes.ReasonCode.INSUFFICIENT_RESOURCES: "no local resource available",
        codes.ReasonCode.PDP_DIRECTIVE: "the PDP's decision caused the delete",
        codes.ReasonCode.UNSUPPORTED_DECISION: "the PDP's decision is not supported",
        codes.ReasonCode.TRANSIENT_HANDLE: "stateless event",
        codes.ReasonCode.MALFORMED_DECISION: "could not recover",
        codes.ReasonCode.UNKNOWN_COPS_OBJECT_FROM_PDP: "the sub-code names the object",
    },
    codes.ErrorCode: {
        codes.ErrorCode.BAD_MESSAGE_FORMAT: "malformed message",
        codes.ErrorCode.UNABLE_TO_PROCESS: "the server gives up on the query",
        codes.ErrorCode.UNKNOWN_COPS_OBJECT: "the sub-code names the object",
        codes.ErrorCode.AUTHENTICATION_REQUIRED: "the sub-code names the Integrity C-Type wanted",
    },
    codes.ReportType: {
        codes.ReportType.SUCCESS: "the decision was carried out at the PEP",
        codes.ReportType.FAILURE: "the PEP could not carry out the decision",
        codes.ReportType.ACCOUNTING: "an update for an installed state",
    },
    pc_codes.Direction: {
        pc_codes.Direction.DOWNSTREAM: "downstream gate, toward the subscriber",
        pc_codes.Direction.UPSTREAM: "upstream gate, from the subscriber",
    },
    pc_codes.SessionClass: {
        pc_codes.SessionClass.NORMAL: "normal priority VoIP session",
        pc_codes.SessionClass.HIGH_PRIORITY: "high priority VoIP session (emergency)",
        pc_codes.SessionClass.RESERVED: "not to be used: a CMTS refuses it with PacketCable-Error 3",
    },
    pc_codes.PacketCableErrorCode: {
        pc_codes.PacketCableErrorCode.INSUFFICIENT_RESOURCES: "no gates currently available",
        pc_codes.PacketCableErrorCode.ILLEGAL_SESSION_CLASS: "a Gate-Spec's session class is not 0, 1 or 2",
        pc_codes.PacketCableErrorCode.SUBSCRIBER_EXCEEDED_GATE_LIMIT: "the subscriber holds as many gates as its "
                                                                      "Activity-Count allows",
        pc_codes.PacketCableErrorCode.MISSING_REQUIRED_OBJECT: "the sub-code names the object",
        pc_codes.PacketCableErrorCode.INVALID_OBJECT: "the sub-code names the object",
    },
    pc_codes.GateCloseSubcode: {
        pc_codes.GateCloseSubcode.CLIENT_INITIATED_RELEASE: "normal operation",
        pc_codes.GateCloseSubcode.RESERVATION_REASSIGNMENT: "preempted, e.g. for a priority session",
        pc_codes.GateCloseSubcode.LACK_OF_RESERVATION_MAINTENANCE: "e.g. no RSVP refreshes",
        pc_codes.GateCloseSubcode.LACK_OF_DOCSIS_MAC_LAYER_RESPONSES: "e.g. no station maintenance",
        pc_codes.GateCloseSubcode.TIMER_T0_EXPIRATION: "no Gate-Set from the gate controller",
        pc_codes.GateCloseSubcode.TIMER_T1_EXPIRATION: "no commit from the MTA",
        pc_codes.GateCloseSubcode.TIMER_T7_EXPIRATION: "service flow reservation timeout",
        pc_codes.GateCloseSubcode.TIMER_T8_EXPIRATION: "service flow inactive upstream",
    },
}


def describe(member: Enum) -> str | None:
    """What ``member`` means, or None when its name says it all."""
    return DESCRIPTIONS.get(type(member), {}).get(member.value)


def dscp_name(ds_field: int) -> str:
    """The per-hop behaviour a DS field asks for: "EF", "AF41", "CS3", "default" (RFC 2474, 2597, 3246, 5865)."""
    dscp = ds_field >> 2
    if dscp == 46:
        return "EF"
    if dscp == 44:
        return "VOICE-ADMIT"
    klass, drop = divmod(dscp, 8)
    if 1 <= klass <= 4 and drop in (2, 4, 6):
        return f"AF{klass}{drop // 2}"
    if dscp == 0:
        return "default"
    return f"CS{klass}" if not drop else "unassigned"
