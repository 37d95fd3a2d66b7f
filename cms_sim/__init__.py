"""pktcable-sim's Gate Controller side: the gate controller API, scenarios, the ``cms-sim`` command, its COPS
decoder and its pcap writer.

Script a CMTS test with it::

    import cms_sim

    async with cms_sim.connect("10.0.0.1") as gc:
        ack = await gc.gate_set("10.0.1.10", cms_sim.profile("G711-20").gate_specs("10.0.1.10", "10.1.1.20"))

Scenario files live in :mod:`cms_sim.scenario`.
"""

from .controller import Backoff, ControllerOptions, GateController
from .errors import (
    ConnectError,
    ControllerError,
    GateAlreadySet,
    GateControlLost,
    GateError,
    GateLimitExceeded,
    IllegalSessionClass,
    InsufficientResources,
    InvalidObject,
    MissingRequiredObject,
    RequestTimeout,
    UnexpectedReply,
    UnknownGateID,
    UnspecifiedGateError,
)
from .events import Connected, ConnectionLost, GateClosed, GateOpened, RequestStateDeleted
from .media import PROFILES, MediaProfile, profile
from .pool import GateControllerPool, connect, listen

__all__ = [
    "Backoff", "ConnectError", "Connected", "ConnectionLost", "ControllerError", "ControllerOptions",
    "GateAlreadySet", "GateClosed", "GateControlLost", "GateController", "GateControllerPool", "GateError",
    "GateLimitExceeded", "GateOpened", "IllegalSessionClass", "InsufficientResources", "InvalidObject",
    "MediaProfile", "MissingRequiredObject", "PROFILES", "RequestStateDeleted", "RequestTimeout",
    "UnexpectedReply", "UnknownGateID", "UnspecifiedGateError", "connect", "listen", "profile",
]
