"""The simulated CMTS over real loopback sockets: call flow, every error path, timers, keep-alives, faults."""

from __future__ import annotations

import ipaddress
import logging
import random
import re
import socket
import struct

import pytest
import trio
import trio.testing

from cops_core.codes import ErrorCode, ReportType, RType
from cops_core.dqos import (
    ActivityCount,
    GateAlloc,
    GateAllocAck,
    GateAllocErr,
    GateClose,
    GateDelete,
    GateDeleteAck,
    GateDeleteErr,
    GateID,
    GateInfo,
    GateInfoAck,
    GateInfoErr,
    GateOpen,
    GateSet,
    GateSetAck,
    GateSetErr,
    PacketCableError,
    PacketCableReason,
    SubscriberIDIPv4,
    TransactionID,
    decision_for,
    gate_command_of,
)
from cops_core.errors import DecodeError
from cops_core.messages import (
    ClientAccept,
    ClientClose,
    ClientOpen,
    Decision,
    DeleteRequest,
    KeepAlive,
    Report,
    Request,
    SyncComplete,
    SyncRequest,
)
from cops_core.objects import ClientSpecificDecision, Context, DecisionFlags, Error, Reason, UnknownObject

from .conftest import SUBSCRIBER, TestGC, connect, gate_spec, start_cmts

SPECS = (gate_spec(0), gate_spec(1))


def payload(*objects) -> bytes:
    """A 6/4 payload built object by object, so that it can lack or garble any of them."""
    return b"".join(obj if isinstance(obj, bytes) else obj.encode() for obj in objects)


def raw_decision(handle, data: bytes, *, extra=(), flags=True) -> Decision:
    """A DEC carrying ``data`` in 6/4, optionally with other objects before it, or without its Decision Flags."""
    group = (Context(RType.CONFIGURATION, 0),) + ((DecisionFlags(1, 1),) if flags else ())
    return Decision((handle, *group, *extra, ClientSpecificDecision(data)))


def assert_solicited(gc: TestGC, report_type: int) -> None:
    report = gc.last_report
    assert report.solicited and report.report_type == report_type and report.handle == gc.handle


def assert_event(gc: TestGC) -> None:
    report = gc.last_report
    assert not report.solicited and report.report_type == ReportType.ACCOUNTING and report.handle == gc.handle


async def wait_until(predicate, timeout: float = 5.0) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.001)


# --- the call ----------------------------------------------------------------------------------------------------


async def test_full_call(nursery, autojump_clock):
    cmts = await start_cmts(nursery, cmts_id="CMTS-LAB1")
    gc = await connect(cmts)
    assert gc.pep_id == "CMTS-LAB1"
    ack = await gc.command(GateAlloc(1, SUBSCRIBER, 4))
    assert ack == GateAllocAck(1, ack.gate_id, SUBSCRIBER, 1)
    assert_solicited(gc, ReportType.SUCCESS)
    gate_id = ack.gate_id

    ack = await gc.command(GateSet(2, SUBSCRIBER, SPECS, gate_id=gate_id, activity_count=4))
    assert ack == GateSetAck(2, gate_id, SUBSCRIBER, 1)
    assert_solicited(gc, ReportType.SUCCESS)

    await cmts.modem.reserve(gate_id)
    await cmts.modem.commit(gate_id)
    assert await gc.reply() == GateOpen(0, gate_id, SUBSCRIBER)
    assert_event(gc)

    await cmts.modem.release(gate_id)
    assert await gc.reply() == GateClose(0, gate_id, SUBSCRIBER, PacketCableReason(1, 0))
    assert_event(gc)

    assert await gc.command(GateDelete(3, SUBSCRIBER, gate_id)) == GateDeleteAck(3, gate_id, SUBSCRIBER)
    assert_solicited(gc, ReportType.SUCCESS)
    assert cmts.gates.gates == {} and cmts.failed_sessions == 0


async def _sent_in_zero_delay_calls(nursery, **faults) -> tuple[list[bytes], list]:
    """What a CMTS with a zero-delay automatic modem sends for three pipelined Gate-Sets and their clean-up,
    and the replies the GC read."""
    sent = []
    cmts = await start_cmts(nursery, rng=random.Random(3), faults=faults,
                            taps=[lambda record: record.outgoing and sent.append(record.data)],
                            modem={"mode": "auto", "reserve_delay": 0, "commit_delay": 0, "hold": 0})
    gc = await connect(cmts)
    # In one write, so one batch: three Acks, then the modem's reserve, commit and release of each gate.
    await gc.send_raw(b"".join(decision_for(gc.handle, GateSet(tid, SUBSCRIBER, SPECS)).encode() for tid in range(3)))
    replies = [await gc.reply() for _ in range(9)]
    for reply in replies[:3]:
        assert await gc.command(GateDelete(9, SUBSCRIBER, reply.gate_id)) == GateDeleteAck(9, reply.gate_id, SUBSCRIBER)
    # Handles are numbered across the process's sessions: the one Handle object written alike for both runs.
    return [data.replace(gc.handle.encode(), b"<handle>") for data in sent], replies


