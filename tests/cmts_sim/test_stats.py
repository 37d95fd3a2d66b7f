"""What ``cmts-sim serve`` shows: the JSON message log, the counters, and the live panel drawn from them."""

from __future__ import annotations

import io
import json

import trio
import trio.testing
from hypothesis import given

from rich.console import Console

from cmts_sim.live import render
from cmts_sim.stats import JsonLog, Stats, gate_command_type
from cops_core.codes import ErrorCode, OpCode, RType
from cops_core.dqos import (GateAlloc, GateCommandType, GateDelete, GateInfo, GateInfoErr, GateSet, GateSetAck,
                            PacketCableError, SubscriberIDIPv4, TransactionID, decision_for, report_for)
from cops_core.messages import ClientClose, Decision, Report
from cops_core.objects import ClientSpecificDecision, Context, DecisionFlags, Handle, UnknownObject

from ..cops_core.strategies import any_message
from .conftest import SUBSCRIBER, connect, gate_spec, start_cmts


async def test_the_json_log_has_one_line_per_message_with_gate_command_gate_id_and_tid(nursery, autojump_clock):
    stream = io.StringIO()
    cmts = await start_cmts(nursery, taps=[JsonLog(stream).tap])
    gc = await connect(cmts)
    ack = await gc.command(GateSet(0x1234, SUBSCRIBER, (gate_spec(0), gate_spec(1))))
    assert type(ack) is GateSetAck
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["direction"], line["opcode"]) for line in lines] == [
        ("out", "OPN"), ("in", "CAT"), ("out", "REQ"), ("in", "DEC"), ("out", "RPT")]
    dec, rpt = lines[3], lines[4]
    assert dec["gate_command"] == "Gate-Set" and dec["transaction_id"] == 0x1234 and "gate_id" not in dec
    assert rpt["gate_command"] == "Gate-Set-Ack" and rpt["gate_id"] == f"0x{ack.gate_id:08x}"
    assert all(line["peer"].startswith("127.0.0.1:") and line["time"] > 1e9 for line in lines)


async def test_the_json_log_alone_says_why_a_gate_or_a_connection_ended(nursery, autojump_clock, caplog):
    caplog.set_level("INFO", logger="cmts_sim")
    stream = io.StringIO()
    journal = JsonLog(stream, hex_bytes=True)
    cmts = await start_cmts(nursery, taps=[journal.tap], timers={"t0": 1})
    cmts.on_connection = journal.connection
    gc = await connect(cmts)
    await gc.command(GateInfo(7, SUBSCRIBER, 0x0BADCAFE))
    gate = (await gc.command(GateAlloc(8, SUBSCRIBER))).gate_id
    await gc.reply()  # T0: the Gate-Close
    await gc.send(ClientClose.new(ErrorCode.SHUTTING_DOWN))
    await gc.closed()
    await trio.testing.wait_all_tasks_blocked()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    events = [line for line in lines if "event" in line]
    assert [event["event"] for event in events] == ["connected", "closed"]
    assert events[1]["why"] == "it sent Client-Close (error 11 shutting down)"
    err = next(line for line in lines if line.get("gate_command") == "Gate-Info-Err")
    assert err["error"] == {"code": 2, "subcode": 0, "name": "unknown_gate_id"} and err["subscriber"] == "10.0.1.10"
    close = next(line for line in lines if line.get("gate_command") == "Gate-Close")
    assert close["gate_id"] == f"0x{gate:08x}"
    assert close["reason"] == {"code": 1, "subcode": 4, "name": "timer_t0_expiration"}
    cc = next(line for line in lines if line.get("opcode") == "CC")
    assert cc["error"]["name"] == "shutting_down" and cc["hex"].startswith("1008")
    assert "connected" in caplog.text and "closed: it sent Client-Close (error 11 shutting down)" in caplog.text


async def test_counters_and_the_panel_show_messages_gates_and_errors_sent(nursery, autojump_clock):
    stats = Stats()
    cmts = await start_cmts(nursery, counter=stats.count)
    gc = await connect(cmts)
    await gc.command(GateSet(1, SUBSCRIBER, (gate_spec(0),)))
    assert type(await gc.command(GateInfo(2, SUBSCRIBER, 0x0BAD0BAD))) is GateInfoErr
    assert (stats.received, stats.sent) == (3, 4)  # CAT, 2 DEC in; OPN, REQ, 2 RPT out
    assert stats.errors == {"PacketCable UNKNOWN_GATE_ID": 1}
    console = Console(file=io.StringIO(), width=140, force_terminal=False)
    console.print(render(cmts, stats, (12.0, 3.0)))
    screen = console.file.getvalue()
    assert "ready" in screen and "30 s" in screen  # the peer, its state and KA interval
    assert "Authorized" in screen and "PacketCable UNKNOWN_GATE_ID" in screen
    assert "12" in screen and "DEC 2" in screen


async def test_counters_count_op_codes_and_gate_commands_each_way(nursery, autojump_clock):
    stats = Stats()
    cmts = await start_cmts(nursery, counter=stats.count)
    gc = await connect(cmts)
    ack = await gc.command(GateSet(1, SUBSCRIBER, (gate_spec(0),)))
    await gc.command(GateInfo(2, SUBSCRIBER, 0x0BAD0BAD))
    await gc.command(GateDelete(3, SUBSCRIBER, ack.gate_id))
    assert stats.opcodes_in == {OpCode.CAT: 1, OpCode.DEC: 3}
    assert stats.opcodes_out == {OpCode.OPN: 1, OpCode.REQ: 1, OpCode.RPT: 3}
    assert stats.commands_in == {GateCommandType.GATE_SET: 1, GateCommandType.GATE_INFO: 1,
                                 GateCommandType.GATE_DELETE: 1}
    assert stats.commands_out == {GateCommandType.GATE_SET_ACK: 1, GateCommandType.GATE_INFO_ERR: 1,
                                  GateCommandType.GATE_DELETE_ACK: 1}
    assert stats.by_opcode == {"CAT": 1, "DEC": 3, "OPN": 1, "REQ": 1, "RPT": 3}


