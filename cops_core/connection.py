"""The COPS connection state machine for both ends, sans-IO (after h11).

Feed received bytes with :meth:`Connection.receive_data`, pull messages with
:meth:`Connection.next_event`, and turn outgoing messages into bytes with
:meth:`Connection.send`.  Both check each message against one transition
table, :data:`TRANSITIONS`, which says which message may flow in which state
and from which side; the same table serves the PEP (CMTS) and the PDP (CMS).
Client-type 0's own messages, the RFC 4261 StartTLS exchange before the real
Client-Open, have theirs: :data:`CONNECTION_TRANSITIONS`.

Time is a number the caller passes in (``now``, in seconds), so keep-alive
deadlines are computed, not slept: :attr:`Connection.keepalive_due_at` says
when the PEP must next send a Keep-Alive (a random point in [1/4, 3/4] of the
KA interval, RFC 2748 section 3.9) and :attr:`Connection.peer_dead_at` when
the peer has been silent too long.

With ``integrity`` set, the connection signs every message it sends and
checks every frame it receives (:mod:`cops_core.integrity`, RFC 2748 4.1);
the client-type 0 exchange that negotiates it is the one RFC 4261 uses.
"""

from __future__ import annotations

import enum
import random
from typing import NamedTuple

from .codes import ClientType, ErrorCode, OpCode
from .dqos.commands import FRAME_COMMANDS
from .errors import DecodeError, IntegrityError, LocalProtocolError, RemoteProtocolError
from .framing import DEFAULT_MAX_MESSAGE, Framer
from .integrity import Integrity, IntegritySettings
from .messages import _TEMPLATES as _MESSAGE_TEMPLATES
from .messages import ClientAccept, KeepAlive, Message, decode_message
from .objects import Handle


class Role(enum.Enum):
    """Which end of COPS this is.  (Who dialled TCP does not matter to COPS.)"""

    PEP = "PEP"  # policy enforcement point: the CMTS
    PDP = "PDP"  # policy decision point: the CMS / gate controller

    # Members are singletons compared by identity: hash them so too.  Enum's own __hash__ is Python code
    # (hash of the name), and every message sent or received looks up TRANSITIONS by (state, role, op-code).
    __hash__ = object.__hash__


class State(enum.Enum):
    CONNECTED = "connected"  # TCP is up (or TLS, after StartTLS); the PEP has not sent Client-Open
    SECURING = "securing"  # a client-type 0 Client-Open sent (RFC 4261 StartTLS), waiting for its Client-Accept
    OPENING = "opening"  # Client-Open sent, waiting for Client-Accept
    ACCEPTED = "accepted"  # accepted; no request state (handle) installed
    READY = "ready"  # the PEP's request state is installed: gate control flows
    CLOSED = "closed"  # Client-Close sent or received, or the peer went away

    __hash__ = object.__hash__  # as Role's: a C-level hash for the TRANSITIONS lookups


_OPEN = (State.ACCEPTED, State.READY)
_LIVE = (State.CONNECTED, State.SECURING, State.OPENING, State.ACCEPTED, State.READY)

# (state, sender, opcode) -> next state.  A message not listed is illegal.
TRANSITIONS: dict[tuple[State, Role, OpCode], State] = {
    (State.CONNECTED, Role.PEP, OpCode.OPN): State.OPENING,
    (State.OPENING, Role.PDP, OpCode.CAT): State.ACCEPTED,
    (State.ACCEPTED, Role.PEP, OpCode.REQ): State.READY,
    (State.READY, Role.PEP, OpCode.REQ): State.READY,  # update or resynchronise the state
    (State.READY, Role.PDP, OpCode.DEC): State.READY,
    (State.READY, Role.PEP, OpCode.RPT): State.READY,
    (State.READY, Role.PEP, OpCode.DRQ): State.READY,  # ACCEPTED once no handle is left
    **{(state, Role.PDP, OpCode.SSQ): state for state in _OPEN},
    **{(state, Role.PEP, OpCode.SSC): state for state in _OPEN},
    **{(state, role, OpCode.KA): state for state in _OPEN for role in Role},
    **{(state, role, OpCode.CC): State.CLOSED for state in _LIVE for role in Role},
}

