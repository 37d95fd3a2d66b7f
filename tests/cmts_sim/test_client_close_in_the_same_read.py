"""A gate controller that sends its last commands and Client-Close in one write (as one shutting down does)."""

import trio

from cops_core.dqos import GateDelete, GateSet, decision_for
from cops_core.messages import ClientAccept, ClientClose, ClientOpen, Decision, SyncRequest
from cops_core.objects import UnknownObject

from .conftest import SUBSCRIBER, connect, gate_spec, start_cmts


async def test_commands_before_a_client_close_in_the_same_read_are_carried_out_and_the_session_ends_cleanly(
        nursery, autojump_clock):
    server = await start_cmts(nursery)
    gc = await connect(server)
    ack = await gc.command(GateSet(1, SUBSCRIBER, (gate_spec(0), gate_spec(1))))
    assert ack.gate_id in server.gates.gates
    # Gate-Delete and Client-Close in one segment: the CMTS decodes both before it handles the first.
    data = gc.connection.send(decision_for(gc.handle, GateDelete(2, SUBSCRIBER, ack.gate_id)), trio.current_time())
    data += gc.connection.send(ClientClose.new(11), trio.current_time())
    await gc.send_raw(data)
    await gc.closed()  # no Gate-Delete-Ack (the session is over), no Client-Close error 1 (client failure)
    assert ack.gate_id not in server.gates.gates
    assert server.failed_sessions == 0


async def test_a_sync_request_before_a_client_close_in_the_same_read_is_not_answered_and_the_session_ends_cleanly(
        nursery, autojump_clock):
    # The re-issued Request that answers SSQ was sent on a connection the Client-Close had closed already:
    # LocalProtocolError, "session failed" and Client-Close error 8 (found by tools/fuzz.py cmts).
    server = await start_cmts(nursery)
    gc = await connect(server)
    data = gc.connection.send(SyncRequest.new(), trio.current_time())
    data += gc.connection.send(ClientClose.new(11), trio.current_time())
    await gc.send_raw(data)
    await gc.closed()
    assert server.failed_sessions == 0


async def test_a_client_accept_and_a_client_close_in_the_same_read_end_the_session_cleanly(nursery, autojump_clock):
    server = await start_cmts(nursery)
    gc = await connect(server, handshake=False)
    assert type(await gc.receive()) is ClientOpen
    data = gc.connection.send(ClientAccept.new(30), trio.current_time())
    data += gc.connection.send(ClientClose.new(11), trio.current_time())
    await gc.send_raw(data)
    await gc.closed()  # no Request for a connection that is over
    assert server.failed_sessions == 0


async def test_a_decision_with_an_unknown_object_before_a_client_close_in_the_same_read_gets_no_drq(
        nursery, autojump_clock):
    # Its answer, DRQ and a fresh Request (RFC 2748 3.4), was sent on the connection the Client-Close had closed.
    server = await start_cmts(nursery)
    gc = await connect(server)
    decision = decision_for(gc.handle, GateSet(1, SUBSCRIBER, (gate_spec(0), gate_spec(1))))
    data = gc.connection.send(Decision(decision.objects + (UnknownObject(20, 1, b"abcd"),)), trio.current_time())
    data += gc.connection.send(ClientClose.new(11), trio.current_time())
    await gc.send_raw(data)
    await gc.closed()
    assert server.failed_sessions == 0
