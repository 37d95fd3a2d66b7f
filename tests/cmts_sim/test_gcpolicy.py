"""The GC policy of ``cmts-sim serve``: survivors of older collections frozen, garbage never frozen, undone on exit."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref

import trio

from cmts_sim import gcpolicy
from cmts_sim.gcpolicy import tuned_gc

from .conftest import connect, start_cmts


class Record:
    """Stands for a gate record: a GC-tracked object with __slots__."""

    __slots__ = ("value", "__weakref__")

    def __init__(self, value) -> None:
        self.value = value


def test_the_survivors_of_an_older_collection_are_frozen_and_later_ones_do_not_walk_them():
    with tuned_gc() as stats:
        records = [Record(n) for n in range(5000)]
        gc.collect(1)
        assert stats.freezes == 1 and gc.get_freeze_count() >= len(records)
        assert not any(type(obj) is Record for obj in gc.get_objects())  # out of every generation
        gc.collect(0)
        assert stats.freezes == 1  # a young collection freezes nothing
    assert gc.get_freeze_count() == 0
    assert sum(type(obj) is Record for obj in gc.get_objects()) == len(records)


def test_cyclic_garbage_is_collected_before_the_survivors_are_frozen():
    with tuned_gc():
        cycle = Record(None)
        cycle.value = cycle
        gone = weakref.ref(cycle)
        del cycle
        gc.collect()
        assert gone() is None


async def test_a_connection_frozen_while_open_is_freed_when_it_closes(nursery, autojump_clock):
    cmts = await start_cmts(nursery)
    with tuned_gc():
        peers = [await connect(cmts) for _ in range(10)]
        sessions = [weakref.ref(session) for session in cmts.sessions]
        parts = [weakref.ref(session().transport) for session in sessions] + \
            [weakref.ref(session().connection) for session in sessions]
        frozen = gc.get_freeze_count()
        gc.collect()  # freezes the ten open sessions
        assert gc.get_freeze_count() > frozen + 10 * 20
        for peer in peers:
            await peer.stream.aclose()
        while cmts.sessions:
            await trio.sleep(1)
        gc.collect()
        # Frozen objects in a cycle would outlive their connection; these went by reference counting.
        assert [ref() for ref in sessions + parts] == [None] * 30


def test_every_collection_is_timed_and_the_active_policy_is_found_by_reports():
    with tuned_gc() as stats:
        assert gcpolicy.ACTIVE is stats
        garbage = []
        garbage.append(garbage)  # a cycle: only the collector frees it
        del garbage
        gc.collect()
        assert stats.collections >= 1 and 0 < stats.longest_pause < 1.0 and 0 <= stats.longest_pause_cpu < 1.0
    assert gcpolicy.ACTIVE is None


MAPPED_AFTER_A_LARGER_FREE = """
import ctypes, sys
from cmts_sim.gcpolicy import fixed_mmap_threshold

class Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Mallinfo2
if sys.argv[1] == "fixed":
    assert fixed_mmap_threshold()
big = bytes(4 << 20)  # a 4 MiB block: mapped
del big  # ... and unmapped, which by default raises the threshold to 4 MiB
mapped = libc.mallinfo2().hblks
block = bytes(1 << 20)
print(libc.mallinfo2().hblks - mapped)  # 1: the 1 MiB block got its own mapping; 0: it came from the heap
"""


def blocks_mapped(mode: str) -> int:
    result = subprocess.run([sys.executable, "-c", MAPPED_AFTER_A_LARGER_FREE, mode], capture_output=True, text=True,
                            check=True)
    return int(result.stdout)


def test_large_blocks_keep_their_own_mappings_after_a_larger_one_was_freed():
    if not gcpolicy.glibc():
        assert gcpolicy.fixed_mmap_threshold() is False  # nothing to fix
        return
    assert blocks_mapped("default") == 0  # glibc's dynamic threshold: the heap takes it, and keeps the pages
    assert blocks_mapped("fixed") == 1
