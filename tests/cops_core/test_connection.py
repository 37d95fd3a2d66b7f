"""The connection state machine (cops_core.connection): what may flow when, for the PEP and the PDP."""

from __future__ import annotations

import random

import pytest

from cops_core.codes import ClientType, ErrorCode, OpCode, ReasonCode
from cops_core.connection import NEED_DATA, TRANSITIONS, Connection, ConnectionClosed, GateTraffic, Role, State
from cops_core.dqos import GateSet, GateSetAck, decision_for, gate_command_of, report_for
from cops_core.errors import DecodeError, LocalProtocolError, RemoteProtocolError
from cops_core.messages import (
    ClientAccept,
    ClientClose,
    ClientOpen,
    Decision,
    DecisionGroup,
    DeleteRequest,
    KeepAlive,
    Report,
    Request,
    SyncComplete,
    SyncRequest,
)
from cops_core.objects import Context, DecisionFlags, Handle, Reason, UnknownObject

from .samples import MTA as SUBSCRIBER
from .samples import US_SPEC as SPEC

HANDLE = Handle.from_int(1)
OTHER = Handle.from_int(2)


def pair(ka_tolerance: float = 1.0):
    return Connection(Role.PEP, rng=random.Random(7), ka_tolerance=ka_tolerance), Connection(Role.PDP)


def deliver(sender: Connection, receiver: Connection, message, now: float = 0.0):
    """Send ``message`` from one end and return what the other end reads."""
    receiver.receive_data(sender.send(message, now), now)
    return receiver.next_event()


def ready(now: float = 0.0, ka: int = 30, **kwargs):
    """A PEP and a PDP through OPN, CAT and the configuration REQ."""
    pep, pdp = pair(**kwargs)
    deliver(pep, pdp, ClientOpen.new("CMTS-1"), now)
    deliver(pdp, pep, ClientAccept.new(ka), now)
    deliver(pep, pdp, Request.new(HANDLE), now)
    return pep, pdp


def a_decision(handle: Handle = HANDLE) -> Decision:
    return Decision.new(handle, DecisionGroup(Context(8), DecisionFlags()))


def test_the_handshake_moves_both_ends_to_ready():
    pep, pdp = pair()
    assert pep.state is pdp.state is State.CONNECTED
    deliver(pep, pdp, ClientOpen.new("CMTS-1"))
    assert pep.state is pdp.state is State.OPENING
    deliver(pdp, pep, ClientAccept.new(30))
    assert pep.state is pdp.state is State.ACCEPTED
    assert pep.ka_interval == pdp.ka_interval == 30
    deliver(pep, pdp, Request.new(HANDLE))
    assert pep.state is pdp.state is State.READY
    assert pep.handles == pdp.handles == {HANDLE.value}


@pytest.mark.parametrize(
    ("role", "message"),
    [
        (Role.PDP, ClientOpen.new("x")),  # only the PEP opens
        (Role.PEP, ClientAccept.new(30)),  # only the PDP accepts
        (Role.PEP, Request.new(HANDLE)),  # no REQ before the Client-Accept
        (Role.PDP, a_decision()),  # no DEC before the REQ
        (Role.PEP, KeepAlive()),  # no KA before the Client-Accept
    ],
    ids=["pdp-sends-opn", "pep-sends-cat", "req-before-cat", "dec-before-req", "ka-before-cat"],
)
def test_messages_out_of_turn_are_refused_on_send(role, message):
    connection = Connection(role)
    with pytest.raises(LocalProtocolError):
        connection.send(message, 0.0)
    assert connection.state is State.CONNECTED


def test_a_message_out_of_turn_from_the_peer_is_a_remote_protocol_error():
    pdp = Connection(Role.PDP)
    pdp.receive_data(Report.new(HANDLE, 1).encode(), 0.0)  # a report before even a Client-Open
    with pytest.raises(RemoteProtocolError) as info:
        pdp.next_event()
    assert info.value.error_code == ErrorCode.BAD_MESSAGE_FORMAT
    assert "RPT" in info.value.reason and "connected" in info.value.reason


def test_decisions_and_reports_must_name_an_installed_handle():
    pep, pdp = ready()
    with pytest.raises(LocalProtocolError) as info:
        pdp.send(a_decision(OTHER), 1.0)
    assert info.value.error_code == ErrorCode.BAD_HANDLE
    pep.receive_data(a_decision(OTHER).encode(), 1.0)
    with pytest.raises(RemoteProtocolError) as info:
        pep.next_event()
    assert info.value.error_code == ErrorCode.BAD_HANDLE
    assert deliver(pdp, pep, a_decision(), 2.0) == a_decision()
    assert deliver(pep, pdp, Report.new(HANDLE, 1, solicited=True), 2.0).report_type == 1


