"""Field declarations (cops_core.fields): one declaration per field gives the codec, its layout and its defaults."""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import NamedTuple

import pytest

from cops_core.dqos import EventGenerationInfo, GateSpec, PacketCableError, SessionClass
from cops_core.fields import IPV4, REQUIRED, TEXT, ipv4_address, reserved_bytes, u8, u16
from cops_core.objects import IntegrityHMAC, KATimer
from cops_core.wire import Registry, fixed_layout

MTA = IPv4Address("10.0.1.10")


def test_the_struct_format_is_the_declarations_wire_codes_in_order_reserved_bytes_included():
    assert GateSpec.FORMAT == "BBBBIIHHB3xH2xHHfffIIfI"  # protocol.md 3.3
    assert KATimer.FORMAT == "2xH"


def test_conversions_sit_at_the_fields_that_declare_them():
    # Once written by hand as {4: IPV4, 5: IPV4}.
    def by_name(cls):
        return {cls._fields[index]: conv for index, conv in cls.CONVS.items()}

    assert by_name(GateSpec) == {"source_ip": IPV4, "destination_ip": IPV4}
    assert by_name(EventGenerationInfo) == {"primary_rks_ip": IPV4, "secondary_rks_ip": IPV4,
                                            "bcid_element_id": TEXT, "bcid_time_zone": TEXT}


def test_each_field_knows_where_it_sits_in_the_body_and_reserved_bytes_are_named_fields_too():
    placed = {field.name: (field.offset, field.size) for field in GateSpec.FIELDS}
    assert placed["ds_field"] == (0x10, 1)
    assert placed["reserved_1"] == (0x11, 3)
    assert placed["t1"] == (0x14, 2)
    assert placed["reserved_2"] == (0x16, 2)
    assert placed["slack_term"] == (0x34, 4)
    assert "reserved_1" not in GateSpec._fields and not hasattr(GateSpec, "reserved_1")


def test_a_variable_objects_last_field_is_the_rest_of_its_body():
    key_id, sequence, digest = IntegrityHMAC.FIELDS
    assert (key_id.offset, key_id.size, sequence.offset, digest.offset, digest.size) == (0, 4, 4, 8, None)


def test_the_constructor_takes_every_declared_default_wherever_the_field_stands():
    assert PacketCableError(6) == PacketCableError(6, 0)
    spec = GateSpec(direction=0, source_ip=MTA, destination_ip=MTA, token_bucket_rate=1.0, token_bucket_size=2.0,
                    peak_data_rate=3.0, minimum_policed_unit=4, maximum_packet_size=5, rate=6.0)
    assert (spec.protocol, spec.ds_field, spec.t1, spec.slack_term) == (17, 0xB8, 0, 800)
    assert repr(spec.session_class) == "1"  # a plain int, as a decoded Gate-Spec holds it
    assert GateSpec.DEFAULTS["session_class"] == SessionClass.NORMAL
    assert "direction" not in GateSpec.DEFAULTS and GateSpec.DEFAULTS["ds_field"] == 0xB8


def test_a_required_field_left_out_is_refused_by_name():
    with pytest.raises(TypeError, match="GateSpec\\(\\) missing required argument: 'direction'"):
        GateSpec(source_ip=MTA, destination_ip=MTA, token_bucket_rate=1.0, token_bucket_size=2.0,
                 peak_data_rate=3.0, minimum_policed_unit=4, maximum_packet_size=5, rate=6.0)


def test_a_declared_object_encodes_and_decodes_by_its_declarations():
    registry = Registry("test", "N", "T")

    @fixed_layout(registry, 1, 1, "Example")
    class Example(NamedTuple):
        address: IPv4Address = ipv4_address("Address")
        reserved = reserved_bytes(1)
        kind: int = u8("Kind")
        port: int = u16("Port", default=7)

    example = Example(IPv4Address("10.0.0.1"), 3)
    assert example.port == 7
    assert example.encode() == bytes.fromhex("000c0101 0a000001 00 03 0007")
    assert Example.decode_body(example.encode(), 4, 12) == example
    assert [field.name for field in Example.FIELDS] == ["address", "reserved", "kind", "port"]
    assert Example.FIELDS[0].default is REQUIRED


def test_a_field_without_a_declaration_is_refused():
    with pytest.raises(TypeError, match="needs a declaration"):
        @fixed_layout(Registry("test", "N", "T"), 1, 1, "Bad")
        class Bad(NamedTuple):
            value: int = 0


def test_an_unknown_show_hint_is_refused():
    with pytest.raises(ValueError, match="show='hexadecimal'"):
        u16("Port", show="hexadecimal")
