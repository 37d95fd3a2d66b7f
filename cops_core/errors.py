"""The errors the protocol core raises.

Decoding never raises anything but :class:`DecodeError` (or its subclass for
PacketCable payloads).  Each error carries what the peer must be told: the COPS
Error code and sub-code that RFC 2748 prescribes for the fault, so the caller
can answer with a Client-Close, a DRQ or a Gate-*-Err without re-deriving it.
"""

from __future__ import annotations

from .codes import ErrorCode


class DecodeError(Exception):
    """Bytes that are not a well-formed COPS message.

    ``unwalkable`` is True when an object header itself is broken (length
    below 4, a truncated header): nothing after it can be read, and
    protocol.md 3.6 answers that with Client-Close even inside a DEC.

    ``offset`` is the byte offset of the fault from the start of the message
    (or of the stream for framing faults); ``error_code``/``error_subcode``
    are the COPS Error object to send back.
    """

    def __init__(
        self,
        offset: int,
        reason: str,
        error_code: ErrorCode = ErrorCode.BAD_MESSAGE_FORMAT,
        error_subcode: int = 0,
    ) -> None:
        super().__init__(f"at offset {offset}: {reason}")
        self.offset = offset
        self.reason = reason
        self.error_code = error_code
        self.error_subcode = error_subcode
        self.opcode: int | None = None  # set once the common header was read, so a DEC can get its DRQ
        self.frame: bytes | None = None  # the whole message, when the framer could cut it out
        self.unwalkable = False


class PacketCableDecodeError(DecodeError):
    """A DQoS payload (Decision 6/4 or ClientSI 9/1) that is not a valid gate command.

    The COPS message around it was fine; the CMTS answers with a Gate-*-Err
    carrying ``pc_code``/``pc_subcode`` (protocol.md 3.6).  What could be read
    of the command is kept so that the error reply can echo it.
    """

    def __init__(
        self,
        offset: int,
        reason: str,
        pc_code: int,
        pc_subcode: int = 0,
        *,
        transaction_id: int = 0,
        command_type: int = 0,
        subscriber=None,
        gate_id: int | None = None,
    ) -> None:
        super().__init__(offset, reason, ErrorCode.MANDATORY_CLIENT_SPECIFIC_INFO_MISSING)
        self.pc_code = pc_code
        self.pc_subcode = pc_subcode
        self.transaction_id = transaction_id
        self.command_type = command_type
        self.subscriber = subscriber
        self.gate_id = gate_id


class ProtocolError(Exception):
    """A message that is well formed but illegal in the connection's state.

    ``error_code``/``error_subcode`` are the COPS Error to close with, and
    ``client_type`` the Client-Close's client-type: None for the
    connection's own, 0 for a fault of the connection itself (RFC 2748 4.1:
    security, or a client-type 0 message out of turn).
    """

    def __init__(self, reason: str, error_code: ErrorCode = ErrorCode.BAD_MESSAGE_FORMAT, error_subcode: int = 0,
                 client_type: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error_code = error_code
        self.error_subcode = error_subcode
        self.client_type = client_type


class LocalProtocolError(ProtocolError):
    """We tried to send something the protocol does not allow now (a bug in the caller)."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow now."""


class IntegrityError(RemoteProtocolError):
    """A message that fails COPS integrity (RFC 2748 4.1): a wrong Key ID, digest or sequence number (Error 14),
    no Integrity object where one is due (15).  Answered with Client-Close of client-type 0, then hang up."""

    def __init__(self, reason: str, error_code: ErrorCode, error_subcode: int = 0) -> None:
        super().__init__(f"integrity: {reason}", error_code, error_subcode, client_type=0)
