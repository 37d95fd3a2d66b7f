"""The cable-modem side of a call, as ``reserve``/``commit``/``release`` steps see it.

Against the embedded CMTS the scenario *drives* the simulated modem
(:class:`EmbeddedModem`): the action happens at once, or the CMTS refuses it.
Against real gear a person or a real MTA makes the call, and all the gate
controller can see is the result (:class:`RealModem`): commit waits for the
gate's Gate-Open, release for its Gate-Close; a reservation is not visible at
all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from cmts_sim.mta import ModemError

from ..events import GateClosed, GateOpened
from .eventlog import EventLog


DEFAULT_MODEM_TIMEOUT = 60.0
"""Seconds a commit/release step waits for a real modem's Gate-Open/Gate-Close (``--modem-timeout``)."""


class ModemRefused(Exception):
    """The CMTS refused the modem action (outside the envelope, wrong state, unknown gate ...)."""


class ModemTimeout(Exception):
    """Real gear: the Gate-Open or Gate-Close that shows the modem acted did not come in time."""


class ModemDriver(ABC):
    """How a scenario's reserve, commit and release steps reach a modem (the CMS side's view of it).

    Each action returns a note for the report, or raises :class:`ModemRefused` / :class:`ModemTimeout`.

    ``timeout`` is the step's own (None: the modem's default); ``events`` is the run's event log.
    """

    @abstractmethod
    async def reserve(self, gate_id: int, *, events: EventLog, timeout: float | None) -> str: ...

    @abstractmethod
    async def commit(self, gate_id: int, *, events: EventLog, timeout: float | None) -> str: ...

    @abstractmethod
    async def release(self, gate_id: int, *, events: EventLog, timeout: float | None) -> str: ...


class EmbeddedModem(ModemDriver):
    """Drives the embedded CMTS's modem (``CmtsServer.modem``, mode "driven")."""

    def __init__(self, driven) -> None:
        self._driven = driven

    async def reserve(self, gate_id: int, *, events: EventLog, timeout: float | None) -> str:
        return await self._act(self._driven.reserve, gate_id, "reserved")

    async def commit(self, gate_id: int, *, events: EventLog, timeout: float | None) -> str:
        return await self._act(self._driven.commit, gate_id, "committed")

    async def release(self, gate_id: int, *, events: EventLog, timeout: float | None) -> str:
        return await self._act(self._driven.release, gate_id, "released")

    @staticmethod
    async def _act(action, gate_id: int, done: str) -> str:
        try:
            await action(gate_id)
        except ModemError as exc:
            raise ModemRefused(str(exc)) from None
        return f"modem {done} gate 0x{gate_id:08x}"


class RealModem(ModemDriver):
    """Watches a real modem through the events it causes; ``timeout`` is how long a person gets to act."""

    def __init__(self, timeout: float = DEFAULT_MODEM_TIMEOUT) -> None:
        self.timeout = timeout

    async def reserve(self, gate_id: int, *, events: EventLog, timeout: float | None) -> str:
        return "real modem: a reservation is not visible to the gate controller"

    async def commit(self, gate_id: int, *, events: EventLog, timeout: float | None) -> str:
        return await self._watch(GateOpened, "Gate-Open", gate_id, events, timeout)

    async def release(self, gate_id: int, *, events: EventLog, timeout: float | None) -> str:
        return await self._watch(GateClosed, "Gate-Close", gate_id, events, timeout)

    async def _watch(self, kind: type, title: str, gate_id: int, events: EventLog, timeout: float | None) -> str:
        timeout = self.timeout if timeout is None else timeout
        found = await events.wait_for(lambda e: type(e) is kind and e.gate_id == gate_id, timeout, claim=False)
        if found is None:
            raise ModemTimeout(f"no {title} for gate 0x{gate_id:08x} within {timeout:g} s")
        return f"real modem: {title} for gate 0x{gate_id:08x} seen"
