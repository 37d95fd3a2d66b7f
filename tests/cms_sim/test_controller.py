"""GateController and GateControllerPool over real loopback sockets, against a hand-driven PEP and cmts_sim."""

from __future__ import annotations

import pytest
import trio

from cmts_sim.config import CmtsConfig
from cmts_sim.server import CmtsServer
from cms_sim.controller import Backoff, ControllerOptions, LinkState, TransactionIds, _Link
from cms_sim.errors import (
    ConnectError,
    ControllerError,
    GateControlLost,
    GateError,
    InsufficientResources,
    RequestTimeout,
    UnexpectedReply,
    UnknownGateID,
)
from cms_sim.events import Connected, ConnectionLost, GateClosed, GateOpened, RequestStateDeleted
from cms_sim.media import profile
from cms_sim.pool import GateControllerPool, connect, listen
from cops_core import (ClientClose, Decision, DecisionCommand, DeleteRequest, ErrorCode, KeepAlive, ReasonCode, Report,
                       ReportType)
from cops_core.dqos import (
    GateAlloc,
    GateAllocAck,
    GateAllocErr,
    GateCloseSubcode,
    GateDeleteAck,
    GateInfoAck,
    GateSet,
    GateSetAck,
    GateSetErr,
    PacketCableError,
    TransactionID,
)
from cops_core.messages import ClientAccept, ClientOpen, Request, SyncRequest
from cops_core.objects import DecisionFlags, Reason, SignaledClientSI

from .fake_pep import SUBSCRIBER, FakePep

SPECS = profile("G711-20").gate_specs(SUBSCRIBER, "10.1.1.20")


async def started_pep(nursery, **options) -> tuple[FakePep, str]:
    pep = FakePep(**options)
    host, port = await pep.listen(nursery)
    return pep, f"{host}:{port}"


async def next_event(gc, kind: type, timeout: float = 10):
    with trio.fail_after(timeout):
        async for event in gc.events():
            if type(event) is kind:
                return event


# --- handshake and plain commands ---------------------------------------------------------------------


async def test_handshake_accepts_with_default_ka_and_sends_no_decision_for_the_request(nursery, autojump_clock):
    pep, target = await started_pep(nursery, pep_id="CMTS-LAB1")
    async with connect(target) as gc:
        assert gc.connected and gc.pep_id == "CMTS-LAB1" and gc.handle == pep.handle
        assert pep.ka_seconds == 30
        connected = await next_event(gc, Connected)
        assert connected.pep_id == "CMTS-LAB1" and connected.handle == b"\0\0\0\1"
        await trio.sleep(1)
        assert pep.received_of(Decision) == []


async def test_solicited_null_decision_option_and_configured_ka_timer(nursery, autojump_clock):
    pep, target = await started_pep(nursery)
    async with connect(target, ka_seconds=7, solicited_null_decision=True):
        await trio.sleep(0.5)
    assert pep.ka_seconds == 7
    (null,) = pep.received_of(Decision)
    assert null.solicited and null.handle == pep.handle
    assert null.decisions[0].flags == DecisionFlags(DecisionCommand.NULL_DECISION, 0)


async def test_gate_commands_return_typed_acks(nursery, autojump_clock):
    pep, target = await started_pep(nursery)
    async with connect(target) as gc:
        alloc = await gc.gate_alloc("10.0.1.10", activity_count=4)
        assert type(alloc) is GateAllocAck and alloc.gate_id == 0xA001
        ack = await gc.gate_set(SUBSCRIBER, SPECS, gate_id=alloc.gate_id, activity_count=4)
        assert type(ack) is GateSetAck and ack.gate_id == alloc.gate_id
        assert type(await gc.gate_info(SUBSCRIBER, alloc.gate_id)) is GateInfoAck
        assert type(await gc.gate_delete(SUBSCRIBER, alloc.gate_id)) is GateDeleteAck
    alloc_sent, set_sent, info_sent, delete_sent = pep.commands()
    assert alloc_sent == GateAlloc(alloc_sent.transaction_id, SUBSCRIBER, 4)
    assert set_sent.gate_specs == SPECS and set_sent.gate_id == 0xA001 and set_sent.activity_count == 4
    assert len({c.transaction_id for c in pep.commands()}) == 4


