"""Media profiles: packet sizes, rates and the Gate-Spec bytes of protocol.md 4.2."""

from __future__ import annotations

import ipaddress

import pytest

from cms_sim.media import PROFILES, profile
from cops_core.dqos import Direction, GateSpec

# protocol.md 4.2: the DS and US Gate-Specs of a G.711/20 ms Gate-Set (MTA 10.0.1.10, far end 10.1.1.20, T1 250, T7 200)
WORKED_EXAMPLE = bytes.fromhex(
    "003c0501 00110001 0a010114 0a00010a 00004000 b8000000 00fa0000 00c80000"
    "461c4000 43480000 461c4000 000000c8 000000c8 461c4000 00000320"
    "003c0501 01110001 0a00010a 0a010114 00004000 b8000000 00fa0000 00c80000"
    "461c4000 43480000 461c4000 000000c8 000000c8 461c4000 00000320"
)


def test_g711_20ms_gate_specs_encode_as_the_worked_example():
    downstream, upstream = profile("G711-20").gate_specs("10.0.1.10", "10.1.1.20")
    assert downstream.encode() + upstream.encode() == WORKED_EXAMPLE


@pytest.mark.parametrize(("name", "packet", "rate"), [
    ("G711-10", 80 + 40, 120 * 100), ("G711-20", 160 + 40, 200 * 50),
    ("G729-10", 10 + 40, 50 * 100), ("G729-20", 20 + 40, 60 * 50),
])
def test_packet_size_is_payload_plus_rtp_udp_ip_and_rates_are_bytes_per_second(name, packet, rate):
    downstream, upstream = PROFILES[name].gate_specs("10.0.1.10", "10.1.1.20")
    for spec in (downstream, upstream):
        assert spec.token_bucket_size == spec.minimum_policed_unit == spec.maximum_packet_size == packet
        assert spec.token_bucket_rate == spec.peak_data_rate == spec.rate == rate
        assert (spec.slack_term, spec.protocol, spec.session_class, spec.ds_field) == (800, 17, 1, 0xB8)


def test_addresses_ports_and_options_go_where_each_direction_needs_them():
    downstream, upstream = profile("G729-20").gate_specs(
        "10.0.1.10", "192.0.2.7", local_port=20000, remote_port=30000, t1=10, t7=20, t8=30, session_class=2)
    assert downstream.direction == Direction.DOWNSTREAM and upstream.direction == Direction.UPSTREAM
    assert (downstream.source_ip, downstream.destination_ip, downstream.destination_port) == (
        ipaddress.IPv4Address("192.0.2.7"), ipaddress.IPv4Address("10.0.1.10"), 20000)
    assert (upstream.source_ip, upstream.destination_ip, upstream.destination_port) == (
        ipaddress.IPv4Address("10.0.1.10"), ipaddress.IPv4Address("192.0.2.7"), 30000)
    assert downstream.source_port == upstream.source_port == 0
    assert (upstream.t1, upstream.t7, upstream.t8, upstream.session_class) == (10, 20, 30, 2)


@pytest.mark.parametrize("spelling", ["G711-20", "g.711/20ms", "G711_20", "g711 20"])
def test_profile_names_are_forgiving(spelling):
    assert profile(spelling) is PROFILES["G711-20"]


def test_unknown_profile_names_the_known_ones():
    with pytest.raises(KeyError, match="G711-10, G711-20, G729-10, G729-20"):
        profile("G722-20")


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_gate_specs_for_a_far_end_equal_gate_specs_for_any_local_address(name):
    settings = {"local_port": 20000, "remote_port": 30000, "t1": 10, "t7": 20, "t8": 30, "session_class": 2}
    specs_for = PROFILES[name].gate_specs_for("192.0.2.7", **settings)
    for local in ("10.0.1.10", ipaddress.IPv4Address("10.64.3.9")):
        made = specs_for(local)
        expected = PROFILES[name].gate_specs(local, "192.0.2.7", **settings)
        assert made == expected
        assert [type(spec) for spec in made] == [GateSpec, GateSpec]
        assert b"".join(spec.encode() for spec in made) == b"".join(spec.encode() for spec in expected)


def test_gate_specs_for_refuses_what_gate_specs_refuses_with_the_same_error():
    specs_for = PROFILES["G711-20"].gate_specs_for("192.0.2.7")
    local = ipaddress.ip_address("2001:db8::1")
    with pytest.raises(ValueError) as general:
        PROFILES["G711-20"].gate_specs(local, "192.0.2.7")
    with pytest.raises(ValueError) as fast:
        specs_for(local)
    assert str(fast.value) == str(general.value)
