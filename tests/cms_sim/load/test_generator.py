"""The load generator against a real simulated CMTS on loopback, its modems driven over the control socket.

Time is trio's autojump clock: a 20-second run at 50 calls/s takes well
under a second, and rates and holds are exact.
"""

import os
import tempfile
from contextlib import asynccontextmanager

import pytest
import trio

from cms_sim.load.embedded import LOAD_CAPACITY, modem_link
from cms_sim.load.generator import LoadGenerator, LoadSettings, Target
from cms_sim.load.program import compile_program
from cms_sim.load.stats import LoadStatistics, Sample
from cms_sim.load.subscribers import Subscribers
from cms_sim.scenario import load_scenario
from cms_sim.scenario.loader import parse_scenario
from cmts_sim.config import CmtsConfig
from cmts_sim.control import serve_control
from cmts_sim.server import CmtsServer

BASIC_CALL = "scenarios/basic_call.yaml"  # alloc, set, reserve, commit, Gate-Open, hold 1 s, release, close, delete
GATE_CHURN = "scenarios/gate_churn.yaml"  # Gate-Set without a Gate-ID, hold 1 s, Gate-Delete


@asynccontextmanager
async def simulated_cmts(**settings):
    """A CmtsServer on loopback with its modem control socket; yields (server, target, control path)."""
    config = CmtsConfig(listen=["127.0.0.1:0"], modem={"mode": "driven"}, capacity=LOAD_CAPACITY, **settings)
    server = CmtsServer(config)
    with tempfile.TemporaryDirectory(prefix="load") as folder:  # short: a Unix socket path has 108 bytes at most
        control = os.path.join(folder, "modem.sock")
        async with trio.open_nursery() as nursery:
            (host, port), *_ = await nursery.start(server.serve)
            await nursery.start(serve_control, server, control)
            yield server, f"{host}:{port}", control
            nursery.cancel_scope.cancel()


def basic_call(hold: str = "1s", extra: str = ""):
    """The shipped basic call with another hold (a duration or a distribution) and extra top-level keys."""
    return parse_scenario(open(BASIC_CALL).read().replace("hold: 1s", f"hold: {hold}") + extra, BASIC_CALL)


def generator(scenario, targets, modem, samples=None, subscribers="10.64.0.0/16", **settings) -> LoadGenerator:
    on_sample = samples.append if samples is not None else (lambda sample: None)
    return LoadGenerator(scenario, compile_program(scenario), LoadSettings(**settings),
                         Subscribers.from_range(subscribers), [Target(t) if isinstance(t, str) else t for t in targets],
                         modem=modem, on_sample=on_sample)


async def run_against_one_cmts(scenario, samples=None, **settings):
    async with simulated_cmts() as (server, target, control), modem_link(control) as modem:
        load = generator(scenario, [target], modem, samples, **settings)
        await load.run()
        return load, server


async def test_calls_start_on_schedule_and_every_one_completes(autojump_clock):
    load, server = await run_against_one_cmts(load_scenario(BASIC_CALL), rate=50, duration=20)
    tally = load.recorder.tally
    assert tally.attempted == 1000 and tally.completed == 1000 and tally.failed == 0
    assert load.achieved_cps == pytest.approx(50, rel=0.01)
    assert tally.concurrent == 0 and tally.gates == 0
    assert server.gates.gates == {}  # every call deleted its gate


async def test_a_ramp_raises_the_rate_step_by_step(autojump_clock):
    samples: list[Sample] = []
    await run_against_one_cmts(load_scenario(BASIC_CALL), samples, rate=40, rate_start=10, ramp_step=10,
                               ramp_interval=1.0, duration=6, interval=1.0)
    attempted = [sample.tally.attempted for sample in samples][:6]
    # 10 calls in the first second, 20 in the second ... (a call due on the second may fall either side of it)
    assert attempted == pytest.approx([10, 30, 60, 100, 140, 180], abs=1)
    assert samples[-1].tally.attempted == 10 + 20 + 30 + 40 + 40 + 40


async def test_a_hold_step_samples_its_distribution(autojump_clock):
    scenario = basic_call("{distribution: exponential, mean: 2s, max: 60s}")
    samples: list[Sample] = []
    await run_against_one_cmts(scenario, samples, rate=100, calls=1000, seed=3)
    statistics = LoadStatistics(0.0)
    for sample in samples:
        statistics.add(0, sample)
    hold = statistics.totals["6. talk"]
    assert hold.get_total_count() == 1000
    assert hold.get_mean_value() / 1e6 == pytest.approx(2.0, rel=0.1)
    assert hold.get_value_at_percentile(99) / 1e6 == pytest.approx(2.0 * 4.605, rel=0.2)  # exponential: mean x ln 100


async def test_failures_are_counted_by_cause_and_the_failed_calls_gates_deleted(autojump_clock):
    async with simulated_cmts(faults={"reject_gate_set": {"share": 1.0, "code": 1}}) as (server, target, control), \
            modem_link(control) as modem:
        load = generator(load_scenario(BASIC_CALL), [target], modem, rate=20, calls=40)
        await load.run()
    tally = load.recorder.tally
    assert tally.failed == 40 and tally.completed == 0
    assert dict(tally.failed_by_cause) == {"Gate-Set-Err: insufficient_resources (1)": 40}
    assert server.gates.gates == {}  # the Gate-Alloc'd gates were cleaned up with Gate-Delete


