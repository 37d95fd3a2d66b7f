"""One COPS message on the wire, as a record: what ladders, captures, live views, statistics and reports read.

Sans-IO: :class:`~cops_core.transport.CopsTransport` makes one per message
sent or received and hands it to its taps, but a record is plain data, and
tests and tools build their own.  A DQoS DEC or RPT carries a gate command
inside its 6/4 or 9/1 object; the record decodes it once, the first time
anyone asks (:attr:`TraceRecord.command`), and keeps it, so that the ladder,
the explanations, the judge and the report all read the same decode.  A
record whose sender had the command at hand (it built the message from it)
is given it and never decodes.  Likewise the message: a gate command read
straight from its bytes (:class:`~cops_core.connection.GateTraffic`) has no
Message object, and its record decodes one from the bytes when asked.
"""

from __future__ import annotations

from typing import Any

from .dqos import GateCommand, gate_command_of
from .errors import DecodeError
from .messages import Malformed, Message, decode_message

Address = tuple[str, int]

UNREAD: Any = object()  # a record's gate command not looked for yet (the default: decoded when asked)


class TraceRecord:
    """One message, as seen from our side.

    ``time`` is the trio clock (monotonic; virtual under a MockClock),
    ``wall`` is ``time.time()`` for captures and reports; ``message`` is a
    :class:`~cops_core.messages.Malformed` for bytes that framed but did not
    decode, or :data:`UNREAD` to decode it from ``data`` when first asked;
    ``data`` is the message's bytes as they travelled.
    """

    __slots__ = ("time", "wall", "outgoing", "local", "peer", "_message", "data", "_command", "_error")
    _FIELDS = ("time", "wall", "outgoing", "local", "peer", "message", "data")

    def __init__(self, time: float, wall: float, outgoing: bool, local: Address, peer: Address,
                 message: Message | Malformed, data: bytes, command: Any = UNREAD) -> None:
        self.time = time
        self.wall = wall
        self.outgoing = outgoing
        self.local = local
        self.peer = peer
        self._message = message
        self.data = data
        self._command = command  # the gate command, None for none, or UNREAD
        self._error: DecodeError | None = None

    @property
    def message(self) -> Message | Malformed:
        if self._message is UNREAD:
            self._message = decode_message(self.data)  # bytes a connection read a gate command from: they decode
        return self._message

    @property
    def command(self) -> GateCommand | None:
        """The gate command the message carries; None if it carries none, or one that does not decode
        (then :attr:`command_error` says why)."""
        if self._command is UNREAD:
            self._decode()
        return self._command

    @property
    def command_error(self) -> DecodeError | None:
        """Why the gate command the message carries does not decode (None if it does, or there is none)."""
        if self._command is UNREAD:
            self._decode()
        return self._error

    def _decode(self) -> None:
        try:
            self._command = gate_command_of(self.message)  # None for anything but a DQoS DEC or RPT
        except DecodeError as exc:
            self._command, self._error = None, exc

    def replace(self, **changes) -> "TraceRecord":
        """A copy with some fields changed (the gate command travels with it unless the message changes)."""
        fields = {name: getattr(self, name) for name in self._FIELDS}
        fields.update(changes)
        record = TraceRecord(**fields)
        if "message" not in changes and "data" not in changes:
            record._command, record._error = self._command, self._error
        return record

    def __repr__(self) -> str:
        direction = "sent" if self.outgoing else "received"
        return f"<TraceRecord {direction} at {self.time:.6f} {self.message!r}>"
