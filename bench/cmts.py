"""Simulated-CMTS benchmark: Gate-Set throughput over TCP, then memory and full-GC pause with 100k gates.

    python bench/cmts.py [--seconds 5] [--window 64] [--gates 100000] [--part all|throughput|memory]

Throughput.  This process runs a CmtsServer under trio as ``cmts-sim serve``
does (listening on an ephemeral loopback port, with the message counter serve
always installs; modems driven, so only the gate controller's commands cost
anything).  The load is a separate process
(``python bench/cmts.py --client HOST PORT WINDOW SECONDS``): a plain blocking
socket, no trio, no codec on the hot path.  It does the handshake (CAT with
KA 0: no keep-alives), then sends Gate-Set DECs pre-encoded from the
protocol.md 4.2 message (TID and Subscriber-ID patched in, one new subscriber
and so one new gate per command, Activity-Count 4) keeping WINDOW of them in
flight, and counts the Gate-Set-Acks that come back in SECONDS.  Window 1 is
lock-step (one round trip per command); each window gets a fresh server.

Memory.  A bare GateTable gets N gates in Authorized state, each from its own
decoded Gate-Set payload (two Gate-Specs per gate, distinct objects as a real
decode produces them; only the IPv4Address objects are shared, through the
codec's address cache, as they are in the server).  tracemalloc gives the
bytes retained per gate (target <= 1 KiB) and where they were allocated;
``gc.collect()`` is timed with the gates alive.  Then the same fill again,
timing every automatic collection (gc.callbacks), with Python's defaults
and with the policy ``cmts-sim serve`` runs under (cmts_sim.gcpolicy:
freeze at start and after every gen1/gen2 collection).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import socket
import statistics
import struct
import sys
import time
import tracemalloc
from ipaddress import IPv4Address

MTA = IPv4Address("10.0.1.10")
FAR_END = IPv4Address("10.1.1.20")
FIRST_SUBSCRIBER = int(IPv4Address("10.64.0.1"))


def _gate_set(tid: int, subscriber: IPv4Address):
    from cops_core.dqos import GateSet, GateSpec

    ds = GateSpec(direction=0, protocol=17, flags=0, session_class=1, source_ip=FAR_END, destination_ip=MTA,
                  source_port=0, destination_port=16384, ds_field=0xB8, t1=250, t7=200, t8=0,
                  token_bucket_rate=10000.0, token_bucket_size=200.0, peak_data_rate=10000.0,
                  minimum_policed_unit=200, maximum_packet_size=200, rate=10000.0, slack_term=800)
    us = ds._replace(direction=1, source_ip=MTA, destination_ip=FAR_END)
    return GateSet(tid, subscriber, (ds, us), activity_count=4)


# --- the client process: blocking socket, raw bytes ------------------------------------------------------


class Frames:
    """Whole COPS messages from a blocking socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.pending: list[bytes] = []

    def read(self) -> list[bytes]:
        """Every message the next ``recv`` completes (maybe none)."""
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("the CMTS closed the connection")
        self.buffer += data
        frames = []
        while len(self.buffer) >= 8:
            length = struct.unpack_from("!I", self.buffer, 4)[0]
            if len(self.buffer) < length:
                break
            frames.append(bytes(self.buffer[:length]))
            del self.buffer[:length]
        return frames

    def one(self) -> bytes:
        while not self.pending:
            self.pending += self.read()
        return self.pending.pop(0)


def run_client(host: str, port: int, window: int, seconds: float) -> dict:
    from cops_core.dqos import decision_for
    from cops_core.messages import ClientAccept
    from cops_core.objects import Handle

    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    frames = Frames(sock)
    opn = frames.one()
    assert opn[1] == 6, f"expected OPN, got op-code {opn[1]}"
    sock.sendall(ClientAccept.new(0).encode())
    req = frames.one()
    assert req[1] == 1 and req[8:12] == b"\x00\x08\x01\x01", "expected a REQ with a 4-byte handle"
    handle = Handle(req[12:16])
    assert not frames.pending, "nothing else is expected before the first command"

    # One DEC template; TID and Subscriber-ID are patched per command (offsets checked, not assumed).
    template = bytearray(decision_for(handle, _gate_set(0x1234, IPv4Address("192.0.2.77"))).encode())
    tid_at = template.index(b"\x00\x08\x01\x01\x12\x34\x00\x04") + 4
    sub_at = template.index(b"\x00\x08\x02\x01" + IPv4Address("192.0.2.77").packed) + 4
    sent = 0

    def next_batch(count: int) -> bytes:
        nonlocal sent
        out = bytearray()
        for _ in range(count):
            struct.pack_into("!H", template, tid_at, sent & 0xFFFF)
            struct.pack_into("!I", template, sub_at, FIRST_SUBSCRIBER + sent)
            out += template
            sent += 1
        return bytes(out)

    acks = errors = 0
    start = time.perf_counter()
    deadline = start + seconds
    sock.sendall(next_batch(window))
    in_flight = window
    while True:
        replies = 0
        for frame in frames.read():
            if frame[1] != 3:
                continue
            command = struct.unpack_from("!H", frame, 34)[0]  # TID object's command type, first in the ClientSI
            if command == 5:
                acks += 1
            else:
                errors += 1
            replies += 1
        in_flight -= replies
        now = time.perf_counter()
        if now >= deadline:
            elapsed = now - start
            break
        if replies:
            sock.sendall(next_batch(replies))
            in_flight += replies
    sock.close()
    return {"window": window, "acks": acks, "errors": errors, "seconds": elapsed, "rate": acks / elapsed,
            "abandoned_in_flight": in_flight}


