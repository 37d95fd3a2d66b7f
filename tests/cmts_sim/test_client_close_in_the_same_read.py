"""A gate controller that sends its last commands and Client-Close in one write (as one shutting down does)."""

import trio

from cops_core.dqos import GateDelete, GateSet, decision_for
from cops_core.messages import ClientClose

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