async def test_err_replies_raise_the_gate_error_subclass_for_their_code(nursery, autojump_clock):
    pep, target = await started_pep(nursery)
    async with connect(target) as gc:
        with pytest.raises(UnknownGateID) as caught:
            await gc.gate_set(SUBSCRIBER, SPECS, gate_id=0xDEAD)
        assert caught.value.code == 2 and caught.value.subcode == 0
        assert type(caught.value.reply) is GateSetErr and caught.value.reply.gate_id == 0xDEAD
        assert type(caught.value.command) is GateSet and "Gate-Set-Err" in str(caught.value)

        pep.respond = lambda c: GateAllocErr(c.transaction_id, PacketCableError(1, 0x0501), c.subscriber)
        with pytest.raises(InsufficientResources) as caught:
            await gc.gate_alloc(SUBSCRIBER)
        assert caught.value.subcode == 0x0501

        pep.respond = lambda c: GateAllocErr(c.transaction_id, PacketCableError(99), c.subscriber)
        with pytest.raises(GateError) as caught:
            await gc.gate_alloc(SUBSCRIBER)
        assert type(caught.value) is GateError and caught.value.code == 99


async def test_wrong_or_malformed_reply_for_a_tid_raises_unexpected_reply(nursery, autojump_clock):
    pep, target = await started_pep(nursery)
    async with connect(target) as gc:
        pep.respond = lambda c: GateSetAck(c.transaction_id, 1)
        with pytest.raises(UnexpectedReply, match="answered with Gate-Set-Ack"):
            await gc.gate_alloc(SUBSCRIBER)

        # A Gate-Alloc-Ack without its Gate-ID: undecodable, but its TID still names the caller.
        pep.respond = lambda c: None
        async with trio.open_nursery() as inner:
            inner.start_soon(pep_sends_broken_ack, pep)
            with pytest.raises(UnexpectedReply, match="malformed reply"):
                await gc.gate_alloc(SUBSCRIBER)
        assert gc.stats.malformed == 1 and gc.pending == 0


async def pep_sends_broken_ack(pep: FakePep) -> None:
    while not pep.commands()[1:]:
        await trio.sleep(0.01)
    tid = pep.commands()[-1].transaction_id
    broken = SignaledClientSI(TransactionID(tid, 2).encode())
    await pep.send(Report.new(pep.handle, ReportType.SUCCESS, broken, solicited=True))


# --- transaction IDs ----------------------------------------------------------------------------------------


def test_transaction_ids_skip_zero_and_those_in_flight():
    tids = TransactionIds(start=0xFFFE)
    in_flight = {0xFFFF: None, 1: None}
    assert [tids.allocate(in_flight) for _ in range(3)] == [0xFFFE, 2, 3]


class _CountingDict(dict):
    """A dict that counts membership tests: how far an allocation searched."""

    looked = 0

    def __contains__(self, key) -> bool:
        self.looked += 1
        return super().__contains__(key)


def test_transaction_ids_all_in_flight_are_refused_without_a_search():
    tids = TransactionIds()
    in_flight = _CountingDict.fromkeys(range(1, 0x10000))
    for _ in range(3):  # a load generator asks again for every call it starts: each refusal is one look
        with pytest.raises(ControllerError, match="all 65535"):
            tids.allocate(in_flight)
    assert in_flight.looked == 3


def test_transaction_ids_the_last_free_one_is_found():
    tids = TransactionIds()
    in_flight = dict.fromkeys(range(1, 0x10000))
    del in_flight[40000]
    assert tids.allocate(in_flight) == 40000


