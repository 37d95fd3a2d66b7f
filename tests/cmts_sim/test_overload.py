"""More offered than the CMTS takes: bounded batches with other tasks between them, a bounded kernel queue,
and the backlog and reply lag counted where the live panel and the metrics read them."""

from __future__ import annotations

import io
import logging
import socket

import trio
from rich.console import Console

from cmts_sim.live import render
from cmts_sim.server import MAX_BATCH
from cmts_sim.stats import Stats
from cops_core.dqos import GateSet, GateSetAck, decision_for
from cops_core.transport import stream_socket

from .conftest import SUBSCRIBER, connect, gate_spec, start_cmts

SPECS = (gate_spec(0), gate_spec(1))


def flood(gc, count: int) -> bytes:
    """``count`` Gate-Set DECs, TIDs 0 .. count-1, in one piece of bytes."""
    return b"".join(gc.connection.send(decision_for(gc.handle, GateSet(tid, SUBSCRIBER, SPECS)), 0.0)
                    for tid in range(count))


async def test_a_flood_is_answered_in_bounded_batches_with_other_tasks_running_between_them(nursery, autojump_clock):
    cmts = await start_cmts(nursery)
    gc = await connect(cmts, ka_seconds=0)
    await trio.sleep(1)  # the handshake's last batch is done
    turns = 0

    async def another_task():
        nonlocal turns
        while True:
            await trio.sleep(0)
            turns += 1

    batches: list[tuple[int, int]] = []  # (messages in the batch, another_task's turns so far)
    cmts.on_batch = lambda messages, lag: batches.append((messages, turns))
    async with trio.open_nursery() as busy:
        busy.start_soon(another_task)
        await gc.send_raw(flood(gc, 1000))
        replies = [await gc.reply() for _ in range(1000)]
        while_busy = len(batches)  # the bookkeeping of a batch whose replies are all read may come after this
        busy.cancel_scope.cancel()  # it never blocks: while it runs, the autojump clock cannot move
    await trio.sleep(1)  # the last batch's bookkeeping runs once its send_all returns
    assert all(type(reply) is GateSetAck for reply in replies)
    assert [reply.transaction_id for reply in replies] == list(range(1000))
    sizes = [size for size, _ in batches]
    assert sum(sizes) == 1000 and max(sizes) <= MAX_BATCH
    seen = [seen for _, seen in batches[:while_busy]]
    # A checkpoint after each batch: the other task runs once every scheduling round, and trio may order a round
    # either way, so at most two batches go by without it (counted while it ran: it is cancelled above).
    assert len(seen) >= 1000 // MAX_BATCH - 1
    assert all(later > earlier for earlier, later in zip(seen, seen[2:]))


async def test_each_connection_gets_the_configured_kernel_receive_buffer(nursery, autojump_clock):
    cmts = await start_cmts(nursery, receive_buffer=64 * 1024)
    await connect(cmts)
    session, = cmts.sessions
    # Linux doubles what it is given, for its own bookkeeping.
    assert stream_socket(session.transport.stream).getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == 128 * 1024


async def test_the_backlog_counts_bytes_received_but_not_yet_answered(nursery, autojump_clock):
    cmts = await start_cmts(nursery)
    gc = await connect(cmts)
    session, = cmts.sessions
    assert session.backlog() == 0
    whole = flood(gc, 1)
    await gc.send_raw(whole[:50])
    await trio.sleep(1)  # the CMTS reads the half message and waits for the rest
    assert session.backlog() == 50
    await gc.send_raw(whole[50:])
    assert type(await gc.reply()) is GateSetAck
    assert session.backlog() == 0


async def test_a_batch_answered_a_second_or_more_late_is_logged_and_kept_as_the_worst_lag(nursery, autojump_clock,
                                                                                          caplog):
    cmts = await start_cmts(nursery, faults={"reply_delay": 1.5})
    gc = await connect(cmts)
    session, = cmts.sessions
    with caplog.at_level(logging.WARNING, logger="cmts_sim"):
        assert type(await gc.command(GateSet(1, SUBSCRIBER, SPECS))) is GateSetAck
        await trio.sleep(1)  # the batch's bookkeeping runs once its send_all returns
    assert session.lag == session.max_lag == 1.5
    assert "replies lag 1.5 s behind the requests" in caplog.text


async def test_the_panel_shows_each_peers_backlog_and_reply_lag(nursery, autojump_clock):
    cmts = await start_cmts(nursery, faults={"reply_delay": 1.5})
    gc = await connect(cmts)
    await gc.command(GateSet(1, SUBSCRIBER, SPECS))
    await trio.sleep(1)  # the batch's bookkeeping runs once its send_all returns
    console = Console(file=io.StringIO(), width=160, force_terminal=False)
    console.print(render(cmts, Stats(), (0.0, 0.0)))
    screen = console.file.getvalue()
    assert "backlog" in screen and "0.0 KiB" in screen
    assert "1500 ms (1500 ms)" in screen
