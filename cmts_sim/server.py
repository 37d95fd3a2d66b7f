"""The simulated CMTS on the network: listen on 2126 (or dial out), one task per gate controller.

:class:`CmtsServer` owns the gate table, the modem and one timer task that
services every gate timer and automatic modem action.  Each connection is a
:class:`PeerSession` in its own nursery child: it speaks first (Client-Open),
installs its request state, sends keep-alives, and turns each DEC into a
gate-table command and an RPT.  A session's failure ends that session only.
"""

from __future__ import annotations

import collections
import itertools
import logging
import math
import random
import socket
from typing import Callable

import trio

from cops_core.addresses import allowed, parse_address
from cops_core.codes import HEADER_SIZE, ClientType, CNum, ErrorCode, ReasonCode, ReportType, object_subcode, spoken
from cops_core.connection import Connection, ConnectionClosed, GateTraffic, Role, State
from cops_core.dqos import (
    REPLIES,
    GateCommandType,
    PacketCableError,
    PacketCableErrorCode,
    decode_gate_command,
    packed_report,
    report_for,
)
from cops_core.errors import DecodeError, PacketCableDecodeError, ProtocolError
from cops_core.messages import (
    ClientAccept,
    ClientClose,
    ClientOpen,
    Decision,
    DeleteRequest,
    Request,
    SyncComplete,
    SyncRequest,
)
from cops_core.objects import ClientSpecificDecision, Handle, Reason
from cops_core.tls import TlsError, pep_context
from cops_core.trace import TraceRecord
from cops_core.transport import CopsTransport, MessageCounter, keepalive_loop, start_tls_as_pep
from cops_core.wire import OBJECT_HEADER

from .admission import Admission
from .config import CmtsConfig
from .faults import MALFORMED_MESSAGE, Faults
from .gates import GATE_CONTROLLER_COMMANDS, Event, GateTable
from .mta import SimulatedModems

log = logging.getLogger("cmts_sim")

# Messages handled between two checkpoints.  A batch is answered (one send_all) before the next is read, so this
# bounds how long keep-alives, the timer task and the other peers wait behind one busy peer (~64 x 40 us), and,
# with the kernel's receive buffer (config receive_buffer), how much a peer can have queued that we have not
# answered: beyond that TCP holds the peer back.
MAX_BATCH = 64
CLOSE_GRACE = 1.0  # seconds a Client-Close may take to go out before the connection is simply cut
LAG_WARNING = 1.0  # seconds: a batch answered this late is logged (each time the connection's worst lag grows)

# Read per message: as globals, since reading an enum member (``State.CLOSED``) costs ~0.2 us on CPython 3.11.
_CLOSED, _READY = State.CLOSED, State.READY

# What a command that is no request (no Transaction-ID, an unknown or a CMTS-side type) is answered with
# (protocol.md 3.6).
_UNKNOWN_REQUEST = REPLIES[GateCommandType.GATE_SET]


