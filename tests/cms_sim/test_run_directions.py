"""Both connection directions, and the lab's network: ``--listen`` (the CMTS dials us) and ``--source``."""

from __future__ import annotations

import socket
from pathlib import Path

import trio
from click.testing import CliRunner

from cmts_sim.config import CmtsConfig
from cmts_sim.server import CmtsServer
from cms_sim.cli import main
from cms_sim.run import Run
from cms_sim.scenario import Verdict, load_scenario
from cops_core import ClientOpen

ROOT = Path(__file__).parents[2]
SCENARIOS = ROOT / "scenarios"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_with_listen_the_cmts_dials_in_for_each_scenario(nursery, autojump_clock):
    port = free_port()
    # The CMTS dials us, as a PEP does in RFC 2748; it dials again after each scenario's Client-Close.
    server = CmtsServer(CmtsConfig(listen=[], connect=[f"127.0.0.1:{port}"], modem={"mode": "auto", "hold": 0.5}))
    await nursery.start(server.serve)
    scenarios = [(load_scenario(SCENARIOS / f"{name}.yaml"), {}) for name in ("basic_call", "unknown_gate",
                                                                               "admission_rejection")]
    results = await Run(scenarios, listen=f"127.0.0.1:{port}", mta=True).run()
    assert [result.verdict for result in results] == [Verdict.PASSED, Verdict.PASSED, Verdict.SKIPPED]
    assert results[2].skip_reason.startswith("needs the embedded CMTS")
    for result in results[:2]:
        opening = result.trace[0]
        assert type(opening.message) is ClientOpen and not opening.outgoing
        assert opening.local == ("127.0.0.1", port)  # it came to our listening port
        assert result.target == f"127.0.0.1:{opening.peer[1]}"


async def test_nobody_dialling_in_fails_the_setup_with_the_address(autojump_clock):
    port = free_port()
    [result] = await Run([(load_scenario(SCENARIOS / "unknown_gate.yaml"), {})], listen=f"127.0.0.1:{port}").run()
    [setup] = result.steps
    assert result.verdict is Verdict.FAILED and setup.kind == "connect"
    assert setup.message == f"no CMTS dialled 127.0.0.1:{port} and completed the handshake within 60 s"


async def test_ctrl_c_while_waiting_for_a_cmts_to_dial_in_ends_the_wait_at_once(nursery, autojump_clock):
    # The first Ctrl-C (or SIGTERM) only stopped the steps: a run waiting for a CMTS went on waiting, for the
    # whole minute, then reported that nobody had dialled in.
    port = free_port()
    run = Run([(load_scenario(SCENARIOS / "unknown_gate.yaml"), {})], listen=f"127.0.0.1:{port}")

    async def press_ctrl_c() -> None:
        await trio.sleep(1)
        run.interrupt()

    nursery.start_soon(press_ctrl_c)
    started = trio.current_time()
    [result] = await run.run()
    assert trio.current_time() - started < 2
    assert result.failed and result.steps[0].message == f"interrupted while waiting for a CMTS to dial 127.0.0.1:{port}"


async def test_an_address_we_cannot_listen_on_fails_the_setup_saying_why(autojump_clock):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        [result] = await Run([(load_scenario(SCENARIOS / "unknown_gate.yaml"), {})],
                             listen=f"127.0.0.1:{port}").run()
    assert result.steps[0].message == f"cannot listen on 127.0.0.1:{port}: Address already in use"


async def test_source_picks_the_local_address_we_dial_from(nursery, autojump_clock):
    server = CmtsServer(CmtsConfig(listen=["127.0.0.1:0"]))
    await nursery.start(server.serve)
    host, port = server.addresses[0]
    [result] = await Run([(load_scenario(SCENARIOS / "unknown_gate.yaml"), {})], cmts=f"{host}:{port}",
                         source="127.0.0.2").run()
    assert result.verdict is Verdict.PASSED
    assert {record.local[0] for record in result.trace} == {"127.0.0.2"}


def test_listen_and_source_options_are_checked_before_anything_runs():
    runner = CliRunner()
    for args, message in ((["--listen", "127.0.0.1:x"], "the port must be a number"),
                          (["--listen", "127.0.0.1:1", "--cmts", "127.0.0.1"], "not both"),
                          (["--source", "lab-host"], "expected an IP address of this host"),
                          (["--source", "127.0.0.1", "--listen", "127.0.0.1:1"], "with --listen the CMTS dials us")):
        result = runner.invoke(main, ["run", *args, str(SCENARIOS / "unknown_gate.yaml")])
        assert result.exit_code == 2 and message in result.output, (args, result.output)


async def test_with_listen_and_allow_a_cmts_from_elsewhere_is_refused(nursery, autojump_clock):
    port = free_port()
    server = CmtsServer(CmtsConfig(listen=[], connect=[f"127.0.0.1:{port}"]))
    await nursery.start(server.serve)
    [result] = await Run([(load_scenario(SCENARIOS / "unknown_gate.yaml"), {})], listen=f"127.0.0.1:{port}",
                         allow=("10.0.0.0/8",)).run()
    assert result.verdict is Verdict.FAILED
    assert result.steps[0].message.endswith("refused from outside --allow, the last from 127.0.0.1)")
    allowed = await Run([(load_scenario(SCENARIOS / "unknown_gate.yaml"), {})], listen=f"127.0.0.1:{port}",
                        allow=("127.0.0.0/8",)).run()
    assert allowed[0].verdict is Verdict.PASSED
