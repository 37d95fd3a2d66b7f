"""Gate-command templates: the DQoS half of the layout-template fast path (design in :mod:`cops_core.templates`).

A 6/4 or 9/1 payload in a lab is almost always the Transaction-ID, then some
of Subscriber-ID (IPv4), Gate-ID, Activity-Count, PacketCable-Error and
PacketCable-Reason, then 0-2 Gate-Specs, in the order ``command.encode()``
emits them.  Those shapes are derived from each command class's declaration
(its ORDER and REQUIRED slots, whose 8-byte objects are the single ones):
every combination of its optional single objects, the required ones always
present, times the Gate-Spec counts it may carry: 57 payload decoders and 45
encoders, generated at import in ~9 ms.

Decoding keys a payload by its length, its Gate Command Type and the S-Nums
at bytes 10 and 18 (the second and third objects', as every object before
the Gate-Specs is 8 bytes long): that picks at most one template, whose
function then checks every header and the command type in one comparison.
Encoding keys a command by its class and the types of its fields (an absent
field is ``NoneType``, an IPv6 subscriber ``IPv6Address``), so each
template's function only has to check that ``extra`` is empty and that the
Gate-Specs are Gate-Specs, 1 or 2 of them.
"""

from __future__ import annotations

from itertools import combinations
from typing import Callable, Iterable, Iterator

from ..templates import Layout, Part, Source, mismatch, part
from .objects import GateSpec, TransactionID

MAX_GATE_SPECS = 2  # a DQoS gate has one flow each way; more take the general path

_TID = part(TransactionID)
_SPEC = part(GateSpec)
_OBJECT_SIZE = 8  # every object a template lays out before the Gate-Specs: payload_key reads S-Nums 8 bytes apart


def _singles(cls: type) -> dict[str, tuple[Part, type]]:
    """field -> (its object, the type the field holds) for the single objects a template of ``cls`` lays out.

    Those are the 8-byte objects of its slots (Subscriber-ID IPv4, Gate-ID,
    Activity-Count, PacketCable-Error and -Reason); a wrapped field holds the
    object's one value (an address, an int), the others the object itself.
    """
    singles = {}
    for slot, _ in cls.ORDER:
        first = slot.classes[0]
        if not slot.repeated and first.LENGTH == _OBJECT_SIZE:
            singles[slot.field] = (part(first), first.FIELDS[0].type if slot.wrap is not None else first)
    return singles


def payload_key(data: bytes) -> tuple:
    """What picks a payload's template: its length, Gate Command Type and the S-Nums at bytes 10 and 18."""
    return len(data), data[6:8], data[10:19:8]


class CommandTemplates:
    """The decode and encode functions of every gate-command shape of ``command_classes``."""

    def __init__(self, command_classes: Iterable[type]) -> None:
        self.decoders: dict[tuple, Callable] = {}
        self.encoders: dict[tuple[type, ...], Callable] = {}
        for cls in command_classes:
            parts = _singles(cls)
            for singles, counts in _shapes(cls, parts):
                self._add(cls, parts, singles, counts)

    def decode(self, data: bytes):
        """The gate command in payload ``data`` if it has one of the shapes, else None."""
        decode = self.decoders.get((len(data), data[6:8], data[10:19:8]))  # payload_key(data), inlined: -0.1 us
        return None if decode is None else decode(data)

    def encode(self, command) -> bytes | None:
        """``command``'s payload if it has one of the shapes, else None."""
        encode = self.encoders.get((type(command), *map(type, command)))
        return None if encode is None else encode(command)

    def _add(self, cls: type, parts: dict[str, tuple[Part, type]], singles: tuple[str, ...], counts: range) -> None:
        layouts = {n: Layout("", 0, (_TID, *(parts[name][0] for name in singles), *[_SPEC] * n)) for n in counts}
        for n, layout in layouts.items():
            key = payload_key(_sample(cls, layout))
            # One template per key, or one would shadow the other (each checks every header, so a clash would
            # cost speed, never correctness); a new shape could break this.
            if key in self.decoders:  # explicit: an assert would vanish under -O
                raise RuntimeError(f"{cls.__name__} {singles} {n}: payload key {key} already taken")
            self.decoders[key] = _decoder(cls, singles, n, layout)
        self.encoders[(cls, *_field_types(cls, parts, singles))] = _encoder(cls, singles, layouts)


def _shapes(cls: type, parts: dict[str, tuple[Part, type]]) -> Iterator[tuple[tuple[str, ...], range]]:
    """Each set of single-object fields (in emit order) a template covers for ``cls``, with its Gate-Spec counts."""
    emitted = [slot.field for slot, _ in cls.ORDER]
    required = {slot.field for slot in cls.REQUIRED}
    singles = [name for name in emitted if name in parts]
    if "gate_specs" in emitted:
        # The Gate-Specs are packed last, so they must come after every single object.
        if any(emitted.index(name) > emitted.index("gate_specs") for name in singles):
            raise RuntimeError(f"{cls.__name__}: a template packs the Gate-Specs last; an object comes after them")
        counts = range(1 if "gate_specs" in required else 0, MAX_GATE_SPECS + 1)
    else:
        counts = range(1)
    optional = [name for name in singles if name not in required]
    for size in range(len(optional) + 1):
        for chosen in combinations(optional, size):
            yield tuple(name for name in singles if name in required or name in chosen), counts


