"""Running scenario files one after another, against the embedded CMTS or real gear.

:class:`Run` owns the order of things for ``cms-sim run``: per scenario, start
the simulated CMTS in this trio run (unless a real CMTS is named), connect a
gate controller, run the steps, and keep the :class:`ScenarioResult` from the
moment it exists, so an interrupted run still has its partial results to
report.
"""

from __future__ import annotations

import ssl
import time
from typing import Any, Callable

import trio

from cmts_sim.config import CmtsConfig, IntegrityConfig, TlsSettings
from cmts_sim.server import CmtsServer
from cops_core.addresses import parse_address
from cops_core.integrity import IntegritySettings
from cops_core.transport import Tap

from .errors import ConnectError
from .pool import GateControllerPool
from .scenario import EmbeddedModem, RealModem, Scenario, ScenarioResult, ScenarioRunner, StepResult, Verdict
from .scenario.embedded import embedded_config
from .scenario.modem import DEFAULT_MODEM_TIMEOUT
from .scenario.requirements import Target, unmet
from .scenario.runner import Pause

EMBEDDED_HOST = "127.0.0.1"
EMBEDDED_PORT = 2126
ACCEPT_TIMEOUT = 60.0
"""Seconds ``--listen`` waits for a CMTS to dial in, per scenario."""


async def embedded_port(preferred: int = EMBEDDED_PORT) -> int:
    """``preferred`` if it is free on loopback, else 0 (any free port)."""
    try:
        listeners = await trio.open_tcp_listeners(preferred, host=EMBEDDED_HOST)
    except OSError:
        return 0
    for listener in listeners:
        await listener.aclose()
    return preferred


