"""The GC policy of ``cmts-sim serve``: survivors of older collections frozen, garbage never frozen, undone on exit."""

from __future__ import annotations

import gc
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