class CmtsServer:
    """One simulated CMTS: its gates, its modems, its gate-controller connections."""

    def __init__(self, config: CmtsConfig, *, taps: list[Callable[[TraceRecord], None]] | None = None,
                 counter: MessageCounter | None = None, rng: random.Random | None = None) -> None:
        self.config = config
        self.taps = list(taps or [])
        self.counter = counter  # every session's transport counter (the statistics serve always keeps)
        self._rng = rng or random.Random()
        # The gate table draws its Gate-IDs from the same generator: a seeded server gives reproducible IDs, and
        # Mersenne Twister costs a fraction of SystemRandom's system call per Gate-ID.
        self.gates = GateTable(Admission(config.capacity.to_capacity()), config.timers.to_timers(),
                               config.policy.to_gate_policy(), self._rng)
        self.modem = SimulatedModems(self.gates, config.modem, self.dispatch, trio.current_time)
        # No re-arm per scheduled action: the modem schedules from a session's Gate-Set (the session re-arms once
        # per batch) or from run_due (whose caller re-arms after), and each re-arm that touches trio costs.
        self.gates.on_authorized = self.modem.gate_authorized
        self.faults = Faults(config.faults, self._rng)
        self.integrity = config.integrity.to_settings() if config.integrity is not None else None
        self.sessions: set[PeerSession] = set()
        self.addresses: list[tuple[str, int]] = []
        self.dropped_events = 0
        self.failed_sessions = 0
        self.refused = 0  # connections closed before any COPS: not in config.allow, or past max_connections
        # Times each limit ended a connection (allow, max_connections, accept_timeout, ka_silence, write_timeout,
        # max_send_buffer): the live panel and the metrics show them.
        self.limit_hits: collections.Counter[str] = collections.Counter()
        self.orphans_deleted = 0  # gates deleted after their gate controller went away (policy.orphaned_gate_timeout)
        self.on_connection: Callable[[str, str, str], None] = lambda peer, event, why: None  # --log-json
        # Called after each batch a session answered, with its size and the seconds from reading its bytes to
        # sending the replies (the metrics' latency histogram); a no-op unless someone listens.
        self.on_batch: Callable[[int, float], None] = lambda messages, lag: None
        self._timer_scope: trio.CancelScope | None = None
        self._armed_at = math.inf  # the timer task's deadline, kept here: reading trio's costs more
        # COPS over TLS (RFC 4261), the CMTS as TLS client: a gate controller we dial must be named in its
        # certificate (section 7.2); one that dialled us is known by no name, so its CA alone vouches for it.
        tls = config.tls
        self.tls_contexts = None if tls is None else {
            dialled: pep_context(tls.ca, tls.cert, tls.key, check_name=dialled) for dialled in (True, False)}
        self._nursery: trio.Nursery | None = None

    # --- running ------------------------------------------------------------------------

    async def serve(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Listen (and dial) until cancelled; ``task_status.started`` once every listener is bound."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            listeners = []
            for text in self.config.listen:
                host, port = parse_address(text)
                listeners += await trio.open_tcp_listeners(port, host=host)
            self.addresses = [listener.socket.getsockname()[:2] for listener in listeners]
            nursery.start_soon(self._timer_loop)
            if listeners:
                nursery.start_soon(trio.serve_listeners, self._accepted, listeners)
            for text in self.config.connect:
                nursery.start_soon(self._dial_loop, parse_address(text))
            task_status.started(self.addresses)

    async def shutdown(self) -> None:
        """Client-Close (Shutting down) to every peer, then stop serving."""
        with trio.CancelScope(shield=True):
            for session in list(self.sessions):
                await session.close(ErrorCode.SHUTTING_DOWN)
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    async def _accepted(self, stream: trio.SocketStream) -> None:
        if len(self.sessions) >= self.config.max_connections:
            self.refused += 1
            self.limit_hits["max_connections"] += 1
            peer = "%s:%d" % stream.socket.getpeername()[:2] if _connected(stream) else "(gone)"
            log.warning("refused a connection from %s: already %d, the most max_connections allows", peer,
                        len(self.sessions))
            self.on_connection(peer, "refused", "max_connections reached")
            await stream.aclose()
            return
        if self.config.allow:
            try:
                peer = stream.socket.getpeername()[0]
            except OSError:  # gone already
                await stream.aclose()
                return
            if not allowed(peer, self.config.allow):
                self.refused += 1
                self.limit_hits["allow"] += 1
                log.warning("refused a connection from %s: not in the allow list", peer)
                self.on_connection(peer, "refused", "not in the allow list")
                await stream.aclose()
                return
        await self._run_session(stream)

    async def _run_session(self, stream: trio.abc.Stream, dialled: str | None = None) -> None:
        """A session on ``stream``; ``dialled``: the host we dialled, if we did (the name TLS checks)."""
        try:
            if self.config.receive_buffer is not None:
                # Bounds what a peer can queue unanswered in the kernel, and so how far our replies can lag.
                stream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.config.receive_buffer)
            session = PeerSession(self, stream, dialled)
        except OSError as exc:
            # The peer reset the connection before we looked at it (getpeername: ENOTCONN): that must not
            # escape into the listener's nursery and take the whole CMTS down.
            log.info("connection gone before its session started: %s", exc)
            await stream.aclose()
            return
        await session.run()

    async def _dial_loop(self, address: tuple[str, int]) -> None:
        """The generic COPS direction: the PEP dials the PDP, and redials with backoff when it goes."""
        backoff = 1.0
        while True:
            try:
                stream = await trio.open_tcp_stream(*address)
            except OSError as exc:
                log.info("dial %s:%d failed: %s; retry in %.0f s", *address, exc, backoff)
            else:
                backoff = 1.0
                await self._run_session(stream, address[0])
            await trio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    # --- timers and events ------------------------------------------------------------

    async def _timer_loop(self) -> None:
        while True:
            with trio.CancelScope() as scope:
                self._timer_scope = scope
                scope.deadline = self._armed_at = self._next_deadline()
                await trio.sleep_forever()
            now = trio.current_time()
            await self.dispatch(self.gates.expire(now) + self.modem.run_due(now))

    def _next_deadline(self) -> float:
        gates, modem = self.gates.next_deadline, self.modem.next_deadline
        if gates is None:
            return math.inf if modem is None else modem
        return gates if modem is None or gates < modem else modem

    def rearm(self) -> None:
        """Wake the timer task earlier if a timer now falls due before its deadline.

        Call it after changing gates or modem schedules, before the next
        checkpoint (sessions call it once per batch of commands).  Setting a
        trio deadline is costly, so only an earlier deadline touches trio;
        a later one is found when the timer task wakes.
        """
        deadline = self._next_deadline()
        if deadline < self._armed_at and self._timer_scope is not None:
            self._armed_at = self._timer_scope.deadline = deadline

    def session_ended(self, session: "PeerSession") -> None:
        """A gate controller went away: unless one takes its gates over meanwhile, they go after
        ``policy.orphaned_gate_timeout`` (without it, a committed gate nobody deletes would stay for ever)."""
        timeout = self.config.policy.orphaned_gate_timeout
        if timeout and self._nursery is not None and any(gate.owner is session for gate in self.gates.gates.values()):
            self._nursery.start_soon(self._reap_orphans, session, timeout)

    async def _reap_orphans(self, session: "PeerSession", timeout: float) -> None:
        await trio.sleep(timeout)
        successor = self._route(session)
        count = self.gates.hand_over(session, successor)
        if successor is not None:
            log.info("%s:%d: took over %d gate(s) of %s:%d", *successor.peer, count, *session.peer)
        elif count:
            self.orphans_deleted += count
            log.warning("deleted %d gate(s) of %s:%d, gone for %g s (policy.orphaned_gate_timeout)", count,
                        *session.peer, timeout)

    def _route(self, owner: "PeerSession") -> "PeerSession | None":
        """The session to tell about a gate: its owner, or, once the owner is gone, a gate controller
        connected from the same host (a reconnect) if ``policy.reroute_events`` allows (UNVERIFIED)."""
        if owner in self.sessions:
            return owner
        if not self.config.policy.reroute_events:
            return None
        host = owner.peer[0]
        return next((session for session in self.sessions
                     if session.peer[0] == host and session.state is State.READY), None)

    async def dispatch(self, events: list[Event]) -> None:
        """Send each Gate-Open/Gate-Close to the session owning its gate; flush those sessions."""
        touched = self._deliver(events)
        self.rearm()
        for session in touched:
            await session.flush()

    def run_due(self, now: float) -> set[PeerSession]:
        """What the timer task does when it wakes, from a session's task: fire every gate timer and modem action
        due by ``now`` and queue their events; the sessions that have events to flush.  The caller re-arms."""
        return self._deliver(self.gates.expire(now) + self.modem.run_due(now))

    def _deliver(self, events: list[Event]) -> set[PeerSession]:
        """Queue each event on the session owning its gate; the sessions that got one."""
        touched = set()
        for event in events:
            session = self._route(event.owner)
            if session is not None and session.queue_event(event.command):
                touched.add(session)
                gate = self.gates.gates.get(event.command.gate_id)
                if gate is not None:
                    gate.owner = session  # its later events follow
            else:
                self.dropped_events += 1
        return touched