class Run:
    """Scenarios in order; ``results`` grows as each one starts.

    ``cmts`` names real gear (``HOST[:PORT]``); None runs each scenario
    against a simulated CMTS started here on ``port``.  Against real gear a
    scenario whose ``requires:`` it cannot meet is skipped: ``mta`` says a
    modem acts on the gates (a call made on the MTA), and a variable given on
    the command line meets a variable need.  ``listen`` turns the connection
    round (RFC 2748's own direction): real gear dials ``HOST:PORT`` and each
    scenario runs on the connection it opens.
    ``source`` is the local address to dial from.  ``tls``: our TLS server
    context (COPS over TLS, RFC 4261), and ``embedded_tls`` the embedded
    CMTS's TLS settings to go with it.  ``integrity`` signs and checks every
    message (protocol.md 2.8), the embedded CMTS's too.  ``on_begin``,
    ``on_step`` and ``on_end`` let a live view follow along; ``pause`` is
    awaited before each step (:data:`~cms_sim.scenario.runner.Pause`: the
    step-through).
    """

    def __init__(self, scenarios: list[tuple[Scenario, dict[str, Any]]], *, cmts: str | None = None,
                 port: int = EMBEDDED_PORT, seed: int | None = None, modem_timeout: float = DEFAULT_MODEM_TIMEOUT,
                 mta: bool = False, listen: str | None = None, source: str | None = None, strict: bool = False,
                 allow: tuple[str, ...] = (), tls: ssl.SSLContext | None = None,
                 embedded_tls: TlsSettings | None = None, integrity: IntegritySettings | None = None,
                 taps: tuple[Tap, ...] = (),
                 on_begin: Callable[[ScenarioResult, Scenario], None] = lambda result, scenario: None,
                 on_step: Callable[[StepResult], None] | None = None,
                 on_end: Callable[[ScenarioResult], None] = lambda result: None,
                 pause: Pause | None = None) -> None:
        self.scenarios = scenarios
        self.cmts = cmts
        self.port = port
        self.seed = seed
        self.modem_timeout = modem_timeout
        self.mta = mta
        self.listen = listen
        self.source = source
        self.strict = strict
        self.allow = allow  # --listen: the networks a CMTS may dial in from
        self.tls, self.embedded_tls = tls, embedded_tls
        self.integrity = integrity
        self.taps = taps
        self.on_begin, self.on_step, self.on_end = on_begin, on_step, on_end
        self.pause = pause  # step-through (--step): awaited before each step
        self.results: list[ScenarioResult] = []
        self._runner: ScenarioRunner | None = None
        self._interrupted = False
        self._accepting: trio.CancelScope | None = None  # --listen's wait for a CMTS; interrupt() ends it

    async def run(self) -> list[ScenarioResult]:
        for scenario, variables in self.scenarios:
            if self._interrupted:
                break
            await self._one(scenario, variables)
        return self.results

    def interrupt(self) -> None:
        """Ctrl-C: end the scenario under way (its finally steps and cleanup still run) and start no other."""
        self._interrupted = True
        if self._accepting is not None:
            self._accepting.cancel()
        if self._runner is not None:
            self._runner.interrupt()

    async def _one(self, scenario: Scenario, variables: dict[str, Any]) -> None:
        embedded = self.cmts is None and self.listen is None
        target = Target(embedded=embedded, mta=self.mta, given=frozenset(variables))
        reason = unmet(scenario, target)
        if reason is not None:
            self._skip(scenario, reason)
            return
        if embedded:
            base = CmtsConfig(listen=[f"{EMBEDDED_HOST}:{self.port}"], tls=self.embedded_tls,
                              integrity=IntegrityConfig.of(self.integrity))
            server = CmtsServer(embedded_config(scenario, base))
            modem = EmbeddedModem(server.modem)
        else:
            server, modem = None, RealModem(self.modem_timeout)
        runner = self._runner = ScenarioRunner(scenario, modem, variables=variables, seed=self.seed,
                                               on_step=self.on_step, strict=self.strict, pause=self.pause)
        result = runner.result
        self.results.append(result)
        self.on_begin(result, scenario)
        try:
            async with trio.open_nursery() as nursery:
                try:
                    async with GateControllerPool(source=self.source, tls=self.tls, integrity=self.integrity,
                                                  **scenario.controller.options()) as pool:
                        runner.attach(pool)
                        for tap in self.taps:
                            pool.add_tap(tap)
                        if self.listen:
                            controller = await self._accept(pool, result)
                        else:
                            if server is not None:
                                host, port = (await nursery.start(server.serve))[0]
                                result.target = f"{host}:{port}"
                            else:
                                result.target = self.cmts
                            controller = await pool.connect(result.target)
                        await runner.run(controller)
                finally:
                    nursery.cancel_scope.cancel()
        except* ConnectError as group:  # the nursery wraps it
            _fail_setup(result, str(group.exceptions[0]))
            if self.on_step is not None:
                self.on_step(result.steps[-1])
        finally:
            self._runner = None
            if result.verdict is None and not result.steps:
                result.interrupted = True
            self.on_end(result)

    async def _accept(self, pool: GateControllerPool, result: ScenarioResult):
        """Listen, and take the first CMTS that dials in and completes OPN-CAT-REQ."""
        host, port = parse_address(self.listen)
        try:
            bound = (await pool.listen(host, port, allow=self.allow))[0]
        except OSError as exc:
            raise ConnectError(f"cannot listen on {self.listen}: {exc.strerror or exc}") from None
        result.target = f"{self.listen} (listening)"
        self._accepting = trio.CancelScope()
        with self._accepting, trio.move_on_after(ACCEPT_TIMEOUT):
            controller = await pool.accept()
            result.target = controller.name
            return controller
        if self._interrupted:
            raise ConnectError(f"interrupted while waiting for a CMTS to dial {bound[0]}:{bound[1]}")
        last = f" (the last that tried: {pool.handshake_failures[-1]})" if pool.handshake_failures else ""
        if pool.refused:
            last += f" ({len(pool.refused)} refused from outside --allow, the last from {pool.refused[-1]})"
        raise ConnectError(f"no CMTS dialled {bound[0]}:{bound[1]} and completed the handshake within "
                           f"{ACCEPT_TIMEOUT:g} s{last}")

    def _skip(self, scenario: Scenario, reason: str) -> None:
        result = ScenarioResult(scenario.name, scenario.description, scenario.source, self.cmts or "",
                                dict(scenario.variables), scenario.seed, time.time(), verdict=Verdict.SKIPPED,
                                skip_reason=reason)
        self.results.append(result)
        self.on_begin(result, scenario)
        self.on_end(result)


def _fail_setup(result: ScenarioResult, message: str) -> None:
    """A scenario that never got to its steps fails on a 'connect' step of its own."""
    step = StepResult((0,), "connect", "connect to the CMTS", None, Verdict.FAILED, message)
    result.steps.append(step)
    result.verdict = Verdict.FAILED
