"""A COPS connection over a trio stream: the only I/O in cops_core.

:class:`CopsTransport` reads with one ``receive_some`` at a time and hands
back every message that chunk completed, and writes everything queued since
the last flush in one ``send_all`` (several whole messages per segment, never
one split on purpose).  Every message sent or received passes the *trace tap*:
one :class:`~cops_core.trace.TraceRecord` per message, which the ladder diagrams, captures,
live views and reports all read.  Beside the taps, a *counter* sees each
message's bytes alone (no record made): the always-on statistics of a
server under load, which only count.  Nothing else hooks into I/O.

COPS over TLS (RFC 4261, :mod:`cops_core.tls`) starts as plain COPS: a
client-type 0 Client-Open and Client-Accept with StartTLS, then
:meth:`CopsTransport.start_tls` wraps the same TCP stream in a
:class:`trio.SSLStream`.  :func:`start_tls_as_pep` and
:func:`start_tls_as_pdp` are that exchange from each side.
"""

from __future__ import annotations

import math
import os
import ssl
import struct
import time
from typing import Callable

import trio

from .codes import ClientType, ErrorCode, spoken
from .connection import NEED_DATA, Connection, ConnectionClosed, GateTraffic
from .errors import DecodeError, LocalProtocolError, RemoteProtocolError
from .messages import ClientAccept, ClientClose, ClientOpen, Malformed, Message
from .tls import WANT_TLS, TlsError, describe_ssl_error, handshake_failure, refuse, start_tls_accept, start_tls_open, \
    starts_tls
from .trace import UNREAD, Address, TraceRecord

Tap = Callable[[TraceRecord], None]
MessageCounter = Callable[[bool, "bytes | None", object], None]
"""A counter: ``(outgoing, the message's bytes, its gate command)`` for every message, the command :data:`UNREAD`
unless whoever built or read the message had it at hand (it costs nothing to pass, and saves the counter reading
the bytes again); ``(False, None, UNREAD)`` for bytes received that framed but did not decode."""

RECEIVE_SIZE = 65536
MAX_SEND_BUFFER = 4 * 1024 * 1024  # bytes queued for a peer before its connection is cut
MAX_RECEIVE_BUFFER = 128 * 1024  # bytes read from a peer and not yet returned as messages
_INT = struct.Struct("i")


def stream_socket(stream: trio.abc.Stream):
    """The socket of a TCP stream, or of the TCP stream under a TLS one."""
    return getattr(stream, "transport_stream", stream).socket


def stream_addresses(stream: trio.abc.Stream) -> tuple[Address, Address]:
    """(local, peer) host/port of a TCP stream, or of the TCP stream under a TLS one."""
    sock = stream_socket(stream)
    return sock.getsockname()[:2], sock.getpeername()[:2]


