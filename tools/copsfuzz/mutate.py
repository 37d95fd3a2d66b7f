"""The mutation engine: one valid COPS message in, a deliberately broken one out, the same for the same seed.

COPS is TLV on two levels: objects (Length, C-Num, C-Type, padded to four
bytes) in a message, and PacketCable objects (Length, S-Num, S-Type, not
padded) inside a Decision 6/4 or a ClientSI 9/1.  A random byte flip mostly
tests the first length check; the operators here aim at what a TLV decoder
must survive: lengths that lie (0, 3, odd, huge, past the end) at each level
and in the common header, C-Num/C-Type swaps, objects duplicated, removed,
reordered or repeated up to the limits, truncation, and two messages spliced.
Structural operators edit a parsed tree and re-encode it with consistent
lengths, so the damage reaches the checks behind the length checks; byte
operators then break the lengths on purpose.

Everything random comes from the ``random.Random`` passed in; :func:`case_rng`
makes it from the campaign's seed and the case number, so a case replays from
those two numbers.
"""

from __future__ import annotations

import random
import struct
from typing import Callable, NamedTuple

from cops_core.dqos.objects import PACKETCABLE_OBJECTS
from cops_core.objects import COPS_OBJECTS

HEADER = struct.Struct("!BBHI")
OBJECT_HEADER = struct.Struct("!HBB")
CARRIERS = frozenset({(6, 4), (9, 1)})  # COPS objects whose body is a list of PacketCable objects
COPS_KINDS = tuple(sorted((key >> 8, key & 0xFF) for key in COPS_OBJECTS.classes))
PC_KINDS = tuple(sorted((key >> 8, key & 0xFF) for key in PACKETCABLE_OBJECTS.classes))
ODD_KINDS = ((0, 0), (0, 1), (17, 1), (255, 255), (6, 0), (6, 9), (16, 3), (1, 2), (12, 2), (14, 255))
MAX_SIZE = 70_000  # a little over the framer's 64 KiB maximum: past it, and no runaway growth when ops stack
CARRIER_ROOM = 0xFF00  # DQoS objects repeated in a 6/4 or 9/1: what its 16-bit Length can still count
REPEATS = (2, 3, 8, 64, 255, 256, 257, 1000, 5000)
BOUNDARIES = {
    1: (0, 1, 0x7F, 0x80, 0xFE, 0xFF),
    2: (0, 1, 3, 4, 5, 7, 8, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF),
    4: (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF),
}


def case_rng(seed: int, case: int) -> random.Random:
    """The generator of case ``case`` in the campaign ``seed``: the same two numbers, the same case."""
    return random.Random(f"{seed}:{case}")


# --- a tolerant view of the TLV structure -----------------------------------------------------------


class Node:
    """One object of a parsed message; ``children`` holds the PacketCable objects of a 6/4 or 9/1.

    ``raw``, when set, is the node's whole encoding, taken as is: a run of thousands of copies of one
    object is one node, encoded once, not thousands.
    """

    __slots__ = ("num", "type", "body", "children", "raw")

    def __init__(self, num: int, kind: int, body: bytes, children: list["Node"] | None = None) -> None:
        self.num, self.type, self.body, self.children = num, kind, body, children
        self.raw: bytes | None = None

    def copy(self) -> "Node":
        children = None if self.children is None else [child.copy() for child in self.children]
        return Node(self.num, self.type, self.body, children)

    def encode(self, padded: bool) -> bytes:
        if self.raw is not None:
            return self.raw
        body = self.body if self.children is None else b"".join(child.encode(False) for child in self.children)
        length = 4 + len(body)
        data = OBJECT_HEADER.pack(length if length <= 0xFFFF else 0xFFFF, self.num, self.type) + body
        return data + bytes(-len(data) & 3) if padded else data


def _walk(data: bytes, start: int, end: int, padded: bool) -> list[Node] | None:
    """The objects in ``data[start:end]``, or None unless they tile it exactly."""
    nodes, offset = [], start
    while offset < end:
        if end - offset < 4:
            return None
        length, num, kind = OBJECT_HEADER.unpack_from(data, offset)
        if length < 4 or offset + length > end:
            return None
        nodes.append(Node(num, kind, data[offset + 4:offset + length]))
        offset = (offset + length + 3) & ~3 if padded else offset + length
    return nodes if offset == end else None


