"""A gate controller whose sends are stuck must still read what the CMTS sends.

The reader hands its sends to the connection's writer.  If it waited on
them itself, a CMTS that sends (events, replies) while we send faster than
it reads would block in its own send to us, and both ends would hang.
"""

import socket

import pytest
import trio

from cms_sim import connect, profile
from cms_sim.errors import ControllerError
from cops_core.connection import NEED_DATA, Connection, Role
from cops_core.dqos import GateOpen, GateSet, report_for
from cops_core.messages import ClientOpen, Request
from cops_core.objects import Handle

from .fake_pep import SUBSCRIBER

COMMANDS = 40_000  # ~5 MB of Gate-Set DECs: more than our send buffer and the CMTS's receive buffer hold
EVENTS = 5_000


async def pep_that_never_reads_commands(stream: trio.SocketStream, ready: trio.Event, go: trio.Event) -> None:
    """Handshake; then, when told, send Gate-Opens, never reading another byte."""
    stream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    connection = Connection(Role.PEP)
    handle = Handle.from_int(7)
    await stream.send_all(connection.send(ClientOpen.new("STUCK"), trio.current_time()))
    while connection.next_event() is NEED_DATA:  # the Client-Accept
        connection.receive_data(await stream.receive_some(65536), trio.current_time())
    await stream.send_all(connection.send(Request.new(handle), trio.current_time()))
    ready.set()
    await go.wait()
    await stream.send_all(b"".join(connection.send(report_for(handle, GateOpen(0, 0x1000 + n)), trio.current_time())
                                   for n in range(EVENTS)))
    await trio.sleep_forever()


async def test_events_are_read_while_our_commands_are_stuck_in_a_full_send_buffer(nursery):
    # Real time, not the autojump clock: with both ends in this process, every pause of the kernel's
    # loopback would look like idleness and jump the clock to the keep-alive deadline.
    ready, go, all_in = trio.Event(), trio.Event(), trio.Event()
    events = []

    def on_event(event) -> None:
        events.append(event)
        if len(events) == EVENTS + 1:  # the Gate-Opens and the Connected event
            all_in.set()

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    nursery.start_soon(trio.serve_listeners, lambda stream: pep_that_never_reads_commands(stream, ready, go),
                       listeners)
    async with connect(f"127.0.0.1:{port}", on_event=on_event, client_close_on_exit=False) as gc:
        await ready.wait()
        gate_set = GateSet(0, SUBSCRIBER, profile("G711-20").gate_specs(SUBSCRIBER, "10.1.1.20"))
        for _ in range(COMMANDS):
            gc.submit(gate_set, lambda context, reply, error: None)
        gc.flush()
        go.set()
        with trio.fail_after(20):  # with a reader that waits on its sends, this never ends
            await all_in.wait()
    assert sum(type(event).__name__ == "GateOpened" for event in events) == EVENTS


async def test_an_abandoned_transaction_id_rests_before_it_is_given_out_again(nursery, autojump_clock):
    # A late reply must never be taken for the answer to a newer request that got the same 16-bit TID.
    ready, go = trio.Event(), trio.Event()
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    nursery.start_soon(trio.serve_listeners, lambda stream: pep_that_never_reads_commands(stream, ready, go),
                       listeners)
    async with connect(f"127.0.0.1:{port}", request_timeout=5, client_close_on_exit=False) as gc:
        await ready.wait()
        gate_set = GateSet(0, SUBSCRIBER, profile("G711-20").gate_specs(SUBSCRIBER, "10.1.1.20"))
        resting = gc.submit(gate_set, lambda context, reply, error: None)
        gc.abandon(resting)
        given = {gc.submit(gate_set, lambda context, reply, error: None) for _ in range(0xFFFF - 1)}  # every other TID
        assert resting not in given and len(given) == 0xFFFF - 1
        with pytest.raises(ControllerError, match="all 65535 Transaction-IDs are in flight"):
            gc.submit(gate_set, lambda context, reply, error: None)
        await trio.sleep(11)  # past twice the request timeout: the rest is over once the next abandon looks
        gc.abandon(min(given))
        assert gc.submit(gate_set, lambda context, reply, error: None) == resting