def test_a_drq_removes_the_handle_and_a_fresh_req_installs_another():
    pep, pdp = ready()
    deliver(pep, pdp, DeleteRequest.new(HANDLE, Reason(ReasonCode.MALFORMED_DECISION)))
    assert pep.state is pdp.state is State.ACCEPTED and not pep.handles
    with pytest.raises(LocalProtocolError):
        pdp.send(a_decision(), 1.0)
    deliver(pep, pdp, Request.new(OTHER))
    assert pep.state is pdp.state is State.READY and pdp.handles == {OTHER.value}


def test_a_decision_crossing_the_peps_drq_is_let_through_for_the_pep_to_drop():
    pep, pdp = ready()
    in_flight = a_decision().encode()  # the PDP sent it before our DRQ reached it
    deliver(pep, pdp, DeleteRequest.new(HANDLE, Reason(ReasonCode.MALFORMED_DECISION)))
    deliver(pep, pdp, Request.new(OTHER))
    pep.receive_data(in_flight, 1.0)
    assert pep.next_event() == a_decision() and pep.handles == {OTHER.value}  # not installed: the caller drops it
    pep.receive_data(a_decision(Handle.from_int(99)).encode(), 1.0)  # a handle that never was is still an error
    with pytest.raises(RemoteProtocolError) as info:
        pep.next_event()
    assert info.value.error_code == ErrorCode.BAD_HANDLE


def test_sync_request_and_complete_flow_once_accepted():
    pep, pdp = ready()
    assert deliver(pdp, pep, SyncRequest.new()).OPCODE is OpCode.SSQ
    assert deliver(pep, pdp, Request.new(HANDLE)).OPCODE is OpCode.REQ
    assert deliver(pep, pdp, SyncComplete.new()).OPCODE is OpCode.SSC
    with pytest.raises(LocalProtocolError):
        pdp.send(SyncComplete.new(), 0.0)  # SSC comes from the PEP only


def test_either_end_may_close_in_any_live_state():
    for state_reached in ("connected", "opening", "ready"):
        pep, pdp = pair() if state_reached != "ready" else ready()
        if state_reached == "opening":
            deliver(pep, pdp, ClientOpen.new("x"))
        deliver(pdp, pep, ClientClose.new(ErrorCode.SHUTTING_DOWN))
        assert pep.state is pdp.state is State.CLOSED
        with pytest.raises(LocalProtocolError):
            pep.send(KeepAlive(), 0.0)


@pytest.mark.parametrize("sender", [Role.PEP, Role.PDP])
@pytest.mark.parametrize("opcode", [OpCode.DEC, OpCode.RPT])
@pytest.mark.parametrize("client_type", [ClientType.PACKETCABLE_DQOS, ClientType.PACKETCABLE_MM])
@pytest.mark.parametrize("handle", [HANDLE, OTHER])
def test_gate_traffic_in_ready_is_checked_for_sender_client_type_and_handle(sender, opcode, client_type, handle):
    # The DEC/RPT fast path of the state machine: the same verdict, in the same order, as the table and its checks.
    pep, pdp = ready()
    connection = pep if sender is Role.PEP else pdp
    message = (a_decision(handle) if opcode is OpCode.DEC else Report.new(handle, 1))._replace(client_type=client_type)
    if TRANSITIONS.get((State.READY, sender, opcode)) is None:
        expected = ErrorCode.BAD_MESSAGE_FORMAT
    elif client_type != ClientType.PACKETCABLE_DQOS:
        expected = ErrorCode.UNSUPPORTED_CLIENT_TYPE
    elif handle is OTHER:
        expected = ErrorCode.BAD_HANDLE
    else:
        expected = None
    # The same check told from the bytes alone (no message): yes exactly where send takes the message unchanged.
    assert connection.send_gate_traffic(message.encode(), handle.value) is (expected is None)
    if expected is None:
        assert connection.send(message, 1.0) == message.encode() and connection.state is State.READY
    else:
        with pytest.raises(LocalProtocolError) as info:
            connection.send(message, 1.0)
        assert info.value.error_code == expected and connection.state is State.READY


