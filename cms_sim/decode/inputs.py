"""Turn what the user gives ``cms-sim decode`` into whole COPS frames.

Three kinds of input, told apart by their first bytes: a pcap or pcapng
capture (by magic number), raw binary COPS (the first byte carries version 1
in its high nibble), or hex text.  Hex and binary are one byte stream cut by
:class:`cops_core.framing.Framer`; a capture's TCP segments are put back in
sequence order per direction, then cut the same way, so a message split over
segments or several messages in one segment come out whole.  Each frame is a
:class:`Unit`, tagged with its capture frame, time and endpoints when it came
from a capture.
"""

from __future__ import annotations

import ipaddress
import re
import struct
from typing import BinaryIO, Callable, Iterator, NamedTuple

import dpkt

from cops_core.errors import DecodeError
from cops_core.framing import Framer

COPS_PORTS = frozenset({2126, 3288, 3918})
"""PacketCable DQoS, generic COPS and PacketCable Multimedia (protocol.md 1.1)."""

_PCAP_MAGICS = {bytes.fromhex(magic) for magic in ("a1b2c3d4", "d4c3b2a1", "a1b23c4d", "4d3cb2a1", "a1b2cd34",
                                                    "34cdb2a1")}
_PCAPNG_MAGIC = bytes.fromhex("0a0d0d0a")
_SEQ_MASK = 0xFFFFFFFF
MAX_STREAM_BYTES = 64 << 20
"""Hex or binary input beyond this is not a lab's handful of messages (or it is /dev/zero): refused."""
SHOWN_BYTES = 64
"""Of a stream that cannot be cut into messages, the bytes shown: where it broke, not all that followed."""


class InputError(ValueError):
    """Input that cannot be read at all (bad hex, an unreadable capture, an unknown link type)."""


class Origin(NamedTuple):
    """Where a frame came from in a capture: the frame that completed it."""

    frame: int
    time: float  # seconds since the epoch
    elapsed: float  # seconds since the capture's first packet
    src: str  # "10.0.0.1:2126"
    dst: str


class Unit(NamedTuple):
    """One whole COPS frame, or (``error`` set) a byte stream that could not be cut into frames.

    A stream error's offset counts from the start of that stream (the input,
    or one direction of a TCP connection); nothing after it in that stream is read.
    """

    data: bytes
    origin: Origin | None = None
    error: DecodeError | None = None


def read_units(source: BinaryIO, ports: frozenset[int] = COPS_PORTS) -> Iterator[Unit]:
    """The frames in ``source`` (seekable, binary), whatever kind of input it holds.

    Raises :class:`InputError` at once, before any frame, if the input cannot be read.
    """
    magic = source.read(4)
    source.seek(0)
    if magic in _PCAP_MAGICS or magic == _PCAPNG_MAGIC:
        return _capture_units(source, ports, pcapng=magic == _PCAPNG_MAGIC)
    data = source.read(MAX_STREAM_BYTES + 1)
    if len(data) > MAX_STREAM_BYTES:
        raise InputError(f"more than {MAX_STREAM_BYTES >> 20} MiB of hex or binary input; a capture file is read "
                         f"in any size")
    if data and data[0] >> 4 == 1:
        return _stream_units(data)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise InputError("input is neither hex text, binary COPS (version 1) nor a pcap/pcapng capture") from None
    return _stream_units(parse_hex(text))


_HEX_SEPARATORS = re.compile(r"0[xX]|[\s:|,]")


def parse_hex(text: str) -> bytes:
    """Bytes from hex text; whitespace, colons, ``|``, commas and ``0x`` prefixes may separate them."""
    digits = _HEX_SEPARATORS.sub("", text)
    bad = re.search(r"[^0-9a-fA-F]", digits)
    if bad:
        raise InputError(f"not a hex digit: {bad.group()!r}")
    if len(digits) % 2:
        raise InputError(f"odd number of hex digits ({len(digits)})")
    if not digits:
        raise InputError("no input")
    return bytes.fromhex(digits)


