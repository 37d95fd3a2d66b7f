"""A load worker process: ``python -m cms_sim.load.worker``, a :class:`~.workers.Job` as the first stdin line.

Runs one :class:`~.generator.LoadGenerator` and speaks JSON lines with the
parent (see :mod:`.workers`).  SIGINT is ignored: on Ctrl-C the parent tells
each worker to abort, so that every worker still deletes its gates.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from contextlib import nullcontext

import trio

from cmts_sim.config import IntegrityConfig
from cmts_sim.gcpolicy import tuned_gc
from cops_core.tls import pdp_context

from ..errors import ConnectError, innermost
from ..scenario import ScenarioError, load_scenario
from .embedded import modem_link
from .generator import LoadGenerator, LoadSettings, Target
from .program import compile_program
from .stats import Sample
from .subscribers import SubscriberError, Subscribers
from .workers import Job, apply_control


def subscribers_for(job: Job) -> Subscribers:
    kind, value = job.subscribers
    share = {"worker": job.worker, "workers": job.workers}
    return Subscribers.from_csv(value, **share) if kind == "csv" else Subscribers.from_range(value, **share)


async def run_job(job: Job, on_sample, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Load the scenario, connect, run; ``task_status.started(generator)`` once connected."""
    scenario = load_scenario(job.scenario)
    integrity = IntegrityConfig(**job.integrity).to_settings() if job.integrity is not None else None
    generator_args = dict(variables=job.variables, on_sample=on_sample, first_call=job.worker + 1,
                          call_step=job.workers, tls=pdp_context(**job.tls) if job.tls else None,
                          integrity=integrity)
    async with (modem_link(job.control) if job.control else nullcontext(None)) as modem:
        generator = LoadGenerator(scenario, compile_program(scenario), LoadSettings(**job.settings),
                                  subscribers_for(job), [Target(**target) for target in job.targets], modem=modem,
                                  **generator_args)
        await generator.run(task_status=task_status)


async def _main() -> int:
    stdin, stdout = trio.lowlevel.FdStream(os.dup(0)), trio.lowlevel.FdStream(os.dup(1))
    pending = b""
    while b"\n" not in pending:
        chunk = await stdin.receive_some(1 << 16)
        if not chunk:
            return 2
        pending += chunk
    line, _, pending = pending.partition(b"\n")
    job = Job(**json.loads(line))
    outbox: list[bytes] = []
    wake = trio.lowlevel.ParkingLot()

    def say(message: dict) -> None:
        outbox.append((json.dumps(message) + "\n").encode())
        wake.unpark_all()

    finished = False

    async def write() -> None:
        """Every line said, in order; returns once the run is over and all of it is written."""
        while outbox or not finished:
            if not outbox:
                await wake.park()
                continue
            data = b"".join(outbox)
            outbox.clear()
            await stdout.send_all(data)

    async def read_controls(generator) -> None:
        nonlocal pending
        while True:
            *lines, pending = pending.split(b"\n")
            for control in lines:
                apply_control(generator, control.decode())
            chunk = await stdin.receive_some(4096)
            if not chunk:
                generator.abort("the load run's parent went away")
                return
            pending += chunk

    def on_sample(sample: Sample) -> None:
        say({"sample": sample.to_json()})

    code = 0
    async with trio.open_nursery() as nursery:
        nursery.start_soon(write)
        try:
            async with trio.open_nursery() as run:
                generator = await run.start(run_job, job, on_sample)
                run.start_soon(read_controls, generator)
                # The run ends when run_job returns; read_controls would wait for the parent forever.
                await generator.finished.wait()
                run.cancel_scope.cancel()
        except* (ConnectError, ScenarioError, SubscriberError) as group:
            say({"error": str(innermost(group))})
            code = 1
        finished = True
        wake.unpark_all()
    return code



def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with tuned_gc():  # call records out of the collector's way, as cmts-sim's gates
        code = trio.run(_main)
    sys.exit(code)


if __name__ == "__main__":
    main()
