"""One load process: connect to the CMTSes, start calls on schedule, move them along, sample the statistics.

:class:`LoadGenerator` owns three tasks beside the controllers' readers and
writers: the scheduler (starts the calls the :class:`~.rate.RateSchedule`
says are due, in batches), the timer task (one cancel-scope deadline for
every call deadline, as cmts-sim's gate timers) and the sampler (one
:class:`~.stats.Sample` per interval to ``on_sample``).  A run ends when the
duration or call count is reached and the calls in progress have finished
(:meth:`stop`), or at once with their gates deleted (:meth:`abort`: ``q``
twice, Ctrl-C).  Cancelling :meth:`run` from outside also ends the calls,
but cannot wait for the Gate-Delete-Acks: abort first, cancel only if that
takes too long.
"""

from __future__ import annotations

import contextlib
import math
import random
import resource
import ssl
from dataclasses import dataclass
from typing import Any, Callable

import trio

from cmts_sim import gcpolicy
from cops_core.integrity import IntegritySettings

from ..controller import Backoff, GateController
from ..pool import GateControllerPool
from ..scenario.model import Scenario
from ..scenario.modem import DEFAULT_MODEM_TIMEOUT
from .calls import CallEngine, ModemControl
from .program import Program
from .rate import RateSchedule
from .stats import Recorder, Sample, histogram
from .subscribers import Subscribers

TICK = 0.001  # seconds: calls due within a tick start together (one wake-up, one write per connection)
CLEANUP_TIMEOUT = 5.0
RECONNECT = Backoff(initial=0.5, maximum=10.0)


@dataclass
class LoadSettings:
    """How many calls, how fast, for how long."""

    rate: float = 10.0
    rate_start: float | None = None
    ramp_step: float = 0.0
    ramp_interval: float = 1.0
    max_concurrent: int | None = None
    calls: int | None = None
    duration: float | None = None
    interval: float = 1.0
    modem_timeout: float = DEFAULT_MODEM_TIMEOUT
    seed: int | None = None


@dataclass
class Target:
    """A CMTS to load, and its share of the calls (weights are relative)."""

    address: str
    weight: int = 1


