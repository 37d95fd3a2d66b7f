"""Gate-Spec media profiles: a codec and packetization expand to a downstream + upstream Gate-Spec pair.

A voice call needs two gates' worth of envelope, one per direction, and
writing 19 Gate-Spec fields by hand for each is where lab scripts go wrong.
A :class:`MediaProfile` computes them the way an RSVP TSpec does:

* packet size = codec payload per packet + RTP 12 + UDP 8 + IPv4 20 bytes;
* b = m = M = the packet size (bytes);
* r = p = R = packet size x packets per second, in bytes/s.

protocol.md 3.3 marks the units of r/p/R UNVERIFIED (RSVP heritage says
bytes/s, some vendors bits/s); this module follows RSVP.  What a profile does
not compute is the Gate-Spec's declared default (:class:`GateSpec`): UDP
(17), session class 1 (normal), DS field 0xB8 (EF), any source port, S 800
us, as the worked example in protocol.md 4.2 has them.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Callable, NamedTuple

from cops_core.dqos import Direction, GateSpec

RTP_UDP_IP_OVERHEAD = 12 + 8 + 20
DEFAULT_RTP_PORT = 16384
DEFAULT_T1, DEFAULT_T7, DEFAULT_T8 = 250, 200, 0  # protocol.md 3.5 (Asterisk and ARRIS values; T8 0 = no polling)


class Codec(NamedTuple):
    """A constant-bit-rate voice codec."""

    name: str
    bytes_per_ms: int  # payload bytes per millisecond of audio


G711 = Codec("G711", 8)  # 64 kbit/s
G729 = Codec("G729", 1)  # 8 kbit/s


class MediaProfile(NamedTuple):
    """A codec at one packetization interval."""

    codec: Codec
    packetization_ms: int

    @property
    def name(self) -> str:
        return f"{self.codec.name}-{self.packetization_ms}"

    @property
    def payload_bytes(self) -> int:
        return self.codec.bytes_per_ms * self.packetization_ms

    @property
    def packet_bytes(self) -> int:
        return self.payload_bytes + RTP_UDP_IP_OVERHEAD

    @property
    def packets_per_second(self) -> float:
        return 1000 / self.packetization_ms

    @property
    def rate(self) -> float:
        """r = p = R, bytes per second."""
        return self.packet_bytes * self.packets_per_second

    def gate_spec(
        self,
        direction: Direction,
        source_ip,
        destination_ip,
        destination_port: int,
        *,
        source_port: int = GateSpec.DEFAULTS["source_port"],
        t1: int = DEFAULT_T1,
        t7: int = DEFAULT_T7,
        t8: int = DEFAULT_T8,
        session_class: int = GateSpec.DEFAULTS["session_class"],
        ds_field: int = GateSpec.DEFAULTS["ds_field"],
    ) -> GateSpec:
        """One direction's Gate-Spec for this profile; the fields it does not set have their declared defaults."""
        size = self.packet_bytes
        rate = self.rate
        return GateSpec(**{
            **GateSpec.DEFAULTS,
            "direction": direction,
            "session_class": session_class,
            "source_ip": _ipv4(source_ip),
            "destination_ip": _ipv4(destination_ip),
            "source_port": source_port,
            "destination_port": destination_port,
            "ds_field": ds_field,
            "t1": t1,
            "t7": t7,
            "t8": t8,
            "token_bucket_rate": rate,
            "token_bucket_size": float(size),
            "peak_data_rate": rate,
            "minimum_policed_unit": size,
            "maximum_packet_size": size,
            "rate": rate,
        })

    def gate_specs(
        self,
        local_ip,
        remote_ip,
        *,
        local_port: int = DEFAULT_RTP_PORT,
        remote_port: int = DEFAULT_RTP_PORT,
        **options,
    ) -> tuple[GateSpec, GateSpec]:
        """(downstream, upstream) for a call between the MTA at ``local_ip`` and the far end at ``remote_ip``.

        Downstream flows remote -> local:local_port, upstream local ->
        remote:remote_port.  ``options`` are :meth:`gate_spec`'s keywords
        (timers, session class, DS field, source port).
        """
        return (
            self.gate_spec(Direction.DOWNSTREAM, remote_ip, local_ip, local_port, **options),
            self.gate_spec(Direction.UPSTREAM, local_ip, remote_ip, remote_port, **options),
        )

    def gate_specs_for(self, remote_ip, **settings) -> Callable[[Any], tuple[GateSpec, GateSpec]]:
        """``local_ip -> self.gate_specs(local_ip, remote_ip, **settings)``, all but the local address worked out now.

        A load run sends the same profile, far end and ports in every call and
        only the MTA's address changes: this makes the pair from two tuples
        cut once, instead of 19 keyword arguments and the sums for each spec.
        Raises what :meth:`gate_specs` raises for ``remote_ip`` or ``settings``.
        """
        down, up = self.gate_specs(_ANY_LOCAL, remote_ip, **settings)
        # The local address is the downstream destination and the upstream source.
        down_head, down_tail = down[:_DESTINATION], down[_DESTINATION + 1:]
        up_head, up_tail = up[:_SOURCE], up[_SOURCE + 1:]
        new = tuple.__new__

        def gate_specs(local_ip) -> tuple[GateSpec, GateSpec]:
            local = _ipv4(local_ip)
            return new(GateSpec, down_head + (local,) + down_tail), new(GateSpec, up_head + (local,) + up_tail)
        return gate_specs


def _ipv4(address) -> ipaddress.IPv4Address:
    # IPv4Address(an IPv4Address) formats it and parses the text again: under load, for every call.
    return address if type(address) is ipaddress.IPv4Address else ipaddress.IPv4Address(address)


_ANY_LOCAL = ipaddress.IPv4Address(0)  # stands in for the local address while gate_specs_for cuts the specs
_SOURCE, _DESTINATION = GateSpec._fields.index("source_ip"), GateSpec._fields.index("destination_ip")


PROFILES: dict[str, MediaProfile] = {
    profile.name: profile
    for profile in (MediaProfile(codec, ms) for codec in (G711, G729) for ms in (10, 20))
}

_NOT_ALNUM = re.compile(r"[^0-9A-Z]")


def _canonical(name: str) -> str:
    return _NOT_ALNUM.sub("", name.upper()).removesuffix("MS")


_BY_CANONICAL = {_canonical(name): profile for name, profile in PROFILES.items()}


def profile(name: str) -> MediaProfile:
    """The profile called ``name``, forgiving of spelling: ``G711-20``, ``g.711/20ms`` and ``G711_20`` are one."""
    found = _BY_CANONICAL.get(_canonical(name))
    if found is None:
        raise KeyError(f"unknown media profile {name!r}; known: {', '.join(PROFILES)}")
    return found