# Client-type 0 is the connection's own (RFC 2748 4.1, RFC 4261 section 4.1): besides keep-alives, the security
# negotiation before the real Client-Open.  A client-type 0 Client-Accept returns the connection to CONNECTED: the
# TLS handshake comes next if it carried StartTLS (cops_core.tls), then the PEP's Client-Open for its own
# client-type.  A client-type 0 Client-Close may come at any time: it is how a message that fails integrity is
# answered, however far the connection has got (RFC 2748 4.1).
CONNECTION_TRANSITIONS: dict[tuple[State, Role, OpCode], State] = {
    (State.CONNECTED, Role.PEP, OpCode.OPN): State.SECURING,
    (State.SECURING, Role.PDP, OpCode.CAT): State.CONNECTED,
    **{(state, role, OpCode.CC): State.CLOSED for state in _LIVE for role in Role},
}

# Messages that name request state must name a handle the PEP installed.
_NEEDS_KNOWN_HANDLE = frozenset((OpCode.DEC, OpCode.RPT, OpCode.DRQ))
_MESSAGE_DECODERS = _MESSAGE_TEMPLATES.decoders  # first two bytes -> template decoder (None if it does not fit)

# Every message sent or received passes _advance: the op-codes it tests as globals, as reading an enum member
# (``OpCode.KA``) costs ~0.2 us on CPython 3.11.
_KA, _REQ, _DRQ, _CAT, _DEC = OpCode.KA, OpCode.REQ, OpCode.DRQ, OpCode.CAT, OpCode.DEC
_READY = State.READY
_new = tuple.__new__
# The gate-command traffic, nearly every message: each side's op-code that TRANSITIONS takes from READY to READY
# and that must name a known handle (checked first in _advance, in fewer steps than the general path).
_GATE_TRAFFIC = {Role.PDP: OpCode.DEC, Role.PEP: OpCode.RPT}
if not all(TRANSITIONS[State.READY, role, opcode] is State.READY and opcode in _NEEDS_KNOWN_HANDLE
           for role, opcode in _GATE_TRAFFIC.items()):  # an explicit check: an assert would vanish under -O
    raise RuntimeError("the gate-traffic shortcut in Connection._advance no longer matches TRANSITIONS")


class NeedData:
    """:meth:`Connection.next_event` has no whole message yet."""

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = NeedData()


class ConnectionClosed(NamedTuple):
    """The peer closed TCP (``receive_data(b"")``)."""


class GateTraffic(NamedTuple):
    """A DQoS DEC (at the PEP) or RPT (at the PDP) of the usual shape, legal now, read from its bytes into its command.

    Nearly every message of a call is one: a 4-byte Handle, Context and
    Decision Flags (Report-Type), the gate command's 6/4 (9/1) last.  Its
    gate command comes straight from the frame, with no Message built; a
    trace record decodes the message from the bytes if a tap looks.  Only
    from a connection made with ``gate_traffic=True``; any other DEC or RPT
    comes as its Message, and goes through the general checks.
    """

    opcode: OpCode  # DEC or RPT
    handle: bytes  # the Client Handle's value (4 bytes), one the PEP installed
    command: object  # the gate command (cops_core.dqos)
    payload: bytes  # the 6/4 or 9/1 payload it was read from


