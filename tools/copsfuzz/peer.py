"""The fuzzer's side of a live connection, and the server processes it fuzzes.

:class:`Peer` sends whatever bytes it is given (that is the point) and reads
the other side with cops_core's framer and decoder, as a checker: a server
must never send bytes that do not decode, whatever it was sent, so each such
frame is kept in :attr:`Peer.malformed`.  :class:`ServerProcess` runs a
project CLI as a child process, with its stderr in a file scanned for
tracebacks.
"""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import trio

from cops_core.dqos import gate_command_of
from cops_core.errors import DecodeError
from cops_core.framing import Framer
from cops_core.messages import decode_message

from .campaign import child_env, rss_of

TRACEBACK_SIGNS = ("Traceback (most recent call last)", "session failed", "internal error")


class Closed(Exception):
    """The other side closed (or reset) the connection."""


class Peer:
    """A COPS connection driven byte by byte; received messages come out decoded."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.framer = Framer()
        self.pending: list = []
        self.malformed: list[str] = []  # what the other side sent that does not decode
        self.seen: list[str] = []  # what it sent, in order: message names (for --replay)
        self.closed = False

    @classmethod
    async def connect(cls, host: str, port: int) -> "Peer":
        return cls(await trio.open_tcp_stream(host, port))

    async def send(self, data: bytes) -> bool:
        """Send ``data``; False if the other side is gone."""
        if self.closed:
            return False
        try:
            await self.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self.closed = True
            return False
        return True

    async def receive(self, timeout: float):
        """The next message, None after ``timeout`` seconds without one; raises :class:`Closed`."""
        with trio.move_on_after(timeout):
            while not self.pending:
                if self.closed:
                    raise Closed()
                await self._read()
            return self.pending.pop(0)
        return None

    async def expect(self, kind: type, timeout: float):
        """The first message of ``kind`` within ``timeout`` (others are skipped), else None; raises Closed."""
        with trio.move_on_after(timeout):
            while True:
                message = await self.receive(timeout)
                if type(message) is kind:
                    return message
        return None

    async def drain(self, quiet: float, limit: float = 2.0) -> None:
        """Read until ``quiet`` seconds pass without a message, the other side closes, or ``limit`` passes."""
        with trio.move_on_after(limit):
            try:
                while await self.receive(quiet) is not None:
                    pass
            except Closed:
                pass

    async def _read(self) -> None:
        try:
            data = await self.stream.receive_some(65536)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""
        if not data:
            self.closed = True
            return
        if self.framer.broken:
            return
        self.framer.feed(data)
        try:
            while (frame := self.framer.next_frame()) is not None:
                try:
                    message = decode_message(frame)
                    command = gate_command_of(message)
                except DecodeError as exc:
                    self.malformed.append(f"{frame[:64].hex()}: {exc}")
                    self.seen.append(f"(malformed: {exc})")
                else:
                    self.pending.append(message)
                    self.seen.append(type(message).__name__ + (f" {command.title}" if command is not None else ""))
        except DecodeError as exc:
            self.malformed.append(f"stream cannot be framed: {exc}")
            self.seen.append(f"(stream cannot be framed: {exc})")

    async def aclose(self) -> None:
        with trio.move_on_after(1):
            await self.stream.aclose()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (the kernel's pick; another process could take it first, rarely)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class ServerProcess:
    """A project CLI as a child process; its stderr goes to ``log`` and is scanned for tracebacks."""

    def __init__(self, command: list[str], log: Path) -> None:
        self.command = command
        self.log = log
        self.process: trio.Process | None = None
        self._scanned = 0

    async def start(self) -> None:
        with self.log.open("wb") as stderr:
            self.process = await trio.lowlevel.open_process(self.command, stdin=None, stdout=stderr,
                                                            stderr=stderr, env=child_env())

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def rss(self) -> int | None:
        return rss_of(self.pid) if self.running else None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def new_tracebacks(self) -> str | None:
        """The first new stderr text that shows a traceback or a logged bug since the last call, else None."""
        text = self.output()
        fresh, self._scanned = text[self._scanned:], len(text)
        for sign in TRACEBACK_SIGNS:
            at = fresh.find(sign)
            if at >= 0:
                return last_lines(fresh[at:])
        return None

    async def stop(self, timeout: float = 15.0) -> int | None:
        """SIGINT (the documented way to stop), then SIGKILL after ``timeout``; the exit code (None if killed)."""
        if not self.running:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGINT)
        with trio.move_on_after(timeout):
            return await self.process.wait()
        self.kill()
        await self.process.wait()
        return None

    def kill(self) -> None:
        if self.running:
            self.process.kill()


def last_lines(text: str, count: int = 6) -> str:
    """The end of a traceback (where and what), on one line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[:1] + lines[-count + 1:]) if len(lines) > count else " | ".join(lines)
