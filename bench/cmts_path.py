"""CPU per call of ``cmts-sim serve``'s own Python path, without scheduling: steady on a shared machine.

    python bench/cmts_path.py [--calls 20000] [--batch 16]

A real :class:`~cmts_sim.server.CmtsServer`, configured as ``cmts-sim serve
--modem auto --reserve-delay 0 --commit-delay 0 --hold 0`` runs it for
``bench/load.py``'s row d (with the message counter serve always installs),
answers the complete calls ``cms-sim load bench/scenarios/zero_hold_call.yaml``
makes: Gate-Alloc, Gate-Set, the modem's reserve, commit and release with
their Gate-Open and Gate-Close, Gate-Delete.  The calls go in waves of
``--batch``: their Gate-Allocs fed to the session as one read, then their
Gate-Sets, then their Gate-Deletes; after each read the session does what its
task does with a batch (each DEC handled, the timers and modem actions due
serviced, the replies and events written to its socket).  ``--batch`` is the
messages per read: under load at a few thousand calls/s a read holds ~10-30.

Timed (``time.process_time``): only the CMTS's side, from the bytes read to
the bytes written.  What ``cmts-sim serve`` under load has on top: trio's
scheduler and its socket calls for each read and write (per batch, not per
call), the timer task's wake-ups, the garbage collector over more live
objects.  Those move with the rate and the machine's load; this does not.
"""

from __future__ import annotations

import argparse
import gc
import socket
import time
from ipaddress import IPv4Address

import trio

from cmts_sim.config import CapacitySettings, CmtsConfig, ModemSettings
from cmts_sim.server import MAX_BATCH, CmtsServer, PeerSession
from cmts_sim.stats import Stats
from cops_core.connection import GateTraffic
from cops_core.dqos import GateAlloc, GateDelete, GateSet, GateSpec, decision_for, gate_command_of
from cops_core.messages import ClientAccept, Decision, decode_message

_SPEC = dict(protocol=17, flags=0, session_class=1, source_port=0, destination_port=16384, ds_field=0xB8, t1=0,
             t7=0, t8=0, token_bucket_rate=10000.0, token_bucket_size=200.0, peak_data_rate=10000.0,
             minimum_policed_unit=200, maximum_packet_size=200, rate=10000.0, slack_term=800)
FAR_END = IPv4Address("10.1.1.20")


def serve_config() -> CmtsConfig:
    """What ``bench/load.py`` row d starts ``cmts-sim serve`` with."""
    return CmtsConfig(modem=ModemSettings(mode="auto", reserve_delay=0, commit_delay=0, hold=0),
                      capacity=CapacitySettings(upstream_kbps=1e9, downstream_kbps=1e9, max_gates=100_000_000))


class Peer:
    """The gate controller's side of the socket pair: DECs out as bytes, RPTs in (not timed)."""

    def __init__(self, session: PeerSession, sock: socket.socket) -> None:
        self.session = session
        self.sock = sock
        self.tid = 0

    def decs(self, commands) -> bytes:
        handle = self.session.handle
        return b"".join(decision_for(handle, command).encode() for command in commands)

    def replies(self) -> list:
        """The gate commands the CMTS has written (read off the socket) since the last call."""
        chunks = []
        while True:
            try:
                chunks.append(self.sock.recv(1 << 20))
            except BlockingIOError:
                break
        transport = self.session.transport
        chunks += transport._outgoing  # queued when the socket pair was full: in order after what it took
        transport._outgoing.clear()
        transport._queued = 0
        data, at, out = b"".join(chunks), 0, []
        while at < len(data):
            length = int.from_bytes(data[at + 4:at + 8], "big")
            out.append(gate_command_of(decode_message(data[at:at + length])))
            at += length
        return out

    def next_tid(self) -> int:
        self.tid = self.tid % 0xFFFF + 1
        return self.tid


def handle_read(session: PeerSession, data: bytes) -> None:
    """What the session's task does with one read (PeerSession._serve_messages), its awaits left out."""
    transport, server = session.transport, session.server
    transport.connection.receive_data(data, trio.current_time())
    while messages := transport._drain(MAX_BATCH):
        for message in messages:
            session.received += 1
            if type(message) is GateTraffic:
                session._on_gate_traffic(message)
            elif type(message) is Decision:
                session._on_decision(message)
            else:
                raise RuntimeError(f"not a DEC: {message!r}")
        now = transport.now()
        if server._next_deadline() <= now:
            server.run_due(now)
        server.rearm()
        transport.send_now()


async def measure(calls: int, batch: int) -> tuple[float, Stats]:
    """Seconds of CPU per call the CMTS's side took, and its counters."""
    stats = Stats()
    server = CmtsServer(serve_config(), counter=stats.count)
    ours, theirs = socket.socketpair()
    theirs.setblocking(False)
    session = PeerSession(server, trio.SocketStream(trio.socket.from_stdlib_socket(ours)))
    server.sessions.add(session)
    # The handshake: OPN out, CAT in (KA 0: no keep-alives), REQ out.
    session.transport.queue(session._client_open())
    session.connection.receive_data(ClientAccept.new(0).encode(), trio.current_time())
    session.connection.next_event()
    session._install_request_state()
    session.transport.send_now()
    peer = Peer(session, theirs)
    peer.replies()
    clock, spent, done = time.process_time, 0.0, 0
    gc.collect()
    for first in range(0, calls, batch):
        wave = range(first, min(first + batch, calls))
        subscribers = [IPv4Address(0x0A400000 + n) for n in wave]
        phases = [
            lambda acks: [GateAlloc(peer.next_tid(), subscriber, 4) for subscriber in subscribers],
            lambda acks: [GateSet(peer.next_tid(), ack.subscriber, _specs(ack.subscriber), gate_id=ack.gate_id)
                          for ack in acks],
            lambda acks: [GateDelete(peer.next_tid(), ack.subscriber, ack.gate_id) for ack in acks],
        ]
        acks: list = []
        for phase in phases:
            data = peer.decs(phase(acks))
            started = clock()
            handle_read(session, data)
            spent += clock() - started
            replies = peer.replies()
            acks = [reply for reply in replies if type(reply).__name__.endswith("Ack")]
            if len(acks) != len(wave):
                raise RuntimeError(f"expected {len(wave)} Acks, got {[type(r).__name__ for r in replies]}")
            done += phase is phases[-1] and len(acks)
    if done != calls or server.gates.gates:
        raise RuntimeError(f"{done} of {calls} calls completed, {len(server.gates.gates)} gates left")
    return spent / calls, stats


def _specs(subscriber: IPv4Address) -> tuple[GateSpec, GateSpec]:
    return (GateSpec(direction=0, source_ip=FAR_END, destination_ip=subscriber, **_SPEC),
            GateSpec(direction=1, source_ip=subscriber, destination_ip=FAR_END, **_SPEC))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=16, help="calls per wave: DECs per read")
    args = parser.parse_args()
    per_call, stats = trio.run(measure, args.calls, args.batch)
    print(f"{args.calls} complete calls, {args.batch} DECs per read: {per_call * 1e6:.1f} us of CPU per call "
          f"(CMTS side, no scheduling; {stats.received} messages in, {stats.sent} out)")


if __name__ == "__main__":
    main()