async def test_a_zero_delay_modem_acts_in_the_sessions_batch_as_the_timer_task_would(nursery, autojump_clock):
    # Without faults the session services the due modem actions after its batch; any fault leaves them to the
    # timer task (a fault that never fires here): the same messages, byte for byte, in the same order.
    inline, replies = await _sent_in_zero_delay_calls(nursery)
    assert inline == (await _sent_in_zero_delay_calls(nursery, drop_after_messages=1000))[0]
    assert [type(reply) for reply in replies] == [GateSetAck] * 3 + [GateOpen] * 3 + [GateClose] * 3


async def test_gate_set_without_gate_id_then_delete(nursery, autojump_clock):
    cmts = await start_cmts(nursery)
    gc = await connect(cmts)
    ack = await gc.command(GateSet(0x1234, SUBSCRIBER, SPECS, activity_count=4))
    assert type(ack) is GateSetAck and ack.gate_id in cmts.gates.gates
    # Real gate controllers delete with Subscriber-ID 0.0.0.0: the Gate-ID is what counts.
    anybody = ipaddress.IPv4Address("0.0.0.0")
    assert await gc.command(GateDelete(0x1235, anybody, ack.gate_id)) == GateDeleteAck(0x1235, ack.gate_id, anybody)
    assert cmts.gates.gates == {}


async def test_gate_info_ack_carries_the_gate_specs(nursery, autojump_clock):
    cmts = await start_cmts(nursery)
    gc = await connect(cmts)
    specs = (gate_spec(0, t1=250, t7=200, t8=300), gate_spec(1, t1=250, t7=200, t8=300, rate=16000.0))
    ack = await gc.command(GateSet(1, SUBSCRIBER, specs, activity_count=4))
    info = await gc.command(GateInfo(2, SUBSCRIBER, ack.gate_id))
    assert type(info) is GateInfoAck
    assert (info.transaction_id, info.gate_id, info.subscriber, info.activity_count) == (2, ack.gate_id, SUBSCRIBER, 1)
    assert info.gate_specs == specs
    assert_solicited(gc, ReportType.SUCCESS)


async def gate_ids_of_a_seeded_server(nursery, seed: int) -> list[int]:
    cmts = await start_cmts(nursery, rng=random.Random(seed))
    gc = await connect(cmts)
    return [(await gc.command(GateSet(tid, SUBSCRIBER, SPECS))).gate_id for tid in range(5)]


async def test_a_server_seeded_alike_hands_out_the_same_gate_ids(nursery, autojump_clock):
    first = await gate_ids_of_a_seeded_server(nursery, 11)
    assert first == await gate_ids_of_a_seeded_server(nursery, 11)
    assert first != await gate_ids_of_a_seeded_server(nursery, 12)


# --- every PacketCable error path (protocol.md 3.6) ---------------------------------------------------------------


async def test_no_gates_available(nursery, autojump_clock):
    cmts = await start_cmts(nursery, capacity={"max_gates": 1})
    gc = await connect(cmts)
    assert type(await gc.command(GateAlloc(1, SUBSCRIBER))) is GateAllocAck
    reply = await gc.command(GateAlloc(2, SUBSCRIBER))
    assert reply == GateAllocErr(2, PacketCableError(1, 0), SUBSCRIBER)
    assert_solicited(gc, ReportType.FAILURE)
    reply = await gc.command(GateSet(3, SUBSCRIBER, SPECS))
    assert reply == GateSetErr(3, PacketCableError(1, 0), SUBSCRIBER)
    assert_solicited(gc, ReportType.FAILURE)
    assert len(cmts.gates.gates) == 1


@pytest.mark.parametrize(("command", "err"), [
    (GateSet(5, SUBSCRIBER, SPECS, gate_id=0xBAD), GateSetErr),
    (GateInfo(5, SUBSCRIBER, 0xBAD), GateInfoErr),
    (GateDelete(5, SUBSCRIBER, 0xBAD), GateDeleteErr),
])
async def test_unknown_gate_id(nursery, autojump_clock, command, err):
    cmts = await start_cmts(nursery)
    gc = await connect(cmts)
    assert await gc.command(command) == err(5, PacketCableError(2, 0), SUBSCRIBER, 0xBAD)
    assert_solicited(gc, ReportType.FAILURE)


async def test_illegal_session_class(nursery, autojump_clock):
    cmts = await start_cmts(nursery)
    gc = await connect(cmts)
    reply = await gc.command(GateSet(6, SUBSCRIBER, (gate_spec(0, session_class=3), gate_spec(1))))
    assert reply == GateSetErr(6, PacketCableError(3, 0), SUBSCRIBER)
    assert_solicited(gc, ReportType.FAILURE)
    assert cmts.gates.gates == {}


async def test_subscriber_exceeded_gate_limit(nursery, autojump_clock):
    cmts = await start_cmts(nursery)
    gc = await connect(cmts)
    for tid in (1, 2):
        assert type(await gc.command(GateSet(tid, SUBSCRIBER, SPECS, activity_count=2))) is GateSetAck
    assert await gc.command(GateSet(3, SUBSCRIBER, SPECS, activity_count=2)) == \
        GateSetErr(3, PacketCableError(4, 0), SUBSCRIBER)
    assert_solicited(gc, ReportType.FAILURE)
    assert await gc.command(GateAlloc(4, SUBSCRIBER, 2)) == GateAllocErr(4, PacketCableError(4, 0), SUBSCRIBER)
    assert_solicited(gc, ReportType.FAILURE)


TID_SET, TID_INFO, TID_DELETE, TID_ALLOC = (TransactionID(7, c) for c in (4, 7, 10, 1))
SUB = SubscriberIDIPv4(SUBSCRIBER)