def _stream_units(data: bytes) -> Iterator[Unit]:
    framer = Framer()
    framer.feed(data)
    consumed = 0
    while True:
        try:
            frame = framer.next_frame()
        except DecodeError as exc:
            yield _stream_error(data[consumed:], None, exc)
            return
        if frame is None:
            break
        consumed += len(frame)
        yield Unit(frame)
    if framer.buffered:
        yield _stream_error(data[consumed:], None, _truncated(consumed, data[consumed:], "input"))


def _stream_error(rest: bytes, origin: Origin | None, error: DecodeError) -> Unit:
    """A stream that broke: the first :data:`SHOWN_BYTES` from where it broke, and how many more were left."""
    if len(rest) > SHOWN_BYTES:
        error = DecodeError(error.offset, f"{error.reason} ({len(rest)} bytes from there on not read; the first "
                                          f"{SHOWN_BYTES} shown)", error.error_code, error.error_subcode)
    return Unit(rest[:SHOWN_BYTES], origin, error)


def _truncated(offset: int, rest: bytes, where: str) -> DecodeError:
    announced = f", the header announces {int.from_bytes(rest[4:8], 'big')}" if len(rest) >= 8 else ""
    return DecodeError(offset, f"{where} ends inside a message: {len(rest)} bytes left{announced}")


# --- captures ---------------------------------------------------------------------------------------


def _from_ethernet(buf: bytes):
    return dpkt.ethernet.Ethernet(buf).data


def _from_sll(buf: bytes):
    return dpkt.sll.SLL(buf).data


def _from_sll2(buf: bytes):
    return dpkt.sll2.SLL2(buf).data


def _from_raw(buf: bytes):
    version = buf[0] >> 4 if buf else 0
    return dpkt.ip.IP(buf) if version == 4 else dpkt.ip6.IP6(buf) if version == 6 else None


def _from_null(buf: bytes):
    return dpkt.loopback.Loopback(buf).data


_LINK_TYPES: dict[int, Callable] = {
    dpkt.pcap.DLT_EN10MB: _from_ethernet,
    dpkt.pcap.DLT_LINUX_SLL: _from_sll,
    dpkt.pcap.DLT_LINUX_SLL2: _from_sll2,
    dpkt.pcap.DLT_NULL: _from_null,
    dpkt.pcap.DLT_LOOP: _from_null,
    **{link: _from_raw for link in (101, 12, 14, dpkt.pcap.DLT_IPV4, dpkt.pcap.DLT_IPV6)},  # raw IP's numbers
}


def _capture_units(source: BinaryIO, ports: frozenset[int], *, pcapng: bool) -> Iterator[Unit]:
    try:
        reader = dpkt.pcapng.Reader(source) if pcapng else dpkt.pcap.Reader(source)
    except (ValueError, dpkt.Error) as exc:
        raise InputError(f"unreadable {'pcapng' if pcapng else 'pcap'} file: {exc}") from None
    to_ip = _LINK_TYPES.get(reader.datalink())
    if to_ip is None:
        raise InputError(f"unsupported link type {reader.datalink()} (Ethernet, Linux cooked and raw IP are read)")
    return _segments_to_units(reader, to_ip, ports)


