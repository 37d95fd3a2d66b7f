"""Load benchmark (issue 8 point 6): one command, one table, every figure beside a ceiling measured in the same run.

    python bench/load.py [--quick] [--only a,b,c,d] [--seconds 5] [--hold 30] [--tries 20]

Three kinds of process, never one: this orchestrator; the server under test
(``cmts-sim serve --quiet --listen 127.0.0.1:PORT ...``, a fresh one per
measurement, or the ceiling ``bench/ceiling.py``: trio + loopback with the
same message sizes, handshake and batching and no codec); and the gate
controller, a child ``python bench/load.py --client MODE`` with raw sockets
and pre-encoded messages (protocol.md 4.2 Gate-Set DEC, Transaction-ID,
Subscriber-ID and handle patched in), or ``cms-sim load`` for row d.  The
client and the ceiling run the same way against both servers.

The machine is shared (2 cores), so rates move; the CPU time each server
spends per transaction holds better.  The client reads the server's CPU
time at the edges of its measuring window from /proc/PID/schedstat (run time
in ns; utime + stime from /proc/PID/stat, in 10 ms ticks, where the kernel has
no schedstats: the two agree here) and its VmRSS from /proc/PID/status.

Rows:
  a  Gate-Set -> Gate-Set-Ack, window 64, over 1 and over 4 connections (one
     client process, selectors), one new gate (own subscriber) per Gate-Set,
     after a warm-up; target >= 50,000/s and >= 60 % of the ceiling.
  b  VmRSS per gate: 1,000 warm-up gates, then 100,000 more (all Authorized,
     each its own subscriber); target <= 1 KiB.  The ceiling keeps each
     Gate-Set as ``bytes`` in a dict (``--keep``).  The full-GC pause with
     100k gates is left to bench/cmts.py, which measures it in-process.
  c  1,000 gate-controller connections with KA 10 s in the Client-Accept,
     each echoing the server's keep-alives, held --hold seconds: connections
     the server closed (target 0), and --tries handshakes of a new connection
     meanwhile, OPN received -> REQ received after our CAT (target p50 and
     max <= 10 ms).  CPU per keep-alive over the hold.
  d  with ``cms-sim load`` only (else "skipped"): complete zero-hold calls at
     5,000/s for 60 s (ceiling: the ceiling's pipelined messages/s over the
     8 messages of a call), and Gate-Set -> Ack p99 at a paced 1,000 calls/s
     with 30 s holds (ceiling: a paced raw client at 1,000 Gate-Sets/s; the
     same client against cmts-sim, in the notes, gives the server's share).
     The scenarios are bench/scenarios/*.yaml; the server's modem acts alone
     (--modem auto, no delays, --hold as the scenario's).

``--quick`` shortens every duration (and row b to 20,000 gates) for a smoke
run.  Every loop is bounded in count and time; every child is killed on the
way out, Ctrl-C and exceptions included (and dies with this process:
PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import resource
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CEILING = BENCH / "ceiling.py"
SCENARIOS = BENCH / "scenarios"
HOST = "127.0.0.1"

# --- wire: pre-encoded messages (protocol.md 4.1, 4.2, 4.4) ------------------------------------------------------

GATE_SET_DEC = bytes.fromhex(
    "10028008 000000b4 00080101 00000001 00080201 00080000 00080601 00010001 00940604"
    "00080101 12340004 00080201 0a00010a 00080401 00000004"
    "003c0501 00110001 0a010114 0a00010a 00004000 b8000000 00fa0000 00c80000"
    "461c4000 43480000 461c4000 000000c8 000000c8 461c4000 00000320"
    "003c0501 01110001 0a00010a 0a010114 00004000 b8000000 00fa0000 00c80000"
    "461c4000 43480000 461c4000 000000c8 000000c8 461c4000 00000320")
CLIENT_ACCEPT = bytes.fromhex("10078008 00000010 00080a01 00000000")  # KA timer patched at KA_AT
KA_AT = 14
KEEP_ALIVE_ECHO = bytes.fromhex("11090000 00000008")  # the GC's echo carries S=1 (protocol.md 1.3)
HANDLE_AT = 12  # the 4-byte handle in both REQ and DEC: object header at 8
TID_AT = GATE_SET_DEC.index(bytes.fromhex("00080101 12340004")) + 4
SUBSCRIBER_AT = GATE_SET_DEC.index(bytes.fromhex("00080201 0a00010a")) + 4
COMMAND_AT = 34  # RPT: the Transaction-ID object's command type, first in the ClientSI
REQ, RPT, OPN, CC, KA = 1, 3, 6, 8, 9
GATE_SET_ACK = 5
FIRST_SUBSCRIBER = (10 << 24) | (64 << 16) | 1  # 10.64.0.1; connection i starts at (10 + i).64.0.1

# --- /proc: the server's CPU, memory and listening sockets -------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used: its run time in ns from /proc/PID/schedstat, else utime + stime in ticks."""
    try:
        with open(f"/proc/{pid}/schedstat") as schedstat:
            return int(schedstat.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        pass  # a kernel without schedstats: 10 ms ticks, fine over windows of seconds
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def is_listening(port: int) -> bool:
    """Is something listening on HOST:port?  Read from /proc so that no connection disturbs the server."""
    wanted = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as table:
        return any(line.split()[1] == wanted and line.split()[3] == "0A" for line in list(table)[1:])


def raise_open_files_limit(needed: int = 4096) -> None:
    """Row c holds 1,000+ sockets; children inherit the limit set here before they are spawned."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed if hard == resource.RLIM_INFINITY else min(needed, hard),
                                                    hard))


# --- the gate controller (a child process): raw sockets, no codec ------------------------------------------------


class Peer:
    """One COPS connection from the gate controller's side: whole messages cut by the header's length."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.handle = b"\x00\x00\x00\x01"

    def receive(self) -> bool:
        """One recv into the buffer; False at end of stream (or reset)."""
        try:
            data = self.sock.recv(1 << 20)
        except TimeoutError:
            raise
        except OSError:  # reset, or refused (a non-blocking connect that failed)
            return False
        self.buffer += data
        return bool(data)

    def frames(self) -> list[bytes]:
        """Every whole message in the buffer, taken out of it."""
        out = []
        offset, end = 0, len(self.buffer)
        while end - offset >= 8:
            length = struct.unpack_from("!I", self.buffer, offset + 4)[0]
            if length < 8 or end - offset < length:
                break
            out.append(bytes(self.buffer[offset:offset + length]))
            offset += length
        del self.buffer[:offset]
        return out

    def count_replies(self) -> tuple[int, int]:
        """(Gate-Set-Acks, other RPTs) among the whole messages in the buffer, without copying them."""
        acks = others = 0
        offset, end = 0, len(self.buffer)
        buffer = self.buffer
        while end - offset >= 8:
            length = struct.unpack_from("!I", buffer, offset + 4)[0]
            if length < 8 or end - offset < length:
                break
            if buffer[offset + 1] == RPT:
                if length > COMMAND_AT + 1 and buffer[offset + COMMAND_AT + 1] == GATE_SET_ACK:
                    acks += 1
                else:
                    others += 1
            elif buffer[offset + 1] == CC:
                raise ConnectionError("the server sent Client-Close")
            offset += length
        del buffer[:offset]
        return acks, others

    def one(self) -> bytes:
        """The next whole message (blocking socket; bounded by the socket's timeout)."""
        for _ in range(1000):
            frames = self.frames()
            if frames:
                self.buffer[:0] = b"".join(frames[1:])
                return frames[0]
            if not self.receive():
                raise ConnectionError("the server closed the connection")
        raise ConnectionError("no whole message after 1000 reads")


def client_accept(ka: int) -> bytes:
    message = bytearray(CLIENT_ACCEPT)
    struct.pack_into("!H", message, KA_AT, ka)
    return bytes(message)


def expect(frame: bytes, opcode: int, what: str) -> bytes:
    if frame[1] != opcode:
        raise ConnectionError(f"expected {what} (op-code {opcode}), got op-code {frame[1]}")
    return frame


def take_handle(peer: Peer, req: bytes) -> None:
    if req[8:12] != b"\x00\x08\x01\x01":
        raise ConnectionError("expected a REQ with a 4-byte handle first")
    peer.handle = req[HANDLE_AT:HANDLE_AT + 4]


def connect(port: int, ka: int = 0, timeout: float = 10.0) -> Peer:
    """TCP connect, then the gate controller's half of the handshake: OPN in, CAT out, REQ in."""
    sock = socket.create_connection((HOST, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    peer = Peer(sock)
    expect(peer.one(), OPN, "Client-Open")
    sock.sendall(client_accept(ka))
    take_handle(peer, expect(peer.one(), REQ, "REQ"))
    if peer.buffer:
        raise ConnectionError("nothing is expected before the first command")
    return peer


class GateSets:
    """Gate-Set DECs for one connection: its handle, a fresh TID and a new subscriber (so a new gate) each."""

    def __init__(self, handle: bytes, connection_index: int = 0) -> None:
        self.template = bytearray(GATE_SET_DEC)
        self.template[HANDLE_AT:HANDLE_AT + 4] = handle
        self.first_subscriber = FIRST_SUBSCRIBER + (connection_index << 24)
        self.sent = 0

    def batch(self, count: int) -> bytes:
        out = bytearray()
        template = self.template
        for _ in range(count):
            struct.pack_into("!H", template, TID_AT, self.sent & 0xFFFF)
            struct.pack_into("!I", template, SUBSCRIBER_AT, self.first_subscriber + self.sent)
            out += template
            self.sent += 1
        return bytes(out)


def pump(selector: selectors.BaseSelector, until: float) -> tuple[int, int]:
    """Refill each connection by as many Gate-Sets as replies came back, until ``until``: (acks, others)."""
    acks = others = 0
    while (now := time.perf_counter()) < until:
        for key, _ in selector.select(until - now):
            peer, feed = key.data
            if not peer.receive():
                raise ConnectionError("the server closed the connection")
            new_acks, new_others = peer.count_replies()
            if new_acks + new_others:
                peer.sock.sendall(feed.batch(new_acks + new_others))
            acks += new_acks
            others += new_others
    return acks, others


def client_pipelined(port: int, server_pid: int, connections: int, window: int, seconds: float,
                     warmup: float) -> dict:
    """Row a: WINDOW Gate-Sets in flight on each connection; count the Gate-Set-Acks in SECONDS after WARMUP."""
    peers = [connect(port) for _ in range(connections)]
    selector = selectors.DefaultSelector()
    for index, peer in enumerate(peers):
        feed = GateSets(peer.handle, index)
        selector.register(peer.sock, selectors.EVENT_READ, (peer, feed))
        peer.sock.sendall(feed.batch(window))
    pump(selector, time.perf_counter() + warmup)
    cpu, client_cpu, start = cpu_seconds(server_pid), time.process_time(), time.perf_counter()
    acks, others = pump(selector, start + seconds)
    elapsed = time.perf_counter() - start
    cpu, client_cpu = cpu_seconds(server_pid) - cpu, time.process_time() - client_cpu
    for peer in peers:
        peer.sock.close()
    return {"acks": acks, "errors": others, "seconds": elapsed, "rate": acks / elapsed,
            "server_cpu_us": cpu / max(acks, 1) * 1e6, "client_cpu_us": client_cpu / max(acks, 1) * 1e6}


def client_fill(port: int, server_pid: int, warmup_gates: int, gates: int, window: int, timeout: float) -> dict:
    """Row b: WARMUP_GATES, then GATES more Gate-Sets (all answered), VmRSS and CPU around the GATES."""
    peer = connect(port)
    feed = GateSets(peer.handle)
    deadline = time.perf_counter() + timeout
    send_and_collect(peer, feed, warmup_gates, window, deadline)
    rss, cpu, start = rss_kib(server_pid), cpu_seconds(server_pid), time.perf_counter()
    acks, others = send_and_collect(peer, feed, gates, window, deadline)
    elapsed = time.perf_counter() - start
    rss_after, cpu = rss_kib(server_pid), cpu_seconds(server_pid) - cpu
    peer.sock.close()
    return {"acks": acks, "errors": others, "rss_before_kib": rss, "rss_after_kib": rss_after,
            "bytes_per_gate": (rss_after - rss) * 1024 / max(gates, 1), "seconds": elapsed,
            "server_cpu_us": cpu / max(acks + others, 1) * 1e6}


def send_and_collect(peer: Peer, feed: GateSets, count: int, window: int, deadline: float) -> tuple[int, int]:
    """Exactly COUNT Gate-Sets, at most WINDOW in flight; returns when all are answered (or at DEADLINE)."""
    peer.sock.settimeout(max(deadline - time.perf_counter(), 0.001))
    sent = min(window, count)
    peer.sock.sendall(feed.batch(sent))
    acks = others = 0
    while acks + others < count and time.perf_counter() < deadline:
        if not peer.receive():
            raise ConnectionError("the server closed the connection")
        new_acks, new_others = peer.count_replies()
        acks, others = acks + new_acks, others + new_others
        more = min(new_acks + new_others, count - sent)
        if more:
            peer.sock.sendall(feed.batch(more))
            sent += more
    return acks, others


# Row c: many connections, one selector, non-blocking sockets.

@dataclass
class Held:
    """One of row c's idle gate-controller connections and where its handshake is."""
    peer: Peer
    state: str = "opn"  # opn -> req -> up -> closed


@dataclass
class HoldCounts:
    up: int = 0
    closed_by_server: int = 0
    closed_in_handshake: int = 0
    keepalives: int = 0
    close_reasons: dict = field(default_factory=dict)


def open_held(selector: selectors.BaseSelector, port: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.connect_ex((HOST, port))  # EINPROGRESS; the server's OPN makes it readable
    selector.register(sock, selectors.EVENT_READ, Held(Peer(sock)))


def serve_held(selector: selectors.BaseSelector, held: Held, counts: HoldCounts, ka: int) -> None:
    """Handle what one readable connection brought: handshake steps, keep-alives to echo, or its end."""
    alive = held.peer.receive()
    try:
        for frame in held.peer.frames() if alive else []:
            alive = answer_held(held, frame, counts, ka)
    except OSError:
        alive = False  # the send found the connection reset
    if not alive:
        if held.state == "up":
            counts.up -= 1
            counts.closed_by_server += 1
        else:
            counts.closed_in_handshake += 1
        held.state = "closed"
        selector.unregister(held.peer.sock)
        held.peer.sock.close()


def answer_held(held: Held, frame: bytes, counts: HoldCounts, ka: int) -> bool:
    """One message on a held connection; False when it ends the connection."""
    opcode = frame[1]
    if held.state == "opn" and opcode == OPN:
        held.peer.sock.send(client_accept(ka))  # 16 bytes into an empty send buffer: never partial
        held.state = "req"
    elif held.state == "req" and opcode == REQ:
        held.state = "up"
        counts.up += 1
    elif opcode == KA:
        held.peer.sock.send(KEEP_ALIVE_ECHO)
        counts.keepalives += 1
    elif opcode == CC:
        error = frame[12:14].hex() if len(frame) >= 14 else "?"  # the Error object's code, when present
        counts.close_reasons[f"CC error {error}"] = counts.close_reasons.get(f"CC error {error}", 0) + 1
        return False
    return True


def probe(port: int, ka: int) -> tuple[float, float]:
    """A new connection's handshake, timed: (connect -> OPN received, OPN received -> REQ received)."""
    start = time.perf_counter()
    sock = socket.create_connection((HOST, port), timeout=5.0)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        peer = Peer(sock)
        expect(peer.one(), OPN, "Client-Open")
        opened = time.perf_counter()
        sock.sendall(client_accept(ka))
        expect(peer.one(), REQ, "REQ")
        return opened - start, time.perf_counter() - opened
    finally:
        sock.close()


def client_hold(port: int, server_pid: int, connections: int, ka: int, hold: float, tries: int,
                setup_timeout: float) -> dict:
    """Row c: CONNECTIONS up (at most 100 handshakes at once), then HOLD seconds of keep-alives and TRIES probes."""
    raise_open_files_limit(connections + 256)
    selector = selectors.DefaultSelector()
    counts = HoldCounts()
    opened = 0
    deadline = time.perf_counter() + setup_timeout
    setup_start = time.perf_counter()
    while counts.up < connections and time.perf_counter() < deadline:
        handshaking = opened - counts.up - counts.closed_in_handshake - counts.closed_by_server
        for _ in range(min(100 - handshaking, connections - opened)):
            open_held(selector, port)
            opened += 1
        for key, _ in selector.select(0.1):
            serve_held(selector, key.data, counts, ka)
        if counts.closed_in_handshake > connections // 10:
            break  # the server refuses: no point waiting for the rest
    setup_seconds = time.perf_counter() - setup_start
    up_at_start = counts.up
    keepalives_before = counts.keepalives
    cpu, start = cpu_seconds(server_pid), time.perf_counter()
    end = start + hold
    probes, failed_probes = [], []
    schedule = deque(start + (k + 0.5) * hold / max(tries, 1) for k in range(tries))
    while (now := time.perf_counter()) < end:
        if schedule and now >= schedule[0]:
            schedule.popleft()
            try:
                probes.append(probe(port, ka))
            except OSError as exc:
                failed_probes.append(str(exc))
            continue
        timeout = min(end, schedule[0] if schedule else end) - now
        for key, _ in selector.select(max(timeout, 0.0)):
            serve_held(selector, key.data, counts, ka)
    cpu = cpu_seconds(server_pid) - cpu
    keepalives = counts.keepalives - keepalives_before
    for key in list(selector.get_map().values()):
        key.fileobj.close()
    return {"connections": connections, "up_at_start": up_at_start, "up_at_end": counts.up,
            "setup_seconds": setup_seconds, "closed_by_server": counts.closed_by_server,
            "closed_in_handshake": counts.closed_in_handshake, "close_reasons": counts.close_reasons,
            "keepalives": keepalives, "hold_seconds": hold, "server_cpu_us": cpu / max(keepalives, 1) * 1e6,
            "server_cpu_seconds": cpu, "probes_ms": [(a * 1e3, b * 1e3) for a, b in probes],
            "failed_probes": failed_probes}


def client_paced(port: int, server_pid: int, rate: float, seconds: float) -> dict:
    """Row d's ceiling: one Gate-Set every 1/RATE s for SECONDS; latency from its send to its reply.

    Open loop: sends keep their schedule whatever the replies do, so a stall
    in the server shows in the latencies instead of slowing the sender (no
    coordinated omission).  The clock starts when a Gate-Set leaves, not when
    it was due: epoll sleeps in whole milliseconds, and that oversleep is the
    client's, not the server's.  Replies come in order on one connection, so
    they match the sends first in, first out.
    """
    peer = connect(port)
    feed = GateSets(peer.handle)
    peer.sock.settimeout(None)
    selector = selectors.DefaultSelector()
    selector.register(peer.sock, selectors.EVENT_READ)
    total = int(rate * seconds)
    sent_at: deque[float] = deque()
    latencies: list[float] = []
    cpu, start = cpu_seconds(server_pid), time.perf_counter() + 0.05
    end = start + seconds + 2.0  # the last replies get 2 s
    sent = 0
    while (now := time.perf_counter()) < end and (sent < total or sent_at):
        due = min(int((now - start) * rate) + 1, total) if now >= start else 0
        if due > sent:
            batch = feed.batch(due - sent)
            sent_at.extend([time.perf_counter()] * (due - sent))
            peer.sock.sendall(batch)
            sent = due
        wake = start + sent / rate if sent < total else end
        if selector.select(max(min(wake, end) - time.perf_counter(), 0.0)):
            if not peer.receive():
                raise ConnectionError("the server closed the connection")
            arrived = time.perf_counter()
            acks, others = peer.count_replies()
            for _ in range(min(acks + others, len(sent_at))):
                latencies.append(arrived - sent_at.popleft())
    cpu = cpu_seconds(server_pid) - cpu
    peer.sock.close()
    return {"sent": sent, "answered": len(latencies), "latency_ms": percentiles(latencies),
            "server_cpu_us": cpu / max(len(latencies), 1) * 1e6}


def percentiles(samples: list[float]) -> dict:
    if not samples:
        return {}
    ordered = sorted(samples)

    def at(share: float) -> float:
        return ordered[min(int(share * len(ordered)), len(ordered) - 1)] * 1e3

    return {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "p99.9": at(0.999), "max": ordered[-1] * 1e3}


CLIENTS = {"pipelined": client_pipelined, "fill": client_fill, "hold": client_hold, "paced": client_paced}


# --- the orchestrator: processes ---------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In each child before exec: SIGKILL when this process dies, however it dies."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Children:
    """Every child process this run started; ``stop_all`` ends them (TERM, then KILL), whatever happened."""

    def __init__(self) -> None:
        self.live: list[subprocess.Popen] = []

    def spawn(self, command: list[str], log: Path) -> subprocess.Popen:
        with open(log, "wb") as out:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                       cwd=ROOT, preexec_fn=_die_with_parent)
        self.live.append(process)
        return process

    def stop(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if process in self.live:
            self.live.remove(process)

    def stop_all(self) -> None:
        for process in list(self.live):
            self.stop(process)


def free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind((HOST, 0))
        return probe_socket.getsockname()[1]


def wait_listening(process: subprocess.Popen, port: int, log: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited ({process.returncode}): {tail(log)}")
        if is_listening(port):
            return
        time.sleep(0.05)
    raise RuntimeError(f"server not listening on {port} after {timeout:g} s: {tail(log)}")


def tail(log: Path, lines: int = 5) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class Server:
    kind: str  # "cmts-sim" or "ceiling"
    command: list[str]
    process: subprocess.Popen
    port: int
    log: Path


def installed(script: str) -> str:
    """The venv's console script beside this Python, else the one on PATH."""
    beside = Path(sys.executable).parent / script
    return str(beside) if beside.exists() else (shutil.which(script) or script)


def cmts_command(port: int, flags: list[str]) -> list[str]:
    return [installed("cmts-sim"), "serve", "--quiet", "--listen", f"{HOST}:{port}",
            "--max-gates", "100000000", *flags]


def ceiling_command(port: int, flags: list[str]) -> list[str]:
    return [sys.executable, str(CEILING), "--port", str(port), *flags]


@contextmanager
def server(children: Children, workdir: Path, kind: str, flags: list[str]):
    """A fresh server process of KIND on a free loopback port, stopped on the way out."""
    port = free_port()
    command = cmts_command(port, flags) if kind == "cmts-sim" else ceiling_command(port, flags)
    log = workdir / f"{kind}-{port}.log"
    process = children.spawn(command, log)
    try:
        wait_listening(process, port, log)
        yield Server(kind, command, process, port, log)
    finally:
        children.stop(process)


def run_client(mode: str, wall: float, **params) -> dict:
    """The gate controller as its own process, killed after WALL seconds; its JSON result."""
    command = [sys.executable, str(Path(__file__).resolve()), "--client", mode, json.dumps(params)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=wall, cwd=ROOT,
                          preexec_fn=_die_with_parent)
    if done.returncode != 0:
        raise RuntimeError(f"client {mode} failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}")
    return json.loads(done.stdout)


def shown(command: list[str]) -> str:
    """A command line as a person would type it (the venv's paths shortened)."""
    words = [Path(word).name if word.endswith(("cmts-sim", "cms-sim")) else word for word in command]
    words = ["python" if word == sys.executable else word for word in words]
    return " ".join(os.path.relpath(word, ROOT) if word.startswith(str(ROOT)) else word for word in words)


# --- the table ---------------------------------------------------------------------------------------------------


@dataclass
class Row:
    key: str
    figure: str
    value: str
    target: str
    met: str
    ceiling: str
    ratio: str
    cpu: str
    command: str
    date: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M"))


@dataclass
class Settings:
    quick: bool
    seconds: float
    hold: float
    tries: int
    connections: int
    gates: int
    call_seconds: float
    paced_seconds: float
    raw_paced_seconds: float
    talk: float
    window: int = 64

    def command(self, row: str) -> str:
        words = ["python bench/load.py", f"--only {row}"]
        if self.quick:
            words.append("--quick")
        if row == "a":
            words.append(f"--seconds {self.seconds:g}")
        if row == "c":
            words.append(f"--hold {self.hold:g} --tries {self.tries}")
        return " ".join(words)


def settings_from(args: argparse.Namespace) -> Settings:
    quick = args.quick
    return Settings(
        quick=quick,
        seconds=args.seconds if args.seconds is not None else (1.0 if quick else 5.0),
        hold=args.hold if args.hold is not None else (5.0 if quick else 30.0),
        tries=args.tries if args.tries is not None else (5 if quick else 20),
        connections=1000,
        gates=20_000 if quick else 100_000,
        call_seconds=5.0 if quick else 60.0,
        paced_seconds=5.0 if quick else 30.0,
        raw_paced_seconds=3.0 if quick else 15.0,
        talk=2.0 if quick else 30.0)


def ratio(value: float, ceiling: float) -> str:
    return f"{value / ceiling:.2f}" if ceiling else "-"


def verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


# --- row a: pipelined Gate-Sets ----------------------------------------------------------------------------------


def row_a(children: Children, workdir: Path, settings: Settings, notes: list[str], found: dict) -> list[Row]:
    rows = []
    warmup = min(1.0, max(0.2, settings.seconds / 10))
    for connections in (1, 4):
        results = {}
        for kind in ("cmts-sim", "ceiling"):  # interleaved, so that a noisy minute hits both alike
            flags = ["--modem", "driven"] if kind == "cmts-sim" else []
            with server(children, workdir, kind, flags) as target:
                results[kind] = run_client("pipelined", settings.seconds + 60, port=target.port,
                                           server_pid=target.process.pid, connections=connections,
                                           window=settings.window, seconds=settings.seconds, warmup=warmup)
                notes.append(f"a{connections}: {kind}: `{shown(target.command)}`; client: one process, "
                             f"{connections} blocking socket(s) + selectors, window {settings.window} each, "
                             f"{results[kind]['client_cpu_us']:.1f} us client CPU/ack, "
                             f"{results[kind]['errors']} non-Ack replies")
        found[f"pipelined_{connections}"] = results
        sim, top = results["cmts-sim"], results["ceiling"]
        rows.append(Row(
            f"a{connections}", f"Gate-Set->Ack pipelined, w{settings.window}, {connections} conn",
            f"{sim['rate']:,.0f}/s", ">= 50,000/s and >= 60% of ceiling",
            verdict(sim["rate"] >= 50_000 and sim["rate"] >= 0.6 * top["rate"] and sim["errors"] == 0),
            f"{top['rate']:,.0f}/s", ratio(sim["rate"], top["rate"]),
            f"{sim['server_cpu_us']:.1f} / {top['server_cpu_us']:.1f} us/ack", settings.command("a")))
    return rows


# --- row b: memory per gate --------------------------------------------------------------------------------------


def row_b(children: Children, workdir: Path, settings: Settings, notes: list[str], found: dict) -> list[Row]:
    results = {}
    for kind in ("cmts-sim", "ceiling"):
        flags = ["--modem", "driven"] if kind == "cmts-sim" else ["--keep"]
        with server(children, workdir, kind, flags) as target:
            results[kind] = run_client("fill", 300, port=target.port, server_pid=target.process.pid,
                                       warmup_gates=1000, gates=settings.gates, window=settings.window, timeout=240)
            r = results[kind]
            notes.append(f"b: {kind}: `{shown(target.command)}`; VmRSS {r['rss_before_kib']:,} -> "
                         f"{r['rss_after_kib']:,} KiB over {r['acks']:,} Gate-Set-Acks "
                         f"({r['errors']} others) after 1,000 warm-up gates, {r['seconds']:.1f} s")
    sim, top = results["cmts-sim"], results["ceiling"]
    notes.append("b: full-GC pause with 100k gates: not measured here; bench/cmts.py measures it in-process "
                 "(`python bench/cmts.py --seconds 1 --gates 100000`)")
    return [Row("b", f"RSS per gate, {settings.gates + 1000:,} gates", f"{sim['bytes_per_gate']:.0f} B",
                "<= 1,024 B", verdict(sim["bytes_per_gate"] <= 1024 and sim["acks"] == settings.gates),
                f"{top['bytes_per_gate']:.0f} B (raw DEC kept)", ratio(sim["bytes_per_gate"], top["bytes_per_gate"]),
                f"{sim['server_cpu_us']:.1f} / {top['server_cpu_us']:.1f} us/gate", settings.command("b"))]


# --- row c: 1,000 connections held -------------------------------------------------------------------------------


KA_TIMER = 10


def row_c(children: Children, workdir: Path, settings: Settings, notes: list[str], found: dict) -> list[Row]:
    results = {}
    for kind in ("cmts-sim", "ceiling"):
        flags = ["--modem", "driven"] if kind == "cmts-sim" else ["--ka", str(KA_TIMER)]
        with server(children, workdir, kind, flags) as target:
            r = run_client("hold", settings.hold + 120, port=target.port, server_pid=target.process.pid,
                           connections=settings.connections, ka=KA_TIMER, hold=settings.hold, tries=settings.tries,
                           setup_timeout=60)
            results[kind] = r
            opn = [a for a, _ in r["probes_ms"]]
            notes.append(
                f"c: {kind}: `{shown(target.command)}`; {r['up_at_start']}/{r['connections']} up after "
                f"{r['setup_seconds']:.1f} s, {r['up_at_end']} up after {r['hold_seconds']:g} s; "
                f"{r['keepalives']} KAs echoed; closed by server {r['closed_by_server']}, "
                f"in handshake {r['closed_in_handshake']}"
                f"{', reasons ' + str(r['close_reasons']) if r['close_reasons'] else ''}; "
                f"{len(r['probes_ms'])} probes (connect -> OPN p50 {median(opn):.2f} ms), "
                f"{len(r['failed_probes'])} failed {r['failed_probes'][:2] if r['failed_probes'] else ''}")
    sim, top = results["cmts-sim"], results["ceiling"]
    cpu = f"{sim['server_cpu_us']:.0f} / {top['server_cpu_us']:.0f} us/KA"
    sim_hs = [b for _, b in sim["probes_ms"]] or [float("nan")]
    top_hs = [b for _, b in top["probes_ms"]] or [float("nan")]
    clean = not sim["failed_probes"]
    lost = sim["connections"] - sim["up_at_end"]  # closed by the server, or never up: either way not served
    return [
        Row("c1", f"{sim['connections']:,} conns, KA {KA_TIMER} s, held {settings.hold:g} s: not up at the end",
            f"{lost}", "0", verdict(lost == 0), f"{top['connections'] - top['up_at_end']}", "-", cpu,
            settings.command("c")),
        Row("c2", f"new handshake OPN->REQ p50 (of {len(sim['probes_ms'])})", f"{median(sim_hs):.2f} ms",
            "<= 10 ms", verdict(median(sim_hs) <= 10 and clean), f"{median(top_hs):.2f} ms",
            ratio(median(sim_hs), median(top_hs)), cpu, settings.command("c")),
        Row("c3", "new handshake OPN->REQ max", f"{max(sim_hs):.2f} ms", "<= 10 ms",
            verdict(max(sim_hs) <= 10 and clean), f"{max(top_hs):.2f} ms", ratio(max(sim_hs), max(top_hs)), cpu,
            settings.command("c")),
    ]


def median(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


# --- row d: cms-sim load -----------------------------------------------------------------------------------------


def cms_sim() -> str:
    """The load generator: BENCH_CMS_SIM if set (another build, or a stand-in in the tests), else cms-sim."""
    return os.environ.get("BENCH_CMS_SIM") or installed("cms-sim")


def load_available() -> bool:
    try:
        done = subprocess.run([cms_sim(), "load", "--help"], capture_output=True, timeout=60, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def run_load(target: Server, workdir: Path, scenario: Path, rate: float, duration: float,
             timeout: float) -> tuple[dict, list[str], float, float]:
    """``cms-sim load`` against TARGET: its report, its command, the server's CPU seconds and the load's own."""
    report = workdir / f"load-{target.port}.json"
    command = [cms_sim(), "load", str(scenario), "--cmts", f"{HOST}:{target.port}", "--rate", f"{rate:g}",
               "--duration", f"{duration:g}", "--report", str(report), "--quiet"]
    log = workdir / f"cms-sim-load-{target.port}.log"
    cpu, own = cpu_seconds(target.process.pid), resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(log, "wb") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, cwd=ROOT,
                              preexec_fn=_die_with_parent)
    cpu = cpu_seconds(target.process.pid) - cpu
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # only cms-sim load was reaped meanwhile
    own = after.ru_utime + after.ru_stime - own.ru_utime - own.ru_stime
    if not report.exists():
        kept = [keep_log(log), keep_log(target.log)]
        raise RuntimeError(f"cms-sim load exited {done.returncode} without a report (logs: {', '.join(kept)}): "
                           f"{tail(log, 3)}")
    return json.loads(report.read_text()), command, cpu, own


def keep_log(log: Path) -> str:
    """A copy outside the work directory, which goes at the end of the run: the evidence of a failure stays."""
    kept = Path(tempfile.gettempdir()) / f"bench-{log.name}"
    shutil.copyfile(log, kept)
    return str(kept)


def scenario_with_hold(workdir: Path, hold: float) -> Path:
    """held_call.yaml, or a copy of it with a shorter hold for --quick."""
    source = SCENARIOS / "held_call.yaml"
    if hold == 30.0:
        return source
    copy = workdir / "held_call.yaml"
    copy.write_text(source.read_text().replace("    hold: 30s\n", f"    hold: {hold:g}s\n"))
    return copy


def modem_flags(hold: float) -> list[str]:
    """cmts-sim for whole calls: the modem reserves, commits and releases by itself (the scenario waits for
    Gate-Open/Gate-Close), and capacity for every call (the default 100 Mbit/s upstream admits ~1,250 G.711
    calls: the rest would fail at commit with no Gate-Open)."""
    return ["--modem", "auto", "--reserve-delay", "0", "--commit-delay", "0", "--hold", f"{hold:g}",
            "--upstream-kbps", "1e9", "--downstream-kbps", "1e9"]


def pipelined_ceiling(children: Children, workdir: Path, settings: Settings, found: dict) -> dict:
    """The ceiling's one-connection pipelined figure: row a's if it ran, else measured now."""
    if "pipelined_1" not in found:
        with server(children, workdir, "ceiling", []) as target:
            found["pipelined_1"] = {"ceiling": run_client(
                "pipelined", settings.seconds + 60, port=target.port, server_pid=target.process.pid,
                connections=1, window=settings.window, seconds=settings.seconds, warmup=0.5)}
    return found["pipelined_1"]["ceiling"]


MESSAGES_PER_CALL = 8  # Gate-Alloc, -Ack, Gate-Set, -Ack, Gate-Open, Gate-Close, Gate-Delete, -Ack


def row_d1(children: Children, workdir: Path, settings: Settings, notes: list[str], found: dict) -> Row:
    rate = 5000
    top = pipelined_ceiling(children, workdir, settings, found)
    # A call is 8 messages; the ceiling answers each message with one, so a pair is 2 of the 8.
    ceiling_cps = top["rate"] * 2 / MESSAGES_PER_CALL
    ceiling_cpu = top["server_cpu_us"] * MESSAGES_PER_CALL / 2
    with server(children, workdir, "cmts-sim", modem_flags(0)) as target:
        report, command, cpu, own = run_load(target, workdir, SCENARIOS / "zero_hold_call.yaml", rate,
                                             settings.call_seconds, settings.call_seconds + 180)
    calls = report["calls"]
    per_call = 1e6 / max(calls["attempted"], 1)  # CPU per call started: failed calls cost too
    # The report's achieved_cps counts calls started; the figure is calls that completed.
    achieved = calls["completed"] / (report.get("duration_s") or settings.call_seconds)
    notes.append(f"d1: `{shown(target.command)}`; `{shown(command)}`: {calls}, started at "
                 f"{report['rate']['achieved_cps']:,.0f}/s, connections {report.get('connections')}; cms-sim load "
                 f"used {own * per_call:.0f} us CPU/call; ceiling = the ceiling's pipelined "
                 f"1-conn pairs/s x 2 / {MESSAGES_PER_CALL} messages per call (CPU likewise, derived)")
    return Row("d1", f"complete zero-hold calls at {rate:,}/s, {settings.call_seconds:g} s", f"{achieved:,.0f}/s",
               f">= {rate:,}/s (-1%), 0 failed", verdict(achieved >= 0.99 * rate and calls["failed"] == 0),
               f"{ceiling_cps:,.0f}/s", ratio(achieved, ceiling_cps),
               f"{cpu * per_call:.0f} / {ceiling_cpu:.0f} us/call", settings.command("d"))


def row_d2(children: Children, workdir: Path, settings: Settings, notes: list[str], found: dict) -> list[Row]:
    rate = 1000
    raw = {}
    # The same paced raw client against the ceiling (the row's ceiling) and against cmts-sim with a driven
    # modem (no Gate-Open to mistake for a reply): the server's share of cms-sim load's figure.
    for kind, flags in (("ceiling", []), ("cmts-sim", ["--modem", "driven"])):
        with server(children, workdir, kind, flags) as target:
            raw[kind] = run_client("paced", settings.raw_paced_seconds + 60, port=target.port,
                                   server_pid=target.process.pid, rate=rate, seconds=settings.raw_paced_seconds)
        result = raw[kind]
        notes.append(f"d2: paced raw client, {rate:,} Gate-Sets/s for {settings.raw_paced_seconds:g} s against "
                     f"{kind}: {result['answered']:,}/{result['sent']:,} answered, ms "
                     + ", ".join(f"{k} {v:.2f}" for k, v in result["latency_ms"].items())
                     + f"; {result['server_cpu_us']:.0f} us server CPU/Gate-Set")
    with server(children, workdir, "cmts-sim", modem_flags(settings.talk)) as target:
        report, command, cpu, own = run_load(target, workdir, scenario_with_hold(workdir, settings.talk), rate,
                                             settings.paced_seconds, settings.paced_seconds + settings.talk + 180)
    latency, calls = report["latency_ms"]["Gate-Set"], report["calls"]
    per_call = 1e6 / max(calls["attempted"], 1)  # CPU per call started: failed calls cost too
    ceiling = raw["ceiling"]["latency_ms"]
    notes.append(f"d2: `{shown(target.command)}`; `{shown(command)}`: {calls}, connections "
                 f"{report.get('connections')}, Gate-Set ms {latency}, cms-sim load used "
                 f"{own * per_call:.0f} us CPU/call")
    rows = [Row("d2", f"Gate-Set->Ack p99 at {rate:,} calls/s, {settings.talk:g} s holds (cms-sim load's view)",
                f"{latency['p99']:.2f} ms", "<= 2 ms", verdict(latency["p99"] <= 2.0),
                f"{ceiling['p99']:.2f} ms (p99.9 {ceiling['p99.9']:.2f})", ratio(latency["p99"], ceiling["p99"]),
                f"{cpu * per_call:.0f} us/call / {raw['ceiling']['server_cpu_us']:.0f} us/Gate-Set",
                settings.command("d"))]
    # The comparison with the ceiling: the same paced raw client against both, so that only the server
    # differs (cms-sim load's own share of its figure above is not the server's).
    ours = raw["cmts-sim"]["latency_ms"]
    p99, p999 = ours["p99"] / ceiling["p99"], ours["p99.9"] / ceiling["p99.9"]
    rows.append(Row("d2r", f"the same, a paced raw client at {rate:,} Gate-Sets/s: p99 (p99.9)",
                    f"{ours['p99']:.2f} ms ({ours['p99.9']:.2f})", "<= 1.5x (2x) the ceiling's",
                    verdict(p99 <= 1.5 and p999 <= 2.0), f"{ceiling['p99']:.2f} ms ({ceiling['p99.9']:.2f})",
                    f"{p99:.2f} ({p999:.2f})",
                    f"{raw['cmts-sim']['server_cpu_us']:.0f} / {raw['ceiling']['server_cpu_us']:.0f} us/Gate-Set",
                    settings.command("d")))
    return rows


def row_d(children: Children, workdir: Path, settings: Settings, notes: list[str], found: dict) -> list[Row]:
    if not load_available():
        print("  d: skipped: cms-sim load not available yet", flush=True)
        notes.append("d: skipped: cms-sim load not available yet")
        return []
    rows = []
    for part in (row_d1, row_d2):
        try:
            made = part(children, workdir, settings, notes, found)
            rows.extend(made if isinstance(made, list) else [made])
        except (RuntimeError, KeyError, TypeError, ValueError, subprocess.TimeoutExpired) as exc:
            # A load generator still being written must not cost the other rows.
            notes.append(f"{part.__name__[-2:]}: failed: {type(exc).__name__}: {exc}")
    return rows


ROWS = {"a": row_a, "b": row_b, "c": row_c, "d": row_d}


# --- output ------------------------------------------------------------------------------------------------------

COLUMNS = ("row", "figure", "value", "target", "met", "ceiling", "ratio", "server CPU (cmts-sim / ceiling)", "command",
           "date")


def print_table(rows: list[Row], notes: list[str]) -> None:
    print()
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "|".join("---" for _ in COLUMNS) + "|")
    for row in rows:
        print("| " + " | ".join((row.key, row.figure, row.value, row.target, row.met, row.ceiling, row.ratio,
                                 row.cpu, f"`{row.command}`", row.date)) + " |")
    print()
    print("ratio = value / ceiling.  Notes:")
    for note in notes:
        print(f"- {note}")


def print_header(argv: list[str]) -> None:
    try:
        revision = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                                  timeout=10, cwd=ROOT).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        revision = "?"
    print(f"$ python bench/load.py {' '.join(argv)}".rstrip())
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')}  git {revision}  Python {platform.python_version()}  "
          f"{os.cpu_count()} CPUs  load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorten every duration: a smoke run")
    parser.add_argument("--only", default="a,b,c,d", help="rows to run, comma-separated (default a,b,c,d)")
    parser.add_argument("--seconds", type=float, help="row a: seconds per measurement (default 5, quick 1)")
    parser.add_argument("--hold", type=float, help="row c: seconds the connections are held (default 30, quick 5)")
    parser.add_argument("--tries", type=int, help="row c: new-connection handshakes timed (default 20, quick 5)")
    parser.add_argument("--client", nargs=2, metavar=("MODE", "JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(ROWS)
    if unknown:
        parser.error(f"--only: unknown rows {','.join(sorted(unknown))} (rows: {','.join(ROWS)})")
    return args


def _exit_on_term(signum, frame) -> None:
    raise SystemExit(128 + signum)  # so that the finally blocks stop the servers


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_arguments(argv)
    if args.client:
        mode, params = args.client
        print(json.dumps(CLIENTS[mode](**json.loads(params))))
        return 0
    signal.signal(signal.SIGTERM, _exit_on_term)
    raise_open_files_limit()
    settings = settings_from(args)
    print_header(argv)
    children = Children()
    rows: list[Row] = []
    notes: list[str] = []
    found: dict = {}
    interrupted = False
    try:
        with tempfile.TemporaryDirectory(prefix="bench-load-") as workdir:
            for key in [key for key in ROWS if key in args.only.split(",")]:
                print(f"  row {key} ...", flush=True)
                try:
                    rows += ROWS[key](children, Path(workdir), settings, notes, found)
                except (RuntimeError, OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
                    notes.append(f"{key}: failed: {type(exc).__name__}: {exc}")
    except KeyboardInterrupt:
        interrupted = True
        notes.append("interrupted (Ctrl-C): the rows so far")
    finally:
        children.stop_all()
    print_table(rows, notes)
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
