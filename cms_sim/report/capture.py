"""``--pcap FILE``: the run's COPS traffic as a capture Wireshark opens and decodes.

The trace holds every message the gate controller sent or received, with its
local and peer addresses; each (local, peer) pair becomes one TCP connection
in the capture, the gate controller as the TCP client, as PacketCable has it.
"""

from __future__ import annotations

from pathlib import Path

from cops_core.transport import TraceRecord

from ..pcap import PcapWriter


def write_capture(trace: list[TraceRecord], path: str | Path) -> int:
    """Write ``trace`` (in time order) to ``path``; returns the number of COPS messages written."""
    connections = {}
    last_time = {}
    with PcapWriter(str(path)) as writer:
        for record in sorted(trace, key=lambda r: r.wall):
            key = (record.local, record.peer)
            connection = connections.get(key)
            if connection is None:
                # The handshake goes just before the first message seen on it.
                connection = connections[key] = writer.connection(
                    client=record.local, server=record.peer, start_time=record.wall - 0.0003)
            connection.send(record.wall, from_client=record.outgoing, data=record.data)
            last_time[key] = record.wall
        for key, connection in connections.items():
            connection.close(last_time[key] + 0.0001)
    return len(trace)
