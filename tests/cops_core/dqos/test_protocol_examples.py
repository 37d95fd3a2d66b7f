"""Byte-exact agreement with every worked example of protocol.md section 4 (all decoded by tshark 4.0.17).

Each example is built with the public API and compared with the dump, and the
dump is decoded and its fields checked.  The hex is copied from protocol.md.
"""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from cops_core import decode_message
from cops_core.codes import ClientType, DecisionCommand, DecisionFlag, OpCode, ReportType, RType
from cops_core.dqos import (
    GateClose,
    GateCloseSubcode,
    GateSet,
    GateSetAck,
    GateSetErr,
    PacketCableError,
    PacketCableErrorCode,
    PacketCableReason,
    PacketCableReasonCode,
    decision_for,
    gate_command_of,
    report_for,
)
from cops_core.messages import ClientAccept, ClientOpen, Decision, KeepAlive, Report, Request
from cops_core.objects import PEPID, Context, DecisionFlags, Handle, KATimer, ReportTypeObject

from ..samples import DS_SPEC, FAR_END, GATE, GATE_SET_42, HANDLE, MTA, TID, US_SPEC, unhex

# --- 4.1 Client-Open, Client-Accept, Request ----------------------------------------------------

OPN_41 = """
00  10 06 80 08 00 00 00 18
08  00 10 0b 01
0c  43 4d 54 53 2d 4c 41 42
14  31 00 00 00
"""
CAT_41 = "10 07 80 08 00 00 00 10 | 00 08 0a 01 00 00 00 1e"
REQ_41 = "10 01 80 08 00 00 00 18 | 00 08 01 01 00 00 00 01 | 00 08 02 01 00 08 00 00"

# --- 4.2 Gate-Set DEC (180 bytes) ---------------------------------------------------------------

DEC_42 = """
00  10 02 80 08 00 00 00 b4
08  00 08 01 01 00 00 00 01
10  00 08 02 01 00 08 00 00
18  00 08 06 01 00 01 00 01
20  00 94 06 04
24  00 08 01 01 12 34 00 04
2c  00 08 02 01 0a 00 01 0a
34  00 08 04 01 00 00 00 04
3c  00 3c 05 01
40  00 11 00 01
44  0a 01 01 14 0a 00 01 0a
4c  00 00 40 00 b8 00 00 00
54  00 fa 00 00 00 c8 00 00
5c  46 1c 40 00 43 48 00 00
64  46 1c 40 00 00 00 00 c8
6c  00 00 00 c8 46 1c 40 00
74  00 00 03 20
78  00 3c 05 01 01 11 00 01
80  0a 00 01 0a 0a 01 01 14
88  00 00 40 00 b8 00 00 00
90  00 fa 00 00 00 c8 00 00
98  46 1c 40 00 43 48 00 00 46 1c 40 00
a4  00 00 00 c8 00 00 00 c8 46 1c 40 00 00 00 03 20
"""

# --- 4.3 Gate-Set-Ack RPT (60 bytes) ------------------------------------------------------------

RPT_43 = """
00  11 03 80 08 00 00 00 3c
08  00 08 01 01 00 00 00 01
10  00 08 0c 01 00 01 00 00
18  00 24 09 01
1c  00 08 01 01 12 34 00 05
24  00 08 02 01 0a 00 01 0a
2c  00 08 03 01 00 00 a0 01
34  00 08 04 01 00 00 00 01
"""

# --- 4.4 more verified messages -----------------------------------------------------------------

KA_44_CMTS = "10 09 00 00 00 00 00 08"
KA_44_ECHO = "11 09 00 00 00 00 00 08"
SET_ERR_44 = ("11 03 80 08 00 00 00 34 | 00 08 01 01 00 00 00 01 |"
              " 00 08 0c 01 00 02 00 00 | 00 1c 09 01 | 00 08 01 01 12 35 00 06 | 00 08 02 01 0a 00 01 0a |"
              " 00 08 09 01 00 06 05 01")
GATE_CLOSE_44 = ("10 03 80 08 00 00 00 3c | 00 08 01 01 00 00 00 01 | 00 08 0c 01 00 03 00 00 | 00 24 09 01 |"
                 " 00 08 01 01 00 00 00 0e | 00 08 02 01 0a 00 01 0a | 00 08 03 01 00 00 a0 01 | 00 08 0d 01 00 01 00 00")


def dump(text: str) -> bytes:
    """Bytes of a protocol.md hex dump; each line's leading offset is checked against the bytes so far."""
    if "\n" not in text.strip():
        return unhex(text)
    out = bytearray()
    for line in text.strip().splitlines():
        offset, _, data = line.partition("  ")
        assert int(offset, 16) == len(out), f"dump line {offset} starts at byte {len(out):#x}"
        out += unhex(data)
    return bytes(out)