@pytest.mark.parametrize(("objects", "expected"), [
    # Gate-Set without its Gate-Spec: 6 with S-Num/S-Type 5/1
    ((TID_SET, SUB, ActivityCount(4)), GateSetErr(7, PacketCableError(6, 0x0501), SUBSCRIBER)),
    ((TID_INFO, SUB), GateInfoErr(7, PacketCableError(6, 0x0301), SUBSCRIBER)),
    ((TID_DELETE, SUB), GateDeleteErr(7, PacketCableError(6, 0x0301), SUBSCRIBER)),
    ((TID_ALLOC, ActivityCount(4)), GateAllocErr(7, PacketCableError(6, 0x0201))),
    ((TID_SET, gate_spec(0)), GateSetErr(7, PacketCableError(6, 0x0201))),
    # no Transaction-ID at all: the error goes out with TID 0
    ((SUB, gate_spec(0)), GateSetErr(0, PacketCableError(6, 0x0101), SUBSCRIBER)),
], ids=["set-no-gate-spec", "info-no-gate-id", "delete-no-gate-id", "alloc-no-subscriber", "set-no-subscriber",
        "no-transaction-id"])
async def test_missing_required_object(nursery, autojump_clock, objects, expected):
    cmts = await start_cmts(nursery)
    gc = await connect(cmts)
    await gc.send(raw_decision(gc.handle, payload(*objects)))
    assert await gc.reply() == expected
    assert_solicited(gc, ReportType.FAILURE)
    assert cmts.gates.gates == {}


async def test_missing_gate_spec_reply_is_byte_exact(nursery, autojump_clock):
    """protocol.md 4.4: the 52-byte Gate-Set-Err for a Gate-Set without Gate-Spec (TID 0x1235)."""
    sent = []
    cmts = await start_cmts(nursery, taps=[lambda record: sent.append(record) if record.outgoing else None])
    gc = await connect(cmts)
    await gc.send(raw_decision(gc.handle, payload(TransactionID(0x1235, 4), SUB, ActivityCount(4))))
    await gc.reply()
    expected = bytes.fromhex("11 03 80 08 00 00 00 34 00 08 01 01") + gc.handle.value + bytes.fromhex(
        "00 08 0c 01 00 02 00 00 00 1c 09 01 00 08 01 01 12 35 00 06"
        "00 08 02 01 0a 00 01 0a 00 08 09 01 00 06 05 01")
    assert sent[-1].data == expected


def _short_gate_spec() -> bytes:
    """A Gate-Spec whose Length says 56, not 60."""
    return struct.pack("!HBB", 56, 5, 1) + gate_spec(0).encode()[4:56]


@pytest.mark.parametrize(("objects", "expected"), [
    ((TID_SET, SUB, gate_spec(0)._replace(direction=2)), GateSetErr(7, PacketCableError(7, 0x0501), SUBSCRIBER)),
    ((TID_SET, SUB, ActivityCount(4), _short_gate_spec()), GateSetErr(7, PacketCableError(7, 0x0501), SUBSCRIBER)),
    ((TID_INFO, SUB, struct.pack("!HBBI", 12, 3, 1, 1) + bytes(4)), GateInfoErr(7, PacketCableError(7, 0x0301),
                                                                                 SUBSCRIBER)),
    ((TID_SET, SUB, struct.pack("!HBB", 2, 5, 1)), GateSetErr(7, PacketCableError(7, 0x0501), SUBSCRIBER)),
], ids=["direction-2", "gate-spec-length-56", "gate-id-length-12", "object-length-2"])
async def test_invalid_object(nursery, autojump_clock, objects, expected):
    cmts = await start_cmts(nursery)
    gc = await connect(cmts)
    await gc.send(raw_decision(gc.handle, payload(*objects)))
    assert await gc.reply() == expected
    assert_solicited(gc, ReportType.FAILURE)
    assert cmts.gates.gates == {}


@pytest.mark.parametrize("command_type", [99, 13], ids=["undefined", "gate-open-from-the-gc"])
async def test_unknown_command_type(nursery, autojump_clock, command_type):
    cmts = await start_cmts(nursery)
    gc = await connect(cmts)
    objects = (TransactionID(0x77, command_type), SUB, GateID(0xA001))
    await gc.send(raw_decision(gc.handle, payload(*objects)))
    assert await gc.reply() == GateSetErr(0x77, PacketCableError(127, 0), SUBSCRIBER, 0xA001)
    assert_solicited(gc, ReportType.FAILURE)


# --- gate timers over the wire ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("timer", "subcode"), [("t0", 4), ("t1", 5), ("t7", 6), ("t8", 7)])
async def test_timer_expiry_sends_gate_close(nursery, autojump_clock, timer, subcode):
    cmts = await start_cmts(nursery, timers={"t0": 5, "t1": 300, "t7": 300, "t8": 0})
    gc = await connect(cmts)
    if timer == "t0":
        gate_id = (await gc.command(GateAlloc(1, SUBSCRIBER, 4))).gate_id
        expected = 5.0
    else:
        specs = (gate_spec(0, **{timer: 11}), gate_spec(1, **{timer: 11}))
        gate_id = (await gc.command(GateSet(1, SUBSCRIBER, specs))).gate_id
        expected = 11.0
        if timer in ("t7", "t8"):
            await cmts.modem.reserve(gate_id)
        if timer == "t8":
            await cmts.modem.commit(gate_id)
            assert type(await gc.reply()) is GateOpen
            await cmts.modem.stop_media(gate_id)
    start = trio.current_time()
    closed = await gc.reply()
    assert closed == GateClose(0, gate_id, SUBSCRIBER, PacketCableReason(1, subcode))
    assert trio.current_time() - start == pytest.approx(expected)
    assert_event(gc)
    assert cmts.gates.gates == {}