async def test_concurrent_requests_are_matched_by_tid_whatever_the_reply_order(nursery, autojump_clock):
    pep, target = await started_pep(nursery)
    results = {}
    async with connect(target) as gc:
        pep.hold = True

        async def alloc(number: int) -> None:
            results[number] = await gc.gate_alloc(f"10.0.1.{number}")

        async with trio.open_nursery() as callers:
            for number in range(1, 6):
                callers.start_soon(alloc, number)
            while len(pep.held) < 5:
                await trio.sleep(0.01)
            assert gc.pending == 5
            await pep.release_held(lambda held: held[::-1])
    assert {number: str(ack.subscriber) for number, ack in results.items()} == {
        number: f"10.0.1.{number}" for number in range(1, 6)}
    assert len({ack.transaction_id for ack in results.values()}) == 5


async def test_request_timeout_then_late_reply_is_counted_not_delivered(nursery, autojump_clock):
    pep, target = await started_pep(nursery)
    async with connect(target, request_timeout=2) as gc:
        pep.hold = True
        start = trio.current_time()
        with pytest.raises(RequestTimeout) as caught:
            await gc.gate_alloc(SUBSCRIBER)
        assert trio.current_time() - start == pytest.approx(2)
        assert caught.value.command.transaction_id == pep.held[0].transaction_id
        assert gc.pending == 0
        await pep.release_held()
        await trio.sleep(0.1)
        assert gc.stats.unmatched_replies == 1
        pep.hold = True
        with pytest.raises(RequestTimeout):
            await gc.gate_info(SUBSCRIBER, 1, timeout=0.5)


# --- keep-alive and connection loss ---------------------------------------------------------------------------


async def test_keepalives_are_echoed_solicited(nursery, autojump_clock):
    pep, target = await started_pep(nursery)
    async with connect(target, ka_seconds=10):
        for _ in range(3):
            await trio.sleep(4)
            await pep.keepalive()
        await trio.sleep(0.1)
        echoes = pep.received_of(KeepAlive)
        assert len(echoes) == 3 and all(echo.solicited for echo in echoes)


async def test_silent_cmts_is_declared_dead_after_ka_interval_times_tolerance(nursery, autojump_clock):
    pep, target = await started_pep(nursery)
    async with connect(target, ka_seconds=4, ka_tolerance=1.5) as gc:
        start = trio.current_time()
        pep.hold = True
        with pytest.raises(GateControlLost, match="silent for 6 s"):
            await gc.gate_alloc(SUBSCRIBER, timeout=60)
        assert trio.current_time() - start == pytest.approx(6, abs=0.01)
        lost = await next_event(gc, ConnectionLost)
        assert "silent" in lost.reason and not gc.connected
        (close,) = pep.received_of(ClientClose)
        assert close.error.code == ErrorCode.COMMUNICATION_FAILURE


async def test_client_close_from_cmts_fails_pending_requests_and_later_ones(nursery, autojump_clock):
    pep, target = await started_pep(nursery)
    async with connect(target) as gc:
        pep.hold = True

        async def close_soon():
            await trio.sleep(1)
            await pep.client_close()

        nursery.start_soon(close_soon)
        with pytest.raises(GateControlLost, match="Client-Close .*SHUTTING_DOWN"):
            await gc.gate_alloc(SUBSCRIBER)
        lost = await next_event(gc, ConnectionLost)
        assert "Client-Close" in lost.reason
        with pytest.raises(GateControlLost, match="not connected"):
            await gc.gate_alloc(SUBSCRIBER)


async def test_a_keepalive_and_a_client_close_in_one_read_end_the_connection_without_an_echo(nursery, autojump_clock):
    # The whole read is decoded before its messages are handled: the Client-Close has closed the connection by the
    # time the Keep-Alive before it is handled, and nothing may be sent after a Client-Close (the fuzz campaign's
    # cms target, seed 6, case 1606: cms-sim died of a LocalProtocolError here).
    pep, target = await started_pep(nursery)
    async with connect(target) as gc:
        await pep.send_raw(KeepAlive().encode() + ClientClose.new(ErrorCode.SHUTTING_DOWN).encode())
        lost = await next_event(gc, ConnectionLost)
        assert "Client-Close" in lost.reason
        with pytest.raises(GateControlLost, match="not connected"):
            await gc.gate_alloc(SUBSCRIBER)
    assert pep.received_of(KeepAlive) == []


