"""Addresses as both tools take them: one parser, port 2126 unless told, and allow-lists."""

from __future__ import annotations

import ipaddress

import pytest

from cops_core.addresses import allowed, parse_address


@pytest.mark.parametrize("text, address", [
    ("10.0.0.1", ("10.0.0.1", 2126)),
    ("cmts.lab:3918", ("cmts.lab", 3918)),
    ("[2001:db8::1]:2127", ("2001:db8::1", 2127)),
    ("2001:db8::1", ("2001:db8::1", 2126)),
])
def test_an_address_without_a_port_is_on_2126(text, address):
    assert parse_address(text) == address


def test_allow_lists_take_v4_peers_on_dual_stack_sockets_and_ignore_v6_scopes():
    networks = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fe80::/10")]
    assert allowed("::ffff:10.1.2.3", networks) and allowed("fe80::1%eth0", networks)
    assert not allowed("192.0.2.1", networks)
    assert allowed("192.0.2.1", [])  # no list: anyone