def test_gate_traffic_bytes_are_not_passed_outside_ready_nor_by_a_connection_of_another_client_type():
    data = decision_for(HANDLE, GateSet(5, SUBSCRIBER, (SPEC,))).encode()
    pep, pdp = pair()
    deliver(pep, pdp, ClientOpen.new("x"))
    deliver(pdp, pep, ClientAccept.new(30))
    assert not pdp.send_gate_traffic(data, HANDLE.value)  # no request state yet: send would refuse the message
    deliver(pep, pdp, Request.new(HANDLE))
    assert pdp.send_gate_traffic(data, HANDLE.value)
    deliver(pdp, pep, ClientClose.new(ErrorCode.SHUTTING_DOWN))
    assert not pdp.send_gate_traffic(data, HANDLE.value)
    mm_pep = Connection(Role.PEP, client_type=ClientType.PACKETCABLE_MM)
    mm_pdp = Connection(Role.PDP, client_type=ClientType.PACKETCABLE_MM)
    deliver(mm_pep, mm_pdp, ClientOpen.new("x", client_type=ClientType.PACKETCABLE_MM))
    deliver(mm_pdp, mm_pep, ClientAccept.new(30, client_type=ClientType.PACKETCABLE_MM))
    deliver(mm_pep, mm_pdp, Request.new(HANDLE, client_type=ClientType.PACKETCABLE_MM))
    assert mm_pdp.state is State.READY and not mm_pdp.send_gate_traffic(data, HANDLE.value)  # a DQoS DEC: refused


def test_a_wrong_client_type_is_refused_with_unsupported_client_type():
    pep, pdp = pair()
    pdp.receive_data(ClientOpen.new("x", client_type=ClientType.PACKETCABLE_MM).encode(), 0.0)
    with pytest.raises(RemoteProtocolError) as info:
        pdp.next_event()
    assert info.value.error_code == ErrorCode.UNSUPPORTED_CLIENT_TYPE


def test_keepalives_carry_client_type_0_and_the_pdp_echo_is_solicited():
    pep, pdp = ready()
    ka = deliver(pep, pdp, pep.keepalive(), 5.0)
    assert ka == KeepAlive(solicited=False) and ka.client_type == 0
    assert pdp.keepalive() == KeepAlive(solicited=True)
    assert deliver(pdp, pep, pdp.keepalive(), 5.0).solicited


def test_the_pep_schedules_keepalives_between_a_quarter_and_three_quarters_of_the_interval():
    pep, pdp = ready(now=100.0, ka=40)
    due = []
    now = 100.0
    for _ in range(200):
        assert 10.0 <= pep.keepalive_due_at - now <= 30.0
        due.append(pep.keepalive_due_at - now)
        now = pep.keepalive_due_at
        pep.send(pep.keepalive(), now)
    assert max(due) - min(due) > 10.0  # random across the window, not a fixed point
    assert pdp.keepalive_due_at is None  # the PDP only echoes


def test_only_whole_messages_keep_the_peer_alive_not_a_byte_now_and_then():
    pep, pdp = ready(ka=10)
    assert pdp.peer_dead_at == 10.0  # the REQ at 0 was the last whole message
    trickle = pep.send(pep.keepalive(), 0.0)
    for second, byte in zip((3, 6, 9), trickle[:3]):
        pdp.receive_data(bytes([byte]), float(second))
        assert pdp.next_event() is NEED_DATA
    assert pdp.peer_dead_at == 10.0  # three bytes in nine seconds: still dead at 10
    pdp.receive_data(trickle[3:], 12.0)
    assert type(pdp.next_event()) is KeepAlive and pdp.peer_dead_at == 22.0


def test_a_ka_interval_of_zero_means_no_keepalives_and_no_silence_verdict():
    pep, pdp = ready(ka=0)
    assert pep.keepalive_due_at is None
    assert pep.peer_dead_at is None and pdp.peer_dead_at is None


def test_the_peer_is_dead_after_one_silent_interval_times_the_tolerance():
    pep, pdp = ready(now=10.0, ka=30)
    assert pep.peer_dead_at == 10.0 + 30
    deliver(pdp, pep, pdp.keepalive(), 25.0)
    assert pep.peer_dead_at == 25.0 + 30  # any message from the peer resets the silence
    tolerant, _ = ready(now=10.0, ka=30, ka_tolerance=2.0)
    assert tolerant.peer_dead_at == 10.0 + 60


def test_bytes_come_out_as_messages_however_they_are_cut():
    pep, pdp = ready()
    data = pdp.send(a_decision(), 1.0) + pdp.send(a_decision(), 1.0)
    events = []
    for index in range(len(data)):
        pep.receive_data(data[index:index + 1], 1.0)
        while (event := pep.next_event()) is not NEED_DATA:
            events.append(event)
    assert events == [a_decision(), a_decision()]


def test_the_last_frame_is_the_bytes_of_the_message_just_returned():
    pep, pdp = ready()
    first, second = pdp.send(a_decision(), 1.0), pdp.send(KeepAlive(), 1.0)
    pep.receive_data(first + second, 1.0)
    assert pep.next_event() == a_decision() and pep.last_frame == first
    assert type(pep.next_event()) is KeepAlive and pep.last_frame == second


def test_the_peer_closing_tcp_is_an_event():
    pep, pdp = ready()
    pep.receive_data(b"", 3.0)
    assert pep.next_event() == ConnectionClosed()
    assert pep.state is State.CLOSED