def _field_types(cls: type, parts: dict[str, tuple[Part, type]], singles: tuple[str, ...]) -> tuple[type, ...]:
    """The type of each field of a ``cls`` command that has exactly the single objects ``singles``."""
    types = []
    for name in cls._fields:
        if name in singles:
            types.append(parts[name][1])
        elif name in ("transaction_id", "gate_specs", "extra"):
            types.append(int if name == "transaction_id" else tuple)  # the encoder checks what the tuples hold
        else:
            types.append(type(cls._field_defaults[name]))  # absent: None
    return tuple(types)


def _sample(cls: type, layout: Layout) -> bytes:
    """A payload of this layout (zero values, the real headers and command type), to compute its key from."""
    values = list(layout.struct.unpack(bytes(layout.struct.size)))
    for at, item in zip(layout.headers, layout.parts):
        values[at] = item.header
    values[layout.starts[0] + 1] = cls.COMMAND
    return layout.struct.pack(*values)


def _name(verb: str, cls: type, singles: tuple[str, ...], n: int | None = None) -> str:
    """``decode_GateSet_subscriber_activity_count_2specs``: what tracebacks and profiles show."""
    specs = "" if n is None or "gate_specs" not in cls._fields else f"_{n}specs"
    return f"{verb}_{cls.__name__}_{'_'.join(singles) or 'tid'}{specs}"


def _decoder(cls: type, singles: tuple[str, ...], n: int, layout: Layout) -> Callable:
    """``decode(data)`` for one shape; the key already checked the length."""
    src = Source(_name("decode", cls, singles, n), "data")
    src.add(f"f = {src.ref(layout.struct.unpack_from, 'unpack_from')}(data)")
    pairs = layout.header_pairs()
    pairs.insert(1, (f"f[{layout.starts[0] + 1}]", str(int(cls.COMMAND))))
    src.add(f"if {mismatch(pairs)}:")
    src.add("return None", 2)
    values = []
    for name in cls._fields:
        if name == "transaction_id":
            values.append(f"f[{layout.starts[0]}]")
        elif name in singles:
            i = 1 + singles.index(name)
            slot, _ = cls.BY_CLASS[layout.parts[i].cls]
            values.append(layout.load(i, src) if slot.wrap is not None else layout.build(i, src))
        elif name == "gate_specs" and n:
            specs = [layout.build(i, src) for i in range(1 + len(singles), len(layout.parts))]
            values.append(f"({', '.join(specs)},)")
        else:  # absent: its default, as the general decoder leaves it (gate_specs (), extra (), the rest None)
            default = () if name == "extra" else cls._field_defaults[name]
            if default not in (None, ()):
                raise RuntimeError(f"{cls.__name__}.{name}: a template can only leave out a field whose default "
                                   f"is None or (), not {default!r}")
            values.append(repr(default))
    src.add(f"return {src.ref(tuple.__new__, 'new')}({src.ref(cls, cls.__name__)}, ({', '.join(values)}))")
    return src.compile()


def _encoder(cls: type, singles: tuple[str, ...], layouts: dict[int, Layout]) -> Callable:
    """``encode(command)`` for one class and set of field types, one branch per Gate-Spec count."""
    src = Source(_name("encode", cls, singles), "c")
    fields = cls._fields
    some = next(iter(layouts.values()))  # the single objects sit at the same places whatever the count
    args = [f"0x{_TID.header:08x}", "c[0]", str(int(cls.COMMAND))]
    for i, name in enumerate(singles, 1):
        slot, _ = cls.BY_CLASS[some.parts[i].cls]
        value = f"c[{fields.index(name)}]"
        args += some.dump_field(i, value, src) if slot.wrap is not None else some.dump(i, value, src)
    src.add(f"if c[{fields.index('extra')}]:")
    src.add("return None", 2)
    if "gate_specs" not in fields:
        src.add(f"return {src.ref(some.struct.pack, 'pack')}({', '.join(args)})")
        return src.compile()
    gate_spec = src.ref(GateSpec, "GateSpec")
    src.add(f"specs = c[{fields.index('gate_specs')}]")
    src.add("n = len(specs)")
    for n, layout in layouts.items():
        names = [f"s{k}" for k in range(n)]
        spec_args = [arg for k, name in enumerate(names) for arg in layout.dump(1 + len(singles) + k, name, src)]
        src.add(f"if n == {n}:")
        if n:
            src.add(f"{', '.join(names)} = {', '.join(f'specs[{k}]' for k in range(n))}", 2)
            src.add(f"if {' or '.join(f'type({name}) is not {gate_spec}' for name in names)}:", 2)
            src.add("return None", 3)
        src.add(f"return {src.ref(layout.struct.pack, f'pack{n}')}({', '.join(args + spec_args)})", 2)
    src.add("return None")
    return src.compile()