async def test_a_gate_with_a_shorter_timer_than_any_before_it_closes_on_time(nursery, autojump_clock):
    cmts = await start_cmts(nursery, timers={"t1": 300})
    gc = await connect(cmts, ka_seconds=0)  # no keep-alives to answer while the test sleeps
    await gc.command(GateSet(1, SUBSCRIBER, SPECS))  # the timer task now sleeps until its T1, 300 s away
    await trio.sleep(100)
    short = (await gc.command(GateSet(2, SUBSCRIBER, (gate_spec(0, t1=20),)))).gate_id
    start = trio.current_time()
    assert (await gc.reply()).gate_id == short
    assert trio.current_time() - start == pytest.approx(20.0)


# --- keep-alives ---------------------------------------------------------------------------------------------------


async def test_keepalives_at_a_random_point_in_the_middle_half_of_the_interval(nursery, autojump_clock):
    cmts = await start_cmts(nursery)
    gc = await connect(cmts, ka_seconds=20)
    last = trio.current_time()  # the CMTS times its first KA from the Client-Accept
    gaps = []
    for _ in range(12):
        message = await gc.receive()
        assert type(message) is KeepAlive and message.client_type == 0 and not message.solicited
        gaps.append(trio.current_time() - last)
        last = trio.current_time()
        await gc.send(gc.connection.keepalive())  # S=1 echo
    assert all(5.0 <= gap <= 15.0 for gap in gaps), gaps
    assert len({round(gap, 6) for gap in gaps}) > 6, gaps  # random, not a fixed period
    assert type(await gc.command(GateSet(1, SUBSCRIBER, SPECS))) is GateSetAck  # still up after 12 KAs


async def test_keepalive_silence_closes_with_communication_failure(nursery, autojump_clock):
    cmts = await start_cmts(nursery)
    gc = await connect(cmts, ka_seconds=20)
    accepted = trio.current_time()
    gc.echo = False
    message = await gc.next_message()
    assert type(message) is ClientClose and message.error == Error(9, 0)
    assert trio.current_time() - accepted == pytest.approx(20.0)  # one KA interval of silence (tolerance 1)
    assert gc.keepalives, "the CMTS sent keep-alives before it gave up"
    await gc.closed()
    await wait_until(lambda: not cmts.sessions)


async def test_keepalive_tolerance_setting(nursery, autojump_clock):
    cmts = await start_cmts(nursery, ka_tolerance=2.5)
    gc = await connect(cmts, ka_seconds=20)
    accepted = trio.current_time()
    gc.echo = False
    assert type(await gc.next_message()) is ClientClose
    assert trio.current_time() - accepted == pytest.approx(50.0)


async def test_stop_keepalives_fault_goes_quiet(nursery, autojump_clock):
    cmts = await start_cmts(nursery, faults={"stop_keepalives": True})
    gc = await connect(cmts, ka_seconds=10)
    with trio.move_on_after(60) as quiet:
        message = await gc.receive()
        pytest.fail(f"the CMTS should have stayed silent, sent {message!r}")
    assert quiet.cancelled_caught
    # Six KA intervals of silence both ways: it is the gate controller's call to hang up, not the CMTS's.
    assert type(await gc.command(GateSet(1, SUBSCRIBER, SPECS))) is GateSetAck
    assert len(cmts.sessions) == 1


# --- connections -------------------------------------------------------------------------------------------------


async def test_two_gate_controllers_get_their_own_events(nursery, autojump_clock):
    cmts = await start_cmts(nursery)
    gc_a, gc_b = await connect(cmts), await connect(cmts)
    assert gc_a.handle != gc_b.handle
    gate_a = (await gc_a.command(GateSet(1, SUBSCRIBER, SPECS))).gate_id
    other = ipaddress.IPv4Address("10.0.1.11")
    gate_b = (await gc_b.command(GateSet(1, other, SPECS))).gate_id
    for gate_id in (gate_b, gate_a):
        await cmts.modem.reserve(gate_id)
        await cmts.modem.commit(gate_id)
    assert await gc_a.reply() == GateOpen(0, gate_a, SUBSCRIBER)
    assert await gc_b.reply() == GateOpen(0, gate_b, other)
    await cmts.modem.release(gate_a)
    assert await gc_a.reply() == GateClose(0, gate_a, SUBSCRIBER, PacketCableReason(1, 0))
    # Nothing else queued for either: the next RPT each sees answers its own Gate-Info.
    assert type(await gc_b.command(GateInfo(2, other, gate_b))) is GateInfoAck
    assert type(await gc_a.command(GateInfo(3, other, gate_b))) is GateInfoAck
    await cmts.modem.release(gate_b)
    assert await gc_b.reply() == GateClose(0, gate_b, other, PacketCableReason(1, 0))


