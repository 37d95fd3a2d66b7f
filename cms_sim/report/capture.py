"""``--pcap FILE``: the run's COPS traffic as a capture Wireshark opens and decodes.

Every message the gate controller sent or received, with its local and peer
addresses; each (local, peer) pair becomes one TCP connection in the
capture, the gate controller as the TCP client, as PacketCable has it.
:class:`LiveCapture` writes each message as it is traced and flushes it, so a
run that dies half-way (killed, or the machine lost) leaves a capture of
everything up to then in the partial file beside the target.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from cops_core.trace import TraceRecord

from ..pcap import PcapWriter, TcpConnection


class LiveCapture:
    """A capture written message by message: :meth:`tap` goes in a transport's taps; :meth:`close` ends it.

    Each TCP connection's handshake is written just before its first
    message, its FIN exchange at :meth:`close`.
    """

    def __init__(self, target: BinaryIO) -> None:
        self._file = target
        self._writer = PcapWriter(target)
        target.flush()  # the file header: killed before the first message, it is still a capture (an empty one)
        self._connections: dict[tuple, tuple[TcpConnection, float]] = {}  # (local, peer) -> (connection, last time)
        self.messages = 0

    def tap(self, record: TraceRecord) -> None:
        self.write(record)
        self._file.flush()  # a message at a time: a run at one call at a time sends a few dozen

    def write(self, record: TraceRecord) -> None:
        key = (record.local, record.peer)
        known = self._connections.get(key)
        connection = known[0] if known else self._writer.connection(
            client=record.local, server=record.peer, start_time=record.wall - 0.0003)
        connection.send(record.wall, from_client=record.outgoing, data=record.data)
        self._connections[key] = (connection, record.wall)
        self.messages += 1

    def close(self) -> None:
        """Write every connection's FIN exchange, after its last message."""
        for connection, last in self._connections.values():
            connection.close(last + 0.0001)
        self._connections.clear()
        self._writer.close()


def write_capture(trace: list[TraceRecord], path: str | Path) -> int:
    """Write ``trace`` (in time order) to ``path`` at once; returns the number of COPS messages written."""
    with open(path, "wb") as file:
        capture = LiveCapture(file)
        for record in sorted(trace, key=lambda r: r.wall):
            capture.write(record)
        capture.close()
    return capture.messages