class PeerSession:
    """One COPS connection to a gate controller, from Client-Open to Client-Close."""

    _handles = itertools.count(1)

    def __init__(self, server: CmtsServer, stream: trio.abc.Stream, dialled: str | None = None) -> None:
        self.server = server
        self.dialled = dialled
        config = server.config
        self.connection = Connection(Role.PEP, max_message=config.max_message, ka_tolerance=config.ka_tolerance,
                                     rng=server._rng, integrity=server.integrity, gate_traffic=True)
        self.transport = CopsTransport(stream, self.connection, write_timeout=config.write_timeout,
                                       max_send_buffer=config.max_send_buffer,
                                       max_receive_buffer=config.max_receive_buffer, counter=server.counter)
        for tap in server.taps:
            self.transport.add_tap(tap)
        self.peer = self.transport.peer
        self.handle: Handle | None = None
        self.received = 0
        self.lag = 0.0  # seconds from reading the last batch's bytes to sending its replies
        self.max_lag = 0.0  # the longest such wait on this connection
        self.ended = ""  # why the session ended, for the log line and the JSON log's "closed" event
        self.tls_failed = False
        self._cancel = trio.CancelScope()

    @property
    def state(self) -> State:
        return self.connection.state

    async def run(self) -> None:
        server = self.server
        server.sessions.add(self)
        peer = f"{self.peer[0]}:{self.peer[1]}"
        log.info("%s: connected", peer)
        server.on_connection(peer, "connected", "")
        try:
            with self._cancel:
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    if server.tls_contexts is not None:
                        await self._start_tls()
                    await self.transport.send(self._client_open())
                    nursery.start_soon(self._await_accept)
                    await self._serve_messages()
                    nursery.cancel_scope.cancel()
        # The nursery wraps whatever escapes it in an ExceptionGroup (trio's strict exception groups).
        except* TlsError as group:
            self.ended = str(group.exceptions[0])
            self.tls_failed = True
        except* (trio.BrokenResourceError, trio.ClosedResourceError) as group:
            self.ended = self.ended or f"connection lost: {group.exceptions[0]}"
        except* Exception:
            # A bug must not take the other connections down with it: log it loudly, close this one.
            log.exception("%s: session failed", self.peer)
            server.failed_sessions += 1
            self.ended = "a bug in cmts-sim (logged)"
            await self.close(ErrorCode.CLIENT_FAILURE)
        finally:
            server.sessions.discard(self)
            server.session_ended(self)
            if self.transport.limit_hit is not None:
                server.limit_hits[self.transport.limit_hit] += 1
            await self.transport.aclose()
            if not self.ended and self.transport.tls_failure:  # TLS 1.3: the GC's verdict on our certificate
                self.ended, self.tls_failed = f"TLS: {self.transport.tls_failure}", True
            why = self.ended or "the gate controller closed TCP"
            # A TLS failure is a setup to fix (a certificate, a CA): said without -v, in one line.
            (log.warning if self.tls_failed else log.info)("%s: closed: %s", peer, why)
            server.on_connection(peer, "closed", why)

    def _client_open(self) -> ClientOpen:
        """The first message: with integrity, the client-type 0 Client-Open that negotiates it (RFC 2748 4.1),
        whose Client-Accept brings the DQoS one; else the DQoS Client-Open."""
        cmts_id = self.server.config.cmts_id
        if self.connection.integrity is not None:
            return ClientOpen.new(cmts_id, client_type=ClientType.CONNECTION)
        return ClientOpen.new(cmts_id)

    def backlog(self) -> int:
        """Bytes the gate controller sent that we have not answered yet (kernel queue and framer)."""
        return self.transport.backlog()

    async def _serve_messages(self) -> None:
        transport = self.transport
        server = self.server
        counted_faults = server.faults.counts_messages
        # Timers due by the end of a batch (a zero-delay automatic modem's reserve, commit and release) are serviced
        # here, their events queued behind the batch's replies and sent with them: what the timer task would do
        # next, without its wake-up and its own send.  Not under faults, whose reply delay must hold the events too.
        timers_inline = not server.faults.active
        while True:
            try:
                messages = await transport.receive(MAX_BATCH)
            except DecodeError as exc:
                if await self._bad_message(exc):
                    return
                continue
            except ProtocolError as exc:
                self.ended = f"it broke the protocol: {exc}"
                await self.close(exc.error_code, exc.error_subcode, exc.client_type)
                return
            touched = ()
            try:
                for message in messages:
                    kind = type(message)
                    if kind is GateTraffic and not counted_faults:
                        # What _on_message does for a DEC, without a coroutine per message: nearly every one is.
                        self.received += 1
                        self._on_gate_traffic(message)
                    elif kind is Decision and not counted_faults:
                        self.received += 1
                        self._on_decision(message)
                    elif kind is ConnectionClosed or not await self._on_message(message):
                        return
                if timers_inline:
                    now = transport.now()
                    if server._next_deadline() <= now:
                        touched = server.run_due(now)
            finally:
                server.rearm()  # once per batch: the commands' new gate timers
            delay = server.faults.reply_delay()
            if delay:
                await trio.sleep(delay)
            for session in touched:
                if session is not self:
                    await session.flush()
            sent = transport.send_now()
            if not sent:  # the socket did not take it all at once (or TLS): trio sends it
                await transport.flush()
            self._answered(len(messages))
            if sent and transport.connection.buffered:
                # The next receive reads no socket, so it would not checkpoint: let keep-alives and other peers run.
                await trio.lowlevel.checkpoint()

    def _answered(self, messages: int) -> None:
        """Bookkeeping once a batch's replies are sent: how long its bytes waited on our side."""
        lag = self.transport.now() - self.transport.read_at
        self.lag = lag
        if lag > self.max_lag:
            self.max_lag = lag
            if lag >= LAG_WARNING:
                log.warning("%s: replies lag %.1f s behind the requests: more offered than this CMTS can take",
                            self.peer, lag)
        self.server.on_batch(messages, lag)

    async def _on_message(self, message) -> bool:
        """Handle one message; False when the session is over."""
        self.received += 1
        faults = self.server.faults
        if faults.drop_now(self.received):
            await self.transport.stream.aclose()
            return False
        if faults.malformed_now(self.received):
            await self.transport.flush()
            await self.transport.stream.send_all(MALFORMED_MESSAGE)
        kind = type(message)
        if kind is GateTraffic:
            self._on_gate_traffic(message)
        elif kind is Decision:
            self._on_decision(message)
        elif self.connection.state is _CLOSED and kind is not ClientClose:
            # A Client-Close later in the same read has already ended the session (a whole read is decoded
            # before its messages are handled): a Request for its Client-Accept or SSQ may not be sent now.
            pass
        elif kind is ClientAccept and message.client_type == ClientType.CONNECTION:
            log.info("%s:%d: Client-Accept of client-type 0: integrity %s", *self.peer,
                     self.connection.integrity.phase.value)
            self.transport.queue(ClientOpen.new(self.server.config.cmts_id))
        elif kind is ClientAccept:
            log.info("%s:%d: Client-Accept, KA timer %d s", *self.peer, message.ka_seconds)
            self._install_request_state()
            # The stop_keepalives fault is a PEP gone quiet: no KAs, and no verdict on the GC's silence either.
            # A GC only echoes, so it falls silent too, and our verdict (Client-Close, Error 9) would always
            # come before the GC's own: noticing the missing KAs is the GC's error path under test.
            if not faults.settings.stop_keepalives:
                self._nursery.start_soon(keepalive_loop, self.transport, self._peer_dead)
        elif kind is SyncRequest:
            # DQoS has one request state, the configuration REQ: re-issue it, then say we are done.
            self.transport.queue(Request.new(self.handle))
            self.transport.queue(SyncComplete.new(message.handle))
        elif kind is ClientClose:
            error = message.error
            self.ended = f"it sent Client-Close (error {error.code} {spoken(ErrorCode, error.code)})"
            return False
        return True  # KA echoes need no answer; DEC/RPT bookkeeping is the connection's

    def _install_request_state(self) -> None:
        self.handle = Handle.from_int(next(self._handles) & 0xFFFFFFFF)
        self.transport.queue(Request.new(self.handle))

    def _on_decision(self, message: Decision) -> None:
        objects = message.objects
        if len(objects) == 4 and type(objects[3]) is ClientSpecificDecision:
            # Handle, Context, Flags, then the command, as every GC sends it: the grammar check admits no other
            # 4 objects ending in a 6/4, so there is no unknown object and no earlier 6/4 to look for.
            unknown = ()
            carrier = objects[3]
            handle = objects[0] if type(objects[0]) is Handle else message.handle
        else:
            unknown = message.unknown_objects
            if unknown and self.server.config.policy.malformed_decision == "drq":
                first = unknown[0]
                self._delete_request_state(ReasonCode.UNKNOWN_COPS_OBJECT_FROM_PDP,
                                           object_subcode(first.cnum, first.ctype))
                return
            carrier = message.client_specific
            handle = message.handle
        if carrier is None:
            return  # a NULL decision answering our REQ: nothing to do (protocol.md 1.3)
        if handle.value not in self.connection.handles:
            return  # it crossed the DRQ that deleted its handle: the gate controller will send it again
        try:
            command = decode_gate_command(carrier.data)
        except PacketCableDecodeError as exc:
            reply = _error_reply(exc)
        else:
            if unknown:  # malformed_decision == "error-reply"
                reply = _error_reply_for(command, PacketCableError(PacketCableErrorCode.UNSPECIFIED))
            else:
                reply = self._apply(command, carrier.data)
        self._answer(handle, reply)

    def _on_gate_traffic(self, traffic: GateTraffic) -> None:
        """A DEC of the usual shape, its command read from the frame (nearly every DEC): as _on_decision."""
        _, handle, command, payload = traffic
        if handle not in self.connection.handles:
            return  # our DRQ for an earlier DEC of the same read deleted its handle since: as _on_decision drops it
        reply = self._apply(command, payload)
        own = self.handle  # DQoS installs one request state: the DEC names it
        self._answer(own if own.value == handle else Handle(handle), reply)

    def _answer(self, handle: Handle, reply) -> None:
        if self.connection.state is _CLOSED:
            # A Client-Close later in the same read has already ended the session (a whole read is decoded
            # before its messages are handled): the command is carried out, but no one is left to answer.
            return
        self._queue_report(handle, reply)

    def _apply(self, command, payload: bytes):
        server = self.server
        rejection = server.faults.rejection(command)
        if rejection is not None:
            return rejection
        if type(command) not in GATE_CONTROLLER_COMMANDS:  # a CMTS-side command (an Ack, Gate-Open ...) sent to us
            return _error_reply_for(command, PacketCableError(PacketCableErrorCode.UNSPECIFIED))
        reply, events = server.gates.handle(command, self, self.transport.now(), payload)
        for event in events:
            self.queue_event(event.command)
        return reply

    def _delete_request_state(self, reason: int, subcode: int = 0) -> None:
        """RFC 2748 3.4: a DEC we cannot take deletes the request state (DRQ); then install a fresh one."""
        if self.connection.state is _CLOSED:
            return  # a Client-Close later in the same read has ended the session, and its request state with it
        self.transport.queue(DeleteRequest.new(self.handle, Reason(reason, subcode)))
        self._install_request_state()

    def queue_event(self, command) -> bool:
        if self.connection.state is not _READY or self.handle is None:
            return False
        self._queue_report(self.handle, command, self.server.config.policy.event_report_type)
        return True

    def _queue_report(self, handle: Handle, command, event_report_type: int = ReportType.ACCOUNTING) -> None:
        """The RPT carrying ``command``, packed in one go; no Report built unless the connection wants one."""
        data = packed_report(handle, command, event_report_type=event_report_type)
        if data is None or not self.transport.queue_gate_traffic(data, handle[0], command):
            self.transport.queue(report_for(handle, command, event_report_type=event_report_type), data, command)

    async def flush(self) -> None:
        try:
            await self.transport.flush()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._cancel.cancel()

    async def _bad_message(self, exc: DecodeError) -> bool:
        """Answer a message we cannot read; True if the session is over."""
        log.info("%s: undecodable message: %s", self.peer, exc)
        readable = not (self.connection.framing_lost or exc.unwalkable)
        if readable and exc.opcode == Decision.OPCODE and self.handle is not None:
            reply = None
            if self.server.config.policy.malformed_decision == "error-reply":
                reply = _reply_to_malformed_decision(exc.frame)
            if reply is not None:
                self.transport.queue(report_for(self.handle, reply))
            else:
                self._delete_request_state(ReasonCode.MALFORMED_DECISION)
            await self.transport.flush()
            return False
        self.ended = f"it sent bytes we cannot read: {exc}"
        await self.close(exc.error_code, exc.error_subcode)
        return True

    async def _start_tls(self) -> None:
        """RFC 4261 StartTLS before our Client-Open, bounded like the Client-Accept; raises TlsError."""
        timeout = self.server.config.accept_timeout
        with trio.move_on_after(timeout):
            context = self.server.tls_contexts[self.dialled is not None]
            await start_tls_as_pep(self.transport, context, self.server.config.cmts_id, self.dialled)
            stream = self.transport.stream
            log.info("%s:%d: TLS up (%s, %s)", *self.peer, stream.version(), stream.cipher()[0])
            return
        raise TlsError(f"no StartTLS Client-Accept and TLS handshake within {timeout:g} s")

    async def _await_accept(self) -> None:
        """A gate controller that never answers our Client-Open would hold its connection for ever."""
        timeout = self.server.config.accept_timeout
        await trio.sleep(timeout)
        if self.connection.state in (State.SECURING, State.OPENING):  # SECURING: our integrity Client-Open
            self.server.limit_hits["accept_timeout"] += 1
            self.ended = f"no Client-Accept within {timeout:g} s"
            await self.close(ErrorCode.COMMUNICATION_FAILURE)
            self._cancel.cancel()

    async def _peer_dead(self) -> None:
        self.server.limit_hits["ka_silence"] += 1
        self.ended = f"silent for a whole KA interval ({self.connection.ka_interval} s)"
        await self.close(ErrorCode.COMMUNICATION_FAILURE)
        self._cancel.cancel()

    async def close(self, code: int, subcode: int = 0, client_type: int | None = None) -> None:
        """Client-Close with Error ``code`` (of ``client_type``; None: DQoS), then hang up."""
        sent = f"we sent Client-Close (error {code} {spoken(ErrorCode, code)})"
        self.ended = f"{self.ended}; {sent}" if self.ended else sent
        if self.connection.state is not State.CLOSED:
            # A peer that does not read gets a second, not write_timeout: a shutdown waits on every session.
            with trio.move_on_after(CLOSE_GRACE):
                try:
                    client_type = self.connection.client_type if client_type is None else client_type
                    await self.transport.send(ClientClose.new(code, subcode, client_type=client_type))
                except (trio.BrokenResourceError, trio.ClosedResourceError, ProtocolError):
                    pass
        await self.transport.aclose()