@pytest.mark.parametrize("reroute", [True, False])
async def test_a_gate_s_events_follow_its_controller_reconnecting_from_the_same_host(nursery, autojump_clock,
                                                                                    reroute):
    cmts = await start_cmts(nursery, policy={"reroute_events": reroute})
    first = await connect(cmts)
    gate_id = (await first.command(GateSet(1, SUBSCRIBER, SPECS))).gate_id
    await first.stream.aclose()  # gone without a Client-Close, as deployed gate controllers do
    while cmts.sessions:
        await trio.sleep(0.01)
    second = await connect(cmts)
    await cmts.modem.reserve(gate_id)
    await cmts.modem.commit(gate_id)
    if reroute:
        assert await second.reply() == GateOpen(0, gate_id, SUBSCRIBER)
        assert cmts.gates.gates[gate_id].owner in cmts.sessions
    else:
        assert cmts.dropped_events == 1
        assert type(await second.command(GateInfo(2, SUBSCRIBER, gate_id))) is GateInfoAck  # nothing else came


@pytest.mark.parametrize("garbage", [
    bytes.fromhex("20 02 80 08 00 00 00 08"),  # COPS version 2
    bytes.fromhex("10 02 80 08 00 00 00 0a 00 00"),  # length 10, not a multiple of 4
    bytes.fromhex("10 0b 80 08 00 00 00 08"),  # op-code 11: framed, but no COPS message
    bytes.fromhex("10 02 80 08 7f ff ff fc"),  # longer than max_message
], ids=["version-2", "length-10", "opcode-11", "too-long"])
async def test_unreadable_message_gets_client_close_3_and_others_carry_on(nursery, autojump_clock, garbage):
    cmts = await start_cmts(nursery)
    bystander = await connect(cmts)
    gc = await connect(cmts)
    await gc.send_raw(garbage)
    message = await gc.next_message()
    assert type(message) is ClientClose and message.error == Error(3, 0)
    await gc.closed()
    assert type(await bystander.command(GateSet(1, SUBSCRIBER, SPECS))) is GateSetAck
    late = await connect(cmts)
    assert type(await late.command(GateSet(2, SUBSCRIBER, SPECS))) is GateSetAck
    assert cmts.failed_sessions == 0 and len(cmts.sessions) == 2


async def test_object_shorter_than_its_header_gets_client_close_3(nursery, autojump_clock):
    cmts = await start_cmts(nursery)
    gc = await connect(cmts)
    await gc.send_raw(bytes.fromhex("10 05 80 08 00 00 00 0c 00 02 01 01"))  # SSQ with a Handle of Length 2
    message = await gc.next_message()
    assert type(message) is ClientClose and message.error == Error(3, 0x0101)
    await gc.closed()


async def test_a_decision_with_an_object_shorter_than_its_header_gets_client_close_3(nursery, autojump_clock):
    # protocol.md 3.6: with no object boundary left to stand on, even a DEC is closed with Error 3, not a DRQ.
    cmts = await start_cmts(nursery)
    gc = await connect(cmts)
    await gc.send_raw(bytes.fromhex("10 02 80 08 00 00 00 10 00 02 01 01 00 00 00 01"))  # Handle of Length 2
    message = await gc.next_message()
    assert type(message) is ClientClose and message.error == Error(3, 0x0101)
    await gc.closed()


async def test_malformed_decision_gets_drq_12_and_a_fresh_request(nursery, autojump_clock):
    cmts = await start_cmts(nursery)
    gc = await connect(cmts)
    old = gc.handle
    command = GateSet(1, SUBSCRIBER, SPECS).encode()
    await gc.send_raw(raw_decision(old, command, flags=False).encode())  # Context not followed by Flags
    drq = await gc.next_message()
    assert type(drq) is DeleteRequest and drq.handle == old and drq.reason == Reason(12, 0)
    req = await gc.next_message()
    assert type(req) is Request and req.handle != old and req.context == Context(RType.CONFIGURATION, 0)
    gc.handle = req.handle
    assert cmts.gates.gates == {}
    assert type(await gc.command(GateSet(2, SUBSCRIBER, SPECS))) is GateSetAck
    assert cmts.failed_sessions == 0


@pytest.mark.parametrize("first, reason", [
    # Malformed (Context not followed by Flags, DRQ 12): the good DEC is read after our DRQ, by the next receive.
    ({"flags": False}, Reason(12, 0)),
    # Well formed but with an unknown object (DRQ 13): both are read in one go, the good one as gate traffic while
    # its handle is still installed, and handled after our DRQ has deleted it.
    ({"extra": (UnknownObject(50, 1, bytes(4)),)}, Reason(13, 0x3201)),
], ids=["malformed", "unknown-object"])
async def test_a_legal_decision_that_crossed_our_drq_is_dropped_and_the_session_lives(first, reason, nursery,
                                                                                      autojump_clock):
    # The GC sends a DEC we answer with a DRQ and, in the same write, a good one on the same handle.  RFC 2748 3.4:
    # the GC learns of the deleted handle from the DRQ; the crossing DEC is no protocol error of the GC's, so it is
    # dropped and the session must not end.
    cmts = await start_cmts(nursery)
    gc = await connect(cmts)
    old = gc.handle
    bad = raw_decision(old, GateSet(1, SUBSCRIBER, SPECS).encode(), **first).encode()
    good = decision_for(old, GateSet(2, SUBSCRIBER, SPECS)).encode()
    await gc.send_raw(bad + good)
    drq = await gc.next_message()
    assert type(drq) is DeleteRequest and drq.handle == old and drq.reason == reason
    req = await gc.next_message()
    assert type(req) is Request and req.handle != old
    gc.handle = req.handle
    assert type(await gc.command(GateSet(3, SUBSCRIBER, SPECS))) is GateSetAck  # no reply to TID 2 came first
    assert cmts.failed_sessions == 0 and len(cmts.gates.gates) == 1


