"""Cutting a TCP byte stream into whole COPS messages.

The framer only reads the common header: version and length are checked
before any bytes of the body are buffered, so a peer that announces a 4 GB
message is refused at once rather than after we have stored it.
"""

from __future__ import annotations

from .codes import HEADER_SIZE, VERSION
from .errors import DecodeError
from .messages import HEADER, check_framing

DEFAULT_MAX_MESSAGE = 64 * 1024


class Framer:
    """Bytes in (:meth:`feed`), whole frames out (:meth:`next_frame`).

    After a :class:`DecodeError` the stream has lost its framing: the error's
    offset counts from the start of the stream, and the framer refuses further
    use, as the only sound answer is Client-Close and a new connection.
    """

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE) -> None:
        self.max_message = max_message
        # The unframed bytes are _buffer[_offset:] then the chunks in _more.  A frame is one slice of _buffer
        # (one copy, where a bytearray cost two and a memmove), and the chunks are joined to it only once they
        # complete the header or frame asked for, so a message arriving in many pieces is copied once, not
        # once a piece.
        self._buffer = b""
        self._offset = 0
        self._more: list[bytes] = []
        self._more_size = 0
        self._consumed = 0  # stream offset of _buffer[0]
        self._broken: DecodeError | None = None

    def feed(self, data: bytes) -> None:
        if data:
            if type(data) is not bytes:
                data = bytes(data)  # kept until joined: a copy, so that the caller may reuse its buffer
            self._more.append(data)
            self._more_size += len(data)

    @property
    def buffered(self) -> int:
        return len(self._buffer) - self._offset + self._more_size

    @property
    def broken(self) -> bool:
        """True after a framing error: the stream cannot be cut into messages any more."""
        return self._broken is not None

    def next_frame(self) -> bytes | None:
        """The next whole message's bytes, or None until more data arrives."""
        if self._broken is not None:
            raise self._broken
        buffer, offset = self._buffer, self._offset
        available = len(buffer) - offset
        if available < HEADER_SIZE:
            if available + self._more_size < HEADER_SIZE:
                return None
            buffer, offset, available = self._join()
        # Version and length are checked as soon as the header is here, however TCP cut the stream: a
        # bad one must not wait for a body that never comes.  Anything else (an unknown op-code, a bad
        # object) is the decoder's to report, with the framing intact so the next message can be read.
        version_flags, _, _, length = HEADER.unpack_from(buffer, offset)
        if version_flags >> 4 != VERSION or length & 3 or length < HEADER_SIZE:  # check_framing's checks, in line
            try:
                check_framing(buffer[offset:offset + HEADER_SIZE])  # raises, naming the one that failed
            except DecodeError as exc:
                self._fail(exc)
        if length > self.max_message:
            self._fail(DecodeError(4, f"message length {length} exceeds the maximum of {self.max_message}"))
        if available < length:
            if available + self._more_size < length:
                return None
            buffer, offset, available = self._join()
        end = offset + length
        self._offset = end
        return buffer[offset:end]

    def frames(self) -> list[bytes]:
        """Every whole frame buffered now."""
        out = []
        while (frame := self.next_frame()) is not None:
            out.append(frame)
        return out

    def _join(self) -> tuple[bytes, int, int]:
        """Append the fed chunks to the unframed bytes: (buffer, offset, bytes available)."""
        rest = self._buffer[self._offset:]
        more = self._more
        if not rest and len(more) == 1:
            buffer = more[0]  # the usual case: the last read ended on a message boundary; no copy
        else:
            buffer = b"".join([rest, *more])
        self._consumed += self._offset
        self._buffer, self._offset = buffer, 0
        more.clear()
        self._more_size = 0
        return buffer, 0, len(buffer)

    def _fail(self, exc: DecodeError) -> None:
        exc.offset += self._consumed + self._offset
        self._broken = exc
        raise exc
