"""Field declarations: each field of a wire object said once, where its class is written.

An object class (:mod:`cops_core.objects`, :mod:`cops_core.dqos.objects`) is a
``NamedTuple`` whose fields have a declaration where a default would go, in
wire order, with the object's reserved bytes between them::

    class KATimer(NamedTuple):
        reserved = reserved_bytes(2)
        seconds: int = u16("KA Timer Value", unit="s")

A declaration says how the field travels (struct code and :class:`Conv`), what
the spec calls it (label), its unit, the IntEnum of its codes, a hint for how a
decoder shows it, and its default.  From the declarations :mod:`cops_core.wire`
derives the codec (the struct format, the conversions placed by field name),
:mod:`cops_core.templates` the fast path's layouts, ``cms_sim.decode.dissect``
the tree's labels, units, code names and byte offsets (and so the JSON field
names), and ``cms_sim.scenario`` the Gate-Spec's parameter model.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import ipaddress
import itertools
import struct
from typing import Any, Callable, NamedTuple

_ORDER = itertools.count()  # declarations are numbered as written: reserved bytes sit between fields by this


class Conv(NamedTuple):
    """How one field travels: ``load`` turns the struct value into the field, ``dump`` back; ``type`` is the field's."""

    load: Callable[[Any], Any]
    dump: Callable[[Any], Any]
    type: type


@functools.lru_cache(maxsize=65536)
def ipv4(value: int) -> ipaddress.IPv4Address:
    """An IPv4Address from its 32-bit value; cached, as a lab reuses few addresses.

    Built without IPv4Address's constructor (type dispatch and range check in
    Python, most of a miss's cost): every caller passes a 32-bit field the
    struct module unpacked, so the value is in range by construction.
    """
    address = _object_new(ipaddress.IPv4Address)
    address._ip = value
    return address


_object_new = object.__new__


@functools.lru_cache(maxsize=65536)
def ipv6(value: bytes) -> ipaddress.IPv6Address:
    """An IPv6Address from its 16 bytes; cached like :func:`ipv4`."""
    return ipaddress.IPv6Address(value)


def _latin1(raw: bytes) -> str:
    return raw.decode("latin-1")


def _latin1_bytes(text: str) -> bytes:
    return text.encode("latin-1")


IPV4 = Conv(ipv4, int, ipaddress.IPv4Address)
IPV6 = Conv(ipv6, lambda address: address.packed, ipaddress.IPv6Address)
TEXT = Conv(_latin1, _latin1_bytes, str)
"""Fixed-width text fields keep every byte (padding included) so they re-encode identically."""

REQUIRED: Any = type("Required", (), {"__repr__": lambda self: "REQUIRED"})()
"""The default of a field that has none: a value must be given."""

_PLAIN_TYPES = {"B": int, "H": int, "I": int, "f": float}

SHOWS = frozenset({"hex", "hex+decimal", "dscp", "protocol", "wildcard", "object-subcode", "reason-subcode", "text"})
"""How a decoder may be told to show a field beyond its label, unit and enum: in hex, hex and decimal, the DS
byte's DSCP, an IP protocol's name, 0 as "any", a sub-code that names an object, a PacketCable-Reason sub-code
from the list its code picks, printable text."""


