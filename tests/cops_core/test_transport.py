"""The trio transport over real loopback sockets: what its trace tap records for each message."""

from __future__ import annotations

import socket
from ipaddress import IPv4Address

import pytest
import trio

from cops_core.connection import Connection, GateTraffic, Role
from cops_core.dqos import GateSet, GateSetAck, decision_for, packed_decision, report_for
from cops_core.errors import DecodeError
from cops_core.messages import ClientAccept, ClientOpen, KeepAlive, Request
from cops_core.objects import Handle
from cops_core.trace import UNREAD
from cops_core.transport import CopsTransport

from .samples import MTA, US_SPEC


async def socket_pair() -> tuple[trio.SocketStream, trio.SocketStream]:
    """(our end, the peer's end) of one TCP connection on 127.0.0.1."""
    listener, = await trio.open_tcp_listeners(0, host="127.0.0.1")
    async with listener:
        peer = await trio.open_tcp_stream(*listener.socket.getsockname()[:2])
        ours = await listener.accept()
    return ours, peer


def client_open_with_odd_padding() -> bytes:
    """A Client-Open whose PEPID padding is not zero: it decodes, but encoding it again gives other bytes."""
    data = bytearray(ClientOpen.new("AB").encode())
    data[-1] = 0x55
    return bytes(data)


async def test_a_received_message_is_traced_with_the_bytes_that_arrived_not_an_encoding_of_it(autojump_clock):
    ours, peer = await socket_pair()
    records = []
    transport = CopsTransport(ours, Connection(Role.PDP), tap=records.append)
    sent = client_open_with_odd_padding()
    await peer.send_all(sent)
    message, = await transport.receive()
    assert type(message) is ClientOpen and message.pep_id == "AB"
    assert message.encode() != sent
    record, = records
    assert (record.outgoing, record.message, record.data) == (False, message, sent)
    assert record.peer == peer.socket.getsockname()[:2] and record.time == trio.current_time()


async def test_a_sent_message_is_traced_with_the_bytes_that_went_out(autojump_clock):
    ours, peer = await socket_pair()
    records = []
    transport = CopsTransport(ours, Connection(Role.PDP), tap=records.append)
    await peer.send_all(ClientOpen.new("AB").encode())
    await transport.receive()
    await transport.send(ClientAccept.new(30))
    received = await peer.receive_some(65536)
    assert [(r.outgoing, type(r.message)) for r in records] == [(False, ClientOpen), (True, ClientAccept)]
    assert records[1].data == received == ClientAccept.new(30).encode()


async def test_the_counter_sees_each_message_s_bytes_both_ways_and_none_for_bytes_that_do_not_decode(autojump_clock):
    ours, peer = await socket_pair()
    seen = []
    transport = CopsTransport(ours, Connection(Role.PDP), counter=lambda *counted: seen.append(counted))
    opening = client_open_with_odd_padding()
    await peer.send_all(opening)
    await transport.receive()
    await transport.send(ClientAccept.new(0))
    unknown_opcode = bytearray(KeepAlive().encode())
    unknown_opcode[1] = 99
    await peer.send_all(bytes(unknown_opcode))
    with pytest.raises(DecodeError):
        await transport.receive()
    assert seen == [(False, opening, UNREAD), (True, ClientAccept.new(0).encode(), UNREAD), (False, None, UNREAD)]


async def test_receive_with_a_limit_returns_at_most_that_many_and_keeps_the_rest_for_the_next_call(autojump_clock):
    ours, peer = await socket_pair()
    connection = Connection(Role.PDP)
    transport = CopsTransport(ours, connection)
    await peer.send_all(ClientOpen.new("AB").encode())
    await transport.receive()
    await transport.send(ClientAccept.new(0))
    await peer.receive_some(65536)
    await peer.send_all(KeepAlive().encode() * 5)
    first = await transport.receive(2)
    assert len(first) == 2 and transport.backlog() == 3 * len(KeepAlive().encode())
    assert len(await transport.receive(2)) == 2
    assert len(await transport.receive(2)) == 1 and transport.backlog() == 0


async def test_flush_is_a_checkpoint_even_with_nothing_to_send(autojump_clock):
    ours, _ = await socket_pair()
    transport = CopsTransport(ours, Connection(Role.PDP))
    with trio.CancelScope() as scope:
        scope.cancel()
        await transport.flush()
    assert scope.cancelled_caught


async def accepted_over_a_socket_pair() -> tuple[CopsTransport, socket.socket]:
    """A PDP transport past its Client-Accept, and the peer's end as a plain socket (its sends never checkpoint)."""
    ours, theirs = socket.socketpair()
    transport = CopsTransport(trio.SocketStream(trio.socket.from_stdlib_socket(ours)), Connection(Role.PDP))
    theirs.sendall(ClientOpen.new("AB").encode())
    await transport.receive()
    transport.queue(ClientAccept.new(0))
    assert transport.send_now()
    theirs.recv(65536)
    return transport, theirs


