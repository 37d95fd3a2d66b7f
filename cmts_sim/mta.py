"""The cable-modem side of the simulated CMTS: reserve, commit, release.

Two modes.  *Driven*: a scenario engine calls :meth:`SimulatedModems.reserve`,
:meth:`~SimulatedModems.commit`, :meth:`~SimulatedModems.release` step by step.
*Automatic*: after each new Gate-Set the modem reserves and commits after configured delays and,
if a hold time is set, releases after it.  Automatic actions are deadlines in
one heap that the server's timer task services, like the gate timers: no task
per gate.
"""

from __future__ import annotations

import heapq
import itertools
from typing import TYPE_CHECKING, Callable

from .gates import Event, GateState, GateTable, Refused

if TYPE_CHECKING:
    from .config import ModemSettings


class ModemError(Exception):
    """The CMTS refused a modem action (outside the envelope, no capacity, wrong state, no such gate)."""


RESERVE, COMMIT, RELEASE = "reserve", "commit", "release"
_RESERVED = GateState.RESERVED  # as a global: reading an enum member costs ~0.2 us on CPython 3.11, once a call here


class SimulatedModems:
    """Every simulated modem behind one CMTS, acting on its gate table.

    ``dispatch`` delivers the Gate-Open/Gate-Close events an action causes;
    ``clock`` gives the time (the trio clock in the server).
    """

    def __init__(self, gates: GateTable, settings: "ModemSettings", dispatch: Callable[[list[Event]], object],
                 clock: Callable[[], float]) -> None:
        self.gates = gates
        self.settings = settings
        self._dispatch = dispatch
        self._clock = clock
        self._heap: list[tuple[float, int, int, str]] = []
        self._sequence = itertools.count()
        self.on_schedule: Callable[[], None] = lambda: None  # the server re-arms its timer task

    # --- driven -------------------------------------------------------------------

    async def reserve(self, gate_id: int, kbps: dict[int, float] | None = None) -> None:
        await self._act(lambda now: self.gates.reserve(gate_id, now, kbps))

    async def commit(self, gate_id: int) -> None:
        await self._act(lambda now: self.gates.commit(gate_id, now))

    async def release(self, gate_id: int) -> None:
        await self._act(lambda now: self.gates.release(gate_id, now))

    async def stop_media(self, gate_id: int) -> None:
        """The call goes quiet without hanging up: starts T8 if the gate has one."""
        await self._act(lambda now: self.gates.media_stopped(gate_id, now))

    async def _act(self, action: Callable[[float], list[Event]]) -> None:
        try:
            events = action(self._clock())
        except Refused as exc:
            raise ModemError(str(exc)) from None
        result = self._dispatch(events)
        if result is not None:
            await result

    # --- automatic ----------------------------------------------------------------

    def gate_authorized(self, gate_id: int, now: float) -> None:
        """A new gate was set: in automatic mode, schedule its reservation."""
        if self.settings.mode == "auto":
            self._schedule(now + self.settings.reserve_delay, gate_id, RESERVE)

    @property
    def next_deadline(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def run_due(self, now: float) -> list[Event]:
        """Do every automatic action due by ``now``; actions on gates that went meanwhile are dropped."""
        events: list[Event] = []
        while self._heap and self._heap[0][0] <= now:
            _, _, gate_id, action = heapq.heappop(self._heap)
            try:
                if action == RESERVE:
                    events += self.gates.reserve(gate_id, now)
                    if self.gates.gates[gate_id].state is _RESERVED:
                        self._schedule(now + self.settings.commit_delay, gate_id, COMMIT)
                    elif self.settings.hold is not None:
                        self._schedule(now + self.settings.hold, gate_id, RELEASE)  # auto-committed already
                elif action == COMMIT:
                    events += self.gates.commit(gate_id, now)
                    if self.settings.hold is not None:
                        self._schedule(now + self.settings.hold, gate_id, RELEASE)
                else:
                    events += self.gates.release(gate_id, now)
            except Refused:
                continue  # deleted, expired or refused admission: the modem gives up, as a real one would
        return events

    def _schedule(self, when: float, gate_id: int, action: str) -> None:
        heapq.heappush(self._heap, (when, next(self._sequence), gate_id, action))
        self.on_schedule()
