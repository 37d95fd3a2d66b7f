"""PacketCable DQoS code points (protocol.md section 3), named as the spec names them."""

from __future__ import annotations

from enum import IntEnum


class SNum(IntEnum):
    """PacketCable object S-Num (protocol.md 3.3)."""

    TRANSACTION_ID = 1
    SUBSCRIBER_ID = 2
    GATE_ID = 3
    ACTIVITY_COUNT = 4
    GATE_SPEC = 5
    REMOTE_GATE_INFO = 6
    EVENT_GENERATION_INFO = 7
    MEDIA_CONNECTION_EVENT_INFO = 8
    PACKETCABLE_ERROR = 9
    ELECTRONIC_SURVEILLANCE_PARAMETERS = 10
    SESSION_DESCRIPTION_PARAMETERS = 11
    PACKETCABLE_REASON = 13


class GateCommandType(IntEnum):
    """Gate Command Type carried in the Transaction-ID (protocol.md 3.2)."""

    GATE_ALLOC = 1
    GATE_ALLOC_ACK = 2
    GATE_ALLOC_ERR = 3
    GATE_SET = 4
    GATE_SET_ACK = 5
    GATE_SET_ERR = 6
    GATE_INFO = 7
    GATE_INFO_ACK = 8
    GATE_INFO_ERR = 9
    GATE_DELETE = 10
    GATE_DELETE_ACK = 11
    GATE_DELETE_ERR = 12
    GATE_OPEN = 13
    GATE_CLOSE = 14

    @property
    def title(self) -> str:
        """The spec's spelling: ``Gate-Set-Ack``."""
        return "-".join(part.capitalize() for part in self.name.split("_"))


class PacketCableErrorCode(IntEnum):
    """PacketCable-Error codes (protocol.md 3.6)."""

    INSUFFICIENT_RESOURCES = 1
    UNKNOWN_GATE_ID = 2
    ILLEGAL_SESSION_CLASS = 3
    SUBSCRIBER_EXCEEDED_GATE_LIMIT = 4
    GATE_ALREADY_SET = 5
    MISSING_REQUIRED_OBJECT = 6
    INVALID_OBJECT = 7
    UNSPECIFIED = 127


class PacketCableReasonCode(IntEnum):
    """PacketCable-Reason code: which list the sub-code comes from."""

    GATE_DELETE = 0
    GATE_CLOSE = 1

    @property
    def title(self) -> str:
        """The gate command the code goes with, spelled as the spec does: ``Gate-Close``."""
        return "-".join(part.capitalize() for part in self.name.split("_"))


class GateDeleteSubcode(IntEnum):
    """PacketCable-Reason sub-codes with code 0 (Gate-Delete)."""

    NORMAL_OPERATION = 0
    LOCAL_GATE_COORDINATION_NOT_COMPLETED = 1
    REMOTE_GATE_COORDINATION_NOT_COMPLETED = 2
    AUTHORIZATION_REVOKED = 3
    UNEXPECTED_GATE_OPEN = 4
    LOCAL_GATE_CLOSE_FAILURE = 5
    UNSPECIFIED = 127


class GateCloseSubcode(IntEnum):
    """PacketCable-Reason sub-codes with code 1 (Gate-Close)."""

    CLIENT_INITIATED_RELEASE = 0
    RESERVATION_REASSIGNMENT = 1
    LACK_OF_RESERVATION_MAINTENANCE = 2
    LACK_OF_DOCSIS_MAC_LAYER_RESPONSES = 3
    TIMER_T0_EXPIRATION = 4
    TIMER_T1_EXPIRATION = 5
    TIMER_T7_EXPIRATION = 6
    TIMER_T8_EXPIRATION = 7
    UNSPECIFIED = 127


class Direction(IntEnum):
    """Gate-Spec direction."""

    DOWNSTREAM = 0
    UPSTREAM = 1


class SessionClass(IntEnum):
    """Gate-Spec session class."""

    UNSPECIFIED = 0
    NORMAL = 1
    HIGH_PRIORITY = 2
    RESERVED = 3
