"""COPS objects, C-Num 1 to 16 (RFC 2748 2.2, protocol.md 2.3/2.4): layouts, padding, unknown objects."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest
from hypothesis import given

from cops_core import DecodeError, decode_message
from cops_core.codes import ErrorCode, RType
from cops_core.fields import ipv4
from cops_core.messages import ClientOpen, Decision, Report, Request, SyncComplete, SyncRequest, _object_error
from cops_core.objects import (
    COPS_OBJECTS,
    PEPID,
    Context,
    DecisionFlags,
    Handle,
    InInterfaceIPv4,
    IntegrityHMAC,
    ReportTypeObject,
    SignaledClientSI,
    UnknownObject,
)
from cops_core.wire import walk

from .samples import COPS_OBJECT_WIRE, HANDLE, host_message, unhex
from .strategies import u32


def decode_objects(raw: bytes) -> list:
    """The COPS objects in ``raw`` (a message body), walked as decode_message walks them."""
    return walk(memoryview(raw), 0, len(raw), COPS_OBJECTS, UnknownObject, _object_error, aligned=True)


def object_id(param) -> str:
    obj = param
    return f"{type(obj).__name__}-{obj.NUM}/{obj.TYPE}" if hasattr(obj, "NUM") else type(obj).__name__


def test_every_registered_cops_object_class_has_a_wire_example():
    # C-Num 1..16 with every C-Type of protocol.md 2.4 -- and nothing registered goes untested.
    covered = {(type(obj).NUM, type(obj).TYPE) for obj, _ in COPS_OBJECT_WIRE}
    registered = {(key >> 8, key & 0xFF) for key in COPS_OBJECTS.classes}
    assert covered == registered
    assert {num for num, _ in registered} == set(range(1, 17))
    assert {(3, 1), (3, 2), (4, 1), (4, 2), (13, 1), (13, 2), (14, 1), (14, 2), (16, 1), (16, 2)} <= registered


@pytest.mark.parametrize(("obj", "wire"), COPS_OBJECT_WIRE, ids=[object_id(o) for o, _ in COPS_OBJECT_WIRE])
def test_object_encodes_to_its_exact_wire_form(obj, wire):
    assert obj.encode() == unhex(wire)


@pytest.mark.parametrize(("obj", "wire"), COPS_OBJECT_WIRE, ids=[object_id(o) for o, _ in COPS_OBJECT_WIRE])
def test_object_decodes_from_its_wire_form_to_an_equal_value(obj, wire):
    [decoded] = decode_objects(unhex(wire))
    assert type(decoded) is type(obj)
    assert decoded == obj


@pytest.mark.parametrize(("obj", "wire"), COPS_OBJECT_WIRE, ids=[object_id(o) for o, _ in COPS_OBJECT_WIRE])
def test_object_round_trips_inside_a_message_with_identical_bytes(obj, wire):
    message = host_message(obj)
    data = message.encode()
    assert unhex(wire) in data
    decoded = decode_message(data)
    assert decoded == message
    assert obj in decoded.objects
    assert decoded.encode() == data


@pytest.mark.parametrize(("obj", "wire"), [(o, w) for o, w in COPS_OBJECT_WIRE if type(o).LENGTH is not None],
                         ids=[object_id(o) for o, _ in COPS_OBJECT_WIRE if type(o).LENGTH is not None])
def test_fixed_size_object_declares_its_length_in_the_header(obj, wire):
    raw = obj.encode()
    assert len(raw) == type(obj).LENGTH == int.from_bytes(raw[:2], "big")


# --- padding (RFC 2748 2.2, protocol.md 2.3) ---------------------------------------------------


@pytest.mark.parametrize(("identifier", "length"), [("ABC", 8), ("ABCD", 12), ("ABCDEFG", 12), ("CMTS-LAB1", 16), ("", 8)])
def test_pepid_length_counts_its_nul_and_padding(identifier, length):
    raw = PEPID(identifier).encode()
    assert int.from_bytes(raw[:2], "big") == length == len(raw)
    assert raw[4:] == identifier.encode() + bytes(length - 4 - len(identifier))
    assert decode_objects(raw) == [PEPID(identifier)]


def test_five_byte_handle_has_length_9_and_is_padded_to_8():
    raw = Handle(b"HELLO").encode()
    assert raw == b"\x00\x09\x01\x01HELLO\x00\x00\x00"


@pytest.mark.parametrize("size", range(0, 9))
def test_variable_object_length_excludes_padding_and_next_object_starts_at_the_4_byte_boundary(size):
    handle = Handle(bytes(range(1, size + 1)))
    raw = handle.encode()
    assert int.from_bytes(raw[:2], "big") == 4 + size
    assert len(raw) == (4 + size + 3) // 4 * 4
    assert raw[4 + size:] == bytes(len(raw) - 4 - size)
    message = Request.new(handle)
    assert decode_message(message.encode()).objects == (handle, Context(RType.CONFIGURATION))


def test_padding_bytes_are_skipped_whatever_they_contain():
    # Parse leniently (protocol.md 2.3): only the Length and roundup4(Length) matter.
    wire = unhex("10 01 80 08 00 00 00 24 | 00 09 01 01 01 02 03 04 05 ff ff ff | 00 08 02 01 00 08 00 00"
                 "| 00 05 09 01 aa ee ee ee")
    message = decode_message(wire)
    assert message.objects == (Handle(b"\x01\x02\x03\x04\x05"), Context(8, 0), SignaledClientSI(b"\xaa"))


def test_ip_address_fields_decode_to_ipaddress_values():
    [obj] = decode_objects(unhex("00 0c 03 01 0a 00 00 01 00 00 00 07"))
    assert obj.address == IPv4Address("10.0.0.1")
    assert isinstance(obj.address, IPv4Address)
    assert obj == InInterfaceIPv4(IPv4Address("10.0.0.1"), 7)


def test_report_type_and_timers_ignore_their_reserved_halves():
    assert decode_objects(unhex("00 08 0c 01 00 03 ff ff")) == [ReportTypeObject(3)]
    assert decode_objects(unhex("00 08 0a 01 ff ff 00 3c"))[0].seconds == 60


def test_integrity_hmac_carries_key_id_sequence_and_digest():
    obj = IntegrityHMAC(0xA, 0xFFFFFFFF, b"\x11" * 12)
    [decoded] = decode_objects(obj.encode())
    assert (decoded.key_id, decoded.sequence, decoded.digest) == (0xA, 0xFFFFFFFF, b"\x11" * 12)


def test_handle_from_int_is_four_bytes_big_endian():
    assert Handle.from_int(0x01020304) == Handle(b"\x01\x02\x03\x04")
    assert Handle.from_int(1).value == b"\x00\x00\x00\x01"


# --- object faults ----------------------------------------------------------------------------


def test_pepid_without_nul_is_a_decode_error_pointing_at_the_object():
    with pytest.raises(DecodeError) as info:
        decode_objects(unhex("00 08 0b 01 41 42 43 44"))
    assert info.value.offset == 0
    assert info.value.error_code == ErrorCode.BAD_MESSAGE_FORMAT
    assert info.value.error_subcode == 0x0B01


def test_pepid_that_is_not_ascii_is_a_decode_error():
    with pytest.raises(DecodeError) as info:
        decode_objects(unhex("00 08 0b 01 41 c3 a9 00"))
    assert info.value.error_subcode == 0x0B01


def test_integrity_hmac_shorter_than_key_id_and_sequence_is_a_decode_error():
    with pytest.raises(DecodeError) as info:
        decode_objects(unhex("00 08 10 01 00 00 00 01"))
    assert info.value.error_subcode == 0x1001


# --- unknown objects ---------------------------------------------------------------------------


def test_unknown_cnum_decodes_to_unknown_object_keeping_its_bytes():
    [obj] = decode_objects(unhex("00 07 2a 03 01 02 03 00"))
    assert obj == UnknownObject(42, 3, b"\x01\x02\x03")
    assert obj.encode() == unhex("00 07 2a 03 01 02 03 00")


def test_unknown_ctype_of_a_known_cnum_decodes_to_unknown_object():
    [obj] = decode_objects(unhex("00 08 01 07 00 00 00 09"))
    assert obj == UnknownObject(1, 7, b"\x00\x00\x00\x09")


@pytest.mark.parametrize(
    "message",
    [
        Request((HANDLE, Context(RType.CONFIGURATION), UnknownObject(42, 1, b"\x01"), UnknownObject(2, 9, b"ctx"))),
        Report((HANDLE, UnknownObject(200, 200, b""), ReportTypeObject(1), UnknownObject(9, 3, b"odd-sized"))),
        ClientOpen((UnknownObject(0, 0, b"zero"), PEPID("pep"), UnknownObject(11, 2, b"\x00" * 7))),
        SyncRequest((UnknownObject(1, 2, b"handle-ctype-2"),)),
        SyncComplete((HANDLE, UnknownObject(17, 1, bytes(range(256))))),
        Decision((HANDLE, UnknownObject(6, 9, b"before-context"), Context(RType.CONFIGURATION), DecisionFlags(),
                  UnknownObject(99, 1, b"x"), UnknownObject(6, 0, b"after-flags"))),
    ],
    ids=["REQ", "RPT", "OPN", "SSQ", "SSC", "DEC"],
)
def test_unknown_objects_reencode_byte_identical_inside_a_message(message):
    data = message.encode()
    decoded = decode_message(data)
    assert decoded == message
    assert decoded.encode() == data
    assert decoded.unknown_objects == tuple(o for o in message.objects if type(o) is UnknownObject)
    assert decoded.unknown_objects


@given(u32)
def test_the_decoders_ipv4_addresses_are_the_ones_the_constructor_builds(value):
    # ipv4() skips IPv4Address's constructor: the result must be indistinguishable from the constructor's.
    ipv4.cache_clear()
    built, expected = ipv4(value), IPv4Address(value)
    assert type(built) is IPv4Address
    assert (built == expected, hash(built), str(built), built.packed, built.is_private) == \
        (True, hash(expected), str(expected), expected.packed, expected.is_private)