class CopsTransport:
    """A :class:`~cops_core.connection.Connection` bound to a trio stream."""

    def __init__(self, stream: trio.abc.Stream, connection: Connection, *, tap: Tap | None = None,
                 counter: MessageCounter | None = None,
                 write_timeout: float = math.inf, max_send_buffer: int = MAX_SEND_BUFFER,
                 max_receive_buffer: int = MAX_RECEIVE_BUFFER) -> None:
        if max_receive_buffer < connection.max_message:
            raise ValueError(f"max_receive_buffer ({max_receive_buffer}) must hold the largest message "
                             f"({connection.max_message} bytes)")
        self.stream = stream
        self.connection = connection
        # A peer that stops reading fills both kernel buffers and would hold a send for ever: after this many
        # seconds the connection is cut (BrokenResourceError), never the task or the process.
        self.write_timeout = write_timeout
        # Nor may what we queue for it grow without bound meanwhile (events keep coming): past this many bytes the
        # connection is cut too.  Reading is bounded by max_receive_buffer: what a peer sends beyond it waits in
        # the kernel, whose buffer fills and stops the peer.
        self.max_send_buffer = max_send_buffer
        self.max_receive_buffer = max_receive_buffer
        self.cut: str | None = None  # why this side cut the connection (a limit), for the caller's log
        self.limit_hit: str | None = None  # which limit: "write_timeout" or "max_send_buffer"
        self._queued = 0  # bytes in _outgoing
        self.local, self.peer = stream_addresses(stream)
        self._taps: list[Tap] = [tap] if tap else []
        self.counter = counter
        self._outgoing: list[bytes] = []
        self._send_lock = trio.StrictFIFOLock()
        # send_now() writes straight to a plain TCP socket's descriptor (not under TLS; on Windows a socket is none).
        self._socket = stream.socket if type(stream) is trio.SocketStream and os.name == "posix" else None
        self._deferred: Exception | None = None
        self.read_at: float | None = None  # trio time the last chunk arrived: how long its messages have waited
        # Why TLS broke the connection after the handshake, if it did.  A TLS 1.3 server's verdict on our
        # certificate reaches us only with our first read; receive() still reports the end as ConnectionClosed.
        self.tls_failure: str | None = None
        # trio.current_time() without its two wrapper calls (~0.4 us each time here): the run's clock is fixed.
        self.now: Callable[[], float] = trio.lowlevel.current_clock().current_time

    def add_tap(self, tap: Tap) -> None:
        self._taps.append(tap)

    async def receive(self, limit: int | None = None) -> list:
        """Messages from the peer: every one the next chunk completes (at least one), or [ConnectionClosed()].

        With ``limit``, at most that many: the rest stay buffered and come
        with the next call, which does not read the socket until they are
        gone.  A server that answers each batch before asking for the next
        thereby holds a bounded backlog, and lets its other tasks (keep-alives,
        other peers) run between batches.

        Raises DecodeError / RemoteProtocolError like
        :meth:`Connection.next_event`; messages decoded before the fault in the
        same chunk are delivered by the next call.
        """
        connection = self.connection
        while True:
            events = self._drain(limit)
            if events:
                return events
            room = self.max_receive_buffer - connection.buffered  # > 0: a whole message would have been drained
            size = RECEIVE_SIZE if room > RECEIVE_SIZE else room
            data = await self._read_now(size) if self._socket is not None else None
            if data is None:
                try:
                    data = await self.stream.receive_some(size)
                except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                    data = b""
                    cause = exc.__cause__
                    if isinstance(cause, ssl.SSLError) and not isinstance(cause, ssl.SSLEOFError):
                        self.tls_failure = describe_ssl_error(cause)
            self.read_at = self.now()
            connection.receive_data(data, self.read_at)

    async def _read_now(self, size: int) -> bytes | None:
        """What the plain TCP socket holds (b"" at its end), read straight from its descriptor; None if it holds
        nothing yet, or failed (then ``receive_some`` waits, or reports the error as trio does).

        What trio's ``receive_some`` does when bytes are there, without its wrappers: ~26 us a read on the
        2-core lab machines against ~11, nearly all of it the one checkpoint that lets the other tasks run.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            data = os.read(self._socket.fileno(), size)  # non-blocking, as trio keeps its sockets
        except OSError:  # nothing to read yet (BlockingIOError), or reset or closed: receive_some's to handle
            return None
        await trio.lowlevel.cancel_shielded_checkpoint()  # after the read, as trio's own: the bytes are not lost
        return data

    def backlog(self) -> int:
        """Bytes the peer sent that no :meth:`receive` returned yet: unread in the kernel, or buffered here.

        A system call (FIONREAD): for a live view or a metrics scrape, not for
        every message.
        """
        import fcntl  # Unix only: imported here so that the rest of the transport imports anywhere
        import termios

        unread = fcntl.ioctl(stream_socket(self.stream).fileno(), termios.FIONREAD, bytes(_INT.size))
        return _INT.unpack(unread)[0] + self.connection.buffered

    def _drain(self, limit: int | None) -> list:
        if self._deferred is not None:
            error, self._deferred = self._deferred, None
            raise error
        events = []
        now = wall = None
        connection, counter = self.connection, self.counter
        while len(events) != limit:
            try:
                event = connection.next_event()
            except Exception as exc:
                frame = getattr(exc, "frame", None)
                message = getattr(exc, "message", None)  # well formed, but illegal now
                if frame is not None and counter is not None:
                    counter(False, frame if message is not None else None, UNREAD)
                if frame is not None and self._taps:  # the evidence of what the peer sent, illegal or unreadable
                    message = message or Malformed.of(frame, exc)
                    record = TraceRecord(self.now(), time.time(), False, self.local, self.peer, message, frame)
                    for tap in self._taps:
                        tap(record)
                if events:
                    self._deferred = exc  # deliver what came before the fault first
                    return events
                raise
            if event is NEED_DATA:
                return events
            events.append(event)
            if type(event) is ConnectionClosed:
                return events
            if counter is not None:
                counter(False, connection.last_frame, event.command if type(event) is GateTraffic else UNREAD)
            if self._taps:
                if now is None:  # one chunk's messages all arrived at once
                    now, wall = self.now(), time.time()
                # The bytes as received: no encode.  Gate traffic has its command and no message: the record decodes
                # the message from the bytes if a tap looks.
                record = TraceRecord(now, wall, False, self.local, self.peer, UNREAD, connection.last_frame,
                                     event.command) if type(event) is GateTraffic \
                    else TraceRecord(now, wall, False, self.local, self.peer, event, connection.last_frame)
                for tap in self._taps:
                    tap(record)
        return events  # the limit: the rest stays framed for the next call

    def queue(self, message: Message, data: bytes | None = None, command=UNREAD) -> None:
        """Check and encode ``message`` now; it goes out with the next :meth:`flush`.

        ``data``: its bytes, if the caller has them already (see :meth:`Connection.send`);
        ``command``: the gate command it carries, if the caller built it from one (the trace then does not decode it).
        """
        now = self.now()
        self._enqueue(message, self.connection.send(message, now, data), command, now)

    def queue_gate_traffic(self, data: bytes, handle: bytes, command) -> bool:
        """Queue ``data``, the usual DEC or RPT naming ``handle`` and carrying ``command``, with no Message built
        (see :meth:`Connection.send_gate_traffic`); False, and nothing queued, when the connection wants the
        message: :meth:`queue` it then.  A trace decodes the message from the bytes if a tap looks."""
        if not self.connection.send_gate_traffic(data, handle):
            return False
        self._enqueue(UNREAD, data, command, None)
        return True

    def _enqueue(self, message: Message, data: bytes, command, now: float | None) -> None:
        self._queued += len(data)
        if self._queued > self.max_send_buffer:
            self._cut("max_send_buffer", f"{self._queued} bytes queued for a peer that does not read "
                      f"(max_send_buffer {self.max_send_buffer})")
        elif self.cut is None:
            self._outgoing.append(data)
        counter = self.counter
        if counter is not None:
            counter(True, data, command)
        taps = self._taps
        if taps:
            record = TraceRecord(self.now() if now is None else now, time.time(), True, self.local, self.peer,
                                 message, data, command)
            for tap in taps:
                tap(record)

    def send_now(self) -> bool:
        """Send what is queued if the socket takes it all at once, without waiting; True when nothing is left queued.

        No task switch and no scheduler round, which a :meth:`flush` from
        another task costs (waking it, and two trips through trio: ~50 us on
        the 2-core lab machines).  Only over plain TCP and while no
        :meth:`flush` is sending, so that bytes keep their order.  What the
        socket does not take stays queued for :meth:`flush`; so does
        everything after an error, which :meth:`flush` meets and raises.
        """
        outgoing = self._outgoing
        if not outgoing:
            return self.cut is None
        if self._socket is None or self._send_lock.locked():
            return False
        data = outgoing[0] if len(outgoing) == 1 else b"".join(outgoing)
        try:
            sent = os.write(self._socket.fileno(), data)  # non-blocking, as trio keeps its sockets
        except OSError:  # the buffer is full (BlockingIOError), or the connection is broken or closed
            sent = 0
        outgoing.clear()
        if sent == len(data):
            self._queued = 0
            return True
        outgoing.append(data[sent:] if sent else data)
        self._queued = len(outgoing[0])
        return False

    async def flush(self) -> None:
        """Send everything queued, in one ``send_all``; a checkpoint even when there is nothing to send."""
        lock = self._send_lock
        if lock.locked():  # another task is sending: wait behind it, in order
            async with lock:
                await self._send_queued()
            return
        # Uncontended, as nearly always: take the lock without the trip through the scheduler that `async with`
        # costs, one of four per lock-step request and reply (trio: ~20 us each).  _send_queued checkpoints.
        lock.acquire_nowait()
        try:
            await self._send_queued()
        finally:
            lock.release()

    async def _send_queued(self) -> None:
        if self.cut is not None:
            await self.aclose()
            raise trio.BrokenResourceError(self.cut)
        if not self._outgoing:
            await trio.lowlevel.checkpoint()
            return
        data = b"".join(self._outgoing)
        self._outgoing.clear()
        self._queued = 0
        with trio.move_on_after(self.write_timeout) as stuck:
            await self.stream.send_all(data)
        if stuck.cancelled_caught:
            self._cut("write_timeout", f"the peer read nothing for {self.write_timeout:g} s")
            await self.aclose()
            raise trio.BrokenResourceError(self.cut)

    def _cut(self, limit: str, why: str) -> None:
        """Give up on a peer that does not read: nothing more is queued, and the next flush hangs up."""
        if self.cut is None:
            self.cut, self.limit_hit = why, limit
        self._outgoing.clear()
        self._queued = 0

    async def send(self, *messages: Message) -> None:
        for message in messages:
            self.queue(message)
        await self.flush()

    async def start_tls(self, context: ssl.SSLContext, *, server_side: bool,
                        server_hostname: str | None = None) -> None:
        """The TLS handshake over this connection's TCP stream; everything after it goes through TLS.

        For after the StartTLS Client-Open and Client-Accept (RFC 4261
        section 5): nothing may come in clear between them and the
        handshake, so bytes already here are the peer's fault, not data to
        keep.  ``server_hostname``: the name the server's certificate must
        carry (the TLS client's side; None with a context that checks no
        name).  Raises :class:`~cops_core.tls.TlsError`.
        """
        if self.connection.buffered:
            raise TlsError(f"{self.connection.buffered} bytes came in clear before the TLS handshake")
        stream = trio.SSLStream(self.stream, context, server_side=server_side, server_hostname=server_hostname)
        try:
            await stream.do_handshake()
        except trio.BrokenResourceError as exc:
            await self._send_alert(stream)
            raise TlsError(f"TLS handshake failed: {handshake_failure(exc)}") from None
        self.stream = stream
        self._socket = None  # send_now writes to the socket itself: never past TLS

    async def _send_alert(self, stream: trio.SSLStream) -> None:
        """Send the alert OpenSSL wrote when the handshake failed, so that the peer learns why ("tlsv1 alert
        unknown ca") rather than only that we hung up.  trio drops it (it raises before sending what is pending),
        so it is read from the SSLStream's outgoing buffer: best effort, within a second."""
        pending = getattr(stream, "_outgoing", None)
        alert = pending.read() if isinstance(pending, ssl.MemoryBIO) else b""
        if alert:
            with trio.move_on_after(1):
                try:
                    await self.stream.send_all(alert)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass

    async def aclose(self) -> None:
        with trio.move_on_after(1) as scope:
            scope.shield = True
            await self.stream.aclose()


async def start_tls_as_pep(transport: CopsTransport, context: ssl.SSLContext, pep_id: str,
                           server_hostname: str | None = None) -> None:
    """RFC 4261 5.1 from the PEP: StartTLS Client-Open, the PDP's StartTLS Client-Accept, the handshake as TLS client.

    Then the connection is back in CONNECTED, over TLS, for the real
    Client-Open.  Raises :class:`~cops_core.tls.TlsError` saying why not;
    a PDP that answered without StartTLS is told first (Client-Close
    error 15, sub-code 16/2).  The caller bounds the time it may take.
    """
    await transport.send(start_tls_open(pep_id))
    try:
        message = (await transport.receive(1))[0]
    except (DecodeError, RemoteProtocolError) as exc:
        await _refuse(transport, WANT_TLS)
        raise TlsError(f"the PDP did not answer StartTLS as RFC 4261 has it: {exc}") from None
    if type(message) is ClientAccept and starts_tls(message):
        await transport.start_tls(context, server_side=False, server_hostname=server_hostname)
        return
    if type(message) is ClientClose:
        raise TlsError(f"the PDP refused StartTLS: Client-Close {_error(message)}")
    if type(message) is ConnectionClosed:
        raise TlsError("the PDP closed the connection on our StartTLS Client-Open")
    await _refuse(transport, WANT_TLS)
    raise TlsError("the PDP accepted our StartTLS Client-Open without Integrity-TLS: it will not speak TLS")


async def start_tls_as_pdp(transport: CopsTransport, context: ssl.SSLContext, ka_seconds: int) -> None:
    """RFC 4261 5.1 and 5.2 from the PDP: the PEP's client-type 0 Client-Open, our StartTLS Client-Accept,
    the handshake as TLS server.

    A PEP that opens with its own client-type instead (no TLS) gets
    Client-Close error 15, sub-code 16/2, as 5.2 has a PDP that requires
    TLS answer it.  Raises :class:`~cops_core.tls.TlsError` saying why TLS
    did not come up.  The caller bounds the time it may take.
    """
    try:
        message = (await transport.receive(1))[0]
    except (DecodeError, RemoteProtocolError) as exc:
        await _refuse(transport, WANT_TLS)
        raise TlsError(f"the PEP did not open with StartTLS as RFC 4261 has it: {exc}") from None
    if type(message) is ClientOpen and message.client_type == ClientType.CONNECTION:
        if transport.connection.buffered:  # 5.2: nothing may follow in clear before the handshake
            await _refuse(transport, WANT_TLS)
            raise TlsError("the PEP sent more in clear after its StartTLS Client-Open")
        await transport.send(start_tls_accept(ka_seconds))
        await transport.start_tls(context, server_side=True)
        return
    if type(message) is ClientOpen:
        await _refuse(transport, WANT_TLS, message.client_type)
        raise TlsError(f"the PEP opened client-type 0x{message.client_type:04x} without TLS; we require it "
                       "(sent Client-Close error 15 authentication required)")
    if type(message) is ClientClose:
        raise TlsError(f"the PEP sent Client-Close {_error(message)} before StartTLS")
    raise TlsError("the PEP closed the connection before StartTLS")


async def _refuse(transport: CopsTransport, subcode: int, client_type: int = ClientType.CONNECTION) -> None:
    """Client-Close error 15 with ``subcode``, briefly: the peer may be gone already, or not reading."""
    with trio.move_on_after(1):
        try:
            await transport.send(refuse(subcode, client_type))
        except (trio.BrokenResourceError, trio.ClosedResourceError, LocalProtocolError):
            pass


def _error(message: ClientClose) -> str:
    error = message.error
    return f"error {error.code} {spoken(ErrorCode, error.code)}, sub-code {error.subcode >> 8}/{error.subcode & 0xFF}"


async def keepalive_loop(transport: CopsTransport, on_peer_dead: Callable[[], object], *,
                         send_keepalives: bool = True) -> None:
    """Send the PEP's keep-alives on time and watch for peer silence; returns after calling ``on_peer_dead``.

    Start it once the Client-Accept has set the KA interval.  Runs for either
    role: a PDP never has a keep-alive due, but it watches the silence all the
    same.  With a KA interval of 0 there is nothing to time.  ``on_peer_dead``
    may be async.  ``send_keepalives=False`` is a fault: a PEP that goes quiet.
    """
    connection = transport.connection
    while True:
        due_at = connection.keepalive_due_at if send_keepalives else None
        deadlines = [t for t in (due_at, connection.peer_dead_at) if t is not None]
        if not deadlines:
            await trio.sleep_forever()
        await trio.sleep_until(min(deadlines))
        now = trio.current_time()
        dead_at = connection.peer_dead_at
        if dead_at is not None and now >= dead_at:
            result = on_peer_dead()
            if hasattr(result, "__await__"):
                await result
            return
        if due_at is not None and now >= due_at:
            await transport.send(connection.keepalive())