async def test_unknown_cops_object_gets_drq_13_and_a_fresh_request(nursery, autojump_clock):
    cmts = await start_cmts(nursery)
    gc = await connect(cmts)
    old = gc.handle
    await gc.send(raw_decision(old, GateSet(1, SUBSCRIBER, SPECS).encode(), extra=(UnknownObject(50, 1, bytes(4)),)))
    drq = await gc.next_message()
    assert type(drq) is DeleteRequest and drq.handle == old and drq.reason == Reason(13, 0x3201)
    req = await gc.next_message()
    assert type(req) is Request and req.handle != old
    gc.handle = req.handle
    assert cmts.gates.gates == {}
    assert type(await gc.command(GateSet(2, SUBSCRIBER, SPECS))) is GateSetAck


async def test_unknown_cops_object_in_a_decision_without_a_gate_command(nursery, autojump_clock):
    cmts = await start_cmts(nursery)
    gc = await connect(cmts)
    await gc.send(Decision((gc.handle, Context(RType.CONFIGURATION, 0), DecisionFlags(0, 0),
                            UnknownObject(50, 2, bytes(4)))))
    drq = await gc.next_message()
    assert type(drq) is DeleteRequest and drq.reason == Reason(13, 0x3202)


async def test_error_reply_policy_answers_bad_decisions_with_127(nursery, autojump_clock):
    cmts = await start_cmts(nursery, policy={"malformed_decision": "error-reply"})
    gc = await connect(cmts)
    command = GateSet(0x51, SUBSCRIBER, SPECS).encode()
    await gc.send(raw_decision(gc.handle, command, extra=(UnknownObject(50, 1, bytes(4)),)))
    assert await gc.reply() == GateSetErr(0x51, PacketCableError(127, 0), SUBSCRIBER)
    assert_solicited(gc, ReportType.FAILURE)
    await gc.send_raw(raw_decision(gc.handle, GateInfo(0x52, SUBSCRIBER, 9).encode(), flags=False).encode())
    assert await gc.reply() == GateInfoErr(0x52, PacketCableError(127, 0), SUBSCRIBER, 9)
    assert_solicited(gc, ReportType.FAILURE)  # same handle: no DRQ
    assert cmts.gates.gates == {}
    assert type(await gc.command(GateSet(0x53, SUBSCRIBER, SPECS))) is GateSetAck


@pytest.mark.parametrize("with_handle", [False, True])
async def test_synchronize_state_request(nursery, autojump_clock, with_handle):
    cmts = await start_cmts(nursery)
    gc = await connect(cmts)
    await gc.send(SyncRequest.new(gc.handle if with_handle else None))
    req = await gc.next_message()
    assert type(req) is Request and req.handle == gc.handle
    ssc = await gc.next_message()
    assert type(ssc) is SyncComplete and ssc.handle == (gc.handle if with_handle else None)
    assert type(await gc.command(GateSet(1, SUBSCRIBER, SPECS))) is GateSetAck


async def test_client_accept_with_the_wrong_client_type_gets_client_close_6(nursery, autojump_clock):
    cmts = await start_cmts(nursery)
    gc = await connect(cmts, handshake=False)
    assert type(await gc.receive()) is ClientOpen
    await gc.send_raw(ClientAccept.new(30, client_type=0x800A).encode())
    message = await gc.receive()
    assert type(message) is ClientClose and message.error == Error(6, 0)
    await gc.closed()


async def test_cmts_dials_the_pdp_and_redials_when_dropped(nursery, autojump_clock):
    listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
    port = listener.socket.getsockname()[1]
    cmts = await start_cmts(nursery, listen=[], connect=[f"127.0.0.1:{port}"], cmts_id="CMTS-DIAL")
    assert cmts.addresses == []
    gc = TestGC(await listener.accept())
    await gc.handshake()
    assert gc.pep_id == "CMTS-DIAL"
    assert type(await gc.command(GateSet(1, SUBSCRIBER, SPECS))) is GateSetAck
    await gc.stream.aclose()
    dropped = trio.current_time()
    again = TestGC(await listener.accept())
    assert trio.current_time() - dropped == pytest.approx(1.0)  # first redial after 1 s
    await again.handshake()
    assert again.handle != gc.handle
    assert type(await again.command(GateSet(2, SUBSCRIBER, SPECS))) is GateSetAck
    await listener.aclose()


async def test_connection_reset_before_the_session_starts_does_not_take_the_server_down(nursery, autojump_clock):
    cmts = await start_cmts(nursery)
    # Connected (the kernel completes the handshake) and reset before the CMTS even accepts it:
    # getpeername() on the accepted socket fails with ENOTCONN.
    raw = socket.create_connection(cmts.addresses[0])
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()
    gc = await connect(cmts)
    assert type(await gc.command(GateSet(1, SUBSCRIBER, SPECS))) is GateSetAck
    assert len(cmts.sessions) == 1


