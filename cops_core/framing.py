"""Cutting a TCP byte stream into whole COPS messages.

The framer only reads the common header: version and length are checked
before any bytes of the body are buffered, so a peer that announces a 4 GB
message is refused at once rather than after we have stored it.
"""

from __future__ import annotations

from .codes import HEADER_SIZE
from .errors import DecodeError
from .messages import check_framing

DEFAULT_MAX_MESSAGE = 64 * 1024


class Framer:
    """Bytes in (:meth:`feed`), whole frames out (:meth:`next_frame`).

    After a :class:`DecodeError` the stream has lost its framing: the error's
    offset counts from the start of the stream, and the framer refuses further
    use, as the only sound answer is Client-Close and a new connection.
    """

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE) -> None:
        self.max_message = max_message
        self._buffer = bytearray()
        self._consumed = 0  # stream offset of _buffer[0]
        self._broken: DecodeError | None = None

    def feed(self, data: bytes) -> None:
        self._buffer += data

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    @property
    def broken(self) -> bool:
        """True after a framing error: the stream cannot be cut into messages any more."""
        return self._broken is not None

    def next_frame(self) -> bytes | None:
        """The next whole message's bytes, or None until more data arrives."""
        if self._broken is not None:
            raise self._broken
        buffer = self._buffer
        if len(buffer) < HEADER_SIZE:
            return None
        # Version and length are checked as soon as the header is here, however TCP cut the stream: a
        # bad one must not wait for a body that never comes.  Anything else (an unknown op-code, a bad
        # object) is the decoder's to report, with the framing intact so the next message can be read.
        try:
            length = check_framing(buffer)
        except DecodeError as exc:
            self._fail(exc)
        if length > self.max_message:
            self._fail(DecodeError(4, f"message length {length} exceeds the maximum of {self.max_message}"))
        if len(buffer) < length:
            return None
        frame = bytes(buffer[:length])
        del buffer[:length]
        self._consumed += length
        return frame

    def frames(self) -> list[bytes]:
        """Every whole frame buffered now."""
        out = []
        while (frame := self.next_frame()) is not None:
            out.append(frame)
        return out

    def _fail(self, exc: DecodeError) -> None:
        exc.offset += self._consumed
        self._broken = exc
        raise exc
