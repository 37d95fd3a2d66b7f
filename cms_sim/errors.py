"""What a gate controller call can raise.

A test writer wants ``pytest.raises(UnknownGateID)``, not a check of a
numeric code, so each PacketCable-Error code (protocol.md 3.6) has its own
:class:`GateError` subclass; the code, sub-code and the whole ``*-Err`` reply
stay on the exception for reports.  Failures that are not the CMTS's answer
(no answer in time, the connection or its request state went away, a reply
that does not fit the request) have their own classes.
"""

from __future__ import annotations

from cops_core.dqos import PacketCableErrorCode


class ControllerError(Exception):
    """Base of every error the gate controller raises."""


class ConnectError(ControllerError):
    """The TCP connection or the COPS handshake (OPN, CAT, REQ) to a CMTS failed."""


class GateControlLost(ControllerError):
    """The connection or its request state is gone: the request was not (or may not have been) answered.

    Raised for requests pending when the CMTS sent Client-Close or a DRQ,
    closed TCP or fell silent, and for requests made on a closed controller.
    ``cause`` is the short, countable form ("connection lost",
    "Client-Close error 9 communication failure", ...) that load statistics
    group failures by; the message has the details.
    """

    def __init__(self, message: str, cause: str = "connection lost") -> None:
        super().__init__(message)
        self.cause = cause


class RequestTimeout(ControllerError):
    """No reply to a request in time: ``command`` is the gate command (None for a Synchronize State Request)."""

    def __init__(self, what: str, timeout: float, command=None) -> None:
        super().__init__(f"no reply to {what} within {timeout:g} s")
        self.command = command
        self.timeout = timeout


class UnexpectedReply(ControllerError):
    """The reply carrying the request's Transaction-ID is not one of its Ack/Err, or could not be decoded."""

    def __init__(self, command, reason: str, reply=None) -> None:
        super().__init__(f"{command.title} (TID {command.transaction_id}): {reason}")
        self.command = command
        self.reply = reply


class GateError(ControllerError):
    """The CMTS answered with a ``*-Err``: ``code``/``subcode`` are its PacketCable-Error, ``reply`` the Err.

    :meth:`from_reply` picks the subclass named after the code; codes this
    table does not know give a plain :class:`GateError`.
    """

    CODE: PacketCableErrorCode | None = None
    _BY_CODE: dict[int, type["GateError"]] = {}

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.CODE is not None:
            GateError._BY_CODE[cls.CODE] = cls

    def __init__(self, command, reply) -> None:
        self.command = command
        self.reply = reply
        self.code = reply.error.code
        self.subcode = reply.error.subcode
        try:
            name = PacketCableErrorCode(self.code).name.replace("_", " ").lower()
        except ValueError:
            name = "unknown error code"
        super().__init__(
            f"{reply.title}: {name} (code {self.code}, sub-code 0x{self.subcode:04x}) "
            f"for {command.title} TID {command.transaction_id}"
        )

    @classmethod
    def from_reply(cls, command, reply) -> "GateError":
        return cls._BY_CODE.get(reply.error.code, GateError)(command, reply)


class InsufficientResources(GateError):
    CODE = PacketCableErrorCode.INSUFFICIENT_RESOURCES


class UnknownGateID(GateError):
    CODE = PacketCableErrorCode.UNKNOWN_GATE_ID


class IllegalSessionClass(GateError):
    CODE = PacketCableErrorCode.ILLEGAL_SESSION_CLASS


class GateLimitExceeded(GateError):
    CODE = PacketCableErrorCode.SUBSCRIBER_EXCEEDED_GATE_LIMIT


class GateAlreadySet(GateError):
    CODE = PacketCableErrorCode.GATE_ALREADY_SET


class MissingRequiredObject(GateError):
    CODE = PacketCableErrorCode.MISSING_REQUIRED_OBJECT


class InvalidObject(GateError):
    CODE = PacketCableErrorCode.INVALID_OBJECT


class UnspecifiedGateError(GateError):
    CODE = PacketCableErrorCode.UNSPECIFIED


def innermost(error: BaseException) -> BaseException:
    """The first leaf of nested exception groups (trio wraps an error once for each nursery it leaves)."""
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