def parse(data: bytes) -> tuple[bytes, list[Node]] | None:
    """(common header, objects) of a message whose lengths are all consistent, else None."""
    if len(data) < 8 or HEADER.unpack_from(data)[3] != len(data):
        return None
    nodes = _walk(data, 8, len(data), True)
    if nodes is None:
        return None
    for node in nodes:
        if (node.num, node.type) in CARRIERS:
            node.children = _walk(node.body, 0, len(node.body), False)
    return data[:8], nodes


def build(header: bytes, nodes: list[Node]) -> bytes:
    """A message from its header and objects, every Length (and the header's) made to match."""
    body = b"".join(node.encode(True) for node in nodes)
    flags, opcode, client_type, _ = HEADER.unpack_from(header)
    return HEADER.pack(flags, opcode, client_type, 8 + len(body)) + body


def object_offsets(data: bytes) -> list[int]:
    """Where each object header starts, at both levels, as far as the lengths can be followed."""
    offsets, offset, end = [], 8, len(data)
    while end - offset >= 4:
        length, num, kind = OBJECT_HEADER.unpack_from(data, offset)
        offsets.append(offset)
        if length < 4:
            break
        if (num, kind) in CARRIERS:
            inner, stop = offset + 4, min(offset + length, end)
            while stop - inner >= 4:
                offsets.append(inner)
                inner_length = OBJECT_HEADER.unpack_from(data, inner)[0]
                if inner_length < 4:
                    break
                inner += inner_length
        offset = (offset + length + 3) & ~3
    return offsets


# --- operators ----------------------------------------------------------------------------------------


class Donors(NamedTuple):
    """What an operator may draw on besides the message: the corpus, for splices and transplants."""

    corpus: tuple[bytes, ...]


Operator = Callable[[random.Random, bytes, Donors], "tuple[bytes, str] | None"]


def _put(data: bytes, offset: int, width: int, value: int) -> bytes:
    return data[:offset] + value.to_bytes(width, "big") + data[offset + width:]


def flip_bits(rng: random.Random, data: bytes, donors: Donors):
    if not data:
        return None
    buf = bytearray(data)
    positions = [rng.randrange(len(buf) * 8) for _ in range(rng.choice((1, 1, 2, 4, 8)))]
    for bit in positions:
        buf[bit >> 3] ^= 0x80 >> (bit & 7)
    return bytes(buf), f"flip bits {positions}"


def boundary_value(rng: random.Random, data: bytes, donors: Donors):
    width = rng.choice((1, 2, 4))
    if len(data) < width:
        return None
    offset = rng.randrange(0, len(data) - width + 1, width if rng.random() < 0.7 else 1)
    value = rng.choice(BOUNDARIES[width])
    return _put(data, offset, width, value), f"{width}-byte {value:#x} at {offset}"


def random_bytes(rng: random.Random, data: bytes, donors: Donors):
    if not data:
        return None
    offset = rng.randrange(len(data))
    count = min(rng.randint(1, 16), len(data) - offset)
    return data[:offset] + rng.randbytes(count) + data[offset + count:], f"{count} random bytes at {offset}"


def object_length(rng: random.Random, data: bytes, donors: Donors):
    """An object's Length set to a lie: 0, 3, odd, one off, huge, exactly or just past the end."""
    offsets = object_offsets(data)
    if not offsets:
        return None
    offset = rng.choice(offsets)
    current = int.from_bytes(data[offset:offset + 2], "big")
    rest = len(data) - offset
    value = rng.choice((0, 1, 2, 3, 4, 5, 7, current - 1, current + 1, current - 4, current + 4, current + 3,
                        rest, rest + 1, rest + 4, 0x8000, 0xFFFF)) & 0xFFFF
    return _put(data, offset, 2, value), f"object at {offset}: Length {current} -> {value}"


def header_length(rng: random.Random, data: bytes, donors: Donors):
    """The common header's Message Length set to a lie."""
    if len(data) < 8:
        return None
    size = len(data)
    value = rng.choice((0, 4, 7, 8, 12, size - 4, size - 1, size + 1, size + 4, size * 2, 0xFFFF, 0x10000,
                        0x10008, 0x7FFFFFFF, 0xFFFFFFFF)) & 0xFFFFFFFF
    return _put(data, 4, 4, value), f"header Length {size} -> {value}"