async def test_peer_reset_mid_reply_is_a_lost_connection_not_a_failure(nursery, autojump_clock, caplog):
    caplog.set_level(logging.INFO, logger="cmts_sim")
    cmts = await start_cmts(nursery)
    raw = socket.create_connection(cmts.addresses[0])
    stream = trio.SocketStream(trio.socket.from_stdlib_socket(raw))
    gc = TestGC(stream)
    await gc.handshake()
    # Send a Gate-Set and reset the connection without yielding to trio in between: the CMTS reads the DEC,
    # and its Gate-Set-Ack meets the reset.
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.send(decision_for(gc.handle, GateSet(1, SUBSCRIBER, SPECS)).encode())
    await stream.aclose()
    await wait_until(lambda: not cmts.sessions)
    assert len(cmts.gates.gates) == 1  # the DEC was processed
    assert cmts.failed_sessions == 0
    assert "connection lost" in caplog.text and "session failed" not in caplog.text


# --- faults ----------------------------------------------------------------------------------------------------------


async def test_fault_reject_gate_set(nursery, autojump_clock):
    cmts = await start_cmts(nursery, faults={"reject_gate_set": {"share": 1.0, "code": 4}})
    gc = await connect(cmts)
    for tid in range(1, 6):
        assert await gc.command(GateSet(tid, SUBSCRIBER, SPECS)) == GateSetErr(tid, PacketCableError(4, 0), SUBSCRIBER)
        assert_solicited(gc, ReportType.FAILURE)
    assert cmts.gates.gates == {}
    assert type(await gc.command(GateAlloc(9, SUBSCRIBER))) is GateAllocAck  # only Gate-Sets are refused


async def test_fault_reject_gate_set_share(nursery, autojump_clock):
    cmts = await start_cmts(nursery, faults={"reject_gate_set": {"share": 0.5}}, rng=random.Random(3))
    gc = await connect(cmts)
    replies = [type(await gc.command(GateSet(tid, SUBSCRIBER, SPECS))) for tid in range(200)]
    rejected = replies.count(GateSetErr)
    assert 60 < rejected < 140 and rejected + replies.count(GateSetAck) == 200


async def test_fault_drop_after_messages(nursery, autojump_clock):
    cmts = await start_cmts(nursery, faults={"drop_after_messages": 3})
    gc = await connect(cmts)  # message 1: the Client-Accept
    assert type(await gc.command(GateSet(1, SUBSCRIBER, SPECS))) is GateSetAck  # 2
    await gc.send(decision_for(gc.handle, GateSet(2, SUBSCRIBER, SPECS)))  # 3: dropped, no reply, no Client-Close
    await gc.closed()
    assert len(cmts.gates.gates) == 1
    await wait_until(lambda: not cmts.sessions)
    assert cmts.failed_sessions == 0


async def test_fault_malformed_after_messages(nursery, autojump_clock):
    cmts = await start_cmts(nursery, faults={"malformed_after_messages": 2})
    gc = await connect(cmts)
    await gc.send(decision_for(gc.handle, GateSet(1, SUBSCRIBER, SPECS)))
    with pytest.raises(DecodeError, match="message length 10 is not a multiple of 4") as caught:
        await gc.receive()
    assert caught.value.offset == 24 + 24 + 4  # the Length field of the frame after OPN and REQ (24 bytes each)
    assert gc.connection.framing_lost


async def test_fault_reply_delay(nursery, autojump_clock):
    cmts = await start_cmts(nursery, faults={"reply_delay": {"fixed": 0.75}})
    gc = await connect(cmts)
    for tid in range(3):
        sent = trio.current_time()
        assert type(await gc.command(GateSet(tid, SUBSCRIBER, SPECS))) is GateSetAck
        assert trio.current_time() - sent == pytest.approx(0.75)


async def test_fault_reply_delay_uniform(nursery, autojump_clock):
    cmts = await start_cmts(nursery, faults={"reply_delay": {"uniform": [0.1, 0.3]}}, rng=random.Random(5))
    gc = await connect(cmts)
    delays = []
    for tid in range(10):
        sent = trio.current_time()
        await gc.command(GateSet(tid, SUBSCRIBER, SPECS))
        delays.append(trio.current_time() - sent)
    assert all(0.1 <= delay <= 0.3 for delay in delays) and len(set(delays)) > 5


async def test_events_for_a_gone_controller_are_counted_as_dropped(nursery, autojump_clock):
    cmts = await start_cmts(nursery)
    gc = await connect(cmts)
    gate_id = (await gc.command(GateSet(1, SUBSCRIBER, SPECS))).gate_id
    await gc.stream.aclose()
    await wait_until(lambda: not cmts.sessions)
    await cmts.modem.reserve(gate_id)
    await cmts.modem.commit(gate_id)
    assert cmts.dropped_events == 1


async def test_shutdown_says_goodbye(nursery, autojump_clock):
    cmts = await start_cmts(nursery)
    gc = await connect(cmts)
    await cmts.shutdown()
    message = await gc.next_message()
    assert type(message) is ClientClose and message.error == Error(11, 0)
    await gc.closed()
    await wait_until(lambda: not cmts.sessions)


# --- a capture of a call, judged by Wireshark ------------------------------------------------------------------------


