"""Prometheus metrics for ``cmts-sim serve --metrics-port PORT``, served by a tiny trio HTTP handler.

Nothing here runs per message: the transport's counter (:class:`~cmts_sim.stats.Stats`)
already counts op-codes, gate commands and errors, and :class:`CmtsCollector`
turns those counts, the gate table and the sessions into metric families when
Prometheus scrapes.  The one metric fed as it happens is the reply-lag
histogram, observed once per answered batch (``CmtsServer.on_batch``).

prometheus_client's own ``start_http_server`` runs a thread; this tool is
trio only, so :func:`serve_metrics` answers ``GET /metrics`` on a trio
listener with ``generate_latest`` of a private registry.
"""

from __future__ import annotations

import gc
import logging

import trio
from prometheus_client import CollectorRegistry, GCCollector, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from cops_core.dqos import GateCommandType

from .server import CmtsServer
from .stats import Stats

log = logging.getLogger("cmts_sim.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # the text format generate_latest writes
MAX_REQUEST = 8192  # bytes of request head we read before giving up on a client
REQUEST_TIMEOUT = 10.0  # seconds a client has to send its request head
LAG_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class CmtsCollector:
    """The CMTS's state as metric families, computed at scrape time from the counters, gates and sessions."""

    def __init__(self, server: CmtsServer, stats: Stats) -> None:
        self.server = server
        self.stats = stats

    def collect(self):
        yield from self._messages()
        yield from self._errors()
        yield from self._gates()
        yield from self._connections()

    def _messages(self):
        stats = self.stats
        messages = CounterMetricFamily("cmts_sim_messages", "COPS messages by direction and op-code",
                                       labels=("direction", "opcode"))
        commands = CounterMetricFamily("cmts_sim_gate_commands", "DQoS gate commands by direction and type",
                                       labels=("direction", "command"))
        for direction, opcodes, types in (("in", stats.opcodes_in, stats.commands_in),
                                          ("out", stats.opcodes_out, stats.commands_out)):
            for opcode, count in sorted(opcodes.items()):
                messages.add_metric((direction, opcode.name), count)
            for command, count in sorted(types.items()):
                commands.add_metric((direction, _command_name(command)), count)
        yield messages
        yield commands

    def _errors(self):
        errors = CounterMetricFamily("cmts_sim_errors_sent", "errors we answered with: PacketCable-Error codes in "
                                     "Gate-*-Err, COPS Client-Close Error codes, DRQ reasons", labels=("kind", "error"))
        for name, count in sorted(self.stats.errors.items()):
            kind, _, error = name.partition(" ")
            errors.add_metric((kind, error), count)
        yield errors
        yield CounterMetricFamily("cmts_sim_dropped_events", "Gate-Open/Gate-Close events with no connection to "
                                  "go to", value=self.server.dropped_events)
        yield CounterMetricFamily("cmts_sim_orphaned_gates_deleted", "gates deleted after their gate controller "
                                  "went away (policy.orphaned_gate_timeout)", value=self.server.orphans_deleted)
        yield CounterMetricFamily("cmts_sim_failed_sessions", "connections ended by a bug in cmts-sim",
                                  value=self.server.failed_sessions)
        yield CounterMetricFamily("cmts_sim_refused_connections", "connections closed before any COPS: from peers "
                                  "not in the allow list, or past max_connections", value=self.server.refused)
        limits = CounterMetricFamily("cmts_sim_limit_hits", "connections a limit ended: allow, max_connections, "
                                     "accept_timeout, ka_silence, write_timeout, max_send_buffer", labels=("limit",))
        for limit, count in sorted(self.server.limit_hits.items()):
            limits.add_metric((limit,), count)
        yield limits

    def _gates(self):
        gates = GaugeMetricFamily("cmts_sim_gates", "gates by state", labels=("state",))
        for state, count in self.server.gates.count_by_state().items():
            gates.add_metric((state.name.lower(),), count)
        yield gates
        yield GaugeMetricFamily("cmts_sim_gc_frozen_objects", "objects the GC policy keeps out of collections",
                                value=gc.get_freeze_count())

    def _connections(self):
        sessions = sorted(self.server.sessions, key=lambda session: session.peer)
        by_state = GaugeMetricFamily("cmts_sim_connections", "gate-controller connections by COPS state",
                                     labels=("state",))
        counts = {}
        for session in sessions:
            counts[session.state.value] = counts.get(session.state.value, 0) + 1
        for state, count in sorted(counts.items()):
            by_state.add_metric((state,), count)
        yield by_state
        backlog = GaugeMetricFamily("cmts_sim_backlog_bytes", "bytes a gate controller sent that are not answered "
                                    "yet (kernel queue and framer)", labels=("peer",))
        worst = GaugeMetricFamily("cmts_sim_reply_lag_max_seconds", "a connection's longest wait from reading a "
                                  "batch of requests to sending its replies", labels=("peer",))
        for session in sessions:
            peer = f"{session.peer[0]}:{session.peer[1]}"
            try:
                backlog.add_metric((peer,), session.backlog())
            except OSError:
                pass  # the connection went while we looked: no backlog to report
            worst.add_metric((peer,), session.max_lag)
        yield backlog
        yield worst


def _command_name(command: int) -> str:
    """``Gate-Set``, ``Gate-Set-Ack`` ...; the number for a type the spec does not name."""
    return GateCommandType(command).title if command in GateCommandType._value2member_map_ else str(command)


def cmts_registry(server: CmtsServer, stats: Stats) -> CollectorRegistry:
    """A private registry with the CMTS's metrics, Python's GC metrics and the reply-lag histogram (hooked up)."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(CmtsCollector(server, stats))
    GCCollector(registry=registry)
    lag = Histogram("cmts_sim_reply_lag_seconds", "seconds from reading a batch of requests to sending its "
                    "replies (once per batch)", buckets=LAG_BUCKETS, registry=registry)
    server.on_batch = lambda messages, seconds: lag.observe(seconds)
    return registry


async def serve_metrics(registry: CollectorRegistry, host: str, port: int, *,
                        task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Answer ``GET /metrics`` on ``host:port`` until cancelled; ``task_status.started`` gets the bound address."""
    listeners = await trio.open_tcp_listeners(port, host=host)
    task_status.started(listeners[0].socket.getsockname()[:2])

    async def handle(stream: trio.SocketStream) -> None:
        async with stream:
            await _answer(stream, registry)

    await trio.serve_listeners(handle, listeners)


async def _answer(stream: trio.SocketStream, registry: CollectorRegistry) -> None:
    """One HTTP/1.1 request, one response, then close: all a scraper needs."""
    head = b""
    with trio.move_on_after(REQUEST_TIMEOUT):
        while b"\r\n\r\n" not in head and len(head) < MAX_REQUEST:
            try:
                data = await stream.receive_some(MAX_REQUEST)
            except trio.BrokenResourceError:
                return
            if not data:
                break
            head += data
    method, _, rest = head.partition(b" ")
    path = rest.partition(b" ")[0].partition(b"?")[0]
    if method != b"GET":
        status, body, content_type = "405 Method Not Allowed", b"GET only\n", "text/plain"
    elif path != b"/metrics":
        status, body, content_type = "404 Not Found", b"metrics are at /metrics\n", "text/plain"
    else:
        status, body, content_type = "200 OK", generate_latest(registry), CONTENT_TYPE
    response = (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n").encode() + body
    try:
        await stream.send_all(response)
    except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
        log.debug("metrics client went before its answer: %s", exc)