def resident_kib() -> int:
    """This process's resident memory now (Linux's /proc; elsewhere the peak so far)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() // 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class LoadGenerator:
    """Calls from one scenario at a rate, spread over ``targets``; see the module docstring."""

    def __init__(self, scenario: Scenario, program: Program, settings: LoadSettings, subscribers: Subscribers,
                 targets: list[Target], *, variables: dict[str, Any] | None = None,
                 modem: ModemControl | None = None, on_sample: Callable[[Sample], None] = lambda sample: None,
                 first_call: int = 1, call_step: int = 1, tls: ssl.SSLContext | None = None,
                 integrity: IntegritySettings | None = None) -> None:
        self.scenario = scenario
        self.settings = settings
        self.subscribers = subscribers
        self.targets = targets
        self.variables = {**scenario.variables, **(variables or {})}
        self.on_sample = on_sample
        self.tls = tls  # our TLS server context (COPS over TLS, RFC 4261), or None: plain TCP
        self.integrity = integrity  # every connection's messages signed and checked (protocol.md 2.8)
        self.recorder = Recorder(program.steps_by_command)
        # Each call starts from these variables, its subscriber's and its number: the rest is the same in every call.
        bound = program.bind(self.variables, (*subscribers.columns, "call"))
        self.engine = CallEngine(bound, self.recorder, clock=trio.current_time,
                                 modem=modem, modem_timeout=settings.modem_timeout,
                                 rng=random.Random(settings.seed if settings.seed is not None else scenario.seed))
        self.engine.on_deadline = self._rearm
        self.schedule: RateSchedule | None = None
        self.stopping = False
        self.controllers: list[tuple[GateController, int]] = []
        self._closing = False
        self.finished = trio.Event()  # set when run() is over, calls ended and the last sample given
        self._next_call = first_call
        self._call_step = call_step
        self._weights: dict[GateController, int] = {}
        self._timer_scope: trio.CancelScope | None = None
        self._nap: trio.CancelScope | None = None  # the scheduler's sleep, cut short when the rate or state changes

    # --- the run ------------------------------------------------------------------------------------

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Connect (ConnectError if a target cannot be reached), run the calls, end cleanly."""
        options = {**self.scenario.controller.options(), "reconnect": RECONNECT, "tls": self.tls,
                   "integrity": self.integrity}
        # The run's clock itself: trio.current_time() finds it through two more calls, several times per call.
        self.engine.clock = trio.lowlevel.current_clock().current_time
        async with GateControllerPool(on_event=self._on_event, **options) as pool:
            for target in self.targets:
                controller = await pool.connect(target.address)
                self.controllers.append((controller, target.weight))
                self._weights[controller] = 0
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._timers)
                nursery.start_soon(self._sampler)
                settings = self.settings
                self.schedule = RateSchedule(settings.rate, trio.current_time(), start=settings.rate_start,
                                             step=settings.ramp_step, interval=settings.ramp_interval)
                task_status.started(self)
                try:
                    await self._place_calls()
                    await self._drain()
                finally:
                    with trio.CancelScope(shield=True):
                        if self.engine.calls:
                            # Cancelled from outside: the connections' readers are cancelled too, so no reply
                            # can be awaited.  The Gate-Deletes still go out, ahead of the Client-Close.
                            self.abort("interrupted")
                        self._closing = True  # our own closing of the connections is no connection loss
                        self.on_sample(self.sample())
                        self.finished.set()
                    nursery.cancel_scope.cancel()

    def _on_event(self, event) -> None:
        if not self._closing:
            self.engine.on_event(event)

    def stop(self) -> None:
        """Start no more calls; the run ends when the calls in progress have ended."""
        if not self.stopping:
            self.stopping = True
            if self.schedule is not None:
                self.schedule.stop(trio.current_time())
            self._wake_scheduler()

    def abort(self, cause: str = "stopped by the user") -> None:
        """Stop, and end every call in progress now (failed with ``cause``), deleting its gates."""
        self.stop()
        self.engine.abort(cause)

    def set_rate(self, rate: float) -> None:
        self.schedule.set_rate(rate, trio.current_time())
        self._wake_scheduler()

    def pause(self) -> None:
        """No calls until :meth:`resume`; a pause does not count towards the duration or the achieved rate."""
        self.schedule.pause(trio.current_time())

    def resume(self) -> None:
        self.schedule.resume(trio.current_time())
        self._wake_scheduler()

    def _wake_scheduler(self) -> None:
        if self._nap is not None:
            self._nap.cancel()

    @property
    def achieved_cps(self) -> float:
        """Calls started per second of starting them (pauses excluded)."""
        seconds = self.schedule.active(trio.current_time())
        return self.recorder.tally.attempted / seconds if seconds > 0 else 0.0

    def sample(self) -> Sample:
        """The interval's sample, all at once (at the end of the run)."""
        tally, counts = self._take()
        return Sample(trio.current_time(), tally, {name: histogram(value) for name, value in counts.items()})

    async def _sample_gently(self) -> Sample:
        """The interval's sample, with a checkpoint after each histogram: building them all at once stalled
        every call in flight for ~6 ms a second (the p99 of a paced run)."""
        tally, counts = self._take()
        histograms = {}
        for name, value in counts.items():
            histograms[name] = histogram(value)
            await trio.lowlevel.checkpoint()
        return Sample(trio.current_time(), tally, histograms)

    def _take(self):
        tally = self.recorder.tally
        tally.sent = sum(controller.stats.messages_out for controller, _ in self.controllers)
        tally.received = sum(controller.stats.messages_in for controller, _ in self.controllers)
        tally.target_cps = 0.0 if self.stopping or self.schedule is None or self.schedule.paused \
            else self.schedule.current
        tally.achieved_cps = self.achieved_cps if self.schedule is not None else 0.0
        if gcpolicy.ACTIVE is not None:
            tally.gc_pause_ms = gcpolicy.ACTIVE.longest_pause * 1000
            tally.gc_pause_cpu_ms = gcpolicy.ACTIVE.longest_pause_cpu * 1000
        tally.rss_kib = resident_kib()
        taken = self.recorder.take()
        tally.schedule_lag_ms = 0.0  # the worst of each interval
        return taken

    # --- tasks --------------------------------------------------------------------------------------------

    async def _place_calls(self) -> None:
        settings, schedule, engine = self.settings, self.schedule, self.engine
        duration = math.inf if settings.duration is None else settings.duration
        while not self.stopping:
            now = trio.current_time()
            left = duration - schedule.active(now)
            if left <= 0:
                break
            first_due = schedule.next_due
            due = schedule.due(now)
            if due:
                lag = (now - first_due) * 1000
                if lag > engine.tally.schedule_lag_ms:
                    engine.tally.schedule_lag_ms = lag
            if due:
                self._place_due(due, now)
            if settings.calls is not None and engine.tally.attempted >= settings.calls:
                break
            if schedule.paused:
                wake = math.inf
            else:
                wake = min(max(schedule.next_due, now + TICK), now + left)
            with trio.CancelScope(deadline=wake) as self._nap:
                await trio.sleep_forever()
        self.stop()

    def _place_due(self, due: int, now: float) -> None:
        """Start ``due`` calls; their first commands go out in one write per connection."""
        settings, tally = self.settings, self.engine.tally
        with contextlib.ExitStack() as batches:
            for controller, _ in self.controllers:
                batches.enter_context(controller.batch())
            for _ in range(due):
                if settings.calls is not None and tally.attempted >= settings.calls:
                    self.stop()
                    return
                self._place(now)

    def _place(self, now: float) -> None:
        engine = self.engine
        tally = engine.tally
        if self.settings.max_concurrent is not None and tally.concurrent >= self.settings.max_concurrent:
            tally.capped += 1
            return
        controller = self._pick()
        if controller is None:
            tally.unplaced += 1
            return
        number = self._next_call
        self._next_call += self._call_step
        variables = {**self.variables, **self.subscribers.next(), "call": number}
        engine.start(number, variables, controller, now)

    def _pick(self) -> GateController | None:
        """Smooth weighted round robin over the connected CMTSes (nginx's): weights 3:1 give A A B A ..."""
        best, total = None, 0
        weights = self._weights
        for controller, weight in self.controllers:
            if not controller.connected:
                continue
            weights[controller] += weight
            total += weight
            if best is None or weights[controller] > weights[best]:
                best = controller
        if best is not None:
            weights[best] -= total
        return best

    async def _drain(self) -> None:
        """Until every call has ended and every cleanup Gate-Delete is answered (those at most CLEANUP_TIMEOUT)."""
        engine = self.engine
        while engine.calls:
            await trio.sleep(0.05)
        with trio.move_on_after(CLEANUP_TIMEOUT):
            while engine.cleanup_pending:
                engine.retry_cleanup()
                await trio.sleep(0.05)

    async def _timers(self) -> None:
        engine = self.engine
        while True:
            with trio.CancelScope() as scope:
                self._timer_scope = scope
                deadline = engine.next_deadline
                scope.deadline = math.inf if deadline is None else deadline
                await trio.sleep_forever()
            engine.expire(trio.current_time())

    def _rearm(self) -> None:
        scope = self._timer_scope
        deadline = self.engine.next_deadline
        if scope is not None and deadline is not None and deadline < scope.deadline:
            scope.deadline = deadline

    async def _sampler(self) -> None:
        interval = self.settings.interval
        next_at = trio.current_time() + interval
        while True:
            await trio.sleep_until(next_at)
            next_at += interval
            self.engine.retry_cleanup()  # Gate-Deletes that found every Transaction-ID in flight
            self.on_sample(await self._sample_gently())