def _connected(stream: trio.SocketStream) -> bool:
    try:
        stream.socket.getpeername()
    except OSError:
        return False
    return True


def _error_reply(exc: PacketCableDecodeError):
    err_class = REPLIES.get(exc.command_type, _UNKNOWN_REQUEST).err
    return err_class(exc.transaction_id, PacketCableError(exc.pc_code, exc.pc_subcode), exc.subscriber, exc.gate_id)


def _reply_to_malformed_decision(frame: bytes | None):
    """The Gate-*-Err 127 for a DEC that breaks COPS rules, or None if no gate command can be found in it."""
    offset, end = HEADER_SIZE, len(frame or b"")
    while end - offset >= 4:
        length, cnum, ctype = OBJECT_HEADER.unpack_from(frame, offset)
        if length < 4 or offset + length > end:
            return None
        if cnum == CNum.DECISION and ctype == 4:
            try:
                command = decode_gate_command(frame[offset + 4 : offset + length])
            except PacketCableDecodeError as exc:
                err_class = REPLIES.get(exc.command_type, _UNKNOWN_REQUEST).err
                return err_class(exc.transaction_id, PacketCableError(PacketCableErrorCode.UNSPECIFIED),
                                 exc.subscriber, exc.gate_id)
            return _error_reply_for(command, PacketCableError(PacketCableErrorCode.UNSPECIFIED))
        offset = (offset + length + 3) & ~3
    return None


def _error_reply_for(command, error: PacketCableError):
    err_class = REPLIES.get(command.COMMAND, _UNKNOWN_REQUEST).err
    return err_class(command.transaction_id, error, getattr(command, "subscriber", None),
                     getattr(command, "gate_id", None))