def test_the_command_type_is_found_wherever_the_carrier_and_the_transaction_id_are():
    handle = Handle.from_int(7)
    tid_first = GateSet(5, SUBSCRIBER, (gate_spec(0),)).encode()
    tid_last = SubscriberIDIPv4(SUBSCRIBER).encode() + TransactionID(5, GateCommandType.GATE_SET).encode() \
        + gate_spec(0).encode()
    group = (Context(RType.CONFIGURATION, 0), DecisionFlags(1, 1))
    assert gate_command_type(Decision((handle, *group, ClientSpecificDecision(tid_first)))) == GateCommandType.GATE_SET
    assert gate_command_type(Decision((handle, *group, ClientSpecificDecision(tid_last)))) == GateCommandType.GATE_SET
    carrier_not_last = Decision((handle, *group, ClientSpecificDecision(tid_first), UnknownObject(40, 1, b"\0" * 4)))
    assert gate_command_type(carrier_not_last) == GateCommandType.GATE_SET
    assert gate_command_type(Decision((handle, *group))) is None
    assert gate_command_type(Decision((handle, *group, ClientSpecificDecision(b"\0\0")))) is None
    # A Transaction-ID header with its body cut off: no command type to read, and no IndexError either.
    assert gate_command_type(Decision((handle, *group, ClientSpecificDecision(b"\x00\x08\x01\x01\x00")))) is None


@given(any_message)
def test_the_counter_counts_the_command_type_gate_command_type_finds(message):
    # The counter reads the usual shape in place: whatever the message, it counts what the general path finds.
    data = message.encode()
    for outgoing in (False, True):
        stats = Stats()
        stats.count(outgoing, data)
        counted = type(message) is (Report if outgoing else Decision)
        assert stats.counts == {(outgoing, message.OPCODE, gate_command_type(message) if counted else None): 1}


def test_the_counter_reads_the_usual_dec_and_rpt_in_place_and_decodes_only_what_names_an_error():
    handle = Handle.from_int(7)
    stats = Stats()
    stats.count(False, decision_for(handle, GateSet(5, SUBSCRIBER, (gate_spec(0),))).encode())
    stats.count(True, report_for(handle, GateSetAck(5, 0x100, SUBSCRIBER)).encode())
    stats.count(True, report_for(handle, GateInfoErr(6, PacketCableError(2), SUBSCRIBER, 0x100)).encode())
    stats.count(True, ClientClose.new(ErrorCode.SHUTTING_DOWN).encode())
    assert stats.commands_in == {GateCommandType.GATE_SET: 1}
    assert stats.commands_out == {GateCommandType.GATE_SET_ACK: 1, GateCommandType.GATE_INFO_ERR: 1}
    assert stats.opcodes_out == {OpCode.RPT: 2, OpCode.CC: 1}
    assert stats.errors == {"PacketCable UNKNOWN_GATE_ID": 1, "COPS SHUTTING_DOWN": 1}


def test_the_usual_dec_and_rpt_are_counted_from_their_first_bytes_without_decoding_the_rest():
    # Bytes that end in an object of length 0 do not decode; the counter never gets that far for the usual shape.
    handle = Handle.from_int(7)
    for outgoing, message, command in (
            (False, decision_for(handle, GateDelete(5, SUBSCRIBER, 0x100)), GateCommandType.GATE_DELETE),
            (True, report_for(handle, GateSetAck(5, 0x100, SUBSCRIBER)), GateCommandType.GATE_SET_ACK)):
        data = bytearray(message.encode() + bytes(4))
        data[4:8] = len(data).to_bytes(4, "big")
        stats = Stats()
        stats.count(outgoing, bytes(data))
        assert stats.counts == {(outgoing, message.OPCODE, command): 1}


def test_a_command_the_transport_hands_over_is_counted_without_reading_the_bytes_again():
    # The bytes stop after the COPS header: only the handed-over command can say what the RPT carried.
    err = GateInfoErr(6, PacketCableError(2), SUBSCRIBER, 0x100)
    header = report_for(Handle.from_int(7), err).encode()[:8]
    stats = Stats()
    stats.count(True, header, err)
    assert stats.commands_out == {GateCommandType.GATE_INFO_ERR: 1}
    assert stats.errors == {"PacketCable UNKNOWN_GATE_ID": 1}


def test_a_carrier_too_short_for_its_transaction_id_is_not_read_in_place():
    # A 6/4 of 8 bytes holds only the Transaction-ID's header: the bytes after it belong to the next object.
    group = (Context(RType.CONFIGURATION, 0), DecisionFlags(1, 1))
    cut = Decision((Handle.from_int(7), *group, ClientSpecificDecision(b"\x00\x08\x01\x01"),
                    UnknownObject(40, 1, b"\x00\x00\x00\x05")))
    stats = Stats()
    stats.count(False, cut.encode())
    assert stats.counts == {(False, OpCode.DEC, None): 1}


def test_a_malformed_message_counts_as_received():
    stats = Stats()
    stats.count(False, None)
    assert stats.received == 1 and stats.sent == 0 and stats.opcodes_in == {}
