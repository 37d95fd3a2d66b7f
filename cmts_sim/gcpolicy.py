"""Keeping the gate table out of the cyclic garbage collector's way, so that a collection never stalls the loop.

A full collection walks every tracked object: with 100k gates (a record and
a Subscriber-ID address each, ~220k objects) that is 55-140 ms on the 2-core
lab machines, and each such pause delays every reply in flight.  Gates die
by reference counting (the table drops them), so the cyclic collector has
nothing to find among them; it only has to stop looking at them.

:func:`tuned_gc` does two things for ``cmts-sim serve``:

* ``gc.freeze()`` at start: imports, settings and the listener are
  permanent, and leave the collector's generations.
* ``gc.freeze()`` again whenever a collection of the middle or the oldest
  generation ends: what survived it has survived two collections (gates,
  sessions), and the garbage among it was just reclaimed, so nothing
  collectable is frozen with it.  The oldest generation stays near empty,
  and no collection walks more than the young objects since the last one.

Python's thresholds (700, 10, 10) stay: raising them was measured worse
while a table grows, as each collection then walks the gates created since
the last one (gen0 at 5000: 38-45 ms pauses; at 2000: 11-21 ms).

Measured filling 100k gates (``python bench/cmts.py --part memory``, a
few runs on a noisy shared machine): the longest automatic pause went from
69-143 ms to 2-7 ms, their total from 218-355 to 76-126 ms, and a
``gc.collect()`` with the 100k gates alive from 73-131 ms to under 0.1 ms.

The price: frozen objects that later become cyclic garbage are never
reclaimed.  A closed connection's session, transport and connection go by
reference counting all the same (``tests/cmts_sim/test_gcpolicy.py``).

:func:`tuned_gc` also fixes glibc's mmap threshold (:func:`fixed_mmap_threshold`)
for the rest of the process.  By default glibc raises the threshold to the
size of any mapped block freed, so that after one large block (a dict of
30,000 calls resized, a send buffer joined under a backlog) every later block
of that size comes from the heap, and a heap with live blocks above freed ones
cannot shrink: a soak's RSS then climbs in steps of megabytes whenever a
large table is reallocated, for many minutes, with no more live memory.  With
the threshold fixed, large blocks are always mapped and unmapped when freed.
"""

from __future__ import annotations

import ctypes
import gc
import os
import time
from contextlib import contextmanager
from typing import Iterator


class GcStats:
    """What :func:`tuned_gc` did: how many times it froze the survivors of a collection, and the pauses."""

    def __init__(self) -> None:
        self.freezes = 0
        self.collections = 0
        self.longest_pause = 0.0  # seconds: the longest collection (a stall of the whole trio loop)
        # ... and the CPU it took: on a shared machine the wall time also counts being descheduled meanwhile.
        self.longest_pause_cpu = 0.0
        self._started = (0.0, 0.0)

    def after_collection(self, phase: str, info: dict) -> None:
        """A ``gc.callbacks`` hook: time every collection; freeze the survivors when a gen1 or gen2 one ends."""
        if phase == "start":
            self._started = (time.perf_counter(), time.thread_time())
            return
        self.collections += 1
        wall, cpu = self._started
        self.longest_pause = max(self.longest_pause, time.perf_counter() - wall)
        self.longest_pause_cpu = max(self.longest_pause_cpu, time.thread_time() - cpu)
        if info["generation"] >= 1:
            gc.freeze()
            self.freezes += 1


ACTIVE: GcStats | None = None
"""The stats of the :func:`tuned_gc` in force in this process, if any (reports read the pauses here)."""


def glibc() -> bool:
    """Whether this process's C library is glibc."""
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (AttributeError, ValueError, OSError):  # no confstr (Windows), or no such name (musl, macOS)
        return False


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
MMAP_THRESHOLD = 256 * 1024  # blocks this large and larger get their own mapping


def fixed_mmap_threshold(size: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold at ``size`` (which also turns its dynamic adjustment off); False elsewhere."""
    if not glibc():
        return False  # musl, macOS, Windows: their allocators do not have this behaviour to fix
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt(M_MMAP_THRESHOLD, size) == 1


@contextmanager
def tuned_gc() -> Iterator[GcStats]:
    """Freeze what exists now and the survivors of every older-generation collection; undone on exit.

    The mmap threshold it fixes stays fixed: it is how the process allocates from then on, harmless after.
    """
    global ACTIVE
    fixed_mmap_threshold()
    stats = GcStats()
    gc.collect()
    gc.freeze()
    gc.callbacks.append(stats.after_collection)
    ACTIVE = stats
    try:
        yield stats
    finally:
        ACTIVE = None
        gc.callbacks.remove(stats.after_collection)
        gc.unfreeze()  # back to the oldest generation: a later collection may reclaim what was frozen