async def test_drq_fails_pending_requests_until_the_cmts_requests_again(nursery, autojump_clock):
    pep, target = await started_pep(nursery)
    async with connect(target) as gc:
        pep.hold = True

        async def delete_soon():
            await trio.sleep(1)
            await pep.delete_request_state()

        nursery.start_soon(delete_soon)
        with pytest.raises(GateControlLost, match="deleted the request state"):
            await gc.gate_alloc(SUBSCRIBER)
        deleted = await next_event(gc, RequestStateDeleted)
        assert deleted.reason == 2 and not gc.connected
        pep.hold = False

        async def request_soon():
            await trio.sleep(2)
            await pep.request_again()

        nursery.start_soon(request_soon)
        start = trio.current_time()
        ack = await gc.gate_alloc(SUBSCRIBER)  # waits for the new REQ
        assert type(ack) is GateAllocAck and trio.current_time() - start == pytest.approx(2, abs=0.01)


async def test_reconnect_option_redials_with_backoff(nursery, autojump_clock):
    pep, target = await started_pep(nursery)
    async with connect(target, reconnect=Backoff(initial=1, maximum=4)) as gc:
        await pep.close_tcp()
        lost = await next_event(gc, ConnectionLost)
        assert "closed the TCP connection" in lost.reason
        again = await next_event(gc, Connected)
        assert again.time - lost.time == pytest.approx(1, abs=0.01)
        assert pep.sessions == 2
        assert type(await gc.gate_alloc(SUBSCRIBER)) is GateAllocAck


async def test_disconnect_and_reconnect_by_hand(nursery, autojump_clock):
    pep, target = await started_pep(nursery)
    async with connect(target) as gc:
        await gc.disconnect()
        assert not gc.connected
        with pytest.raises(GateControlLost):
            await gc.gate_alloc(SUBSCRIBER)
        await gc.reconnect()
        assert gc.connected and pep.sessions == 2
        assert type(await gc.gate_alloc(SUBSCRIBER)) is GateAllocAck
        await gc.disconnect(client_close=False)
    assert [close.error.code for close in pep.received_of(ClientClose)] == [ErrorCode.SHUTTING_DOWN]
    assert len(pep.received_of(ClientAccept)) == 2


async def test_closing_sends_client_close_unless_told_not_to(nursery, autojump_clock):
    pep, target = await started_pep(nursery)
    async with connect(target):
        pass
    await pep.ended.wait()
    assert [close.error.code for close in pep.received_of(ClientClose)] == [ErrorCode.SHUTTING_DOWN]
    async with connect(target, client_close_on_exit=False):
        pass
    await pep.ended.wait()
    assert len(pep.received_of(ClientClose)) == 1 and pep.sessions == 2


async def test_connect_failures_raise_connect_error(nursery, autojump_clock):
    async with GateControllerPool() as pool:
        listener = trio.socket.socket()
        await listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        listener.close()  # nothing listens there now
        with pytest.raises(ConnectError, match="cannot connect"):
            await pool.connect(f"127.0.0.1:{port}")
        pep = FakePep(send_request=False)
        host, port = await pep.listen(nursery)
        with pytest.raises(ConnectError, match="no Client-Open and Request .* within 3 s"):
            await pool.connect(f"{host}:{port}", handshake_timeout=3)
        assert pool.controllers == []


# --- events, sync, trace -----------------------------------------------------------------------------------------


async def test_gate_open_and_close_become_events(nursery, autojump_clock):
    pep, target = await started_pep(nursery)
    async with connect(target) as gc:
        ack = await gc.gate_set(SUBSCRIBER, SPECS)
        await pep.gate_open(ack.gate_id)
        await pep.gate_close(ack.gate_id, GateCloseSubcode.TIMER_T1_EXPIRATION)
        opened = await next_event(gc, GateOpened)
        closed = await next_event(gc, GateClosed)
    assert opened.gate_id == closed.gate_id == ack.gate_id
    assert closed.reason == GateCloseSubcode.TIMER_T1_EXPIRATION and closed.peer == pep.address
    assert closed.command.subscriber == SUBSCRIBER


