"""The gate controller (COPS PDP): the API a test writer scripts a CMTS with.

One :class:`GateController` is one CMTS.  It answers the CMTS's Client-Open
with a Client-Accept (KA timer), keeps the handle of the CMTS's Request,
echoes keep-alives and watches for silence, and turns gate commands into
awaitable calls::

    async with cms_sim.connect("10.0.0.1") as gc:             # port 2126
        ack = await gc.gate_set("10.0.1.10", media.profile("G711-20").gate_specs(...))
        async for event in gc.events():                       # Gate-Open, Gate-Close, ...
            ...

Design (architecture.md, "Concurrency rules"):

* One reader task per connection handles every message that one receive
  brought and queues the answers (keep-alive echoes, ...); callers queue
  their Decisions on the same :class:`CopsTransport`.  What is queued goes
  out in one write: at once if the socket takes it all without waiting
  (``send_now``: no task switch), else by the one writer task, so the
  reader never waits on a send (a CMTS slow to read while it sends to us
  would otherwise stall both ends).
* Per-call state lives in one dict, ``_pending``, keyed by Transaction-ID.
  A caller parks with ``wait_task_rescheduled`` and the reader reschedules it
  with the reply, or calls back a :meth:`GateController.submit` caller: no
  task, Event or channel per request.  The timeout is the caller's cancel
  scope (or, for ``submit``, the caller's own deadline and :meth:`abandon`).
* The controller's tasks live in its own nursery, started inside a
  :class:`~cms_sim.pool.GateControllerPool` (which also shares the TID
  counter and the event stream between controllers, like a real CMS serving
  several CMTSes).
"""

from __future__ import annotations

import contextlib
import enum
import ipaddress
import operator
import ssl
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import outcome
import trio

from cops_core import (
    ClientClose,
    ClientOpen,
    ClientType,
    DecisionCommand,
    DecisionGroup,
    DeleteRequest,
    ErrorCode,
    KeepAlive,
    RemoteProtocolError,
    Report,
    Request,
    RType,
    SyncComplete,
    SyncRequest,
)
from cops_core.addresses import Address
from cops_core.connection import Connection, ConnectionClosed, GateTraffic, Role, State
from cops_core.errors import DecodeError, LocalProtocolError, PacketCableDecodeError
from cops_core.integrity import IntegritySettings
from cops_core.messages import ClientAccept, Decision
from cops_core.objects import Context, DecisionFlags, Handle
from cops_core.tls import NO_SECURITY, TlsError, refuse, starts_tls
from cops_core.trace import UNREAD, TraceRecord
from cops_core.transport import CopsTransport, Tap, keepalive_loop, start_tls_as_pdp
from cops_core.dqos import (
    REPLIES,
    GateAlloc,
    GateAllocAck,
    GateClose,
    GateDelete,
    GateDeleteAck,
    GateInfo,
    GateInfoAck,
    GateOpen,
    GateSet,
    GateSetAck,
    GateSpec,
    PacketCableReason,
    decision_for,
    packed_decision,
    report_command,
)

from .errors import ConnectError, ControllerError, GateControlLost, GateError, RequestTimeout, UnexpectedReply
from .events import Connected, ConnectionLost, GateClosed, GateOpened, RequestStateDeleted

CLOSE_GRACE = 1.0  # seconds we give a Client-Close to go out before closing TCP anyway