class Connection:
    """One COPS connection, from one side's point of view.

    ``ka_tolerance`` multiplies the KA interval to give the silence after
    which the peer is declared dead (RFC 2748: one interval; protocol.md
    marks any other factor UNVERIFIED, so it is a setting).  ``integrity``:
    sign and check messages (protocol.md 2.8); None, the default, leaves
    the bytes as they are.  ``gate_traffic``: return the usual gate-command
    DEC/RPT from the peer as :class:`GateTraffic` (see there).
    """

    def __init__(
        self,
        role: Role,
        *,
        client_type: int = ClientType.PACKETCABLE_DQOS,
        max_message: int = DEFAULT_MAX_MESSAGE,
        ka_tolerance: float = 1.0,
        rng: random.Random | None = None,
        integrity: IntegritySettings | None = None,
        gate_traffic: bool = False,
    ) -> None:
        self.our_role = role
        self.their_role = Role.PDP if role is Role.PEP else Role.PEP
        self.client_type = client_type
        self.max_message = max_message
        self.ka_tolerance = ka_tolerance
        self.state = State.CONNECTED
        self.handles: set[bytes] = set()
        # Handles we deleted with our own DRQ: a DEC on one may already be on its way (RFC 2748 3.4), so it is
        # let through for the caller to drop, not taken as the peer's protocol error.
        self.retired: set[bytes] = set()
        self.ka_interval = 0  # seconds, from the Client-Accept; 0 = no keep-alives
        self.last_received: float | None = None  # when the last whole message arrived: what keeps the peer alive
        self._fed_at = 0.0  # when the last bytes arrived (one byte every few seconds is no sign of life)
        self.keepalive_due_at: float | None = None  # PEP only
        # The bytes of the message next_event last returned: a trace records them without encoding it again.
        self.last_frame = b""
        self._framer = Framer(max_message)
        self._rng = rng or random.Random()
        self._eof = False
        # Initial sequence numbers must not be guessable: drawn from the system's generator, not from ``rng``
        # (which a caller may seed for reproducible keep-alive times).
        self.integrity = Integrity(integrity, pep=role is Role.PEP, rng=random.SystemRandom()) \
            if integrity is not None else None
        # The op-code read straight into a GateTraffic (the peer's gate traffic), or None: not asked for, or a
        # signed connection (its frames end in an Integrity object) or another client-type, which take the
        # general path.
        self._traffic_opcode = _GATE_TRAFFIC[self.their_role] \
            if gate_traffic and integrity is None and client_type == ClientType.PACKETCABLE_DQOS else None
        # The op-code of our own gate traffic that send_gate_traffic passes (-1: none; it wants the message then).
        self._own_traffic = int(_GATE_TRAFFIC[role]) \
            if integrity is None and client_type == ClientType.PACKETCABLE_DQOS else -1

    # --- receiving ----------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> None:
        """Feed bytes from the peer; ``b""`` means the peer closed TCP."""
        if data:
            self._framer.feed(data)
            self._fed_at = now
        else:
            self._eof = True

    def next_event(self) -> Message | NeedData | ConnectionClosed:
        """The next message from the peer, checked against the state machine.

        Raises :class:`~cops_core.errors.DecodeError` for bytes that are not a
        COPS message (see :attr:`framing_lost` for whether later messages can
        still be read) and :class:`RemoteProtocolError` for a message
        that is illegal now.
        """
        frame = self._framer.next_frame()
        if frame is None:
            if self._eof:
                self.state = State.CLOSED
                return ConnectionClosed()
            return NEED_DATA
        self.last_frame = frame
        self.last_received = self._fed_at
        if self._traffic_opcode is not None and self.state is _READY and frame[1] == self._traffic_opcode:
            read = FRAME_COMMANDS.get(frame[:2])
            found = None if read is None else read(frame)
            if found is not None and found[0] in self.handles:  # what _advance checks of gate traffic
                return _new(GateTraffic, (self._traffic_opcode, *found))
        if self.integrity is not None:
            frame = self._verified(frame)
        # decode_message's first step, in line (a gate-command DEC/RPT in one unpack; frames are bytes): two
        # calls fewer per message; anything else takes decode_message whole.
        template = _MESSAGE_DECODERS.get(frame[:2])
        message = template(frame) if template is not None else None
        if message is None:
            try:
                message = decode_message(frame)
            except DecodeError as exc:
                exc.frame = self.last_frame  # framing held: the caller may still read what it needs from the bytes
                raise
        try:
            self._advance(message, self.their_role, RemoteProtocolError)
        except RemoteProtocolError as exc:
            exc.frame, exc.message = self.last_frame, message  # well formed but illegal now: a trace shows it
            raise
        return message

    def _verified(self, frame: bytes) -> bytes:
        """The frame without its Integrity object, once checked; an IntegrityError carries the evidence."""
        try:
            return self.integrity.verify(frame)
        except IntegrityError as exc:
            exc.frame = frame
            try:
                exc.message = decode_message(frame)  # a trace shows what came, Integrity object and all
            except DecodeError:
                exc.message = None
            raise

    @property
    def buffered(self) -> int:
        """Bytes received that :meth:`next_event` has not returned as messages yet."""
        return self._framer.buffered

    @property
    def framing_lost(self) -> bool:
        """True once the byte stream cannot be cut into messages any more (answer: Client-Close)."""
        return self._framer.broken

    # --- sending ------------------------------------------------------------

    def send(self, message: Message, now: float, data: bytes | None = None) -> bytes:
        """The bytes of ``message``, after checking that we may send it now.

        ``data``: its bytes if the caller has them already (exactly
        ``message.encode()``, as :func:`cops_core.dqos.packed_report` packs them).
        With integrity on, what comes back ends in the Integrity object.
        """
        self._advance(message, self.our_role, LocalProtocolError)
        if type(message) is KeepAlive and self.our_role is Role.PEP:
            self._schedule_keepalive(now)
        integrity = self.integrity
        if integrity is None:
            return message.encode() if data is None else data
        return integrity.sign(message.encode() if data is None else data)

    def send_gate_traffic(self, data: bytes, handle: bytes) -> bool:
        """Whether ``data`` may go now as it is, checked without its message: the usual DQoS DEC (we are the PDP)
        or RPT (the PEP), as :func:`~cops_core.dqos.packed_decision` and :func:`~cops_core.dqos.packed_report`
        pack them, naming ``handle``.

        True exactly when :meth:`send` would take the message with no change
        of state and return these bytes: READY, a handle the PEP installed,
        unsigned, client-type DQoS.  False tells nothing: the message must
        go through :meth:`send`, which accepts or refuses it.
        """
        return (self.state is _READY and data[1] == self._own_traffic and data[2] << 8 | data[3] == self.client_type
                and handle in self.handles)

    # --- keep-alive ---------------------------------------------------------

    @property
    def peer_dead_at(self) -> float | None:
        """When the peer will have been silent longer than the KA interval allows (None: never)."""
        if not self.ka_interval or self.last_received is None or self.state is State.CLOSED:
            return None
        return self.last_received + self.ka_interval * self.ka_tolerance

    def keepalive(self) -> KeepAlive:
        """The Keep-Alive to send now: the PEP's (S=0), or the PDP's echo (S=1, as Wireshark pairs them)."""
        return KeepAlive(solicited=self.our_role is Role.PDP)

    def _schedule_keepalive(self, now: float) -> None:
        if self.ka_interval:
            self.keepalive_due_at = now + self.ka_interval * self._rng.uniform(0.25, 0.75)
        else:
            self.keepalive_due_at = None

    # --- the table ----------------------------------------------------------

    def _advance(self, message: Message, sender: Role, error: type) -> None:
        opcode = message.OPCODE
        state = self.state
        if state is _READY and opcode is _GATE_TRAFFIC[sender]:
            objects = message[0]
            handle = objects[0] if objects else None
            if type(handle) is Handle and message[1] == self.client_type and handle[0] in self.handles:
                return  # what the general path below finds for it: legal, state unchanged
        client_type = message[1]
        if client_type == 0 and opcode is not _KA and (state, sender, opcode) in CONNECTION_TRANSITIONS:
            self.state = CONNECTION_TRANSITIONS[state, sender, opcode]  # RFC 4261: OPN, CAT, CC of the negotiation
            return
        next_state = TRANSITIONS.get((state, sender, opcode))
        if next_state is None:
            raise error(
                f"{opcode.name} from the {sender.value} is not allowed in state {state.value}",
                ErrorCode.BAD_MESSAGE_FORMAT,
            )
        if opcode is not _KA and client_type != self.client_type:
            raise error(
                f"client-type 0x{client_type:04x}, expected 0x{self.client_type:04x}",
                ErrorCode.UNSUPPORTED_CLIENT_TYPE,
            )
        if opcode in _NEEDS_KNOWN_HANDLE:
            objects = message[0]
            handle = objects[0] if objects else None  # the Handle leads every message we build and GCs send
            if type(handle) is not Handle:
                handle = message.handle
            if handle.value not in self.handles:
                if opcode is _DEC and sender is not self.our_role and handle.value in self.retired:
                    return  # it crossed our DRQ: the caller drops it
                raise error(f"{opcode.name} names unknown handle 0x{handle.value.hex()}", ErrorCode.BAD_HANDLE)
            if opcode is not _DRQ:
                return  # a DEC or RPT leaves the state as it is (READY -> READY)
        self.state = next_state
        if opcode is _REQ:
            self.handles.add(message.handle.value)
        elif opcode is _DRQ:
            self.handles.discard(message.handle.value)
            if sender is self.our_role:
                self.retired.add(message.handle.value)
            if not self.handles:
                self.state = State.ACCEPTED
        elif opcode is _CAT:
            self._accept(message)

    def _accept(self, message: ClientAccept) -> None:
        self.ka_interval = message.ka_seconds
        # The first keep-alive is timed from the Client-Accept; there is no "now" for a received
        # message other than the time its bytes arrived.
        if self.our_role is Role.PEP:
            self._schedule_keepalive(self.last_received or 0.0)