async def test_sync_waits_for_synchronize_complete(nursery, autojump_clock):
    pep, target = await started_pep(nursery)
    async with connect(target) as gc:
        await gc.sync()
        assert len(pep.received_of(SyncRequest)) == 1
        pep._on_message = lambda message: None  # a CMTS that never completes the sync
        with pytest.raises(RequestTimeout, match="Synchronize State Request"):
            await gc.sync(timeout=1)


async def test_taps_see_every_message_from_the_handshake_on(nursery, autojump_clock):
    pep, target = await started_pep(nursery)
    trace = []
    async with GateControllerPool() as pool:
        pool.add_tap(trace.append)
        gc = await pool.connect(target)
        await gc.gate_alloc(SUBSCRIBER)
        gc.remove_tap(trace.append)
        await gc.gate_alloc(SUBSCRIBER)
    kinds = [(type(record.message), record.outgoing) for record in trace]
    assert kinds == [(ClientOpen, False), (ClientAccept, True), (Request, False), (Decision, True), (Report, False)]
    assert trace[3].data == trace[3].message.encode() and trace[0].peer == pep.address


# --- several CMTSes -----------------------------------------------------------------------------------------------


async def test_pool_shares_tids_and_events_across_cmtses(nursery, autojump_clock):
    first, first_target = await started_pep(nursery, pep_id="A")
    second, second_target = await started_pep(nursery, pep_id="B")
    async with GateControllerPool() as pool:
        a = await pool.connect(first_target)
        b = await pool.connect(second_target)
        await a.gate_alloc(SUBSCRIBER)
        await b.gate_alloc(SUBSCRIBER)
        await a.gate_alloc(SUBSCRIBER)
        await second.gate_open(0xA001)
        events = pool.events()
        seen = [await events.receive() for _ in range(3)]
    assert [c.transaction_id for c in first.commands()] == [1, 3]
    assert [c.transaction_id for c in second.commands()] == [2]
    assert [(type(e), e.peer) for e in seen] == [
        (Connected, first.address), (Connected, second.address), (GateOpened, second.address)]


async def test_listen_mode_accepts_cmtses_that_dial_in(nursery, autojump_clock):
    async with listen("127.0.0.1", 0, ka_seconds=12) as pool:
        pep = FakePep(pep_id="DIALLER")
        await pep.dial(nursery, pool.addresses[0])
        gc = await pool.accept()
        assert gc.pep_id == "DIALLER" and pep.ka_seconds == 12 and gc.target is None
        assert type(await gc.gate_alloc(SUBSCRIBER)) is GateAllocAck
        with pytest.raises(ConnectError, match="only the CMTS can re-establish"):
            await gc.reconnect()
        await pep.close_tcp()
        await next_event(gc, ConnectionLost)
        assert gc.closed
        again = FakePep(pep_id="AGAIN")
        await again.dial(nursery, pool.addresses[0])
        assert (await pool.accept()).pep_id == "AGAIN" and [c.pep_id for c in pool.controllers] == ["AGAIN"]


def test_options_are_checked_when_made():
    with pytest.raises(ValueError, match="ka_seconds must be 0..65535"):
        ControllerOptions(ka_seconds=70000)
    with pytest.raises(ValueError, match="request_timeout must be positive"):
        ControllerOptions(request_timeout=0)


# --- against the simulated CMTS ----------------------------------------------------------------------------------


@pytest.fixture
async def cmts(nursery):
    server = CmtsServer(CmtsConfig(listen=["127.0.0.1:0"], modem={"mode": "driven"}, timers={"t1": 20}))
    await nursery.start(server.serve)
    return server


