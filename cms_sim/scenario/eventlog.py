"""Every event the gate controller reported during a run, kept in order for steps to find.

Events arrive whenever the CMTS sends them, not when a step asks: a
Gate-Open can come before the ``expect_event`` step that waits for it, and a
Gate-Close for another gate can come in between.  So nothing is dropped:
``expect_event`` *claims* the first unclaimed match (each event satisfies one
expectation), while a real-gear modem step only *looks* for it, leaving it for
the ``expect_event`` that usually follows.
"""

from __future__ import annotations

from typing import Callable

import trio

from ..events import Event


class EventLog:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self._claimed: set[int] = set()
        self._arrived = trio.Event()

    def add(self, event: Event) -> None:
        self.events.append(event)
        self._arrived.set()
        self._arrived = trio.Event()

    async def feed(self, channel: trio.MemoryReceiveChannel) -> None:
        """Add everything ``channel`` delivers (run it as a task)."""
        async for event in channel:
            self.add(event)

    def find(self, match: Callable[[Event], bool], *, claim: bool) -> Event | None:
        for index, event in enumerate(self.events):
            if index not in self._claimed and match(event):
                if claim:
                    self._claimed.add(index)
                return event
        return None

    async def wait_for(self, match: Callable[[Event], bool], timeout: float, *, claim: bool) -> Event | None:
        """The first unclaimed event ``match`` accepts, waiting up to ``timeout`` seconds; None if none came."""
        with trio.move_on_after(timeout):
            while (found := self.find(match, claim=claim)) is None:
                await self._arrived.wait()
            return found
        return None

    def unclaimed(self) -> list[Event]:
        return [event for index, event in enumerate(self.events) if index not in self._claimed]