def write_capture(records, path) -> None:
    """Each connection the CMTS's taps saw, as TCP in a pcap: the gate controller is the TCP client."""
    from cms_sim.pcap import PcapWriter

    connections = {}
    with PcapWriter(path) as pcap:
        for record in records:
            key = (record.local, record.peer)
            if key not in connections:
                connections[key] = pcap.connection(client=record.peer, server=record.local,
                                                   start_time=record.wall - 0.001)
            connections[key].send(record.wall, from_client=not record.outgoing, data=record.data)
        for connection in connections.values():
            connection.close(records[-1].wall + 0.001)


async def test_capture_of_a_call_decodes_cleanly_in_tshark(nursery, autojump_clock, tmp_path, tshark):
    records = []
    cmts = await start_cmts(nursery, taps=[records.append])
    gc = await connect(cmts, ka_seconds=20)
    gate_id = (await gc.command(GateAlloc(1, SUBSCRIBER, 4))).gate_id
    await gc.command(GateSet(2, SUBSCRIBER, SPECS, gate_id=gate_id, activity_count=4))
    await gc.command(GateInfo(3, SUBSCRIBER, gate_id))
    await cmts.modem.reserve(gate_id)
    await cmts.modem.commit(gate_id)
    await gc.reply()
    with trio.move_on_after(16):  # a keep-alive exchange or two
        await gc.next_message()
    await cmts.modem.release(gate_id)
    await gc.reply()
    await gc.command(GateDelete(4, SUBSCRIBER, gate_id))
    await gc.command(GateSet(5, SUBSCRIBER, (gate_spec(0, session_class=3),)))  # a Gate-Set-Err
    assert gc.keepalives
    path = tmp_path / "call.pcap"
    write_capture(records, path)

    port = cmts.addresses[0][1]  # not 2126: tell tshark it is COPS
    decode_as = ["-r", str(path), "-d", f"tcp.port=={port},cops"]
    summary = tshark(*decode_as)
    details = tshark(*decode_as, "-2", "-V")
    bad = [line for line in details.splitlines()
           if "Malformed" in line or "Expert Info (Error" in line or "Expert Info (Warning" in line]
    assert bad == []
    gate_commands = re.findall(r"COPS (?:Decision \(DEC\)|Report State \(RPT\))\s+- (Gate [A-Za-z ]+)", summary)
    assert [name.strip() for name in gate_commands] == [
        "Gate Alloc", "Gate Alloc Ack", "Gate Set", "Gate Set Ack", "Gate Info", "Gate Info Ack", "Gate Open",
        "Gate Close", "Gate Delete", "Gate Delete Ack", "Gate Set", "Gate Set Err"]
    assert "Client-Open (OPN)" in summary and "Keep-Alive (KA)" in summary
    assert "Error Code                   : Illegal Session Class value (3)" in details
    # Wireshark pairs OPN->CAT, each DEC->RPT and each KA->echo: the S flags and handles are right.
    kas = sum(1 for record in records if type(record.message) is KeepAlive and record.outgoing)
    assert details.count("[Response to a request in frame") == 1 + 5 + kas


async def test_a_gate_controller_that_never_accepts_is_closed_after_the_accept_timeout(nursery, autojump_clock):
    cmts = await start_cmts(nursery, accept_timeout=10)
    gc = await connect(cmts, handshake=False)
    assert type(await gc.receive()) is ClientOpen
    started = trio.current_time()
    close = await gc.next_message()
    assert type(close) is ClientClose and close.error.code == ErrorCode.COMMUNICATION_FAILURE
    assert trio.current_time() - started == pytest.approx(10)
    await gc.closed()
    await trio.testing.wait_all_tasks_blocked()  # the session's own ending runs once the socket is gone
    assert not cmts.sessions


async def test_the_gates_of_a_gate_controller_that_went_away_are_deleted_after_the_orphan_timeout(
        nursery, autojump_clock):
    cmts = await start_cmts(nursery, policy={"orphaned_gate_timeout": 60})
    gc = await connect(cmts)
    ack = await gc.command(GateSet(1, SUBSCRIBER, (gate_spec(0),)))
    await cmts.modem.reserve(ack.gate_id)
    await cmts.modem.commit(ack.gate_id)  # committed: none of its timers would ever end it
    await gc.stream.aclose()
    await trio.sleep(59)
    assert ack.gate_id in cmts.gates.gates
    await trio.sleep(2)
    assert not cmts.gates.gates and cmts.orphans_deleted == 1
    assert cmts.gates.held_by(SUBSCRIBER) == 0  # its subscriber may have gates again


async def test_a_gate_controller_back_from_the_same_host_in_time_takes_the_gates_over(nursery, autojump_clock):
    cmts = await start_cmts(nursery, policy={"orphaned_gate_timeout": 60})
    gc = await connect(cmts)
    ack = await gc.command(GateSet(1, SUBSCRIBER, (gate_spec(0),)))
    await gc.stream.aclose()
    await trio.sleep(30)
    back = await connect(cmts, ka_seconds=0)  # no keep-alives: it says nothing for the next 31 s
    await trio.sleep(31)
    gate = cmts.gates.gates[ack.gate_id]
    assert cmts.orphans_deleted == 0 and gate.owner in cmts.sessions
    await cmts.modem.reserve(ack.gate_id)
    await cmts.modem.commit(ack.gate_id)
    opened = await back.next_message()
    assert type(opened) is Report and type(gate_command_of(opened)) is GateOpen
