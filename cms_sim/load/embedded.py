"""The embedded CMTS of a load run: ``cmts_sim.control`` in a child process, its modems driven over a socket.

Load needs the CMS and the CMTS on different cores, so the simulated CMTS
runs as a child process (see :mod:`cmts_sim.control` for the line protocol)
and the scenario's reserve/commit/release steps become lines on a Unix
socket, one connection per load worker (:class:`ModemLink`).  The child
leaves when its stdin closes; this side closes it after the run's cleanup,
so Ctrl-C never takes the CMTS away before the gates are deleted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from contextlib import asynccontextmanager
from typing import Callable, NamedTuple

import trio

from cmts_sim.config import CmtsConfig
from cmts_sim.control import INTEGRITY_VARIABLE

from ..errors import ConnectError
from .calls import ModemControl

START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
LOAD_CAPACITY = {"upstream_kbps": 1e12, "downstream_kbps": 1e12, "max_gates": 100_000_000}


def load_config(config: CmtsConfig, capacity_given: bool) -> CmtsConfig:
    """The embedded CMTS sized for load: unlimited capacity unless the scenario sets its own."""
    if capacity_given:
        return config
    return config.model_copy(update={"capacity": config.capacity.model_copy(update=LOAD_CAPACITY)})


class EmbeddedCmts(NamedTuple):
    """Where the running child listens for gate controllers, and its modem control socket."""

    host: str
    port: int
    control: str

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"


@asynccontextmanager
async def embedded_cmts(config: CmtsConfig):
    """``async with embedded_cmts(config) as cmts``: a CMTS child process, stopped on the way out."""
    with tempfile.TemporaryDirectory(prefix="cms-sim-load-") as folder:
        control = os.path.join(folder, "modem.sock")
        # Integrity keys go in the environment, which only this user can read, not on the command line, which
        # every user of the host can.
        command = [sys.executable, "-m", "cmts_sim.control", config.model_dump_json(exclude={"integrity"}), control]
        env = dict(os.environ)
        if config.integrity is not None:
            env[INTEGRITY_VARIABLE] = config.integrity.model_dump_json()
        process = await trio.lowlevel.open_process(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        try:
            try:
                with trio.fail_after(START_TIMEOUT):
                    word, host, port = (await _first_line(process.stdout)).split()
            except (trio.TooSlowError, ValueError):
                raise ConnectError("the embedded CMTS process did not start") from None
            yield EmbeddedCmts(host, int(port), control)
        finally:
            with trio.CancelScope(shield=True):
                await _stop(process)


async def _stop(process: trio.Process) -> None:
    """Close the child's stdin (it says Client-Close to its peers and exits); kill it if it lingers."""
    await process.stdin.aclose()
    with trio.move_on_after(STOP_TIMEOUT):
        await process.wait()
    if process.returncode is None:
        process.kill()
        await process.wait()
    await process.stdout.aclose()


async def _first_line(stream: trio.abc.ReceiveStream) -> str:
    data = b""
    while b"\n" not in data:
        chunk = await stream.receive_some(4096)
        if not chunk:
            raise ValueError("no output")
        data += chunk
    return data.partition(b"\n")[0].decode()


@asynccontextmanager
async def modem_link(control: str):
    """``async with modem_link(path) as modem``: a :class:`ModemControl` over the child's control socket."""
    stream = await trio.open_unix_socket(control)
    link = ModemLink(stream)
    async with stream, trio.open_nursery() as nursery:
        nursery.start_soon(link.read_answers)
        nursery.start_soon(link.write_actions)
        yield link
        nursery.cancel_scope.cancel()


class ModemLink(ModemControl):
    """Modem actions as lines, batched per wake-up; answers call back in order of arrival."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self._stream = stream
        self._waiting: dict[int, Callable[[str | None], None]] = {}
        self._lines: list[str] = []
        self._sequence = 0
        self._wake = trio.lowlevel.ParkingLot()

    def act(self, verb: str, gate_id: int, done: Callable[[str | None], None]) -> None:
        self._sequence += 1
        self._waiting[self._sequence] = done
        if not self._lines:
            self._wake.unpark_all()
        self._lines.append(f"{self._sequence} {verb} {gate_id:08x}\n")

    async def write_actions(self) -> None:
        while True:
            if not self._lines:
                await self._wake.park()
            data, self._lines = "".join(self._lines).encode(), []
            await self._stream.send_all(data)

    async def read_answers(self) -> None:
        pending = b""
        while chunk := await self._stream.receive_some(65536):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                sequence, _, rest = line.decode("ascii", "replace").partition(" ")
                done = self._waiting.pop(int(sequence), None) if sequence.isdigit() else None
                if done is not None:
                    done(None if rest == "ok" else rest.removeprefix("refused "))
        # The child ended: steps waiting on it time out.