def test_framing_errors_are_final_and_say_so():
    pep, pdp = ready()
    pep.receive_data(bytes.fromhex("20 02 80 08 00 00 00 08"), 1.0)
    with pytest.raises(DecodeError) as info:
        pep.next_event()
    assert info.value.error_code == ErrorCode.BAD_MESSAGE_FORMAT and pep.framing_lost


def test_a_malformed_decision_keeps_the_framing_and_names_its_opcode():
    pep, pdp = ready()
    bad = Decision((HANDLE, Context(8))).encode()  # Context without its Decision Flags
    pep.receive_data(bad + a_decision().encode(), 1.0)
    with pytest.raises(DecodeError) as info:
        pep.next_event()
    assert info.value.opcode == OpCode.DEC and not pep.framing_lost
    assert pep.next_event() == a_decision()


def test_every_transition_names_a_sender_that_may_send_that_opcode():
    pep_sends = {OpCode.REQ, OpCode.RPT, OpCode.DRQ, OpCode.OPN, OpCode.SSC, OpCode.KA, OpCode.CC}
    pdp_sends = {OpCode.DEC, OpCode.SSQ, OpCode.CAT, OpCode.KA, OpCode.CC}
    for (state, sender, opcode), next_state in TRANSITIONS.items():
        assert opcode in (pep_sends if sender is Role.PEP else pdp_sends), (state, sender, opcode)
        assert state is not State.CLOSED


# --- gate traffic: the usual DEC and RPT read from their bytes --------------------------------------------------


def ready_with_gate_traffic():
    """As :func:`ready`, both ends asking for gate traffic."""
    pep, pdp = Connection(Role.PEP, gate_traffic=True), Connection(Role.PDP, gate_traffic=True)
    deliver(pep, pdp, ClientOpen.new("CMTS-1"))
    deliver(pdp, pep, ClientAccept.new(30))
    deliver(pep, pdp, Request.new(HANDLE))
    return pep, pdp


def test_the_usual_dec_and_rpt_come_as_gate_traffic_with_what_the_general_decode_finds():
    pep, pdp = ready_with_gate_traffic()
    for sender, receiver, message, opcode in (
            (pdp, pep, decision_for(HANDLE, GateSet(5, SUBSCRIBER, (SPEC,))), OpCode.DEC),
            (pep, pdp, report_for(HANDLE, GateSetAck(5, 0x100, SUBSCRIBER)), OpCode.RPT)):
        traffic = deliver(sender, receiver, message)
        assert type(traffic) is GateTraffic
        assert traffic == (opcode, HANDLE.value, gate_command_of(message), message.objects[-1].data)
        assert receiver.last_frame == message.encode()


def arrive(receiver: Connection, message):
    """What ``receiver`` reads of ``message``'s bytes, sent by a peer that checks nothing."""
    receiver.receive_data(message.encode(), 0.0)
    return receiver.next_event()


def test_a_dec_naming_a_handle_never_installed_gets_the_general_path_s_error_not_a_command():
    pep, _ = ready_with_gate_traffic()
    with pytest.raises(RemoteProtocolError, match="unknown handle"):
        arrive(pep, decision_for(OTHER, GateSet(5, SUBSCRIBER, (SPEC,))))


def test_any_other_shape_and_a_connection_that_did_not_ask_come_as_messages():
    pep, pdp = ready_with_gate_traffic()
    command = GateSet(5, SUBSCRIBER, (SPEC,))
    extra = decision_for(HANDLE, command)
    extra = extra._replace(objects=(*extra.objects, UnknownObject(40, 1, b"\0" * 4)))
    assert type(deliver(pdp, pep, extra)) is Decision
    plain_pep, plain_pdp = ready()
    assert type(deliver(plain_pdp, plain_pep, decision_for(HANDLE, command))) is Decision
    assert type(deliver(plain_pep, plain_pdp, report_for(HANDLE, GateSetAck(5, 0x100, SUBSCRIBER)))) is Report


def test_a_dec_before_the_request_state_is_installed_gets_the_general_path_s_error():
    pep, pdp = Connection(Role.PEP, gate_traffic=True), Connection(Role.PDP, gate_traffic=True)
    deliver(pep, pdp, ClientOpen.new("CMTS-1"))
    deliver(pdp, pep, ClientAccept.new(30))
    with pytest.raises(RemoteProtocolError, match="not allowed in state accepted"):
        arrive(pep, decision_for(HANDLE, GateSet(5, SUBSCRIBER, (SPEC,))))


def test_an_rpt_at_the_pep_is_never_gate_traffic_but_the_general_path_s_error():
    pep, _ = ready_with_gate_traffic()
    with pytest.raises(RemoteProtocolError, match="RPT from the PDP"):
        arrive(pep, report_for(HANDLE, GateSetAck(5, 0x100, SUBSCRIBER)))