async def test_a_lost_connection_fails_the_calls_in_flight_and_the_run_goes_on_after_the_reconnect(autojump_clock):
    async with simulated_cmts() as (server, target, control), modem_link(control) as modem:
        load = generator(load_scenario(BASIC_CALL), [target], modem, rate=20, duration=10)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(load.run)
            await trio.sleep(3.0)
            for session in list(server.sessions):
                await session.transport.stream.aclose()  # TCP gone, no Client-Close
    tally = load.recorder.tally
    assert tally.lost == 1 and tally.reconnects == 1
    assert tally.failed_by_cause["connection lost"] == tally.failed > 0
    assert tally.attempted + tally.unplaced == 200  # while it was down, the calls due were not placed
    assert tally.completed + tally.failed == tally.attempted
    assert tally.completed > 150  # the calls after the reconnect went through
    assert server.gates.gates == {}  # the lost calls' gates were deleted once the connection was back


async def test_an_abort_ends_calls_at_once_and_deletes_their_gates(autojump_clock):
    scenario = basic_call("30s")
    async with simulated_cmts() as (server, target, control), modem_link(control) as modem:
        load = generator(scenario, [target], modem, rate=10, duration=60)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(load.run)
            await trio.sleep(4.95)
            assert len(server.gates.gates) == 50
            load.abort("interrupted")  # what Ctrl-C does to the run
            aborted = trio.current_time()
        tally = load.recorder.tally
        assert tally.failed_by_cause == {"interrupted": 50} and tally.concurrent == 0
        assert server.gates.gates == {}
        assert trio.current_time() - aborted < 1.0  # not the 25 s the holds had left


async def test_a_run_cancelled_from_outside_ends_at_once_and_still_sends_its_gate_deletes(autojump_clock):
    scenario = basic_call("30s")
    async with simulated_cmts() as (server, target, control), modem_link(control) as modem:
        load = generator(scenario, [target], modem, rate=10, duration=60)
        with trio.move_on_after(4.95):
            await load.run()
        assert load.recorder.tally.failed_by_cause == {"interrupted": 50}
        with trio.fail_after(1):
            while server.gates.gates:  # the Gate-Deletes arrive; nobody waits for their Acks
                await trio.sleep(0.01)


async def test_stop_lets_the_calls_in_progress_finish(autojump_clock):
    scenario = basic_call("10s")
    async with simulated_cmts() as (server, target, control), modem_link(control) as modem:
        load = generator(scenario, [target], modem, rate=10, duration=60)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(load.run)
            await trio.sleep(4.95)
            load.stop()
            stopped = trio.current_time()
        assert trio.current_time() - stopped == pytest.approx(10, abs=0.5)  # the last calls held their 10 s
        assert load.recorder.tally.completed == 50 and load.recorder.tally.failed == 0


async def test_calls_are_shared_between_cmtses_by_weight(autojump_clock):
    async with simulated_cmts() as (_, first, _control), simulated_cmts() as (_, second, _control):
        # Gate-Set, hold, Gate-Delete: no modem steps, so no modem control is needed
        load = generator(load_scenario(GATE_CHURN), [Target(first, 3), Target(second, 1)], None, rate=40, calls=400)
        await load.run()
    requests = [controller.stats.requests for controller, _ in load.controllers]
    assert requests == [600, 200]  # two gate commands per call, calls 3:1


async def test_a_paused_run_places_no_calls_and_its_duration_waits(autojump_clock):
    samples: list[Sample] = []
    async with simulated_cmts() as (_, target, control), modem_link(control) as modem:
        load = generator(load_scenario(BASIC_CALL), [target], modem, samples, rate=10, duration=10)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(load.run)
            await trio.sleep(4.95)
            load.pause()
            await trio.sleep(5.0)
            assert load.recorder.tally.attempted == 50
            load.resume()
    assert load.recorder.tally.attempted == pytest.approx(100, abs=1)  # ten seconds of calls, the pause not counted
    assert load.achieved_cps == pytest.approx(10, rel=0.01)


async def test_the_concurrency_cap_holds_calls_back_and_counts_them(autojump_clock):
    scenario = basic_call("10s")
    load, _ = await run_against_one_cmts(scenario, rate=10, duration=20, max_concurrent=50)
    tally = load.recorder.tally
    assert tally.attempted + tally.capped == 200
    assert tally.capped >= 50 and tally.failed == 0
    assert tally.shortfall(10, load.achieved_cps).startswith("the concurrency cap held back")


async def test_a_cmts_that_falls_silent_fails_calls_with_that_cause_and_the_generator_carries_on(autojump_clock):
    scenario = basic_call("10s", "controller: {ka_seconds: 2}\n")
    async with simulated_cmts(faults={"stop_keepalives": True}) as (server, target, control), \
            modem_link(control) as modem:
        load = generator(scenario, [target], modem, rate=200, duration=8)
        await load.run()
    tally = load.recorder.tally
    # Replies kept it alive while calls were placed; once they stopped the silence counted, mid-hold.
    assert tally.failed_by_cause == {"CMTS silent (keep-alive timeout)": tally.attempted}
    assert tally.lost == 1 and tally.concurrent == 0


async def test_calls_placed_while_a_dead_cmts_is_being_closed_fail_rather_than_crash_the_run(autojump_clock):
    scenario = basic_call(extra="controller: {ka_seconds: 2}\n")
    async with simulated_cmts(faults={"reply_delay": 100.0}) as (server, target, control), \
            modem_link(control) as modem:  # a CMTS that has stopped answering
        load = generator(scenario, [target], modem, rate=200, duration=6)
        await load.run()
    tally = load.recorder.tally
    assert tally.failed == tally.attempted > 0 and tally.lost >= 1
    assert set(tally.failed_by_cause) <= {"CMTS silent (keep-alive timeout)", "connection lost",
                                          "Client-Close error 9 communication failure"}, tally
