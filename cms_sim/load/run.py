"""A whole ``cms-sim load``: the embedded CMTS (or real targets), one generator or N workers, one statistics view.

:class:`LoadRun` starts the embedded CMTS child unless targets are given,
runs the calls in this process (``workers=1``) or in worker processes, and
merges every source's samples into one :class:`~.stats.LoadStatistics`: a
:class:`~.stats.Row` per interval to ``on_row`` (the screen, the CSV), and
totals for the report.  :meth:`key` takes the live screen's keys; Ctrl-C is
:meth:`interrupt`.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import replace
from typing import Callable

import trio

from cmts_sim.config import CmtsConfig

from .embedded import embedded_cmts
from .generator import LoadSettings
from .stats import LoadStatistics, Row, Sample
from .worker import run_job
from .workers import Job, WorkerControls, WorkerPool, share


class LoadRun:
    """``await LoadRun(job, settings, ...).run()``; ``statistics`` and ``state`` are live while it runs."""

    def __init__(self, job: Job, settings: LoadSettings, *, workers: int = 1, embedded: CmtsConfig | None = None,
                 in_process: bool = True, on_row: Callable[[Row], None] = lambda row: None) -> None:
        self.job = job
        self.settings = settings
        self.workers = workers
        # One worker's calls run in this process unless told otherwise: the live screen, whose redraw takes
        # tens of milliseconds of Python, would stall every call in flight if they shared a loop.
        self.in_process = in_process and workers == 1
        self.embedded = embedded
        self.on_row = on_row
        self.target_cps = settings.rate
        self.state = "starting"
        self.partial = False
        self.statistics = LoadStatistics()
        self.started: float | None = None
        self.ended: float | None = None
        self.targets: list[str] = [target["address"] for target in job.targets]
        self.worker_failures: list[str] = []
        self._controls = None
        self._waiting_for: set[int] = set()
        self._quit_once = False
        self._stop_requested: str | None = None  # "stop" or the abort cause, asked before the run was up

    async def run(self) -> None:
        self.started = trio.current_time()
        self.statistics.begin(self.started)
        self._waiting_for = set(range(self.workers))
        context = embedded_cmts(self.embedded) if self.embedded is not None else nullcontext(None)
        try:
            async with context as cmts:
                job = self.job
                if cmts is not None:
                    job = replace(job, targets=[{"address": cmts.target, "weight": 1}], control=cmts.control)
                    self.targets = [cmts.target]
                if self.in_process:
                    await self._in_process(job)
                else:
                    await self._in_workers(job)
        finally:
            self.ended = trio.current_time()
            if self._waiting_for != set(range(self.workers)):
                self._row()  # samples that came after the last row
            self.state = "interrupted" if self.partial else "done"

    async def _in_process(self, job: Job) -> None:
        async with trio.open_nursery() as nursery:
            generator = await nursery.start(run_job, job, lambda sample: self._sample(0, sample))
            self._take_controls(generator)

    async def _in_workers(self, job: Job) -> None:
        jobs = [replace(job, worker=index, workers=self.workers,
                        settings=vars(share(LoadSettings(**job.settings), index, self.workers)))
                for index in range(self.workers)]
        pool = WorkerPool(jobs, self._sample)
        self._take_controls(WorkerControls(pool))
        try:
            await pool.run()
        finally:
            self.worker_failures = pool.failures

    def _take_controls(self, controls) -> None:
        """The calls start now (the CMTS is up and connected): statistics count from here."""
        self._controls = controls
        self.state = "running"
        self.started = trio.current_time()
        self.statistics.begin(self.started)
        if self._stop_requested == "stop":
            controls.stop()
        elif self._stop_requested is not None:
            controls.abort(self._stop_requested)

    # --- statistics ------------------------------------------------------------------------------------------

    def _sample(self, source: int, sample: Sample) -> None:
        """A source's sample; once every source has given one for this interval, the interval's row."""
        self.statistics.add(source, sample)
        self._waiting_for.discard(source)
        if not self._waiting_for:
            self._row()

    def _row(self) -> None:
        row = self.statistics.close_interval(trio.current_time())
        self._waiting_for = set(range(self.workers))
        self.on_row(row)

    @property
    def achieved_cps(self) -> float:
        return self.statistics.tally.achieved_cps

    @property
    def duration(self) -> float:
        end = self.ended if self.ended is not None else trio.current_time()
        return end - self.started if self.started is not None else 0.0

    # --- controls ------------------------------------------------------------------------------------------------

    def key(self, key: str) -> None:
        """The live screen's keys: + - * / change the rate, p pauses, q stops (q again: clean up now)."""
        factors = {"+": 1.1, "-": 1 / 1.1, "*": 2.0, "/": 0.5}
        if self._controls is None or self.state not in ("running", "paused", "stopping"):
            return
        if key in factors and self.state == "running":
            self.target_cps = max(0.01, self.target_cps * factors[key])
            self._controls.set_rate(self.target_cps)
        elif key == "p" and self.state in ("running", "paused"):
            if self.state == "running":
                self._controls.pause()
                self.state = "paused"
            else:
                self._controls.resume()
                self.state = "running"
        elif key == "q":
            if not self._quit_once:
                self._quit_once = True
                self.state = "stopping"
                self._controls.stop()
            else:
                self.state = "cleaning up"
                self._controls.abort("stopped by the user")

    def interrupt(self) -> None:
        """Ctrl-C: end every call now, delete their gates; the outputs say partial."""
        self.partial = True
        self.state = "cleaning up"
        if self._controls is None:
            self._stop_requested = "interrupted"
        else:
            self._controls.abort("interrupted")

    @property
    def state_text(self) -> str:
        if self.state == "stopping":
            return "stopping: waiting for calls in progress (q again: clean up now)"
        return self.state
