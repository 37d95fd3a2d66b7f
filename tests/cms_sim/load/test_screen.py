"""The load screen's key reader on a real pseudo-terminal."""

from __future__ import annotations

import os
import pty
import sys

import trio

from cms_sim.load.screen import raw_keys, read_keys


async def test_keys_are_read_without_making_the_terminals_output_non_blocking(monkeypatch):
    master, slave = pty.openpty()
    terminal = os.fdopen(slave, "r")  # stdin, stdout and stderr on a terminal: one open file
    monkeypatch.setattr(sys, "stdin", terminal)
    keys: list[str] = []
    try:
        with raw_keys():  # one key at a time, as cms-sim load and run --step read them
            async with trio.open_nursery() as nursery:
                nursery.start_soon(read_keys, keys.append)
                os.write(master, b"q")
                with trio.fail_after(5):
                    while not keys:
                        await trio.sleep(0.01)
                # A screen written to this terminal while keys are read must block when it is full, not be cut.
                assert os.get_blocking(slave)
                nursery.cancel_scope.cancel()
    finally:
        terminal.close()
        os.close(master)
    assert keys == ["q"]