def _segments_to_units(reader, to_ip: Callable, ports: frozenset[int]) -> Iterator[Unit]:
    streams: dict[tuple[str, str], _Direction] = {}
    first = None
    cut: list[str] = []
    number = 0
    for number, (timestamp, buf) in enumerate(_records(reader, cut), 1):
        timestamp = float(timestamp)
        first = timestamp if first is None else first
        try:
            ip = to_ip(buf)
        except (dpkt.Error, IndexError):
            continue  # a frame too short or garbled to reach TCP: not ours to judge
        tcp = getattr(ip, "data", None)
        if not isinstance(tcp, dpkt.tcp.TCP) or not ports & {tcp.sport, tcp.dport}:
            continue
        key = (_endpoint(ip.src, tcp.sport), _endpoint(ip.dst, tcp.dport))
        origin = Origin(number, timestamp, timestamp - first, *key)
        if tcp.flags & dpkt.tcp.TH_SYN:
            if key in streams:
                yield from streams[key].finish()  # the 4-tuple is reused by a new connection
            streams[key] = _Direction((tcp.seq + 1) & _SEQ_MASK)
        elif tcp.data:
            if key not in streams:
                streams[key] = _Direction(tcp.seq)  # the capture started after the handshake
            yield from streams[key].add(tcp.seq, bytes(tcp.data), origin)
    for direction in streams.values():
        yield from direction.finish()
    if cut:
        yield Unit(b"", None, DecodeError(0, f"the capture is cut short after {number} whole records ({cut[0]})"))


def _records(reader, cut: list[str]) -> Iterator[tuple[float, bytes]]:
    """The capture's records; one cut short (a capture copied while still being written) ends them, and
    ``cut`` gets why."""
    records = iter(reader)
    while True:
        try:
            yield next(records)
        except StopIteration:
            return
        except (dpkt.Error, ValueError, struct.error) as exc:  # dpkt.NeedData: the last record is truncated
            cut.append(str(exc) or type(exc).__name__)
            return


def _endpoint(address: bytes, port: int) -> str:
    ip = ipaddress.ip_address(address)
    return f"{ip}:{port}" if ip.version == 4 else f"[{ip}]:{port}"


class _Direction:
    """One direction of a TCP connection: segments in capture order, frames out in sequence order.

    Segments that arrive early wait for the bytes before them; retransmitted
    bytes are dropped.  A frame is reported at the segment that completes it,
    as Wireshark reports a reassembled PDU.
    """

    def __init__(self, next_seq: int) -> None:
        self.next_seq = next_seq
        self.pending: dict[int, bytes] = {}
        self.framer = Framer()
        self.fed = bytearray()  # bytes fed since the last whole frame, to show with an error
        self.offset = 0  # stream offset of fed[0]
        self.broken = False
        self.last: Origin | None = None

    def add(self, seq: int, payload: bytes, origin: Origin) -> Iterator[Unit]:
        if self.broken:
            return
        self.last = origin
        if len(payload) > len(self.pending.get(seq, b"")):
            self.pending[seq] = payload
        while (data := self._next_in_order()) is not None:
            self.framer.feed(data)
            self.fed += data
            while True:
                try:
                    frame = self.framer.next_frame()
                except DecodeError as exc:
                    self.broken = True
                    yield _stream_error(bytes(self.fed), origin, exc)
                    return
                if frame is None:
                    break
                del self.fed[: len(frame)]
                self.offset += len(frame)
                yield Unit(frame, origin)

    def _next_in_order(self) -> bytes | None:
        """Pop the pending bytes that continue the stream at ``next_seq``, if any arrived."""
        for seq in list(self.pending):
            ahead = (seq - self.next_seq) & _SEQ_MASK
            if 0 < ahead < 1 << 31:
                continue  # starts after a gap
            data = self.pending.pop(seq)
            behind = -ahead & _SEQ_MASK
            if behind < len(data):
                self.next_seq = (seq + len(data)) & _SEQ_MASK
                return data[behind:]
        return None

    def finish(self) -> Iterator[Unit]:
        """Report what the capture left unfinished: a gap before pending bytes, or a partial message."""
        if self.broken or self.last is None:
            return
        if self.pending:
            missing = min((seq - self.next_seq) & _SEQ_MASK for seq in self.pending)
            reason = f"{missing} bytes missing from the capture; the rest of this stream is not decoded"
            yield _stream_error(bytes(self.fed), self.last, DecodeError(self.offset + len(self.fed), reason))
        elif self.fed:
            yield _stream_error(bytes(self.fed), self.last, _truncated(self.offset, bytes(self.fed), "capture"))
