"""The ten COPS messages (RFC 2748 3, protocol.md 2.1/2.2/2.6): round trips, accessors and every DecodeError."""

from __future__ import annotations

import pytest

from cops_core import DecodeError, decode_message
from cops_core.codes import ClientType, DecisionCommand, ErrorCode, OpCode, ReportType, RType
from cops_core.messages import (
    MESSAGE_CLASSES,
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
from cops_core.objects import (
    PEPID,
    AccountingTimer,
    ClientSpecificDecision,
    Context,
    DecisionFlags,
    Error,
    Handle,
    KATimer,
    LastPDPAddressIPv4,
    Reason,
    ReportTypeObject,
    SignaledClientSI,
    StatelessData,
    UnknownObject,
)

from .samples import GC, HANDLE, INTEGRITY, MESSAGES, unhex

EXPECTED_OPCODES = {
    Request: 1, Decision: 2, Report: 3, DeleteRequest: 4, SyncRequest: 5,
    ClientOpen: 6, ClientAccept: 7, ClientClose: 8, KeepAlive: 9, SyncComplete: 10,
}


def test_the_ten_op_codes_map_to_the_ten_message_classes():
    assert {cls: cls.OPCODE for cls in MESSAGE_CLASSES.values()} == EXPECTED_OPCODES
    assert set(MESSAGE_CLASSES) == set(range(1, 11))


def test_samples_cover_all_ten_message_types():
    assert {type(m) for m in MESSAGES.values()} == set(EXPECTED_OPCODES)


@pytest.mark.parametrize("name", list(MESSAGES))
def test_message_round_trips_to_an_equal_value_and_identical_bytes(name):
    message = MESSAGES[name]
    data = message.encode()
    decoded = decode_message(data)
    assert type(decoded) is type(message)
    assert decoded == message
    assert decoded.encode() == data


@pytest.mark.parametrize("name", list(MESSAGES))
def test_common_header_holds_version_flags_opcode_client_type_and_total_length(name):
    message = MESSAGES[name]
    data = message.encode()
    assert data[0] == (0x11 if message.solicited else 0x10)
    assert data[1] == EXPECTED_OPCODES[type(message)]
    assert int.from_bytes(data[2:4], "big") == message.client_type
    assert int.from_bytes(data[4:8], "big") == len(data)
    assert len(data) % 4 == 0


@pytest.mark.parametrize("cls", list(EXPECTED_OPCODES), ids=lambda c: c.__name__)
def test_decode_accepts_bytearray_and_memoryview_as_well_as_bytes(cls):
    message = next(m for m in MESSAGES.values() if type(m) is cls)
    data = message.encode()
    assert decode_message(bytearray(data)) == message
    assert decode_message(memoryview(data)) == message


def test_solicited_flag_is_the_low_bit_of_the_first_byte():
    assert decode_message(unhex("11 09 00 00 00 00 00 08")).solicited is True
    assert decode_message(unhex("10 09 00 00 00 00 00 08")).solicited is False


def test_keep_alive_defaults_to_client_type_zero():
    assert KeepAlive().client_type == ClientType.CONNECTION
    assert KeepAlive().encode() == unhex("10 09 00 00 00 00 00 08")


def test_new_constructors_default_to_dqos_client_type():
    assert Request.new(HANDLE).client_type == ClientType.PACKETCABLE_DQOS == 0x8008


# --- constructors place objects in the grammar's order; accessors read them back ---------------


def test_request_new_defaults_to_the_dqos_configuration_context():
    message = Request.new(HANDLE)
    assert message.objects == (HANDLE, Context(RType.CONFIGURATION, 0))
    assert (message.handle, message.context) == (HANDLE, Context(8, 0))


def test_decision_new_puts_handle_then_each_group_with_flags_first_and_6_4_last():
    group = DecisionGroup(Context(8), DecisionFlags(DecisionCommand.INSTALL, 1), StatelessData(b"s"),
                          client_specific=ClientSpecificDecision(b"cs"))
    message = Decision.new(HANDLE, group)
    assert message.objects == (HANDLE, Context(8), DecisionFlags(1, 1), StatelessData(b"s"), ClientSpecificDecision(b"cs"))
    assert message.decisions == (group,)
    assert message.client_specific == ClientSpecificDecision(b"cs")
    assert message.error is None
    assert message.handle == HANDLE


def test_decision_groups_are_split_at_each_context():
    message = decode_message(MESSAGES["DEC-two-groups"].encode())
    first, second = message.decisions
    assert first.context == Context(RType.INCOMING_MESSAGE) and first.flags.command == DecisionCommand.REMOVE
    assert first.named is not None and first.replacement is not None
    assert second == DecisionGroup(Context(RType.OUTGOING_MESSAGE), DecisionFlags(DecisionCommand.NULL_DECISION))
    assert message.solicited is True


def test_decision_with_error_has_no_groups():
    message = decode_message(MESSAGES["DEC-error"].encode())
    assert message.error == Error(ErrorCode.UNABLE_TO_PROCESS)
    assert message.decisions == ()
    assert message.client_specific is None


def test_report_new_and_accessors():
    message = Report.new(HANDLE, ReportType.FAILURE, SignaledClientSI(b"x"), solicited=True)
    assert message.objects == (HANDLE, ReportTypeObject(2), SignaledClientSI(b"x"))
    assert (message.report_type, message.client_si, message.solicited) == (2, SignaledClientSI(b"x"), True)
    assert Report.new(HANDLE, 1).client_si is None


def test_delete_request_accessors():
    message = DeleteRequest.new(HANDLE, Reason(12))
    assert (message.handle, message.reason) == (HANDLE, Reason(12, 0))


def test_sync_messages_carry_an_optional_handle():
    assert SyncRequest.new().objects == () and SyncRequest.new().handle is None
    assert SyncRequest.new(HANDLE).handle == HANDLE
    assert SyncComplete.new(HANDLE).handle == HANDLE and SyncComplete.new().handle is None


def test_client_open_accept_close_accessors():
    assert ClientOpen.new("pep", LastPDPAddressIPv4(GC, 2126)).pep_id == "pep"
    assert ClientOpen.new("pep").objects == (PEPID("pep"),)
    assert ClientAccept.new(30).ka_seconds == 30
    assert ClientAccept.new(30, 60).objects == (KATimer(30), AccountingTimer(60))
    assert ClientClose.new(ErrorCode.COMMUNICATION_FAILURE).error == Error(9, 0)


def test_integrity_is_allowed_in_every_message():
    for name, message in MESSAGES.items():
        with_integrity = type(message)(message.objects + (INTEGRITY,), message.client_type, message.solicited)
        assert decode_message(with_integrity.encode()) == with_integrity, name


def test_unknown_cnum_is_allowed_in_every_message_and_kept_for_the_caller():
    for name, message in MESSAGES.items():
        extended = type(message)(message.objects + (UnknownObject(77, 1, b"?"),), message.client_type, message.solicited)
        assert decode_message(extended.encode()).unknown_objects == (UnknownObject(77, 1, b"?"),), name


# --- DecodeError: every reason, with its offset and the COPS Error to answer with --------------

H = "00 08 01 01 00 00 00 01"  # Handle 1
CTX = "00 08 02 01 00 08 00 00"  # Context 8/0
FLAGS = "00 08 06 01 00 01 00 01"  # Install + Trigger-Error
BAD_FORMAT = ErrorCode.BAD_MESSAGE_FORMAT
MISSING = ErrorCode.MANDATORY_COPS_OBJECT_MISSING

MALFORMED = {
    # rule: (wire, offset, error code, sub-code)
    "version-2-is-not-COPS-v1": ("20 09 00 00 00 00 00 08", 0, BAD_FORMAT, 0),
    "version-0-is-not-COPS-v1": ("01 09 00 00 00 00 00 08", 0, BAD_FORMAT, 0),
    "length-not-a-multiple-of-4": ("10 09 00 00 00 00 00 0a 00 00", 4, BAD_FORMAT, 0),
    "fewer-bytes-than-the-8-byte-header": ("10 09 00 00 00 00 00", 0, BAD_FORMAT, 0),
    "empty-input": ("", 0, BAD_FORMAT, 0),
    "length-field-below-the-header-size": ("10 09 00 00 00 00 00 04", 4, BAD_FORMAT, 0),
    "length-field-zero": ("10 09 00 00 00 00 00 00", 4, BAD_FORMAT, 0),
    "length-field-larger-than-the-bytes-given": ("10 09 00 00 00 00 00 10", 4, BAD_FORMAT, 0),
    "length-field-smaller-than-the-bytes-given": ("10 09 00 00 00 00 00 08 00 00 00 00", 4, BAD_FORMAT, 0),
    "unknown-opcode-11": ("10 0b 00 00 00 00 00 08", 1, BAD_FORMAT, 0),
    "unknown-opcode-0": ("10 00 00 00 00 00 00 08", 1, BAD_FORMAT, 0),
    "object-length-below-4": (f"10 01 80 08 00 00 00 18 | {H} | 00 02 02 01 00 08 00 00", 16, BAD_FORMAT, 0x0201),
    "object-length-zero": (f"10 01 80 08 00 00 00 10 | 00 00 01 01 00 00 00 01", 8, BAD_FORMAT, 0x0101),
    "object-running-past-the-end": (f"10 01 80 08 00 00 00 10 | 00 0c 01 01 00 00 00 01", 8, BAD_FORMAT, 0x0101),
    "fixed-size-object-with-the-wrong-length": (f"10 01 80 08 00 00 00 1c | {H} | 00 0c 02 01 00 08 00 00 00 00 00 00",
                                                 16, BAD_FORMAT, 0x0201),
    "short-fixed-size-object": (f"10 07 80 08 00 00 00 10 | 00 06 0a 01 00 1e 00 00", 8, BAD_FORMAT, 0x0A01),
    "pepid-without-nul": ("10 06 80 08 00 00 00 10 | 00 08 0b 01 41 42 43 44", 8, BAD_FORMAT, 0x0B01),
    "REQ-without-Handle": (f"10 01 80 08 00 00 00 10 | {CTX}", 8, MISSING, 0x0101),
    "REQ-without-Context": (f"10 01 80 08 00 00 00 10 | {H}", 8, MISSING, 0x0201),
    "DEC-without-Handle": (f"10 02 80 08 00 00 00 18 | {CTX} | {FLAGS}", 8, MISSING, 0x0101),
    "RPT-without-Report-Type": (f"10 03 80 08 00 00 00 10 | {H}", 8, MISSING, 0x0C01),
    "RPT-without-Handle": ("10 03 80 08 00 00 00 10 | 00 08 0c 01 00 01 00 00", 8, MISSING, 0x0101),
    "DRQ-without-Reason": (f"10 04 80 08 00 00 00 10 | {H}", 8, MISSING, 0x0501),
    "DRQ-without-Handle": ("10 04 80 08 00 00 00 10 | 00 08 05 01 00 01 00 00", 8, MISSING, 0x0101),
    "OPN-without-PEPID": ("10 06 80 08 00 00 00 08", 8, MISSING, 0x0B01),
    "CAT-without-KA-Timer": ("10 07 80 08 00 00 00 10 | 00 08 0f 01 00 00 00 3c", 8, MISSING, 0x0A01),
    "CC-without-Error": ("10 08 80 08 00 00 00 08", 8, MISSING, 0x0801),
    "Reason-in-a-REQ": (f"10 01 80 08 00 00 00 20 | {H} | {CTX} | 00 08 05 01 00 01 00 00", 24, BAD_FORMAT, 0x0501),
    "Context-in-a-RPT": (f"10 03 80 08 00 00 00 20 | {H} | 00 08 0c 01 00 01 00 00 | {CTX}", 24, BAD_FORMAT, 0x0201),
    "Handle-in-a-KA": (f"10 09 00 00 00 00 00 10 | {H}", 8, BAD_FORMAT, 0x0101),
    "KA-Timer-in-an-OPN": ("10 06 80 08 00 00 00 18 | 00 08 0b 01 41 42 43 00 | 00 08 0a 01 00 00 00 1e",
                           16, BAD_FORMAT, 0x0A01),
    "unknown-ctype-of-a-cnum-the-message-does-not-allow": (f"10 01 80 08 00 00 00 20 | {H} | {CTX} | 00 08 05 07 00 00 00 00",
                                                          24, BAD_FORMAT, 0x0507),
    "DEC-Context-not-followed-by-Decision-Flags": (
        f"10 02 80 08 00 00 00 20 | {H} | {CTX} | 00 08 06 04 00 04 0c 01", 16, MISSING, 0x0601),
    "DEC-Context-last": (f"10 02 80 08 00 00 00 18 | {H} | {CTX}", 16, MISSING, 0x0601),
    "DEC-second-Context-without-Flags": (f"10 02 80 08 00 00 00 28 | {H} | {CTX} | {FLAGS} | {CTX}", 32, MISSING, 0x0601),
    "DEC-with-neither-decisions-nor-Error": (f"10 02 80 08 00 00 00 10 | {H}", 8, MISSING, 0x0201),
    "DEC-with-both-Error-and-decisions": (f"10 02 80 08 00 00 00 28 | {H} | 00 08 08 01 00 01 00 00 | {CTX} | {FLAGS}",
                                          8, BAD_FORMAT, 0),
    "DEC-Decision-before-any-Context": (f"10 02 80 08 00 00 00 20 | {H} | 00 08 08 01 00 01 00 00 | {FLAGS}",
                                        8, BAD_FORMAT, 0x0601),
}


@pytest.mark.parametrize("rule", list(MALFORMED))
def test_malformed_message_raises_decode_error_with_offset_and_error(rule):
    wire, offset, code, subcode = MALFORMED[rule]
    with pytest.raises(DecodeError) as info:
        decode_message(unhex(wire))
    error = info.value
    assert (error.offset, error.error_code, error.error_subcode) == (offset, code, subcode)
    assert error.reason and f"offset {offset}" in str(error)


@pytest.mark.parametrize("rule", [r for r in MALFORMED if "without" in r and r.split("-")[0] in {o.name for o in OpCode}])
def test_message_lacking_a_mandatory_object_reports_error_7_with_its_cnum_ctype(rule):
    wire, _, code, subcode = MALFORMED[rule]
    assert code == ErrorCode.MANDATORY_COPS_OBJECT_MISSING
    with pytest.raises(DecodeError) as info:
        decode_message(unhex(wire))
    assert info.value.error_subcode == subcode != 0


def test_well_formed_variants_of_the_malformed_cases_decode():
    # The fixtures above differ from valid messages only in the fault they exercise.
    assert decode_message(unhex(f"10 01 80 08 00 00 00 18 | {H} | {CTX}")) == Request.new(Handle.from_int(1))
    assert decode_message(unhex(f"10 02 80 08 00 00 00 20 | {H} | {CTX} | {FLAGS}")).decisions
    assert decode_message(unhex(f"10 02 80 08 00 00 00 18 | {H} | 00 08 08 01 00 01 00 00")).error == Error(1)


def test_s_bit_is_never_a_reason_to_reject():
    # Asterisk and ODL send everything with S=0 (protocol.md 2.7).
    for name, message in MESSAGES.items():
        flipped = message._replace(solicited=not message.solicited)
        assert decode_message(flipped.encode()).solicited is flipped.solicited, name


def test_decode_error_after_the_header_names_the_op_code_so_a_bad_dec_can_get_a_drq():
    with pytest.raises(DecodeError) as info:
        decode_message(unhex(MALFORMED["DEC-Context-not-followed-by-Decision-Flags"][0]))
    assert info.value.opcode == OpCode.DEC
    with pytest.raises(DecodeError) as info:
        decode_message(unhex(MALFORMED["object-running-past-the-end"][0]))
    assert info.value.opcode == OpCode.REQ


@pytest.mark.parametrize("rule", ["version-2-is-not-COPS-v1", "unknown-opcode-11", "length-field-larger-than-the-bytes-given"])
def test_decode_error_in_the_header_names_no_op_code(rule):
    with pytest.raises(DecodeError) as info:
        decode_message(unhex(MALFORMED[rule][0]))
    assert info.value.opcode is None


def test_a_message_of_hundreds_of_empty_objects_is_refused_not_kept():
    import struct

    from cops_core.wire import MAX_OBJECTS

    body = struct.pack("!HBB", 4, 99, 1) * (MAX_OBJECTS + 1)  # unknown, empty objects: each would be kept
    message = struct.pack("!BBHI", 0x10, OpCode.KA, 0, 8 + len(body)) + body
    with pytest.raises(DecodeError, match=f"more than {MAX_OBJECTS} objects"):
        decode_message(message)
    fits = struct.pack("!BBHI", 0x10, OpCode.KA, 0, 8 + 4 * MAX_OBJECTS) + body[: 4 * MAX_OBJECTS]
    assert len(decode_message(fits).objects) == MAX_OBJECTS


def test_a_code_is_spoken_as_words_and_an_undefined_one_says_so():
    from cops_core.codes import spoken

    assert spoken(ErrorCode, 11) == "shutting down" and spoken(ErrorCode, 99) == "(not a defined code)"