EXAMPLES = {
    "4.1-OPN": (ClientOpen.new("CMTS-LAB1"), OPN_41, 24),
    "4.1-CAT": (ClientAccept.new(30), CAT_41, 16),
    "4.1-REQ": (Request.new(Handle.from_int(1)), REQ_41, 24),
    "4.2-Gate-Set-DEC": (decision_for(HANDLE, GATE_SET_42), DEC_42, 180),
    "4.3-Gate-Set-Ack-RPT": (report_for(HANDLE, GateSetAck(TID, GATE, MTA, 1)), RPT_43, 60),
    "4.4-KA-from-CMTS": (KeepAlive(), KA_44_CMTS, 8),
    "4.4-KA-echo-from-GC": (KeepAlive(solicited=True), KA_44_ECHO, 8),
    "4.4-Gate-Set-Err-missing-Gate-Spec": (
        report_for(HANDLE, GateSetErr(0x1235, PacketCableError(PacketCableErrorCode.MISSING_REQUIRED_OBJECT, 0x0501), MTA)),
        SET_ERR_44, 52),
    "4.4-Gate-Close-normal-release": (
        report_for(HANDLE, GateClose(0, GATE, MTA, PacketCableReason(PacketCableReasonCode.GATE_CLOSE,
                                                                      GateCloseSubcode.CLIENT_INITIATED_RELEASE))),
        GATE_CLOSE_44, 60),
}


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_api_builds_the_protocol_md_example_byte_for_byte(name):
    message, wire, size = EXAMPLES[name]
    data = message.encode()
    assert len(data) == size
    assert data.hex(" ") == dump(wire).hex(" ")


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_protocol_md_example_decodes_to_the_value_built_with_the_api(name):
    message, wire, _ = EXAMPLES[name]
    decoded = decode_message(dump(wire))
    assert decoded == message
    assert decoded.encode() == dump(wire)


def test_4_1_client_open_carries_pepid_cmts_lab1_with_its_padding_counted():
    message = decode_message(dump(OPN_41))
    assert type(message) is ClientOpen and message.client_type == ClientType.PACKETCABLE_DQOS
    assert message.solicited is False
    assert message.pep_id == "CMTS-LAB1"
    assert message.objects == (PEPID("CMTS-LAB1"),)
    assert dump(OPN_41)[8:10] == b"\x00\x10"


def test_4_1_client_accept_carries_a_30_second_keep_alive_timer():
    message = decode_message(dump(CAT_41))
    assert type(message) is ClientAccept and message.objects == (KATimer(30),)
    assert message.ka_seconds == 30


def test_4_1_request_carries_handle_1_and_the_configuration_context():
    message = decode_message(dump(REQ_41))
    assert type(message) is Request
    assert message.handle == Handle(b"\x00\x00\x00\x01")
    assert message.context == Context(RType.CONFIGURATION, 0)


def test_4_2_gate_set_dec_decodes_to_the_g711_gate_set():
    message = decode_message(dump(DEC_42))
    assert type(message) is Decision and message.OPCODE == OpCode.DEC
    assert (message.solicited, message.client_type, message.handle) == (False, 0x8008, HANDLE)
    [group] = message.decisions
    assert group.context == Context(RType.CONFIGURATION, 0)
    assert group.flags == DecisionFlags(DecisionCommand.INSTALL, DecisionFlag.TRIGGER_ERROR)
    assert len(group.client_specific.data) == 148 - 4
    command = gate_command_of(message)
    assert type(command) is GateSet
    assert (command.transaction_id, command.subscriber, command.activity_count, command.gate_id) == (0x1234, MTA, 4, None)
    downstream, upstream = command.gate_specs
    assert (downstream.direction, downstream.protocol, downstream.flags, downstream.session_class) == (0, 17, 0, 1)
    assert (downstream.source_ip, downstream.destination_ip) == (FAR_END, MTA)
    assert (downstream.source_port, downstream.destination_port, downstream.ds_field) == (0, 16384, 0xB8)
    assert (downstream.t1, downstream.t7, downstream.t8) == (250, 200, 0)
    assert (downstream.token_bucket_rate, downstream.token_bucket_size, downstream.peak_data_rate) == (10000.0, 200.0, 10000.0)
    assert (downstream.minimum_policed_unit, downstream.maximum_packet_size) == (200, 200)
    assert (downstream.rate, downstream.slack_term) == (10000.0, 800)
    assert upstream.direction == 1 and (upstream.source_ip, upstream.destination_ip) == (MTA, FAR_END)
    assert (downstream, upstream) == (DS_SPEC, US_SPEC)


def test_4_3_gate_set_ack_rpt_is_solicited_success_with_the_gate_id():
    message = decode_message(dump(RPT_43))
    assert type(message) is Report
    assert (message.solicited, message.report_type, message.handle) == (True, ReportType.SUCCESS, HANDLE)
    assert gate_command_of(message) == GateSetAck(0x1234, 0xA001, IPv4Address("10.0.1.10"), 1)


def test_4_4_keep_alives_are_client_type_0_and_the_echo_is_solicited():
    cmts, echo = decode_message(dump(KA_44_CMTS)), decode_message(dump(KA_44_ECHO))
    assert type(cmts) is type(echo) is KeepAlive
    assert (cmts.client_type, cmts.solicited, cmts.objects) == (0, False, ())
    assert (echo.client_type, echo.solicited, echo.objects) == (0, True, ())


def test_4_4_gate_set_err_reports_missing_gate_spec_as_error_6_sub_0x0501():
    message = decode_message(dump(SET_ERR_44))
    assert (message.solicited, message.objects[1]) == (True, ReportTypeObject(ReportType.FAILURE))
    command = gate_command_of(message)
    assert command == GateSetErr(0x1235, PacketCableError(6, 0x0501), MTA)
    assert command.gate_id is None


def test_4_4_gate_close_is_unsolicited_accounting_with_tid_0_and_reason_close_normal():
    message = decode_message(dump(GATE_CLOSE_44))
    assert (message.solicited, message.report_type) == (False, ReportType.ACCOUNTING)
    command = gate_command_of(message)
    assert type(command) is GateClose
    assert (command.transaction_id, command.gate_id, command.subscriber) == (0, 0xA001, MTA)
    assert command.reason == PacketCableReason(1, 0)
