"""bench/cmts_path.py: the CMTS it measures carries every complete call through, whatever the DECs per read."""

from __future__ import annotations

import pytest
import trio

from .test_cms_path import _module

cmts_path = _module("cmts_path")


@pytest.mark.parametrize("batch", [1, 7])
def test_every_call_completes_and_each_message_is_counted(batch):
    per_call, stats = trio.run(cmts_path.measure, 20, batch)  # raises unless all 20 calls completed, no gate left
    assert per_call > 0
    # A call: Gate-Alloc, Gate-Set and Gate-Delete in; their Acks, Gate-Open and Gate-Close out; plus OPN and REQ.
    assert (stats.received, stats.sent) == (60, 20 * 5 + 2)