# --- the server process ------------------------------------------------------------------------------


def throughput(window: int, seconds: float) -> dict:
    import trio

    from cmts_sim.config import CmtsConfig
    from cmts_sim.server import CmtsServer
    from cmts_sim.stats import Stats

    async def main() -> dict:
        config = CmtsConfig(listen=["127.0.0.1:0"], modem={"mode": "driven"}, capacity={"max_gates": 10_000_000})
        server = CmtsServer(config, counter=Stats().count)  # the counter `cmts-sim serve` always installs
        async with trio.open_nursery() as nursery:
            (host, port), = await nursery.start(server.serve)
            command = [sys.executable, __file__, "--client", host, str(port), str(window), str(seconds)]
            cpu = time.process_time()
            done = await trio.run_process(command, capture_stdout=True)
            cpu = time.process_time() - cpu  # this process is the server: its CPU time is the server's
            result = json.loads(done.stdout)
            result["server_cpu_per_ack_us"] = cpu / max(result["acks"], 1) * 1e6
            result["gates_in_server"] = len(server.gates.gates)
            result["failed_sessions"] = server.failed_sessions
            nursery.cancel_scope.cancel()
        return result

    return trio.run(main)


def memory(gates: int) -> dict:
    from cmts_sim.admission import Admission, Capacity
    from cmts_sim.gates import GateState, GateTable
    from cops_core.dqos import decode_gate_command
    from cops_core.fields import ipv4

    template = bytearray(_gate_set(0, IPv4Address("192.0.2.77")).encode())
    tid_at = template.index(b"\x00\x08\x01\x01\x00\x00\x00\x04") + 4
    sub_at = template.index(b"\x00\x08\x02\x01" + IPv4Address("192.0.2.77").packed) + 4

    table = GateTable(Admission(Capacity(max_gates=gates)))
    owner = object()  # stands for the PeerSession
    ipv4.cache_clear()
    gc.collect()
    empty_pause = _gc_pause()
    tracemalloc.start(1)
    before = tracemalloc.take_snapshot()
    base = tracemalloc.get_traced_memory()[0]
    for n in range(gates):
        struct.pack_into("!H", template, tid_at, n & 0xFFFF)
        struct.pack_into("!I", template, sub_at, FIRST_SUBSCRIBER + n)
        payload = bytes(template)
        command = decode_gate_command(payload)
        reply, _ = table.handle(command, owner, 0.0, payload)  # as the server calls it
    del payload, command, reply
    gc.collect()
    with_cache = tracemalloc.get_traced_memory()[0] - base
    cache_entries = ipv4.cache_info().currsize
    ipv4.cache_clear()  # the codec's address cache is not the table's; count the table alone
    gc.collect()
    retained = tracemalloc.get_traced_memory()[0] - base
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    assert table.count_by_state()[GateState.AUTHORIZED] == gates
    assert all(len(gate.specs) == 2 for gate in table.gates.values())
    first, second = list(table.gates.values())[:2]
    assert first.specs[0] is not second.specs[0] and first.specs[0].token_bucket_rate is not \
        second.specs[0].token_bucket_rate, "Gate-Specs must not be shared between gates"

    where = []
    for stat in after.compare_to(before, "lineno")[:8]:
        frame = stat.traceback[0]
        where.append((f"{frame.filename.rsplit('/', 2)[-1]}:{frame.lineno}", stat.size_diff / gates,
                      _source_line(frame.filename, frame.lineno)))
    pauses = [_gc_pause() for _ in range(5)]
    return {"gates": gates, "bytes_per_gate": retained / gates, "with_cache_per_gate": with_cache / gates,
            "cache_entries": cache_entries, "where": where, "gc_pause_ms": pauses, "gc_empty_ms": empty_pause,
            "gc_tracked": len(gc.get_objects())}


