"""pytest plugin (loaded by pytest through the ``pytest11`` entry point): PacketCable tests in pytest.

* Scenario files are test items: ``pytest scenarios/`` runs each scenario
  YAML file found there (a mapping with ``name:`` and ``steps:``) as
  ``cms-sim run`` would, with the same verdicts, skips and findings.
* ``cmts`` fixture: an embedded cmts-sim on a free loopback port, set up from
  ``@pytest.mark.cmts(timers={"t0": 1}, ...)`` (sections of a cmts-sim
  config); ``gate_controller``: a :class:`~cms_sim.controller.GateController`
  connected to it.  Both are trio fixtures: they need pytest-trio.
* ``--cmts HOST[:PORT]`` points all of it at real gear instead; ``--mta``
  says a call is made on the MTA when a scenario needs one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from cmts_sim.config import CmtsConfig
from cmts_sim.server import CmtsServer

_SCENARIO_KEYS = (re.compile(r"^name:", re.M), re.compile(r"^steps:", re.M))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pktcable-sim")
    group.addoption("--cmts", metavar="HOST[:PORT]", default=None,
                    help="run scenario files and the cmts fixture against this CMTS instead of an embedded one")
    group.addoption("--mta", action="store_true", default=False,
                    help="real gear: a call is made on the MTA while scenarios that need one wait")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cmts(**settings): settings of the embedded CMTS the cmts fixture starts "
                                       "(cmts-sim config sections, e.g. timers={'t0': 1})")


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.suffix in (".yaml", ".yml") and _is_scenario(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def _is_scenario(path: Path) -> bool:
    """A mapping with top-level ``name:`` and ``steps:``: not every YAML file in a test tree is a scenario."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return all(key.search(text) for key in _SCENARIO_KEYS)


class ScenarioFile(pytest.File):
    def collect(self):
        yield ScenarioItem.from_parent(self, name=self.path.stem)


class ScenarioFailed(Exception):
    """The scenario ran and failed (or its file could not be loaded): the lines say where and why."""


class ScenarioItem(pytest.Item):
    """One scenario file, run against the embedded CMTS or ``--cmts``."""

    obj = None  # pytest-trio's trio_mode looks at every item's test function; a scenario has none

    def runtest(self) -> None:
        from .run import Run
        from .scenario import ScenarioError, load_scenario

        try:
            scenario = load_scenario(self.path)
        except ScenarioError as exc:
            raise ScenarioFailed("\n".join(exc.problems)) from None
        run = Run([(scenario, {})], cmts=self.config.getoption("cmts"), port=0, mta=self.config.getoption("mta"))
        [result] = trio.run(run.run)
        for finding in result.findings:
            self.add_report_section("call", "findings", f"{finding} [{finding.data.hex()}]")
        if result.skipped:
            pytest.skip(result.skip_reason)
        if result.failed:
            raise ScenarioFailed("\n".join(f"{step.where}: {step.title}: {step.message}" for step in result.failures))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ScenarioFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"scenario {self.path.name}"


@dataclass(frozen=True)
class CmtsUnderTest:
    """What the ``cmts`` fixture gives: where to connect, and the embedded server (None for real gear)."""

    address: str  # "HOST:PORT"
    server: CmtsServer | None


@pytest.fixture
async def cmts(request: pytest.FixtureRequest):
    """An embedded cmts-sim on a free loopback port (``@pytest.mark.cmts(...)`` sets it up), or ``--cmts``."""
    target = request.config.getoption("cmts")
    if target is not None:
        yield CmtsUnderTest(target, None)
        return
    marker = request.node.get_closest_marker("cmts")
    server = CmtsServer(CmtsConfig(listen=["127.0.0.1:0"], **(marker.kwargs if marker else {})))
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve)
        host, port = server.addresses[0]
        yield CmtsUnderTest(f"{host}:{port}", server)
        nursery.cancel_scope.cancel()


@pytest.fixture
async def gate_controller(cmts: CmtsUnderTest):
    """A gate controller connected to ``cmts`` (the handshake done); closed, with Client-Close, after the test."""
    from .pool import connect

    async with connect(cmts.address) as controller:
        yield controller