def header_field(rng: random.Random, data: bytes, donors: Donors):
    """Version/flags, Op Code or Client-type set to another value (another valid Op Code is a grammar test)."""
    if len(data) < 8:
        return None
    field = rng.choice(("flags", "opcode", "opcode", "client-type"))
    if field == "flags":
        value = rng.choice((0x00, 0x01, 0x11, 0x12, 0x1F, 0x20, 0xF0, rng.randrange(256)))
        return _put(data, 0, 1, value), f"version/flags -> {value:#04x}"
    if field == "opcode":
        value = rng.choice((0, 11, 255, rng.randrange(256), rng.randint(1, 10), rng.randint(1, 10)))
        return _put(data, 1, 1, value), f"op-code -> {value}"
    value = rng.choice((0, 1, 2, 0x8008, 0x8009, 0x800A, 0xFFFF, rng.randrange(0x10000)))
    return _put(data, 2, 2, value), f"client-type -> {value:#06x}"


def truncate(rng: random.Random, data: bytes, donors: Donors):
    """Cut the message short; half the time the header's Length follows the cut (rounded to four or not)."""
    if len(data) < 2:
        return None
    cut = rng.randrange(1, len(data))
    short = data[:cut]
    if cut >= 8 and rng.random() < 0.5:
        length = cut & ~3 if rng.random() < 0.5 else cut
        short = _put(short[:length], 4, 4, length) if length >= 8 else short
        return short, f"truncated to {len(short)} bytes, header Length to match"
    return short, f"truncated to {cut} bytes"


def append(rng: random.Random, data: bytes, donors: Donors):
    """Bytes after the message: zeros, random bytes or a whole other message; the header's Length may count them."""
    kind = rng.choice(("zeros", "random", "message"))
    extra = {"zeros": lambda: bytes(rng.choice((1, 2, 3, 4, 8, 64))),
             "random": lambda: rng.randbytes(rng.randint(1, 64)),
             "message": lambda: rng.choice(donors.corpus)}[kind]()
    joined = data + extra
    if len(data) >= 8 and rng.random() < 0.5:
        return _put(joined, 4, 4, len(joined)), f"{len(extra)} bytes ({kind}) appended, counted in the header"
    return joined, f"{len(extra)} bytes ({kind}) appended"


def splice(rng: random.Random, data: bytes, donors: Donors):
    """The start of this message and the end of another, cut at random points; the header fixed half the time."""
    other = rng.choice(donors.corpus)
    if len(data) < 2 or len(other) < 2:
        return None
    head, tail = rng.randrange(1, len(data)), rng.randrange(1, len(other))
    joined = data[:head] + other[tail:]
    if len(joined) >= 8 and rng.random() < 0.5:
        joined = _put(joined, 4, 4, len(joined))
    return joined, f"first {head} bytes + another message from byte {tail}"


def _level(rng: random.Random, nodes: list[Node]) -> tuple[list[Node], str]:
    """The object list an edit works on: the message's own, or (if any) a carrier's PacketCable objects."""
    carriers = [node for node in nodes if node.children]
    if carriers and rng.random() < 0.5:
        return rng.choice(carriers).children, "DQoS"
    return nodes, "COPS"


def _structural(edit: Callable[[random.Random, list[Node], str, Donors], str | None]) -> Operator:
    """An operator that edits the parsed tree, then re-encodes it with every Length consistent."""

    def operator(rng: random.Random, data: bytes, donors: Donors):
        parsed = parse(data)
        if parsed is None:
            return None
        header, nodes = parsed
        level, name = _level(rng, nodes)
        what = edit(rng, level, name, donors)
        if what is None:
            return None
        return build(header, nodes), what

    operator.__name__ = edit.__name__
    return operator


@_structural
def duplicate(rng, level, name, donors):
    if not level:
        return None
    source = rng.randrange(len(level))
    target = rng.randint(0, len(level))
    level.insert(target, level[source].copy())
    return f"{name} object {source} duplicated at {target}"


@_structural
def remove(rng, level, name, donors):
    if not level:
        return None
    index = rng.randrange(len(level))
    del level[index]
    return f"{name} object {index} removed"


@_structural
def reorder(rng, level, name, donors):
    if len(level) < 2:
        return None
    if rng.random() < 0.5:
        rng.shuffle(level)
        return f"{name} objects shuffled"
    first, second = rng.sample(range(len(level)), 2)
    level[first], level[second] = level[second], level[first]
    return f"{name} objects {first} and {second} swapped"


