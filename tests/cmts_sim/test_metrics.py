"""The Prometheus endpoint of ``cmts-sim serve --metrics-port``: a real HTTP GET on loopback after real gate commands."""

from __future__ import annotations

import trio
import trio.testing
from prometheus_client.parser import text_string_to_metric_families

from cmts_sim.metrics import CONTENT_TYPE, cmts_registry, serve_metrics
from cmts_sim.stats import Stats
from cops_core import ClientClose, ClientOpen
from cops_core.dqos import GateInfo, GateInfoErr, GateSet, GateSetAck

from .conftest import SUBSCRIBER, connect, gate_spec, start_cmts


async def http_get(address: tuple[str, int], request: bytes) -> tuple[str, dict[str, str], str]:
    """(status line, headers, body) of one request sent on a plain trio socket."""
    stream = await trio.open_tcp_stream(*address)
    async with stream:
        await stream.send_all(request)
        response = b""
        while data := await stream.receive_some(65536):
            response += data
    head, _, body = response.partition(b"\r\n\r\n")
    status, *lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    assert int(headers["Content-Length"]) == len(body)
    return status, headers, body.decode()


def samples(text: str) -> dict[tuple, float]:
    """Every sample of an exposition as {(name, sorted label pairs): value}."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


async def start_with_metrics(nursery):
    stats = Stats()
    cmts = await start_cmts(nursery, counter=stats.count)
    address = await nursery.start(serve_metrics, cmts_registry(cmts, stats), "127.0.0.1", 0)
    return cmts, address


async def test_a_scrape_after_gate_commands_shows_their_counts_errors_gates_and_connections(nursery, autojump_clock):
    cmts, address = await start_with_metrics(nursery)
    gc = await connect(cmts)
    assert type(await gc.command(GateSet(1, SUBSCRIBER, (gate_spec(0),)))) is GateSetAck
    assert type(await gc.command(GateInfo(2, SUBSCRIBER, 0x0BAD0BAD))) is GateInfoErr
    await trio.sleep(1)  # the last batch's bookkeeping runs once its send_all returns
    status, headers, body = await http_get(address, b"GET /metrics HTTP/1.1\r\nHost: cmts\r\n\r\n")
    assert status == "HTTP/1.1 200 OK" and headers["Content-Type"] == CONTENT_TYPE
    found = samples(body)
    assert found[("cmts_sim_gate_commands_total", (("command", "Gate-Set"), ("direction", "in")))] == 1
    assert found[("cmts_sim_gate_commands_total", (("command", "Gate-Set-Ack"), ("direction", "out")))] == 1
    assert found[("cmts_sim_gate_commands_total", (("command", "Gate-Info-Err"), ("direction", "out")))] == 1
    assert found[("cmts_sim_messages_total", (("direction", "in"), ("opcode", "DEC")))] == 2
    assert found[("cmts_sim_messages_total", (("direction", "out"), ("opcode", "RPT")))] == 2
    assert found[("cmts_sim_errors_sent_total", (("error", "UNKNOWN_GATE_ID"), ("kind", "PacketCable")))] == 1
    assert found[("cmts_sim_gates", (("state", "authorized"),))] == 1
    assert found[("cmts_sim_gates", (("state", "committed"),))] == 0
    assert found[("cmts_sim_connections", (("state", "ready"),))] == 1
    peer = f"{gc.stream.socket.getsockname()[0]}:{gc.stream.socket.getsockname()[1]}"
    assert found[("cmts_sim_backlog_bytes", (("peer", peer),))] == 0
    assert found[("cmts_sim_reply_lag_seconds_count", ())] >= 2  # a batch per command, and the handshake's
    assert ("python_gc_collections_total", (("generation", "0"),)) in found


async def test_other_paths_and_methods_are_refused(nursery, autojump_clock):
    cmts, address = await start_with_metrics(nursery)
    status, _, _ = await http_get(address, b"GET / HTTP/1.1\r\nHost: cmts\r\n\r\n")
    assert status == "HTTP/1.1 404 Not Found"
    status, _, _ = await http_get(address, b"POST /metrics HTTP/1.1\r\nHost: cmts\r\nContent-Length: 0\r\n\r\n")
    assert status == "HTTP/1.1 405 Method Not Allowed"


async def test_a_gate_controller_cut_by_a_limit_is_counted_by_limit(nursery, autojump_clock):
    stats = Stats()
    cmts = await start_cmts(nursery, counter=stats.count, accept_timeout=5)
    address = await nursery.start(serve_metrics, cmts_registry(cmts, stats), "127.0.0.1", 0)
    silent = await connect(cmts, handshake=False)  # takes the Client-Open, never accepts it
    assert type(await silent.receive()) is ClientOpen
    assert type(await silent.next_message()) is ClientClose
    await silent.closed()
    await trio.testing.wait_all_tasks_blocked()
    assert cmts.limit_hits == {"accept_timeout": 1}
    _, _, body = await http_get(address, b"GET /metrics HTTP/1.1\r\nHost: cmts\r\n\r\n")
    assert samples(body)[("cmts_sim_limit_hits_total", (("limit", "accept_timeout"),))] == 1
