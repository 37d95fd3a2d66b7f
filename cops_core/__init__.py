"""pktcable-sim's protocol core: COPS (RFC 2748) and PacketCable DQoS, sans-IO.

Bytes in, values out; values in, bytes out.  Nothing here opens a socket,
starts a task or reads a clock, except :mod:`cops_core.transport`, which
binds a :class:`~cops_core.connection.Connection` to a trio stream.
"""

from .codes import (
    ClientType,
    CNum,
    DecisionCommand,
    DecisionFlag,
    ErrorCode,
    OpCode,
    ReasonCode,
    ReportType,
    RType,
)
from .errors import DecodeError, LocalProtocolError, PacketCableDecodeError, ProtocolError, RemoteProtocolError
from .framing import Framer
from .messages import (
    ClientAccept,
    ClientClose,
    ClientOpen,
    Decision,
    DecisionGroup,
    DeleteRequest,
    KeepAlive,
    Message,
    Report,
    Request,
    SyncComplete,
    SyncRequest,
    decode_message,
)

__version__ = "0.1.0"