@_structural
def retype(rng, level, name, donors):
    """C-Num/C-Type (or S-Num/S-Type) swapped: another known kind, another object's, or an odd one."""
    if not level:
        return None
    node = rng.choice(level)
    kinds = COPS_KINDS if name == "COPS" else PC_KINDS
    num, kind = rng.choice((rng.choice(kinds), rng.choice(ODD_KINDS), (rng.choice(level).num, node.type),
                            (node.num, rng.randrange(256))))
    before = (node.num, node.type)
    if before == (num, kind):
        return None
    node.num, node.type = num, kind
    if (num, kind) not in CARRIERS or name != "COPS":
        node.children = None
    return f"{name} object {before[0]}/{before[1]} -> {num}/{kind}"


@_structural
def resize(rng, level, name, donors):
    """A body made shorter or longer (odd sizes included): fixed-size objects of the wrong size."""
    if not level:
        return None
    node = rng.choice(level)
    node.children = None
    delta = rng.choice((-8, -4, -3, -2, -1, 1, 2, 3, 4, 8, 64))
    node.body = node.body[:delta] if delta < 0 else node.body + rng.randbytes(delta)
    return f"{name} object {node.num}/{node.type} body {delta:+d} bytes"


@_structural
def repeat(rng, level, name, donors):
    """One object repeated up to (and past) the 256-object limit and the 64 KiB message maximum."""
    if not level:
        return None
    index = rng.randrange(len(level))
    node = level[index]
    one = node.encode(name == "COPS")
    room = MAX_SIZE if name == "COPS" else CARRIER_ROOM
    count = min(rng.choice(REPEATS), room // len(one))
    run = Node(node.num, node.type, b"")
    run.raw = one * count
    level[index] = run
    return f"{name} object {node.num}/{node.type} repeated {count} times"


@_structural
def insert(rng, level, name, donors):
    """A new object: a random kind (known or not) with a body of a telling size."""
    kinds = COPS_KINDS if name == "COPS" else PC_KINDS
    num, kind = rng.choice((rng.choice(kinds), rng.choice(ODD_KINDS), (rng.randrange(256), rng.randrange(256))))
    size = rng.choice((0, 1, 2, 3, 4, 5, 8, 12, 16, 60, rng.randrange(300)))
    index = rng.randint(0, len(level))
    level.insert(index, Node(num, kind, rng.randbytes(size)))
    return f"{name} object {num}/{kind} of {size} bytes inserted at {index}"


@_structural
def transplant(rng, level, name, donors):
    """An object of another corpus message, at the same level (a Gate-Spec in a Gate-Alloc, Integrity in a KA)."""
    donor = parse(rng.choice(donors.corpus))
    if donor is None:
        return None
    donor_level = donor[1] if name == "COPS" else [child for node in donor[1] if node.children
                                                    for child in node.children]
    if not donor_level:
        return None
    node = rng.choice(donor_level).copy()
    index = rng.randint(0, len(level))
    level.insert(index, node)
    return f"{name} object {node.num}/{node.type} from another message inserted at {index}"


OPERATORS: tuple[Operator, ...] = (
    flip_bits, boundary_value, random_bytes, object_length, object_length, header_length, header_field,
    truncate, append, splice, duplicate, remove, reorder, retype, retype, resize, repeat, insert, transplant,
)


class Mutation(NamedTuple):
    """A mutated message, the corpus entry it came from and what was done to it, in order."""

    data: bytes
    base: int
    steps: tuple[str, ...]


def mutate(rng: random.Random, corpus: tuple[bytes, ...], base: int | None = None) -> Mutation:
    """Pick a corpus message (or take ``base``) and apply one to five operators (one half the time)."""
    if base is None:
        base = rng.randrange(len(corpus))
    data = corpus[base]
    donors = Donors(corpus)
    count = 1
    while count < 5 and rng.random() < 0.5:
        count += 1
    steps = []
    while len(steps) < count:
        operator = rng.choice(OPERATORS)
        done = operator(rng, data, donors)
        if done is None:
            continue  # not applicable to what the message has become: draw another
        data, what = done
        if len(data) > MAX_SIZE:
            data = data[:MAX_SIZE]
            what += f", cut to {MAX_SIZE}"
        steps.append(f"{operator.__name__}: {what}")
    return Mutation(data, base, tuple(steps))
