"""Run a scenario against a simulated CMTS started in the same trio run: nothing to install or start.

The CMTS gets the scenario's ``cmts:`` settings and a loopback listener on
an ephemeral port; its modem is driven by the scenario's reserve/commit/
release steps (mode "driven", unless the scenario asks otherwise).
"""

from __future__ import annotations

from typing import Any

import trio

from cmts_sim.config import CmtsConfig
from cmts_sim.server import CmtsServer
from cops_core.transport import Tap

from ..pool import GateControllerPool
from .model import Scenario
from .modem import EmbeddedModem
from .result import ScenarioResult
from .runner import ScenarioRunner


def embedded_config(scenario: Scenario, base: CmtsConfig | None = None) -> CmtsConfig:
    """The embedded CMTS's configuration: ``base`` (default: loopback, any port) with the scenario's settings.

    The modem is "driven" unless the scenario's ``cmts.modem.mode`` says
    otherwise: only the scenario's steps make it act, so no Gate-Open comes
    that the scenario did not ask for.
    """
    config = scenario.cmts.apply(base or CmtsConfig(listen=["127.0.0.1:0"]))
    if scenario.cmts.modem is None or "mode" not in scenario.cmts.modem.model_fields_set:
        config = config.model_copy(update={"modem": config.modem.model_copy(update={"mode": "driven"})})
    return config


async def run_embedded(scenario: Scenario, *, variables: dict[str, Any] | None = None, seed: int | None = None,
                       base: CmtsConfig | None = None, taps: tuple[Tap, ...] = ()) -> ScenarioResult:
    """Start a CMTS, connect a gate controller to it, run ``scenario``, stop both; returns the result.

    Raises :class:`~cms_sim.scenario.ScenarioError` for unknown ``variables``
    and :class:`~cms_sim.errors.ConnectError` if the handshake fails (as
    themselves, not inside an ExceptionGroup).
    """
    server = CmtsServer(embedded_config(scenario, base))
    runner = ScenarioRunner(scenario, EmbeddedModem(server.modem), variables=variables, seed=seed)
    raised: BaseException | None = None
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve)
        host, port = server.addresses[0]
        try:
            async with GateControllerPool(**scenario.controller.options()) as pool:
                runner.attach(pool)
                for tap in taps:
                    pool.add_tap(tap)
                await runner.run(await pool.connect(f"{host}:{port}"))
        except BaseException as exc:  # re-raised below as itself, not inside the nursery's ExceptionGroup
            raised = exc
        finally:
            nursery.cancel_scope.cancel()
    if raised is not None:
        raise raised
    return runner.result
