"""Addresses as both tools take them: ``HOST[:PORT]`` on the command line and in files, and allow-lists."""

from __future__ import annotations

import ipaddress

DEFAULT_PORT = 2126  # COPS for PacketCable DQoS (protocol.md §1)
Address = tuple[str, int]


def allowed(host: str, networks) -> bool:
    """Whether a peer at ``host`` may talk COPS with us: in one of ``networks``, or no list is set."""
    if not networks:
        return True
    address = ipaddress.ip_address(host.split("%")[0])  # an IPv6 scope (fe80::1%eth0) is not part of the address
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a v4 peer on a dual-stack socket
    return any(address in network for network in networks)


def parse_address(text: str, default_port: int = DEFAULT_PORT) -> Address:
    """``HOST``, ``HOST:PORT``, ``[V6]:PORT`` or a bare IPv6 address -> (host, port); ValueError saying what is wrong.

    The one parser of both tools (``cmts-sim serve --listen``, ``cms-sim run --cmts`` ...).
    """
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"expected [IPV6]:PORT, got {text!r}")
        port_text = rest[1:] if rest else None
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, None
    if not host:
        raise ValueError(f"no host in {text!r}")
    if port_text is None:
        return host, default_port
    if not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError(f"the port must be a number from 0 to 65535, got {port_text!r}")
    return host, int(port_text)