async def test_receive_with_bytes_waiting_reads_them_at_once_yet_lets_the_other_tasks_run(autojump_clock):
    # The socket is read without trio's wrappers when it holds bytes; a reader that always finds some must still
    # let keep-alives, timers and the other peers run between its reads.
    transport, theirs = await accepted_over_a_socket_pair()
    turns = 0

    async def other_task():
        nonlocal turns
        while True:
            turns += 1
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(other_task)
        for _ in range(10):
            theirs.sendall(KeepAlive().encode())
            message, = await transport.receive()
            assert type(message) is KeepAlive
        assert turns >= 9
        nursery.cancel_scope.cancel()


async def test_a_cancelled_receive_reads_nothing_away_and_the_next_one_gets_the_bytes(autojump_clock):
    transport, theirs = await accepted_over_a_socket_pair()
    theirs.sendall(KeepAlive().encode())
    with trio.CancelScope() as scope:
        scope.cancel()
        await transport.receive()
    assert scope.cancelled_caught
    message, = await transport.receive()
    assert type(message) is KeepAlive


async def test_a_peer_that_resets_the_connection_ends_it_as_a_close_does(autojump_clock):
    transport, theirs = await accepted_over_a_socket_pair()
    theirs.close()
    event, = await transport.receive()
    assert type(event).__name__ == "ConnectionClosed"


async def test_senders_flushing_at_once_each_get_their_messages_out_whole(autojump_clock):
    ours, peer = await socket_pair()
    transport = CopsTransport(ours, Connection(Role.PDP))
    await peer.send_all(ClientOpen.new("AB").encode())
    await transport.receive()
    await transport.send(ClientAccept.new(30))
    async with trio.open_nursery() as senders:
        for _ in range(3):
            senders.start_soon(transport.send, *[KeepAlive()] * 100)
    expected = ClientAccept.new(30).encode() + KeepAlive().encode() * 300
    received = b""
    while len(received) < len(expected):
        received += await peer.receive_some(65536)
    assert received == expected


async def read_exactly(stream: trio.SocketStream, size: int) -> bytes:
    data = b""
    while len(data) < size:
        data += await stream.receive_some(size - len(data))
    return data


async def test_send_now_sends_what_flush_would_in_the_same_order_without_waiting(autojump_clock):
    ours, peer = await socket_pair()
    transport = CopsTransport(ours, Connection(Role.PDP))
    await peer.send_all(ClientOpen.new("AB").encode())
    await transport.receive()
    assert transport.send_now()  # nothing queued: nothing left
    transport.queue(ClientAccept.new(30))
    transport.queue(KeepAlive(solicited=True))
    expected = ClientAccept.new(30).encode() + KeepAlive(solicited=True).encode()
    assert transport.send_now()
    assert await read_exactly(peer, len(expected)) == expected


async def test_send_now_leaves_to_flush_what_the_socket_does_not_take_and_keeps_the_order(autojump_clock):
    ours, peer = await socket_pair()
    transport = CopsTransport(ours, Connection(Role.PDP))
    await peer.send_all(ClientOpen.new("AB").encode())
    await transport.receive()
    transport.queue(ClientAccept.new(30))
    keepalive = KeepAlive(solicited=True)
    count = 400_000  # 3.2 MB of keep-alives: more than the socket buffers take
    for _ in range(count):
        transport.queue(keepalive)
    assert not transport.send_now()
    assert not transport.send_now()  # nothing more goes while the buffers are full: flush's turn
    expected = ClientAccept.new(30).encode() + keepalive.encode() * count
    async with trio.open_nursery() as nursery:
        nursery.start_soon(transport.flush)
        assert await read_exactly(peer, len(expected)) == expected
    assert transport.send_now()


async def test_send_now_leaves_the_bytes_to_a_flush_that_is_sending(autojump_clock):
    ours, peer = await socket_pair()
    transport = CopsTransport(ours, Connection(Role.PDP))
    await peer.send_all(ClientOpen.new("AB").encode())
    await transport.receive()
    transport.queue(ClientAccept.new(30))
    async with transport._send_lock:  # as flush() holds it while it sends: bytes sent now could overtake its own
        assert not transport.send_now()
    assert transport.send_now()
    assert await read_exactly(peer, len(ClientAccept.new(30).encode())) == ClientAccept.new(30).encode()


