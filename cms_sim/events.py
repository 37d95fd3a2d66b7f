"""What ``gc.events()`` yields: gate events from the CMTS and changes of the connection.

Plain NamedTuples with the trio time they were seen, the peer they came from
(a pool's controllers share one event stream) and, for gate events, the
decoded command itself.  ``KIND`` is the name scenario files use.
"""

from __future__ import annotations

from typing import NamedTuple, Union

from cops_core.dqos import GateClose, GateOpen

Address = tuple[str, int]


class GateOpened(NamedTuple):
    """Gate-Open: the modem committed the gate's resources."""

    time: float
    peer: Address
    gate_id: int
    command: GateOpen

    KIND = "gate_open"


class GateClosed(NamedTuple):
    """Gate-Close: the gate is gone; ``reason`` is the PacketCable-Reason sub-code (None if absent)."""

    time: float
    peer: Address
    gate_id: int
    reason: int | None
    command: GateClose

    KIND = "gate_close"


class Connected(NamedTuple):
    """The CMTS's Request is in: gate control can flow (after each handshake, and after a new REQ following a DRQ)."""

    time: float
    peer: Address
    pep_id: str
    handle: bytes

    KIND = "connected"


class RequestStateDeleted(NamedTuple):
    """The CMTS sent a DRQ for the gate-control handle; RFC 2748 Reason code and sub-code."""

    time: float
    peer: Address
    handle: bytes
    reason: int
    subcode: int

    KIND = "request_state_deleted"


class ConnectionLost(NamedTuple):
    """The connection ended; ``reason`` says how (Client-Close, TCP close, silence, our own disconnect)."""

    time: float
    peer: Address
    reason: str
    cause: str = "connection lost"  # the reason, short and countable (as GateControlLost.cause)

    KIND = "connection_lost"


Event = Union[GateOpened, GateClosed, Connected, RequestStateDeleted, ConnectionLost]
EVENT_KINDS: dict[str, type] = {cls.KIND: cls for cls in (GateOpened, GateClosed, Connected, RequestStateDeleted,
                                                         ConnectionLost)}