async def test_full_call_against_cmts_sim(cmts, autojump_clock):
    host, port = cmts.addresses[0]
    async with connect(f"{host}:{port}", ka_seconds=5) as gc:
        alloc = await gc.gate_alloc(SUBSCRIBER, 4)
        ack = await gc.gate_set(SUBSCRIBER, SPECS, gate_id=alloc.gate_id, activity_count=4)
        assert ack.gate_id == alloc.gate_id and ack.gate_id in cmts.gates.gates
        await cmts.modem.reserve(ack.gate_id)
        await cmts.modem.commit(ack.gate_id)
        assert (await next_event(gc, GateOpened)).gate_id == ack.gate_id
        info = await gc.gate_info(SUBSCRIBER, ack.gate_id)
        assert info.gate_specs == SPECS
        await trio.sleep(30)  # keep-alives flow both ways; the connection stays up
        assert gc.connected
        await cmts.modem.release(ack.gate_id)
        closed = await next_event(gc, GateClosed)
        assert closed.reason == GateCloseSubcode.CLIENT_INITIATED_RELEASE
        with pytest.raises(UnknownGateID):
            await gc.gate_info(SUBSCRIBER, 0x12345678)


async def test_t1_expiry_and_cmts_shutdown_reach_the_controller(cmts, autojump_clock):
    host, port = cmts.addresses[0]
    async with connect(f"{host}:{port}") as gc:
        specs = profile("G729-10").gate_specs(SUBSCRIBER, "10.1.1.20", t1=0)
        ack = await gc.gate_set(SUBSCRIBER, specs)
        start = trio.current_time()
        closed = await next_event(gc, GateClosed, timeout=60)
        assert closed.gate_id == ack.gate_id and closed.reason == GateCloseSubcode.TIMER_T1_EXPIRATION
        assert closed.time - start == pytest.approx(20, abs=0.01)
        await cmts.shutdown()
        lost = await next_event(gc, ConnectionLost)
        assert "Client-Close" in lost.reason and "SHUTTING_DOWN" in lost.reason


async def test_errors_leave_the_async_with_block_as_themselves(nursery, autojump_clock):
    pep, target = await started_pep(nursery)
    with pytest.raises(UnknownGateID):
        async with connect(target) as gc:
            await gc.gate_info(SUBSCRIBER, 0xBAD)
    assert [close.error.code for close in pep.received_of(ClientClose)] == [ErrorCode.SHUTTING_DOWN]


async def test_reconnect_by_hand_stops_an_automatic_redial_in_progress(nursery, autojump_clock):
    pep, target = await started_pep(nursery)
    async with connect(target, reconnect=Backoff(initial=10)) as gc:
        await pep.close_tcp()
        await next_event(gc, ConnectionLost)
        await gc.reconnect()  # before the 10 s backoff is over
        assert gc.connected and pep.sessions == 2
        await trio.sleep(30)
        assert pep.sessions == 2


def test_a_link_moves_only_along_its_life_and_keeps_its_events():
    link = _Link(None)
    assert link.state is LinkState.HANDSHAKE and not link.ready.is_set()
    link.move(LinkState.READY)
    assert link.ready.is_set()
    link.move(LinkState.SUSPENDED)  # the CMTS deleted its request state: commands wait again
    assert not link.ready.is_set()
    with pytest.raises(RuntimeError, match="from suspended to handshake"):
        link.move(LinkState.HANDSHAKE)
    link.move(LinkState.ENDING)
    with pytest.raises(RuntimeError, match="from ending to ready"):
        link.move(LinkState.READY)
    link.move(LinkState.DOWN)
    assert link.done.is_set() and link.ready.is_set()  # waiters wake, and see it gone


class WithdrawingPep(FakePep):
    """Installs its request state and deletes it in the same write, before the handshake is over."""

    def _on_message(self, message) -> None:
        super()._on_message(message)
        if type(message) is ClientAccept:
            self.transport.queue(DeleteRequest.new(self.handle, Reason(ReasonCode.MANAGEMENT)))


async def test_a_request_state_deleted_within_the_handshake_fails_the_connect_cleanly(nursery, autojump_clock):
    pep = WithdrawingPep()
    host, port = await pep.listen(nursery)
    with pytest.raises(ConnectError):  # not trio's "never called task_status.started()"
        async with connect(f"{host}:{port}", reconnect=None):
            pass