async def test_a_peer_that_reads_nothing_is_cut_after_the_write_timeout_not_waited_on_for_ever(autojump_clock):
    ours, peer = await socket_pair()
    transport = CopsTransport(ours, Connection(Role.PDP), write_timeout=10, max_send_buffer=16 * 1024 * 1024)
    await peer.send_all(ClientOpen.new("AB").encode())
    await transport.receive()
    transport.queue(ClientAccept.new(30))
    keepalive = KeepAlive(solicited=True)
    for _ in range(1_000_000):  # 8 MB: more than both kernel buffers hold, and the peer never reads
        transport.queue(keepalive)
    started = trio.current_time()
    with pytest.raises(trio.BrokenResourceError, match="the peer read nothing for 10 s"):
        await transport.flush()
    assert trio.current_time() - started == pytest.approx(10)
    assert transport.limit_hit == "write_timeout"
    await peer.aclose()


async def test_what_is_queued_for_a_peer_that_does_not_read_is_bounded_then_the_connection_is_cut(autojump_clock):
    ours, peer = await socket_pair()
    transport = CopsTransport(ours, Connection(Role.PDP), max_send_buffer=64 * 1024)
    await peer.send_all(ClientOpen.new("AB").encode())
    await transport.receive()
    transport.queue(ClientAccept.new(30))
    keepalive = KeepAlive(solicited=True)
    for _ in range(8192):  # 8 bytes each: one past the limit
        transport.queue(keepalive)
    assert transport.limit_hit == "max_send_buffer" and "max_send_buffer 65536" in transport.cut
    assert not transport.send_now()  # nothing more goes out: the next flush hangs up
    with pytest.raises(trio.BrokenResourceError, match="bytes queued for a peer that does not read"):
        await transport.flush()
    assert await peer.receive_some(65536) == b""  # closed, without the queued bytes


async def test_what_is_read_ahead_of_the_messages_handled_stays_within_max_receive_buffer(autojump_clock):
    ours, peer = await socket_pair()
    connection = Connection(Role.PDP, max_message=4096)
    transport = CopsTransport(ours, connection, max_receive_buffer=4096)
    await peer.send_all(ClientOpen.new("AB").encode())
    await transport.receive()
    await transport.send(ClientAccept.new(0))
    keepalive = KeepAlive().encode()
    await peer.send_all(keepalive * 5000)  # 40,000 bytes at once
    received = 0
    while received < 5000:
        received += len(await transport.receive(1))
        assert connection.buffered <= 4096
    assert transport.backlog() == 0


def test_a_receive_buffer_smaller_than_the_largest_message_is_refused():
    ours, peer = socket.socketpair()
    with ours, peer, pytest.raises(ValueError, match="must hold the largest message"):
        CopsTransport(trio.SocketStream(trio.socket.from_stdlib_socket(ours)), Connection(Role.PDP, max_message=8192),
                      max_receive_buffer=4096)


async def test_gate_traffic_is_traced_with_its_bytes_its_command_and_the_message_those_bytes_decode_to(autojump_clock):
    ours, peer = await socket_pair()
    records, counted = [], []
    transport = CopsTransport(ours, Connection(Role.PDP, gate_traffic=True), tap=records.append,
                              counter=lambda *message: counted.append(message))
    await peer.send_all(ClientOpen.new("AB").encode())
    await transport.receive()
    await transport.send(ClientAccept.new(0))
    handle = Handle.from_int(1)
    ack = GateSetAck(5, 0x100, IPv4Address("10.0.1.10"))
    report = report_for(handle, ack)
    await peer.send_all(Request.new(handle).encode() + report.encode())
    request, traffic = await transport.receive()
    assert type(request) is Request and type(traffic) is GateTraffic and traffic.command == ack
    record = records[-1]
    assert record.data == report.encode() and record.command is traffic.command
    assert record.message == report
    assert counted[-1] == (False, report.encode(), traffic.command)  # the counter need not read the bytes again


async def test_gate_traffic_queued_as_bytes_goes_out_traced_and_counted_as_its_message_would(autojump_clock):
    ours, peer = await socket_pair()
    records, counted = [], []
    transport = CopsTransport(ours, Connection(Role.PDP), tap=records.append,
                              counter=lambda *message: counted.append(message))
    handle = Handle.from_int(1)
    command = GateSet(5, MTA, (US_SPEC,))
    data = packed_decision(handle, command)
    assert not transport.queue_gate_traffic(data, handle.value, command)  # no request state yet: nothing queued
    assert not records and not counted
    await peer.send_all(ClientOpen.new("AB").encode())
    await transport.receive()
    await transport.send(ClientAccept.new(0))
    await peer.receive_some(65536)
    await peer.send_all(Request.new(handle).encode())
    await transport.receive()
    assert transport.queue_gate_traffic(data, handle.value, command)
    await transport.flush()
    assert await peer.receive_some(65536) == data == decision_for(handle, command).encode()
    record = records[-1]
    assert record.outgoing and record.data == data and record.command is command
    assert record.message == decision_for(handle, command)  # decoded from the bytes, when asked
    assert counted[-1] == (True, data, command)
