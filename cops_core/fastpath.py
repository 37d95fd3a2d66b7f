"""The fast path's switch: ``on`` (the default), ``off`` or ``verify``.

The layout templates (:mod:`cops_core.templates`, :mod:`cops_core.dqos.templates`)
and the one-struct packers (:func:`cops_core.dqos.packed_report`,
:func:`~cops_core.dqos.packed_decision`) are shortcuts; the general codec
is the reference.  This module says which runs:

* ``on``: the shortcuts, falling back to the general codec for any shape they do not take;
* ``off``: the general codec only (to rule the fast path out when hunting a bug);
* ``verify``: the shortcuts, each result checked against the general codec, both
  ways (a template's decode against the general decode of the same bytes, a
  template's encode or a packer's bytes against the general encode of the same
  value); any difference raises :class:`FastPathMismatch`.

The mode comes from the environment variable ``PKTCABLE_FASTPATH`` at import,
or from :func:`set_mode` (the test suite runs in ``verify``).  Switching
rewrites the template tables in place (the hot paths hold the same dicts), so
``on`` costs nothing per message.
"""

from __future__ import annotations

import functools
import os
from typing import Callable

MODES = ("on", "off", "verify")


class FastPathMismatch(RuntimeError):
    """A shortcut gave other values or bytes than the general codec: a bug in the fast path."""


class _Table:
    """One template table: its decoders and encoders as built, and the general functions they must agree with."""

    def __init__(self, name: str, decoders: dict, encoders: dict, general_decode: Callable,
                 general_encode: Callable) -> None:
        self.name = name
        self.decoders, self.encoders = decoders, encoders
        self.original_decoders, self.original_encoders = dict(decoders), dict(encoders)
        self.general_decode, self.general_encode = general_decode, general_encode

    def apply(self, mode: str) -> None:
        self.decoders.clear()
        self.encoders.clear()
        if mode == "on":
            self.decoders.update(self.original_decoders)
            self.encoders.update(self.original_encoders)
        elif mode == "verify":
            self.decoders.update({key: self._checked_decoder(f) for key, f in self.original_decoders.items()})
            self.encoders.update({key: self._checked_encoder(f) for key, f in self.original_encoders.items()})

    def _checked_decoder(self, decode: Callable) -> Callable:
        @functools.wraps(decode)  # its name and generated source stay visible (tracebacks, inspect)
        def checked(data):
            fast = decode(data)
            if fast is not None:
                try:
                    general = self.general_decode(data)
                except Exception as exc:
                    raise FastPathMismatch(f"{self.name}: a template read {data.hex()} as {fast!r}, "
                                           f"the general codec refuses it: {exc!r}") from exc
                if repr(fast) != repr(general):  # repr names every class: a tuple cannot pass for a Handle
                    raise FastPathMismatch(f"{self.name}: a template read {data.hex()} as {fast!r}, "
                                           f"the general codec as {general!r}")
            return fast
        return checked

    def _checked_encoder(self, encode: Callable) -> Callable:
        @functools.wraps(encode)
        def checked(value):
            fast = encode(value)
            if fast is not None:
                check_bytes(self.name, value, fast, self.general_encode)
            return fast
        return checked


_tables: list[_Table] = []


def register(name: str, decoders: dict, encoders: dict, general_decode: Callable, general_encode: Callable) -> None:
    """Put a template table under the switch (its module calls this once it is built)."""
    table = _Table(name, decoders, encoders, general_decode, general_encode)
    _tables.append(table)
    table.apply(mode)


def set_mode(new: str) -> None:
    """Switch every registered table (and the packers, which read :data:`mode`) to ``new``."""
    global mode
    if new not in MODES:
        raise ValueError(f"fast path mode {new!r}: expected one of {', '.join(MODES)}")
    mode = new
    for table in _tables:
        table.apply(new)


def check_bytes(what: str, value, fast: bytes, general_encode: Callable) -> None:
    """Raise :class:`FastPathMismatch` unless ``general_encode(value)`` gives ``fast``."""
    try:
        general = general_encode(value)
    except Exception as exc:
        raise FastPathMismatch(f"{what}: a shortcut packed {value!r} as {fast.hex()}, the general codec "
                               f"refuses it: {exc!r}") from exc
    if general != fast:
        raise FastPathMismatch(f"{what}: a shortcut packed {value!r} as {fast.hex()}, the general codec as "
                               f"{general.hex()}")


def _from_environment() -> str:
    chosen = os.environ.get("PKTCABLE_FASTPATH", "on").strip().lower() or "on"
    if chosen not in MODES:
        raise ValueError(f"PKTCABLE_FASTPATH={chosen!r}: expected one of {', '.join(MODES)}")
    return chosen


mode = _from_environment()
