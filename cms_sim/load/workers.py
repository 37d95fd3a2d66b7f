"""``--workers N``: N load processes, each with its own trio loop and its share of the rate and subscribers.

Python runs one core per process, so more load means more processes.  Each
worker is ``python -m cms_sim.load.worker`` with a :class:`Job` (its share:
rate / N, every N-th subscriber and call number) and speaks JSON lines with
the parent: its :class:`~.stats.Sample` every interval on stdout, controls
(``rate R``, ``pause``, ``resume``, ``stop``, ``abort CAUSE``) on stdin.  HDR
histograms merge exactly, so the parent's screen and report are the same
as one process would give.  These are pipes between one parent and its
children on one machine; beyond one machine, use Prometheus (README).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import trio

from .generator import LoadSettings
from .stats import Sample


@dataclass
class Job:
    """What one worker runs: the scenario file, its share of the settings, where to send calls."""

    scenario: str
    variables: dict[str, Any]
    settings: dict[str, Any]
    targets: list[dict[str, Any]]
    subscribers: tuple[str, str]  # ("range", "10.64.0.0/12") or ("csv", "subs.csv")
    worker: int = 0
    workers: int = 1
    control: str | None = None  # the embedded CMTS's modem socket
    tls: dict[str, Any] | None = None  # cops_core.tls.pdp_context's arguments: COPS over TLS (RFC 4261)
    integrity: dict[str, Any] | None = None  # cmts_sim.config.IntegrityConfig's fields (on stdin, never argv)
    extra: dict[str, Any] = field(default_factory=dict)


def share(settings: LoadSettings, worker: int, workers: int) -> LoadSettings:
    """Worker ``worker``'s part of ``settings``: rates and caps divided, call counts split to the unit."""
    def part(total: int | None) -> int | None:
        return None if total is None else total // workers + (1 if worker < total % workers else 0)

    seed = None if settings.seed is None else settings.seed + worker
    return LoadSettings(
        rate=settings.rate / workers, rate_start=None if settings.rate_start is None else settings.rate_start / workers,
        ramp_step=settings.ramp_step / workers, ramp_interval=settings.ramp_interval,
        max_concurrent=part(settings.max_concurrent), calls=part(settings.calls), duration=settings.duration,
        interval=settings.interval, modem_timeout=settings.modem_timeout, seed=seed)


class WorkerPool:
    """The parent's side: start the workers, pass controls on, hand their samples to ``on_sample(worker, sample)``."""

    def __init__(self, jobs: list[Job], on_sample: Callable[[int, Sample], None]) -> None:
        self.jobs = jobs
        self.on_sample = on_sample
        self.failures: list[str] = []  # why a worker ended badly, one line each
        self._outbox: dict[int, list[bytes]] = {}  # worker -> control lines not yet written
        self._wake = trio.lowlevel.ParkingLot()

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            for job in self.jobs:
                nursery.start_soon(self._worker, job)

    def send(self, line: str) -> None:
        """A control line to every worker (a worker that has ended just does not read it)."""
        data = (line + "\n").encode()
        for job in self.jobs:
            self._outbox.setdefault(job.worker, []).append(data)
        self._wake.unpark_all()

    async def _worker(self, job: Job) -> None:
        command = [sys.executable, "-m", "cms_sim.load.worker"]
        process = await trio.lowlevel.open_process(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            await process.stdin.send_all((json.dumps(asdict(job)) + "\n").encode())
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._write, job.worker, process)
                await self._read(job.worker, process)
                nursery.cancel_scope.cancel()
            await process.wait()
            said = any(line.startswith(f"worker {job.worker}: ") for line in self.failures)
            if process.returncode and not said:  # a worker that failed without saying why
                self.failures.append(f"worker {job.worker} ended with exit code {process.returncode}")
        finally:
            with trio.CancelScope(shield=True):
                with trio.move_on_after(10):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
                    await process.wait()

    async def _read(self, worker: int, process: trio.Process) -> None:
        pending = b""
        while chunk := await process.stdout.receive_some(1 << 20):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                message = json.loads(line)
                if "sample" in message:
                    self.on_sample(worker, Sample.from_json(message["sample"]))
                elif "error" in message:
                    self.failures.append(f"worker {worker}: {message['error']}")

    async def _write(self, worker: int, process: trio.Process) -> None:
        while True:
            lines = self._outbox.pop(worker, None)
            if not lines:
                await self._wake.park()
                continue
            try:
                await process.stdin.send_all(b"".join(lines))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return  # the worker has ended


class WorkerControls:
    """The run's controls for N workers: each gets its share of a new rate."""

    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool

    def set_rate(self, rate: float) -> None:
        self.pool.send(f"rate {rate / len(self.pool.jobs)!r}")

    def pause(self) -> None:
        self.pool.send("pause")

    def resume(self) -> None:
        self.pool.send("resume")

    def stop(self) -> None:
        self.pool.send("stop")

    def abort(self, cause: str) -> None:
        self.pool.send(f"abort {cause}")


def apply_control(generator, line: str) -> None:
    """A control line from the parent, applied to this worker's generator."""
    word, _, argument = line.strip().partition(" ")
    if word == "rate":
        generator.set_rate(float(argument))
    elif word == "pause":
        generator.pause()
    elif word == "resume":
        generator.resume()
    elif word == "stop":
        generator.stop()
    elif word == "abort":
        generator.abort(argument or "stopped by the user")