@dataclass(frozen=True, slots=True)
class Backoff:
    """Reconnect delays: ``initial``, then times ``factor`` up to ``maximum`` seconds."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0

    def delays(self) -> Iterator[float]:
        delay = self.initial
        while True:
            yield delay
            delay = min(delay * self.factor, self.maximum)


@dataclass(frozen=True, slots=True)
class ControllerOptions:
    """How a controller behaves; ``cms_sim.connect(target, **options)`` takes these as keywords.

    ``ka_tolerance`` multiplies the KA interval to give the silence after
    which the CMTS counts as dead (RFC 2748: 1).  ``solicited_null_decision``
    answers the CMTS's REQ with a NULL DEC (RFC 2748 3.2; real gate
    controllers send none, protocol.md 1.3).  ``client_close_on_exit`` sends
    Client-Close (Shutting down) when the controller closes; real ones just
    close TCP.  ``reconnect`` redials a lost connection with these delays.
    ``events_buffer`` bounds the unread events; beyond it events are counted
    in ``stats.events_dropped`` rather than stalling the reader.  ``source``
    is the local address to dial from (a multi-homed host whose CMTS only
    takes COPS from one of its addresses).  ``tls`` is our TLS server context
    (:func:`cops_core.tls.pdp_context`): with it every connection starts
    with RFC 4261's StartTLS, the CMTS being the TLS client whichever side
    dialled, and a CMTS that opens without TLS is refused (Client-Close
    error 15); without it a CMTS asking for TLS is told we offer none.
    ``integrity`` signs and checks every message once the CMTS negotiates
    it (protocol.md 2.8); not with ``tls``.
    """

    ka_seconds: int = 30
    acct_seconds: int | None = None
    ka_tolerance: float = 1.0
    request_timeout: float = 5.0
    connect_timeout: float = 10.0
    handshake_timeout: float = 10.0
    solicited_null_decision: bool = False
    client_close_on_exit: bool = True
    reconnect: Backoff | None = None
    events_buffer: int = 65536
    source: str | None = None
    tls: ssl.SSLContext | None = None
    integrity: IntegritySettings | None = None

    def __post_init__(self) -> None:
        for name in ("ka_seconds", "acct_seconds"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 0xFFFF:
                raise ValueError(f"{name} must be 0..65535 (a 16-bit COPS timer), not {value}")
        for name in ("ka_tolerance", "request_timeout", "connect_timeout", "handshake_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)}")
        if self.tls is not None and self.integrity is not None:
            raise ValueError("tls or integrity, not both (each is negotiated in the client-type 0 Client-Open)")


@dataclass(slots=True)
class ControllerStats:
    """Counters a load report or a puzzled user reads."""

    requests: int = 0
    replies: int = 0
    unmatched_replies: int = 0  # replies whose TID nobody waits for (late, after a timeout)
    malformed: int = 0  # messages or gate commands from the CMTS we could not decode
    ignored_reports: int = 0  # RPTs that carry no gate command
    events: int = 0
    events_dropped: int = 0
    connects: int = 0  # times gate control came up (handshakes, and new REQs after a DRQ)
    messages_in: int = 0  # every COPS message, keep-alives included (a closed TCP counts as one)
    messages_out: int = 0


# Ours to spend: under load a CMTS seconds behind has megabytes of our commands outstanding (their requests time out
# and fail their calls meanwhile); past this much queued for a CMTS that reads nothing, the connection is cut.
MAX_SEND_BUFFER = 64 * 1024 * 1024


class TransactionIds:
    """The 16-bit Transaction-ID counter, shareable by controllers (as one CMS shares it across CMTSes).

    TID 0 is skipped: it is what Gate-Open/Gate-Close carry and what a CMTS
    answers when it could not read the TID.
    """

    def __init__(self, start: int = 1) -> None:
        self._next = start

    def allocate(self, in_flight: dict) -> int:
        tid = self._next  # the next one is nearly always free: taken without setting up the search
        if tid not in in_flight:
            self._next = tid % 0xFFFF + 1
            return tid
        if len(in_flight) >= 0xFFFF:
            # Said at once: a search of all 65,535 for each of thousands of calls a second would hang the load
            # generator (and its Ctrl-C) exactly when the CMTS falls that far behind.
            raise ControllerError("all 65535 Transaction-IDs are in flight on this connection")
        for _ in range(0xFFFF):
            tid = self._next
            self._next = tid % 0xFFFF + 1
            if tid not in in_flight:
                return tid
        raise ControllerError("all 65535 Transaction-IDs are in flight on this connection")

    def peek(self, in_flight: dict) -> int:
        """The TID :meth:`allocate` would give now, without taking it (``cms-sim run --step`` shows it first)."""
        tid = self._next
        for _ in range(0xFFFF):
            if tid not in in_flight:
                return tid
            tid = tid % 0xFFFF + 1
        raise ControllerError("all 65535 Transaction-IDs are in flight on this connection")


class _Pending:
    """One request awaiting its reply: the request, and who gets the outcome.

    Either a parked task (``task``, None until it parks) or, for
    :meth:`GateController.submit`, a callback: a load generator with
    thousands of calls in flight keeps no task per request.
    """

    __slots__ = ("command", "task", "result")
    callback = context = None  # as a _Submitted reads: a parked task's request has neither

    def __init__(self, command) -> None:
        self.command = command
        self.task = None
        self.result: outcome.Outcome | None = None


class _Submitted(tuple):
    """A :meth:`GateController.submit` request awaiting its reply: ``(command, callback, context)``, as
    :class:`_Pending` reads.

    A tuple made by ``tuple.__new__``: no Python ``__init__`` for each of the
    thousands of requests a second a load sends.  Never parked, so no task and no result.
    """

    __slots__ = ()
    command = property(operator.itemgetter(0))
    callback = property(operator.itemgetter(1))
    context = property(operator.itemgetter(2))
    task = result = None


class LinkState(enum.Enum):
    """Where one connection to a CMTS is in its life (a reconnect makes a new link)."""

    HANDSHAKE = "handshake"  # TCP (and TLS) up: waiting for the CMTS's Client-Open and Request
    READY = "ready"  # the CMTS's request state is installed: gate commands go
    SUSPENDED = "suspended"  # the CMTS deleted its request state (DRQ): commands wait for its next Request
    ENDING = "ending"  # we are ending it (our Client-Close, if any, goes first)
    DOWN = "down"  # its tasks are over

    __hash__ = object.__hash__  # members compared by identity; a C-level hash for the table below


_HANDSHAKE, _READY, _SUSPENDED, _ENDING, _DOWN = LinkState
_LINK_MOVES = {
    _HANDSHAKE: {_READY, _ENDING, _DOWN},
    _READY: {_SUSPENDED, _ENDING, _DOWN},
    _SUSPENDED: {_READY, _ENDING, _DOWN},
    _ENDING: {_DOWN},
    _DOWN: set(),
}


class _Link:
    """One TCP connection's worth of state; a reconnect makes a new one.

    Its life is :attr:`state`, changed only by :meth:`move` along
    :data:`_LINK_MOVES`; ``ready`` and ``done`` are the events tasks wait on
    for it, kept by :meth:`move`.
    """

    __slots__ = ("transport", "handle", "state", "ready", "up", "pep_id", "reason", "cause", "scope", "nursery",
                 "done", "sync_waiters", "dirty", "wake", "holding")

    def __init__(self, transport: CopsTransport) -> None:
        self.transport = transport
        self.handle: Handle | None = None
        self.state = _HANDSHAKE
        self.ready = trio.Event()  # set in READY, and once DOWN (to wake who waited: they see the link is gone)
        self.done = trio.Event()  # set once DOWN
        # The handshake completed and the link was handed over (a ConnectionLost is worth telling).  Not merely
        # READY once: a DRQ in the Request's own batch suspends it before the handshake is over.
        self.up = False
        self.pep_id = ""
        self.reason = "the connection ended"
        self.cause = "connection lost"  # the reason, short and countable (GateControlLost.cause)
        self.scope: trio.CancelScope | None = None
        self.nursery: trio.Nursery | None = None
        self.sync_waiters: list[trio.Event] = []
        self.dirty = False  # messages queued since the writer last sent
        self.wake = trio.lowlevel.ParkingLot()  # where the writer waits for them
        self.holding = False  # the reader is handling a batch: what it queues goes out after it, in one send

    def move(self, state: LinkState) -> None:
        if state not in _LINK_MOVES[self.state]:
            raise RuntimeError(f"a controller link cannot go from {self.state.value} to {state.value}")
        if self.state is _READY and state is _SUSPENDED:
            self.ready = trio.Event()
        self.state = state
        if state is _READY:
            self.ready.set()
        elif state is _DOWN:
            self.ready.set()
            self.done.set()


class Standing(enum.Enum):
    """Whether a controller wants a connection: what happens when its link goes down."""

    ACTIVE = "active"  # redial (with ``options.reconnect``); requests wait for the new link
    HELD_DOWN = "held down"  # disconnect() was called: no redial until reconnect()
    CLOSED = "closed"  # for good: aclose(), or the CMTS that dialled us went away


_CLOSED = Standing.CLOSED  # submit() reads it for every command: a member read from its class costs ~0.2 us
_CONNECTION_CLOSED = State.CLOSED
_new = tuple.__new__  # submit() replaces field 0, transaction_id: cops_core.dqos checks every command starts with it

_LATE = _Pending(None)  # stands in _pending for an abandoned request's TID (see GateController.abandon)


class GateController:
    """A gate controller's connection to one CMTS.

    Make one with :func:`cms_sim.connect` (dial a CMTS), :func:`cms_sim.listen`
    (let CMTSes dial in) or a :class:`~cms_sim.pool.GateControllerPool`; the
    constructor is the pool's business.
    """

    def __init__(
        self,
        name: str,
        target: Address | None,
        options: ControllerOptions,
        tids: TransactionIds,
        events: tuple[trio.MemorySendChannel, trio.MemoryReceiveChannel],
        on_event: Callable[[object], None] | None = None,
    ) -> None:
        self.name = name
        self.target = target  # None: an accepted connection, which only the CMTS can re-establish
        self.options = options
        self.stats = ControllerStats()
        self._tids = tids
        self._events_send, self._events_receive = events
        self._on_event = on_event  # instead of the channel: called in the reader task with each event
        self._pending: dict[int, _Pending | _Submitted] = {}  # TID -> request awaiting its reply, or _LATE (abandoned)
        self._tombstones: deque[tuple[float, int]] = deque()  # (until, TID) of abandoned requests, oldest first
        self._taps: list[Tap] = []
        self._link: _Link | None = None
        self._linked = trio.Event()  # set whenever a link is up; replaced when it goes down
        self._nursery: trio.Nursery | None = None
        self.standing = Standing.ACTIVE
        self._redialling: trio.CancelScope | None = None  # the automatic reconnect under way, if any
        self._why_down = ""  # ": <how the last connection ended>", for requests made after it went
        self._down_cause = "connection lost"

    # --- state --------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once closed for good: by :meth:`aclose`, or an accepted connection that ended."""
        return self.standing is Standing.CLOSED

    @property
    def connected(self) -> bool:
        """True while gate commands can be sent (handshake done, request state installed)."""
        link = self._link
        return link is not None and link.state is _READY

    @property
    def pep_id(self) -> str | None:
        return self._link.pep_id if self._link is not None else None

    @property
    def peer(self) -> Address | None:
        return self._link.transport.peer if self._link is not None else None

    @property
    def handle(self) -> Handle | None:
        return self._link.handle if self._link is not None else None

    @property
    def pending(self) -> int:
        """Requests awaiting their reply."""
        return sum(1 for pending in self._pending.values() if pending is not _LATE)

    def events(self) -> trio.MemoryReceiveChannel:
        """Gate-Open/Gate-Close and connection events, an async iterator (shared by a pool's controllers)."""
        return self._events_receive

    def add_tap(self, tap: Tap) -> None:
        """Call ``tap(TraceRecord)`` for every message sent or received, on this and every later connection."""
        if not self._taps and self._link is not None:
            self._link.transport.add_tap(self._trace)  # the first tap: this connection starts tracing
        self._taps.append(tap)

    def remove_tap(self, tap: Tap) -> None:
        self._taps.remove(tap)

    # --- gate commands --------------------------------------------------------------------------

    async def gate_alloc(self, subscriber, activity_count: int | None = None, *,
                         timeout: float | None = None) -> GateAllocAck:
        """Gate-Alloc: reserve a Gate-ID; raises a :class:`GateError` subclass on Gate-Alloc-Err."""
        return await self.request(GateAlloc(0, as_address(subscriber), activity_count), timeout=timeout)

    async def gate_set(self, subscriber, gate_specs: Iterable[GateSpec], gate_id: int | None = None,
                       activity_count: int | None = None, *, timeout: float | None = None,
                       **objects) -> GateSetAck:
        """Gate-Set: authorize a gate (no ``gate_id``: the CMTS allocates one) or modify one.

        ``objects`` are GateSet's optional fields: ``event_generation_info``,
        ``remote_gate_info``, ``media_connection_event_info``,
        ``electronic_surveillance_parameters``, ``session_description_parameters``.
        """
        command = GateSet(0, as_address(subscriber), tuple(gate_specs), gate_id, activity_count, **objects)
        return await self.request(command, timeout=timeout)

    async def gate_info(self, subscriber, gate_id: int, *, timeout: float | None = None) -> GateInfoAck:
        """Gate-Info: the gate's state as the CMTS holds it."""
        return await self.request(GateInfo(0, as_address(subscriber), gate_id), timeout=timeout)

    async def gate_delete(self, subscriber, gate_id: int, *, reason: PacketCableReason | None = None,
                          timeout: float | None = None) -> GateDeleteAck:
        """Gate-Delete."""
        return await self.request(GateDelete(0, as_address(subscriber), gate_id, reason), timeout=timeout)

    async def request(self, command, *, timeout: float | None = None):
        """Send any GC gate command (its TID is replaced by a free one) and return its Ack.

        Raises the :class:`GateError` subclass for the Err's code,
        :class:`RequestTimeout`, :class:`GateControlLost` or
        :class:`UnexpectedReply`.  Waits for a connection being
        re-established, within the same timeout.
        """
        timeout = self.options.request_timeout if timeout is None else timeout
        with trio.move_on_after(timeout):
            link = self._link
            if link is None or link.state is not _READY or self.standing is Standing.CLOSED:
                link = await self._ready_link()
            tid = self._tids.allocate(self._pending)
            command = command._replace(transaction_id=tid)
            pending = _Pending(command)
            self._pending[tid] = pending
            self.stats.requests += 1
            try:
                self._queue(link, decision_for(link.handle, command), command)
            except LocalProtocolError:  # the connection closed in this very batch: say how
                self._pending.pop(tid, None)
                raise GateControlLost(f"{self.name}: {link.reason}", link.cause) from None
            self._kick(link)  # a send that fails ends the link, and that fails this request
            pending.task = trio.lowlevel.current_task()

            def abort(_raise_cancel) -> trio.lowlevel.Abort:
                if self._pending.get(tid) is pending:
                    self.abandon(tid)
                return trio.lowlevel.Abort.SUCCEEDED

            return await trio.lowlevel.wait_task_rescheduled(abort)
        raise RequestTimeout(f"{command.title} (TID {command.transaction_id})", timeout, command)

    def next_transaction_id(self) -> int:
        """The Transaction-ID the next request will carry, if nothing else is sent first."""
        return self._tids.peek(self._pending)

    def submit(self, command, callback: Callable[[Any, object, ControllerError | None], None], context=None) -> int:
        """Queue any GC gate command with a free TID, without waiting; returns the TID.

        ``callback(context, reply, error)`` gets ``context`` as given, and the
        Ack and None, or the :class:`GateError`, :class:`UnexpectedReply` or
        :class:`GateControlLost` with the reply it came with (None if none
        did): no Outcome object per reply, and no closure per request (a
        load's thousands a second: the caller hands over one bound method
        and a context).  It runs in the reader task, so it must not
        block; commands it submits go out with the reader's next write.  The
        caller keeps the deadline and calls :meth:`abandon` when it passes.
        Commands submitted outside the reader go out on :meth:`flush`.
        Raises :class:`GateControlLost` when no connection is ready.
        """
        link = self._link
        if link is None or link.state is not _READY or self.standing is _CLOSED:
            raise GateControlLost(f"{self.name}: not connected")
        tid = self._tids.allocate(self._pending)
        command = _new(type(command), (tid, *command[1:]))  # _replace(transaction_id=tid), at a third of the cost
        try:
            # The DEC's bytes in one go, and no Decision built unless the connection wants one to check (the
            # trace gets the command, and decodes the message from the bytes if a tap looks).
            handle = link.handle
            data = packed_decision(handle, command)
            if data is None or not link.transport.queue_gate_traffic(data, handle[0], command):
                link.transport.queue(decision_for(handle, command), data, command)
        except LocalProtocolError:  # the connection closed in this very batch; the reader has yet to see it
            raise GateControlLost(f"{self.name}: {link.reason}", link.cause) from None
        self.stats.messages_out += 1
        self._pending[tid] = _new(_Submitted, (command, callback, context))
        self.stats.requests += 1
        return tid

    def abandon(self, tid: int) -> None:
        """Stop waiting for ``tid``'s reply (its deadline passed); a late reply counts as unmatched.

        The TID is not given out again for twice the request timeout: under
        load the 16-bit TIDs come round in seconds, and a late reply must not
        be taken for the answer to a newer request with the same TID.
        """
        if self._pending.pop(tid, None) is not None:
            self._pending[tid] = _LATE
            now = trio.current_time()
            self._tombstones.append((now + 2 * self.options.request_timeout, tid))
            while self._tombstones and self._tombstones[0][0] <= now:
                _, old = self._tombstones.popleft()
                if self._pending.get(old) is _LATE:
                    del self._pending[old]

    def flush(self) -> None:
        """Send what :meth:`submit` queued, without waiting for it (from the reader: once its batch is handled)."""
        link = self._link
        if link is not None and not link.holding:
            self._kick(link)

    @contextlib.contextmanager
    def batch(self):
        """Commands submitted inside go out together on leaving: one write for the calls a load tick starts.

        What the reader does for the answers to one batch of replies, for a
        caller outside the reader (a write each is a system call each, and
        a wake-up each of the CMTS).
        """
        link = self._link
        if link is None or link.holding:  # no connection, or inside the reader, which sends after its batch
            yield
            return
        link.holding = True
        try:
            yield
        finally:
            link.holding = False
            self._kick(link)

    async def sync(self, *, timeout: float | None = None) -> None:
        """Synchronize State Request: the CMTS re-sends its Request and ends with Synchronize Complete."""
        timeout = self.options.request_timeout if timeout is None else timeout
        with trio.move_on_after(timeout):
            link = await self._ready_link()
            done = trio.Event()
            link.sync_waiters.append(done)
            self._queue(link, SyncRequest.new())
            self._kick(link)
            await done.wait()
            if link.state is _DOWN:
                raise GateControlLost(f"{self.name}: {link.reason}")
            return
        raise RequestTimeout("Synchronize State Request", timeout)

    async def _ready_link(self) -> _Link:
        while True:
            if self.standing is Standing.CLOSED:
                raise GateControlLost(f"{self.name}: the controller is closed")
            link = self._link
            if link is None:
                if self.options.reconnect is None or self.standing is Standing.HELD_DOWN or self.target is None:
                    raise GateControlLost(f"{self.name}: not connected{self._why_down}", self._down_cause)
                await self._linked.wait()  # an automatic reconnect is under way
                continue
            await link.ready.wait()
            if self._link is link and link.state is _READY:
                return link

    # --- connection management ------------------------------------------------------------------

    async def disconnect(self, *, client_close: bool = True) -> None:
        """Drop the connection (with Client-Close unless told otherwise); no automatic reconnect follows."""
        self.standing = Standing.HELD_DOWN
        self._stop_redialling()
        link = self._link
        if link is not None:
            await self._end(link, "disconnected by the gate controller",
                            ErrorCode.SHUTTING_DOWN if client_close else None)
            await link.done.wait()

    async def reconnect(self) -> None:
        """Dial the CMTS again (after :meth:`disconnect`, or to replace a live connection)."""
        if self.target is None:  # checked first: the connection we have is the only one there can be
            raise ConnectError(f"{self.name} dialled us: only the CMTS can re-establish this connection")
        if self.standing is Standing.CLOSED:
            raise ConnectError(f"{self.name}: the controller is closed")
        if self._link is not None:
            await self.disconnect()
        self._stop_redialling()
        self.standing = Standing.ACTIVE
        await self._open()

    async def aclose(self) -> None:
        """Close for good: Client-Close (if ``client_close_on_exit``), fail pending requests, end the tasks."""
        if self.standing is Standing.CLOSED:
            return
        self._stop_redialling()
        link = self._link
        if link is not None:
            code = ErrorCode.SHUTTING_DOWN if self.options.client_close_on_exit else None
            await self._end(link, "the gate controller closed", code)
        self.standing = Standing.CLOSED
        self._linked.set()  # wake requests waiting for a reconnect; they see it closed
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    # --- tasks (started by the pool) ----------------------------------------------------------------

    async def _run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """The controller's own nursery: every task of every connection it makes lives here."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    async def _open(self) -> None:
        """Dial the target and complete the handshake; raises :class:`ConnectError`."""
        if self.target is None:
            raise ConnectError(f"{self.name} dialled us: only the CMTS can re-establish this connection")
        host, port = self.target
        try:
            with trio.fail_after(self.options.connect_timeout):
                stream = await trio.open_tcp_stream(host, port, local_address=self.options.source)
        except (OSError, trio.TooSlowError) as exc:
            raise ConnectError(f"cannot connect to {self.name}: {exc or 'timed out'}") from exc
        await self._adopt(stream)

    async def _adopt(self, stream: trio.abc.Stream) -> None:
        """Run a COPS session on ``stream`` in our nursery; returns once the CMTS's Request is in."""
        await self._nursery.start(self._session, stream)

    async def _session(self, stream: trio.abc.Stream, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        connection = Connection(Role.PDP, ka_tolerance=self.options.ka_tolerance, integrity=self.options.integrity,
                                gate_traffic=True)
        # No taps, no trace records: a load run traces nothing and would build one per message for nobody.
        transport = CopsTransport(stream, connection, tap=self._trace if self._taps else None,
                                  max_send_buffer=MAX_SEND_BUFFER)
        link = _Link(transport)
        self._link = link
        try:
            async with trio.open_nursery() as nursery:
                link.scope, link.nursery = nursery.cancel_scope, nursery
                with trio.move_on_after(self.options.handshake_timeout) as handshake:
                    if await self._secured(link):
                        nursery.start_soon(self._read, link)
                        nursery.start_soon(self._write, link)
                        await link.ready.wait()
                if handshake.cancelled_caught:
                    timeout = self.options.handshake_timeout
                    wanted = "StartTLS, Client-Open and Request" if self.options.tls else "Client-Open and Request"
                    link.reason = f"no {wanted} from {self.name} within {timeout:g} s"
                    nursery.cancel_scope.cancel()
                elif link.state is not _READY:  # TLS did not come up, or the CMTS broke the handshake
                    nursery.cancel_scope.cancel()
                else:
                    link.up = True
                    self._linked.set()
                    task_status.started()
        finally:
            if link.up and link.state is not _ENDING and self.options.client_close_on_exit:
                # Cancelled from outside (Ctrl-C, the caller's scope): still say goodbye to the CMTS.
                await self._client_close(link, ErrorCode.SHUTTING_DOWN)
            await self._link_down(link)
        if not link.up:
            raise ConnectError(f"{self.name}: {link.reason}")

    async def _secured(self, link: _Link) -> bool:
        """RFC 4261 StartTLS first, if ``options.tls`` says so: False (``link.reason`` saying why) if TLS failed."""
        if self.options.tls is None:
            return True
        try:
            await start_tls_as_pdp(link.transport, self.options.tls, self.options.ka_seconds)
        except TlsError as exc:
            link.reason, link.cause = str(exc), "TLS failed"
            return False
        return True

    async def _link_down(self, link: _Link) -> None:
        """The link's tasks are over: fail what waited on it, tell the events, maybe redial."""
        if self._link is link:
            self._link = None
            self._linked = trio.Event()
            self._why_down, self._down_cause = f" ({link.reason})", link.cause
        error = GateControlLost(f"{self.name}: {link.reason}", link.cause)
        for tid in list(self._pending):
            self._resolve(tid, outcome.Error(error))
        for waiter in link.sync_waiters:
            waiter.set()
        link.move(_DOWN)  # wakes _ready_link callers; they see the link is no longer current
        await link.transport.aclose()
        if link.up:
            self._emit(ConnectionLost(trio.current_time(), link.transport.peer, link.reason, link.cause))
            if self.target is None:  # the CMTS dialled us: this controller has nothing left to do
                self.standing = Standing.CLOSED
                self._nursery.cancel_scope.cancel()
            elif self.options.reconnect is not None and self.standing is Standing.ACTIVE:
                self._redialling = trio.CancelScope()  # now, so that a disconnect() before the task runs stops it
                self._nursery.start_soon(self._redial, self._redialling)

    async def _redial(self, scope: trio.CancelScope) -> None:
        with scope:
            for delay in self.options.reconnect.delays():
                await trio.sleep(delay)
                try:
                    await self._open()
                    break
                except ConnectError:
                    continue
        if self._redialling is scope:
            self._redialling = None

    def _stop_redialling(self) -> None:
        if self._redialling is not None:
            self._redialling.cancel()

    async def _end(self, link: _Link, reason: str, close: int | ClientClose | None) -> None:
        """End ``link``: send Client-Close (``close``: its error code, or the message; None: just close TCP),
        cancel its tasks."""
        if link.state is _ENDING or link.state is _DOWN:
            return
        link.reason = reason
        link.move(_ENDING)
        if close is not None:
            await self._client_close(link, close)
        link.scope.cancel()

    async def _client_close(self, link: _Link, close: int | ClientClose) -> None:
        """Send Client-Close (an error code, or the message), shielded and briefly: even a cancelled controller
        says goodbye."""
        with trio.move_on_after(CLOSE_GRACE) as scope:
            scope.shield = True
            # The peer may be gone or have closed already: then there is nothing left to tell it.
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, LocalProtocolError):
                self._queue(link, close if isinstance(close, ClientClose) else ClientClose.new(close))
                await link.transport.flush()

    # --- the reader -----------------------------------------------------------------------------------

    async def _read(self, link: _Link) -> None:
        transport = link.transport
        handlers = self._handlers
        while True:
            try:
                messages = await transport.receive()
                self.stats.messages_in += len(messages)
            except DecodeError as exc:
                self.stats.malformed += 1
                if transport.connection.framing_lost:
                    await self._end(link, f"undecodable bytes from {self.name}: {exc}", exc.error_code)
                    return
                if not link.up:  # a Client-Open or Request we cannot read: RFC 2748 answers it with Client-Close
                    await self._end(link, f"{self.name} sent a malformed message in the handshake: {exc}",
                                    exc.error_code)
                    return
                continue
            except RemoteProtocolError as exc:
                # An integrity failure is closed on client-type 0 (RFC 2748 4.1); any other fault on ours.
                client_type = transport.connection.client_type if exc.client_type is None else exc.client_type
                await self._end(link, f"{self.name} broke the protocol: {exc.reason}",
                                ClientClose.new(exc.error_code, exc.error_subcode, client_type=client_type))
                return
            link.holding = True
            for message in messages:
                if handlers[type(message)](self, link, message):
                    link.scope.cancel()
                    return
            link.holding = False
            self._kick(link)

    async def _write(self, link: _Link) -> None:
        """The connection's one writer, so that the reader never waits on a send.

        A reader that flushed its own answers would stop reading while the
        CMTS is slow to read, and a CMTS that answers while we send would
        then wait on us: both blocked in send, the connection stuck.
        """
        while True:
            if not link.dirty:
                await link.wake.park()
            link.dirty = False
            try:
                await link.transport.flush()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                link.reason = f"{self.name} reset the connection"
                link.scope.cancel()
                return

    @staticmethod
    def _kick(link: _Link) -> None:
        """Messages were queued on ``link``: sent now if the socket takes them at once, else by the writer."""
        if not link.dirty and not link.transport.send_now():
            link.dirty = True
            link.wake.unpark_all()

    # Each handler runs in the reader, queues any answer, and returns True when the connection is over.

    def _on_open(self, link: _Link, message: ClientOpen) -> bool:
        options = self.options
        if message.client_type == ClientType.CONNECTION:
            if link.transport.connection.integrity is not None:
                # RFC 2748 4.1: the CMTS negotiates integrity first (the connection has checked its digest); the KA
                # Timer the grammar asks for is the one the DQoS Client-Accept will carry.
                self._queue(link, ClientAccept.new(options.ka_seconds, client_type=ClientType.CONNECTION))
                return False
            lacking = "TLS (RFC 4261 StartTLS) and this gate controller has no TLS settings" if starts_tls(message) \
                else "COPS integrity (RFC 2748 4.1) and this gate controller has no integrity key"
            link.nursery.start_soon(self._end, link, f"{self.name} asked for {lacking}", refuse(NO_SECURITY))
            return False
        link.pep_id = message.pep_id
        self._queue(link, ClientAccept.new(options.ka_seconds, options.acct_seconds))
        link.nursery.start_soon(keepalive_loop, link.transport, lambda: self._peer_dead(link))
        return False

    def _on_request(self, link: _Link, message: Request) -> bool:
        link.handle = message.handle
        if self.options.solicited_null_decision:
            null = DecisionGroup(Context(RType.CONFIGURATION, 0), DecisionFlags(DecisionCommand.NULL_DECISION, 0))
            self._queue(link, Decision.new(message.handle, null, solicited=True))
        if link.state is _HANDSHAKE or link.state is _SUSPENDED:
            link.move(_READY)
            self.stats.connects += 1
            self._emit(Connected(trio.current_time(), link.transport.peer, link.pep_id, message.handle.value))
        return False

    def _on_report(self, link: _Link, message: Report) -> bool:
        try:
            command = report_command(message)
        except PacketCableDecodeError as exc:
            self.stats.malformed += 1
            pending = self._pending.get(exc.transaction_id)
            if pending is not None:
                error = UnexpectedReply(pending.command, f"malformed reply: {exc}")
                self._resolve(exc.transaction_id, outcome.Error(error))
            return False
        return self._on_command(link, command)

    def _on_gate_traffic(self, link: _Link, traffic: GateTraffic) -> bool:
        """An RPT of the usual shape, its command read from the frame: nearly every message."""
        return self._on_command(link, traffic[2])

    def _on_command(self, link: _Link, command) -> bool:
        kind = type(command)
        # Events as the reader makes them at load (one Gate-Open and one Gate-Close a call): the run's clock read
        # directly, the NamedTuple made by tuple.__new__ (its own __new__ is Python code).
        if kind is GateOpen:
            transport = link.transport
            self._emit(_new(GateOpened, (transport.now(), transport.peer, command.gate_id, command)))
        elif kind is GateClose:
            reason = command.reason.subcode if command.reason is not None else None
            transport = link.transport
            self._emit(_new(GateClosed, (transport.now(), transport.peer, command.gate_id, reason, command)))
        elif command is not None:
            self._on_reply(command)
        else:
            self.stats.ignored_reports += 1
        return False

    def _on_reply(self, reply) -> None:
        self.stats.replies += 1
        pending = self._pending.get(reply.transaction_id)
        if pending is None or pending is _LATE:
            self.stats.unmatched_replies += 1
            return
        request = pending.command
        ack, err = REPLIES[request.COMMAND]
        kind = type(reply)
        if kind is ack:
            if pending.callback is not None:  # submit's, nearly every reply under load: _resolve, in line
                del self._pending[reply.transaction_id]
                pending.callback(pending.context, reply, None)
                return
            result = outcome.Value(reply)
        elif kind is err:
            result = outcome.Error(GateError.from_reply(request, reply))
        else:
            result = outcome.Error(UnexpectedReply(request, f"answered with {reply.title}", reply))
        self._resolve(reply.transaction_id, result)

    def _on_keepalive(self, link: _Link, message: KeepAlive) -> bool:
        self._queue(link, link.transport.connection.keepalive())
        return False

    def _on_delete_request(self, link: _Link, message: DeleteRequest) -> bool:
        reason = message.reason
        handles = link.transport.connection.handles
        if handles:  # another handle is left (DQoS uses one): gate control goes on with it
            if link.handle.value not in handles:
                link.handle = Handle(next(iter(handles)))
            return False
        if link.state is _READY:
            link.move(_SUSPENDED)
        lost = GateControlLost(f"{self.name} deleted the request state (DRQ reason {reason.code}/{reason.subcode})",
                               f"DRQ reason {reason.code}")
        for tid in list(self._pending):
            self._resolve(tid, outcome.Error(lost))
        self._emit(RequestStateDeleted(trio.current_time(), link.transport.peer, message.handle.value,
                                       reason.code, reason.subcode))
        return False

    def _on_sync_complete(self, link: _Link, message: SyncComplete) -> bool:
        waiters, link.sync_waiters = link.sync_waiters, []
        for waiter in waiters:
            waiter.set()
        return False

    def _on_client_close(self, link: _Link, message: ClientClose) -> bool:
        error = message.error
        try:
            name = ErrorCode(error.code).name
        except ValueError:
            name = "unknown"
        link.reason = f"{self.name} sent Client-Close (error {error.code} {name}, sub-code {error.subcode})"
        link.cause = f"Client-Close error {error.code} {name.lower().replace('_', ' ')}"
        return True

    def _on_closed(self, link: _Link, message: ConnectionClosed) -> bool:
        failure = link.transport.tls_failure
        link.reason = f"TLS: {failure}" if failure else f"{self.name} closed the TCP connection"
        return True

    _handlers = {
        ClientOpen: _on_open,
        Request: _on_request,
        Report: _on_report,
        GateTraffic: _on_gate_traffic,
        KeepAlive: _on_keepalive,
        DeleteRequest: _on_delete_request,
        SyncComplete: _on_sync_complete,
        ClientClose: _on_client_close,
        ConnectionClosed: _on_closed,
    }

    async def _peer_dead(self, link: _Link) -> None:
        interval = link.transport.connection.ka_interval * self.options.ka_tolerance
        link.cause = "CMTS silent (keep-alive timeout)"
        await self._end(link, f"{self.name} was silent for {interval:g} s (KA timer {self.options.ka_seconds} s)",
                        ErrorCode.COMMUNICATION_FAILURE)

    # --- plumbing ----------------------------------------------------------------------------------------

    def _resolve(self, tid: int, result: outcome.Outcome) -> None:
        pending = self._pending.pop(tid)
        if pending is _LATE:
            return
        if pending.callback is not None:
            if type(result) is outcome.Value:
                pending.callback(pending.context, result.value, None)
            else:
                pending.callback(pending.context, getattr(result.error, "reply", None), result.error)
        elif pending.task is None:
            pending.result = result
        else:
            trio.lowlevel.reschedule(pending.task, result)

    def _queue(self, link: _Link, message, command=UNREAD) -> None:
        """Queue ``message`` on ``link`` (``command``: the gate command it was built from, for the trace).

        Nothing once the connection is closed: a Client-Close later in the same read has ended it (a whole read is
        decoded before its messages are handled), and no answer may follow a Client-Close.
        """
        if link.transport.connection.state is _CONNECTION_CLOSED:
            return
        link.transport.queue(message, None, command)
        self.stats.messages_out += 1

    def _emit(self, event) -> None:
        self.stats.events += 1
        if self._on_event is not None:
            self._on_event(event)
            return
        try:
            self._events_send.send_nowait(event)
        except trio.WouldBlock:
            self.stats.events_dropped += 1
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    def _trace(self, record: TraceRecord) -> None:
        for tap in self._taps:
            tap(record)

    def __repr__(self) -> str:
        state = "connected" if self.connected else "closed" if self.closed else "not connected"
        return f"<GateController {self.name} {state}>"


def as_address(subscriber) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """A subscriber given as text or as an address object -> the address object."""
    return subscriber if isinstance(subscriber, (ipaddress.IPv4Address, ipaddress.IPv6Address)) \
        else ipaddress.ip_address(subscriber)