def gc_pauses(gates: int, tuned: bool) -> dict:
    """Fill a table with ``gates`` gates as the server does, timing every automatic collection on the way;
    then time a full ``gc.collect()`` with them alive.  ``tuned``: under cmts-sim serve's GC policy."""
    from contextlib import nullcontext

    from cmts_sim.admission import Admission, Capacity
    from cmts_sim.gates import GateTable
    from cmts_sim.gcpolicy import tuned_gc
    from cops_core.dqos import decode_gate_command

    template = bytearray(_gate_set(0, IPv4Address("192.0.2.77")).encode())
    tid_at = template.index(b"\x00\x08\x01\x01\x00\x00\x00\x04") + 4
    sub_at = template.index(b"\x00\x08\x02\x01" + IPv4Address("192.0.2.77").packed) + 4
    pauses: list[float] = []
    started = [0.0]

    def timer(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses.append((time.perf_counter() - started[0]) * 1000)

    table = GateTable(Admission(Capacity(max_gates=gates)))
    owner = object()
    gc.collect()
    with tuned_gc() if tuned else nullcontext():
        gc.callbacks.append(timer)  # after the policy's hook: its freeze counts in the pause it follows
        try:
            for n in range(gates):
                struct.pack_into("!H", template, tid_at, n & 0xFFFF)
                struct.pack_into("!I", template, sub_at, FIRST_SUBSCRIBER + n)
                payload = bytes(template)
                table.handle(decode_gate_command(payload), owner, 0.0, payload)
        finally:
            gc.callbacks.remove(timer)
        full = [_gc_pause() for _ in range(3)]
    return {"collections": len(pauses), "longest_ms": max(pauses, default=0.0), "total_ms": sum(pauses),
            "full_ms": statistics.median(full)}


def _gc_pause() -> float:
    start = time.perf_counter()
    gc.collect()
    return (time.perf_counter() - start) * 1000


def _source_line(filename: str, lineno: int) -> str:
    try:
        with open(filename) as source:
            return source.readlines()[lineno - 1].strip()[:60]
    except (OSError, IndexError):
        return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each throughput run (default 5)")
    parser.add_argument("--window", type=int, default=64, help="Gate-Sets in flight in the pipelined run (default 64)")
    parser.add_argument("--gates", type=int, default=100_000, help="gates for the memory figure (default 100000)")
    parser.add_argument("--part", choices=("all", "throughput", "memory"), default="all",
                        help="run only the throughput or the memory part (default: both)")
    parser.add_argument("--client", nargs=4, metavar=("HOST", "PORT", "WINDOW", "SECONDS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        host, port, window, seconds = args.client
        print(json.dumps(run_client(host, int(port), int(window), float(seconds))))
        return 0

    print(f"$ python bench/cmts.py --seconds {args.seconds:g} --window {args.window} --gates {args.gates}"
          f" --part {args.part}")
    print(f"Python {platform.python_version()} ({platform.python_implementation()}) on {platform.machine()}, "
          f"{platform.system()}; server: this process (trio); client: a blocking-socket child process")
    print()
    if args.part in ("all", "throughput"):
        print_throughput(args.seconds, args.window)
    if args.part in ("all", "memory"):
        print_memory(args.gates)
    return 0


def print_throughput(seconds: float, pipelined: int) -> None:
    print(f"Gate-Set throughput over loopback TCP, {seconds:g} s per run, one new gate per Gate-Set")
    print(f"{'window':>8}{'Gate-Set-Acks':>15}{'errors':>8}{'acks/s':>10}{'us/ack':>9}{'server CPU us/ack':>19}")
    for window in (1, pipelined):
        r = throughput(window, seconds)
        assert r["failed_sessions"] == 0 and r["errors"] == 0, r
        print(f"{window:>8}{r['acks']:>15}{r['errors']:>8}{r['rate']:>10.0f}{1e6 / r['rate']:>9.1f}"
              f"{r['server_cpu_per_ack_us']:>19.1f}")
    print()


def print_memory(gates: int) -> None:
    m = memory(gates)
    verdict = "met" if m["bytes_per_gate"] <= 1024 else "MISSED"
    print(f"Memory: {m['gates']} gates, Authorized, two Gate-Specs each (distinct objects per gate)")
    print(f"  retained by the gate table: {m['bytes_per_gate']:.0f} bytes/gate  (target <= 1024: {verdict})")
    print(f"  plus the codec's IPv4 address cache ({m['cache_entries']} entries): "
          f"{m['with_cache_per_gate']:.0f} bytes/gate")
    print("  where the bytes were allocated (tracemalloc, bytes per gate, table only):")
    for place, size, line in m["where"]:
        print(f"    {size:8.1f}  {place:<18} {line}")
    pauses = m["gc_pause_ms"]
    print(f"Full GC (gc.collect) with {m['gates']} gates alive, {m['gc_tracked']} objects tracked: "
          f"median {statistics.median(pauses):.1f} ms, max {max(pauses):.1f} ms "
          f"(empty table: {m['gc_empty_ms']:.1f} ms)")
    print(f"GC pauses while {gates} gates are set, and a full gc.collect() with them alive:")
    print(f"{'':>34}{'collections':>12}{'longest ms':>12}{'total ms':>10}{'gc.collect ms':>15}")
    for label, tuned in (("Python defaults", False), ("cmts-sim serve (gcpolicy)", True)):
        p = gc_pauses(gates, tuned)
        print(f"{label:>34}{p['collections']:>12}{p['longest_ms']:>12.1f}{p['total_ms']:>10.0f}{p['full_ms']:>15.1f}")


if __name__ == "__main__":
    sys.exit(main())
