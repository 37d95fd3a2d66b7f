from cops_core.dqos import GateAlloc, GateAllocAck, GateSet, GateSetAck, GateOpen, GateClose, GateDelete, GateDeleteAck

from .conftest import SUBSCRIBER, connect, gate_spec


async def test_full_call(cmts, autojump_clock):
    gc = await connect(cmts)
    ack = await gc.command(GateAlloc(1, SUBSCRIBER, 4))
    assert type(ack) is GateAllocAck
    gid = ack.gate_id
    ack = await gc.command(GateSet(2, SUBSCRIBER, (gate_spec(0), gate_spec(1)), gate_id=gid, activity_count=4))
    assert type(ack) is GateSetAck and ack.gate_id == gid
    await cmts.modem.reserve(gid)
    await cmts.modem.commit(gid)
    opened = await gc.reply()
    assert type(opened) is GateOpen and opened.gate_id == gid
    await cmts.modem.release(gid)
    closed = await gc.reply()
    assert type(closed) is GateClose and closed.reason.subcode == 0
    ack = await gc.command(GateDelete(3, SUBSCRIBER, gid))
    assert type(ack) is GateDeleteAck and ack.gate_id == gid