@dataclasses.dataclass(frozen=True, slots=True)
class Field:
    """One field of a wire object, or reserved bytes (``wire`` "Nx").

    ``wire`` is its struct code ("B", "H", "I", "f", "16s"; "" for the rest of
    a variable body).  ``name``, ``offset`` (in the body) and ``size`` are
    filled in by :func:`declared` from where the field sits in its class.
    """

    wire: str
    label: str
    conv: Conv | None = None
    unit: str | None = None
    enum: type | None = None
    show: str | None = None
    default: Any = REQUIRED
    name: str = ""
    offset: int = 0
    size: int | None = None  # None: the rest of the body
    order: int = dataclasses.field(default_factory=lambda: next(_ORDER), compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.show is not None and self.show not in SHOWS:  # a typo would otherwise show the field plainly
            raise ValueError(f"{self.label}: show={self.show!r}, expected one of {', '.join(sorted(SHOWS))}")

    @property
    def reserved(self) -> bool:
        return self.wire.endswith("x")

    @property
    def type(self) -> type:
        """The type of the field's value: what its conversion loads, else what struct gives."""
        if self.conv is not None:
            return self.conv.type
        return _PLAIN_TYPES.get(self.wire, bytes)


def u8(label: str, **options) -> Field:
    return Field("B", label, **options)


def u16(label: str, **options) -> Field:
    return Field("H", label, **options)


def u32(label: str, **options) -> Field:
    return Field("I", label, **options)


def f32(label: str, **options) -> Field:
    """An IEEE-754 single, carried bit-exactly."""
    return Field("f", label, **options)


def ipv4_address(label: str, **options) -> Field:
    return Field("I", label, IPV4, **options)


def ipv6_address(label: str, **options) -> Field:
    return Field("16s", label, IPV6, **options)


def text(size: int, label: str, **options) -> Field:
    """``size`` bytes of Latin-1 text, padding kept."""
    return Field(f"{size}s", label, TEXT, **options)


def rest(label: str, **options) -> Field:
    """The rest of a variable object's body: bytes, after the fixed fields before it."""
    return Field("", label, **options)


def reserved_bytes(size: int) -> Field:
    """Bytes a layout reserves: sent as zeros, skipped when read.  Declared as a class attribute whose name is the
    JSON key a decoder shows them under (``reserved``, ``reserved_1`` ...)."""
    return Field(f"{size}x", "Reserved")


def declared(cls: type) -> tuple[Field, ...]:
    """The declarations of NamedTuple ``cls`` in wire order, reserved bytes included, named and placed.

    Takes the declarations out of the class: its reserved-byte attributes go,
    and its constructor takes the declared defaults, wherever the fields stand
    (a NamedTuple's own defaults must close it): a field added with a default
    breaks no caller that names its arguments.
    """
    found = []
    for name in cls._fields:
        declaration = cls._field_defaults.get(name)
        if not isinstance(declaration, Field):
            raise TypeError(f"{cls.__name__}.{name}: a field needs a declaration (u8(...), ipv4_address(...) ...)")
        found.append(dataclasses.replace(declaration, name=name))
    for name, value in list(vars(cls).items()):
        if isinstance(value, Field):
            if not value.reserved:
                raise TypeError(f"{cls.__name__}.{name}: a field needs an annotation; only reserved bytes go without")
            found.append(dataclasses.replace(value, name=name))
            delattr(cls, name)
    found.sort(key=lambda field: field.order)
    placed, offset = [], 0
    for field in found:
        size = struct.calcsize("!" + field.wire) if field.wire else None
        placed.append(dataclasses.replace(field, offset=offset, size=size))
        offset += size or 0
    values = [field for field in placed if not field.reserved]
    cls.__new__ = _constructor(cls.__name__, values)
    cls._field_defaults = {field.name: field.default for field in values if field.default is not REQUIRED}
    return tuple(placed)


def _constructor(name: str, values: list[Field]) -> Callable:
    """``__new__`` taking the fields in order, each declared default in place, and refusing a required one left out.

    Generated source, as :func:`collections.namedtuple` makes its own: a
    NamedTuple's ``__new__`` is the same one function, so building an object
    costs what it did.
    """
    namespace: dict[str, Any] = {"_tuple_new": tuple.__new__, "_REQUIRED": REQUIRED, "_missing": _missing}
    parameters = []
    for index, field in enumerate(values):
        # A code's default as the plain int a decoded object holds, so that both print alike.
        namespace[f"_default_{index}"] = int(field.default) if isinstance(field.default, enum.IntEnum) \
            else field.default
        parameters.append(f"{field.name}=_default_{index}")
    checks = [f"    if {field.name} is _REQUIRED: _missing({name!r}, {field.name!r})"
              for field in values if field.default is REQUIRED]
    names = "".join(f"{field.name}, " for field in values)
    source = "\n".join([f"def __new__(_cls, {', '.join(parameters)}):", *checks,
                        f"    return _tuple_new(_cls, ({names}))"])
    exec(source, namespace)
    constructor = namespace["__new__"]
    constructor.__qualname__ = f"{name}.__new__"
    return constructor


def _missing(cls: str, field: str) -> None:
    raise TypeError(f"{cls}() missing required argument: {field!r}")
