"""PacketCable DQoS objects (protocol.md 3.3): exact layouts, the unpadded walk, unknown objects, faults."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest

from cops_core import DecodeError, PacketCableDecodeError
from cops_core.dqos import (
    PACKETCABLE_OBJECTS,
    EventGenerationInfo,
    GateID,
    GateSpec,
    PacketCableErrorCode,
    SessionDescriptionParameters,
    SNum,
    SubscriberIDIPv4,
    SubscriberIDIPv6,
    TransactionID,
    UnknownPacketCableObject,
    decode_packetcable_objects,
)

from ..samples import DS_SPEC, EGI, ESP, MTA, MTA6, PACKETCABLE_OBJECT_WIRE, unhex


def object_id(obj) -> str:
    return f"{type(obj).__name__}-{obj.SNUM}/{obj.STYPE}"


IDS = [object_id(o) for o, _ in PACKETCABLE_OBJECT_WIRE]


def test_every_registered_packetcable_object_has_a_wire_example():
    covered = {(type(obj).SNUM, type(obj).STYPE) for obj, _ in PACKETCABLE_OBJECT_WIRE}
    registered = {(key >> 8, key & 0xFF) for key in PACKETCABLE_OBJECTS.classes}
    assert covered == registered
    assert {num for num, _ in registered} == {s.value for s in SNum} == set(range(1, 12)) | {13}


@pytest.mark.parametrize(("obj", "wire"), PACKETCABLE_OBJECT_WIRE, ids=IDS)
def test_packetcable_object_encodes_to_its_exact_wire_form(obj, wire):
    assert obj.encode() == unhex(wire)


@pytest.mark.parametrize(("obj", "wire"), PACKETCABLE_OBJECT_WIRE, ids=IDS)
def test_packetcable_object_decodes_from_its_wire_form_to_an_equal_value(obj, wire):
    [decoded] = decode_packetcable_objects(unhex(wire))
    assert type(decoded) is type(obj)
    assert decoded == obj
    assert decoded.encode() == unhex(wire)


@pytest.mark.parametrize(("obj", "wire"), PACKETCABLE_OBJECT_WIRE, ids=IDS)
def test_packetcable_object_length_counts_every_byte(obj, wire):
    raw = unhex(wire)
    assert int.from_bytes(raw[:2], "big") == len(raw)


@pytest.mark.parametrize(("cls", "length"), [(TransactionID, 8), (SubscriberIDIPv4, 8), (SubscriberIDIPv6, 20),
                                             (GateID, 8), (GateSpec, 60), (EventGenerationInfo, 44)])
def test_fixed_object_sizes_match_protocol_md(cls, length):
    assert cls.LENGTH == length


def test_objects_sit_back_to_back_without_padding():
    # Wireshark steps through DQoS objects by their exact Length (protocol.md 3.1).
    odd = UnknownPacketCableObject(12, 1, b"\x01\x02\x03")  # 7 bytes
    raw = odd.encode() + GateID(7).encode()
    assert len(raw) == 15
    assert decode_packetcable_objects(raw) == [odd, GateID(7)]


def test_subscriber_id_comes_in_ipv4_and_ipv6_flavours():
    v4, v6 = decode_packetcable_objects(SubscriberIDIPv4(MTA).encode() + SubscriberIDIPv6(MTA6).encode())
    assert isinstance(v4.address, IPv4Address) and v4.address == MTA
    assert isinstance(v6.address, IPv6Address) and v6.address == MTA6


def test_gate_spec_fields_sit_at_the_offsets_of_protocol_md():
    raw = DS_SPEC.encode()[4:]  # the 56-byte payload
    assert (raw[0], raw[1], raw[2], raw[3]) == (0, 17, 0, 1)
    assert raw[4:8] == IPv4Address("10.1.1.20").packed and raw[8:12] == MTA.packed
    assert raw[0x0E:0x10] == b"\x40\x00" and raw[0x10] == 0xB8 and raw[0x11:0x14] == bytes(3)
    assert raw[0x14:0x16] == (250).to_bytes(2, "big") and raw[0x16:0x18] == bytes(2)
    assert raw[0x18:0x1A] == (200).to_bytes(2, "big") and raw[0x1A:0x1C] == bytes(2)
    assert raw[0x1C:0x20] == unhex("46 1c 40 00")  # r = 10000.0
    assert raw[0x34:0x38] == (800).to_bytes(4, "big")


def test_gate_spec_floats_travel_bit_exactly():
    spec = DS_SPEC._replace(token_bucket_rate=128000.0, token_bucket_size=232.0, peak_data_rate=float("inf"),
                            rate=-0.0)
    [decoded] = decode_packetcable_objects(spec.encode())
    assert decoded == spec
    assert decoded.encode() == spec.encode()


def test_gate_spec_reserved_bytes_are_ignored_on_decode():
    raw = bytearray(DS_SPEC.encode())
    raw[4 + 0x11:4 + 0x14] = b"\xff\xff\xff"
    raw[4 + 0x16:4 + 0x18] = b"\xff\xff"
    assert decode_packetcable_objects(bytes(raw)) == [DS_SPEC]


def test_event_generation_info_carries_both_rks_and_the_bcid():
    [decoded] = decode_packetcable_objects(EGI.encode())
    assert decoded.primary_rks_ip == IPv4Address("10.0.2.1") and decoded.primary_rks_port == 1813
    assert decoded.secondary_rks_ip == IPv4Address("10.0.2.2") and decoded.secondary_rks_port == 1814
    assert (decoded.bcid_timestamp, decoded.bcid_element_id, decoded.bcid_time_zone, decoded.bcid_event_counter) == (
        0x5F5E1000, "CMTS0001", "0-050000", 42)


def test_bcid_text_fields_keep_every_byte_including_nul_padding():
    egi = EGI._replace(bcid_element_id="AB\0\0\0\0\0\0", bcid_time_zone="\xff" * 8)
    [decoded] = decode_packetcable_objects(egi.encode())
    assert decoded == egi


def test_electronic_surveillance_parameters_carry_both_df_addresses_ccc_id_and_bcid():
    [decoded] = decode_packetcable_objects(ESP.encode())
    assert decoded == ESP
    assert decoded.ccc_id == 0xCAFEF00D and decoded.bcid_element_id == "ELEMENT1"


@pytest.mark.parametrize(("upstream", "downstream"), [("", ""), ("a", ""), ("ab", "c"), ("v=0", "v=0 x"),
                                                       ("v=0\r\nm=audio 16384 RTP/AVP 0", "v=0\r\nm=audio 5004 RTP/AVP 0")])
def test_session_description_parameters_from_sdp_is_nul_separated_and_4_aligned(upstream, downstream):
    sdp = SessionDescriptionParameters.from_sdp(upstream, downstream)
    text = upstream.encode() + b"\0" + downstream.encode() + b"\0"
    assert sdp.data[: len(text)] == text
    assert sdp.data[len(text):] == bytes(len(sdp.data) - len(text))
    assert len(sdp.data) % 4 == 0 and len(sdp.data) - len(text) < 4
    assert sdp.sdp == (upstream, downstream)
    [decoded] = decode_packetcable_objects(sdp.encode())
    assert decoded == sdp and decoded.sdp == (upstream, downstream)


def test_session_description_parameters_sdp_reads_back_non_ascii_text():
    sdp = SessionDescriptionParameters.from_sdp("s=Café", "s=naïve")
    assert sdp.sdp == ("s=Café", "s=naïve")


def test_session_description_parameters_that_are_not_utf8_survive_sdp_and_from_sdp():
    odd = SessionDescriptionParameters(b"v=\xff\xfe\0s=\x80\0\0\0\0")
    assert SessionDescriptionParameters.from_sdp(*odd.sdp) == odd


def test_session_description_parameters_without_separator_reads_as_upstream_only():
    assert SessionDescriptionParameters(b"v=0").sdp == ("v=0", "")


# --- unknown PacketCable objects -----------------------------------------------------------------


@pytest.mark.parametrize("obj", [UnknownPacketCableObject(12, 1, b"s-num-12"), UnknownPacketCableObject(3, 2, b"\x01\x02"),
                                 UnknownPacketCableObject(0, 0, b""), UnknownPacketCableObject(255, 255, bytes(range(50)))],
                         ids=["s-num-12", "unknown-s-type-of-gate-id", "zero", "large"])
def test_unknown_packetcable_object_round_trips_byte_for_byte(obj):
    raw = obj.encode()
    assert raw == (4 + len(obj.data)).to_bytes(2, "big") + bytes([obj.snum, obj.stype]) + obj.data
    assert decode_packetcable_objects(raw + GateID(1).encode()) == [obj, GateID(1)]


# --- faults: PacketCable-Error 7 (invalid object), sub-code S-Num/S-Type --------------------------


@pytest.mark.parametrize(
    ("wire", "offset", "subcode"),
    [
        ("00 0c 03 01 00 00 a0 01 00 00 00 00", 0, 0x0301),  # Gate-ID of length 12
        ("00 08 01 01 12 34 00 04 | 00 38 05 01" + " 00" * 52, 8, 0x0501),  # Gate-Spec of 56 instead of 60
        ("00 08 02 02 0a 00 01 0a", 0, 0x0202),  # IPv6 Subscriber-ID of 8 bytes
        ("00 08 01 01 12 34 00 04 | 00 02 03 01", 8, 0x0301),  # length below 4
        ("00 10 03 01 00 00 a0 01", 0, 0x0301),  # runs past the end
        ("00 08 01 01 12 34 00 04 | 00 08", 8, 0),  # trailing bytes too short for a header
    ],
    ids=["gate-id-too-long", "gate-spec-too-short", "ipv6-subscriber-too-short", "length-below-4", "past-the-end",
         "trailing-bytes"],
)
def test_malformed_packetcable_object_is_error_7_with_its_s_num_s_type(wire, offset, subcode):
    with pytest.raises(PacketCableDecodeError) as info:
        decode_packetcable_objects(unhex(wire), 100)
    error = info.value
    assert isinstance(error, DecodeError)
    assert (error.pc_code, error.pc_subcode, error.offset) == (PacketCableErrorCode.INVALID_OBJECT, subcode, 100 + offset)
