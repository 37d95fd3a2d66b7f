"""A trace record carries the gate command of its message, decoded once, or given by whoever built the message."""

from __future__ import annotations

import ipaddress

from cops_core.dqos import GateSet, GateSetAck, decision_for, packed_report, report_for
from cops_core.errors import PacketCableDecodeError
from cops_core.messages import KeepAlive, Report
from cops_core.objects import Handle, SignaledClientSI
from cops_core.trace import UNREAD, TraceRecord

from ..cmts_sim.conftest import gate_spec

MTA = ipaddress.IPv4Address("10.0.1.10")
HANDLE = Handle.from_int(1)
HERE, THERE = ("127.0.0.1", 40000), ("127.0.0.1", 2126)


def record(message, data: bytes | None = None, **given) -> TraceRecord:
    return TraceRecord(1.0, 2.0, False, HERE, THERE, message, message.encode() if data is None else data, **given)


def test_the_gate_command_is_decoded_on_first_use_and_the_same_object_is_kept():
    traced = record(decision_for(HANDLE, GateSet(7, MTA, (gate_spec(0), gate_spec(1)))))
    command = traced.command
    assert type(command) is GateSet and command.transaction_id == 7
    assert traced.command is command and traced.command_error is None


def test_a_message_without_a_gate_command_has_none():
    traced = record(KeepAlive())
    assert traced.command is None and traced.command_error is None


def test_a_gate_command_that_does_not_decode_gives_the_reason_and_no_command():
    broken = Report.new(HANDLE, 1, SignaledClientSI(b"\x00\x08\x01\x01\x00\x01"))  # a Transaction-ID cut short
    traced = record(broken)
    assert traced.command is None
    assert isinstance(traced.command_error, PacketCableDecodeError)


def test_a_record_given_its_command_by_the_sender_does_not_decode_the_message():
    ack = GateSetAck(3, 0xA001, MTA, 1)
    report, data = report_for(HANDLE, ack), packed_report(HANDLE, ack)
    sentinel = object()  # not what the message decodes to: proof that nothing was decoded
    assert record(report, data, command=sentinel).command is sentinel
    assert record(report, data).command == ack


def test_a_replaced_record_keeps_its_command_unless_the_message_changes():
    first = record(report_for(HANDLE, GateSetAck(3, 0xA001, MTA, 1)))
    assert first.command is not None
    moved = first.replace(peer=("10.0.0.9", 2126))
    assert moved.peer == ("10.0.0.9", 2126) and moved.command is first.command
    other = first.replace(message=KeepAlive(), data=KeepAlive().encode())
    assert other.command is None


def test_a_record_given_no_message_decodes_it_from_its_bytes_once_when_first_asked():
    ack = GateSetAck(7, 0x100, MTA)
    report = report_for(HANDLE, ack)
    traced = TraceRecord(1.0, 2.0, False, HERE, THERE, UNREAD, report.encode(), command=ack)
    message = traced.message
    assert message == report and traced.message is message
    assert traced.command is ack
    assert traced.replace(time=3.0).message == report
