"""Write COPS traffic to a pcap file that Wireshark reads as ordinary TCP.

The CMS records what crosses each COPS connection (time, direction, message
bytes); this module turns that record into Ethernet/IPv4-or-IPv6/TCP frames.
Each connection opens with a SYN / SYN-ACK / ACK handshake, every ``send`` is
one segment whose sequence and acknowledgement numbers follow the bytes sent so
far, and ``close`` ends with a FIN exchange, so Wireshark's TCP analysis has
nothing to flag and its COPS dissector reassembles every message::

    with PcapWriter("call.pcap") as pcap:
        conn = pcap.connection(client=("10.0.0.2", 49152), server=("10.0.0.1", 2126), start_time=t0)
        conn.send(t0 + 0.001, from_client=False, data=opn.encode())   # CMTS speaks first
        conn.send(t0 + 0.002, from_client=True, data=cat.encode())
        conn.close(t0 + 9.0)

Pass each message whole to ``send`` (as the CMS writes it); the writer does not
split or merge them.  Timestamps are the caller's and are written as given.
"""

from __future__ import annotations

import ipaddress
import os
import zlib
from typing import BinaryIO

import dpkt

Endpoint = tuple[str, int]
"""An (IP address, TCP port) pair."""

STEP = 0.0001
"""Seconds between the packets of a handshake or of a FIN exchange."""

_MSS_OPTION = b"\x02\x04\x05\xb4"  # MSS 1460, as a SYN from an Ethernet host carries
_WINDOW = 65535


class PcapWriter:
    """A pcap (Ethernet link type, microsecond timestamps) being written to a path or a binary file.

    A file object passed in stays open after :meth:`close`; a path is opened and closed here.
    """

    def __init__(self, target: str | os.PathLike | BinaryIO) -> None:
        self._owned = isinstance(target, (str, os.PathLike))
        self._file: BinaryIO = open(target, "wb") if self._owned else target
        self._pcap = dpkt.pcap.Writer(self._file, snaplen=65535, linktype=dpkt.pcap.DLT_EN10MB)

    def connection(self, client: Endpoint, server: Endpoint, start_time: float, *,
                   client_isn: int | None = None, server_isn: int | None = None) -> "TcpConnection":
        """Write a three-way handshake from ``client`` to ``server`` at ``start_time`` and return the connection.

        Initial sequence numbers default to a checksum of the endpoints, so a
        capture written twice from the same record is byte-identical.
        """
        return TcpConnection(self, client, server, start_time, client_isn, server_isn)

    def write_frame(self, t: float, frame: bytes) -> None:
        """Append one link-layer frame with timestamp ``t`` (seconds since the epoch)."""
        self._pcap.writepkt(frame, ts=t)

    def close(self) -> None:
        self._file.flush()
        if self._owned:
            self._file.close()

    def __enter__(self) -> "PcapWriter":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class _End:
    """One side of a connection: addresses, and the next sequence number and IP ID it will send."""

    def __init__(self, endpoint: Endpoint, isn: int) -> None:
        host, self.port = endpoint
        self.ip = ipaddress.ip_address(host)
        # A locally administered MAC derived from the address, so each host keeps one MAC.
        self.mac = b"\x02\x00" + self.ip.packed[-4:]
        self.seq = isn & 0xFFFFFFFF
        self.ip_id = isn & 0xFFFF


class TcpConnection:
    """One TCP connection in the capture; ``send`` writes a segment, ``close`` the FIN exchange."""

    def __init__(self, writer: PcapWriter, client: Endpoint, server: Endpoint, start_time: float,
                 client_isn: int | None, server_isn: int | None) -> None:
        key = f"{client[0]}:{client[1]}>{server[0]}:{server[1]}".encode()
        self._writer = writer
        self._client = _End(client, zlib.crc32(key) if client_isn is None else client_isn)
        self._server = _End(server, zlib.crc32(key[::-1]) if server_isn is None else server_isn)
        if self._client.ip.version != self._server.ip.version:
            raise ValueError(f"client {client[0]} and server {server[0]} are not the same IP version")
        self.closed = False
        self._segment(start_time, True, dpkt.tcp.TH_SYN, options=_MSS_OPTION)
        self._segment(start_time + STEP, False, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK, options=_MSS_OPTION)
        self._segment(start_time + 2 * STEP, True, dpkt.tcp.TH_ACK)

    def send(self, t: float, from_client: bool, data: bytes) -> None:
        """Write ``data`` (normally one whole COPS message) as one PSH/ACK segment at time ``t``."""
        if self.closed:
            raise ValueError("send on a closed connection")
        self._segment(t, from_client, dpkt.tcp.TH_PUSH | dpkt.tcp.TH_ACK, data)

    def close(self, t: float, from_client: bool = True) -> None:
        """Write the FIN exchange started by the client (or the server) at time ``t``."""
        if self.closed:
            raise ValueError("connection already closed")
        fin_ack = dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK
        self._segment(t, from_client, fin_ack)
        self._segment(t + STEP, not from_client, fin_ack)
        self._segment(t + 2 * STEP, from_client, dpkt.tcp.TH_ACK)
        self.closed = True

    def _segment(self, t: float, from_client: bool, flags: int, payload: bytes = b"", options: bytes = b"") -> None:
        src, dst = (self._client, self._server) if from_client else (self._server, self._client)
        tcp = dpkt.tcp.TCP(sport=src.port, dport=dst.port, seq=src.seq,
                           ack=dst.seq if flags & dpkt.tcp.TH_ACK else 0,
                           flags=flags, win=_WINDOW, opts=options, data=payload)
        tcp.off = (20 + len(options)) // 4
        if src.ip.version == 4:
            ip = dpkt.ip.IP(src=src.ip.packed, dst=dst.ip.packed, p=dpkt.ip.IP_PROTO_TCP, ttl=64,
                            id=src.ip_id, df=1, data=tcp)
            ethertype = dpkt.ethernet.ETH_TYPE_IP
        else:
            ip = dpkt.ip6.IP6(src=src.ip.packed, dst=dst.ip.packed, nxt=dpkt.ip.IP_PROTO_TCP, hlim=64,
                              plen=len(tcp), data=tcp)
            ethertype = dpkt.ethernet.ETH_TYPE_IP6
        frame = dpkt.ethernet.Ethernet(src=src.mac, dst=dst.mac, type=ethertype, data=ip)
        self._writer.write_frame(t, bytes(frame))
        src.seq = (src.seq + len(payload) + bool(flags & (dpkt.tcp.TH_SYN | dpkt.tcp.TH_FIN))) & 0xFFFFFFFF
        src.ip_id = (src.ip_id + 1) & 0xFFFF
