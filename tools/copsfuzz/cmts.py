"""Target ``cmts``: a live ``cmts-sim serve`` that we dial as a gate controller and feed mutated messages.

A case is one connection.  One in ten mutates the handshake (a broken
Client-Accept); the others complete it (Client-Open in, Client-Accept out,
Request in), sometimes set up a real gate first, then send one to four
messages, most of them mutated DECs built on the live Handle and Gate-ID,
and end with a Synchronize State Request whose Synchronize Complete shows
that the CMTS has dealt with everything before it.  After each case (or
every ``check_every``) the CMTS must still be running, a fresh connection
must still complete the handshake, and its stderr must show no traceback or
logged bug.  At the end a normal call (scenarios/basic_call.yaml through
``cms-sim run``) must pass, and Ctrl-C must stop the CMTS with exit 0.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import trio

from cops_core.codes import ErrorCode
from cops_core.dqos import GateSet, decision_for, gate_command_of
from cops_core.messages import ClientAccept, ClientClose, ClientOpen, Report, Request, SyncComplete, SyncRequest

from .campaign import Progress, Summary, child_env, python_command, quoted
from .corpus import DS_SPEC, GATE, SUBSCRIBER, US_SPEC, pdp_messages
from .mutate import case_rng, mutate
from .peer import Closed, Peer, ServerProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
NORMAL_CALL = ROOT / "scenarios" / "basic_call.yaml"
# Not the fuzzed subscriber: the cases' Gate-Allocs (T0: 30 s) can hold its whole gate limit when the call starts.
NORMAL_SUBSCRIBER = "10.0.99.1"
HANDSHAKE_TIMEOUT = 5.0  # seconds for the CMTS's Client-Open, and for its Request after our Client-Accept
SENTINEL_TIMEOUT = 1.0  # seconds for the Synchronize Complete that ends a case
CASE_LIMIT = 30.0  # seconds a whole case may take before it counts as a hang
MUTATED_SHARE = 0.8  # of a case's messages; the rest are valid ones that build up gate state
SERVER_FLAGS = ("--quiet", "--hold", "1")  # automatic modems release a committed gate after a second


class Trace(NamedTuple):
    """What a case sent (label, bytes) and received (message names), for --replay."""

    sent: list
    received: list


class CmtsCampaign:
    """``await CmtsCampaign(seed).run(cases)``: start a CMTS (or use ``target``), fuzz it, check it."""

    def __init__(self, seed: int, *, target: str | None = None, check_every: int = 1, quiet: bool = False,
                 workdir: Path | None = None) -> None:
        self.seed = seed
        self.target = target
        self.check_every = max(1, check_every)
        self.quiet = quiet
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="fuzz-cmts-"))
        self.server: ServerProcess | None = None
        self.host, self.port = "127.0.0.1", 0
        self.outcomes = {"answered": 0, "closed by the CMTS": 0, "unanswered": 0}

    # --- the campaign ------------------------------------------------------------------------------

    async def run(self, cases: int) -> Summary:
        summary = Summary("cmts", self.seed, replay_options=f"--target {self.target}" if self.target else "")
        started = time.perf_counter()
        await self._start(summary)
        try:
            summary.rss_before = self._rss()
            progress = Progress("cmts", cases, quiet=self.quiet)
            for number in range(cases):
                await self._case_checked(number, summary)
                summary.cases += 1
                if (number + 1) % self.check_every == 0 or number + 1 == cases:
                    await self._check(number, summary)
                progress.maybe(summary, summary.cases, self._rss_text())
            summary.rss_after = self._rss()
            summary.normal_call = await self._normal_call()
        finally:
            await self._stop(summary)
        summary.seconds = time.perf_counter() - started
        summary.notes.append("cases " + ", ".join(f"{what}: {count:,}" for what, count in self.outcomes.items()))
        return summary

    async def replay(self, number: int) -> tuple[Trace, list[str]]:
        """Run case ``number`` alone against a fresh CMTS (or ``target``): what was sent and seen, and problems."""
        summary = Summary("cmts", self.seed)
        await self._start(summary)
        trace = Trace([], [])
        try:
            await self._case_checked(number, summary, trace)
            await self._check(number, summary)
        finally:
            await self._stop(summary)
        return trace, [f"{failure.kind}: {failure.detail}" for failure in summary.failures]

    async def _case_checked(self, number: int, summary: Summary, trace: Trace | None = None) -> None:
        with trio.move_on_after(CASE_LIMIT) as scope:
            try:
                malformed = await self.case(number, trace)
            except OSError as exc:  # refused or reset before the case could start: _check says why
                malformed = []
                if trace is not None:
                    trace.received.append(f"connection failed: {exc}")
        if scope.cancelled_caught:
            summary.fail(number, "hang", f"the case did not end within {CASE_LIMIT:g} s")
        elif malformed:
            summary.fail(number, "crash", f"cmts-sim sent a message that does not decode: {malformed[0]}")

    async def _start(self, summary: Summary) -> None:
        if self.target is not None:
            self.host, port = self.target.rsplit(":", 1)
            self.port = int(port)
            return
        self.port = free_port()
        command = python_command("cmts_sim.cli", "serve", "--listen", f"127.0.0.1:{self.port}", *SERVER_FLAGS)
        self.server = ServerProcess(command, self.workdir / f"cmts-sim-{self.port}.log")
        await self.server.start()
        with trio.move_on_after(20):
            while await self.handshake() is not None:
                if not self.server.running:
                    break
                await trio.sleep(0.1)
            return
        summary.notes.append(f"cmts-sim did not come up: {quoted(command)}")

    async def _check(self, number: int, summary: Summary) -> None:
        """The CMTS is alive, still completes a handshake, and logged no bug."""
        if self.server is not None and not self.server.running:
            code = self.server.process.returncode
            summary.fail(number, "crash", f"cmts-sim exited with code {code} ({self.server.new_tracebacks()})")
            await self._start(summary)
            return
        problem = await self.handshake()
        if problem is not None:
            summary.fail(number, "hang", f"after this case a fresh connection failed: {problem}")
            if self.server is not None:
                self.server.kill()
                await self._start(summary)
            return
        if self.server is not None and (logged := self.server.new_tracebacks()) is not None:
            summary.fail(number, "crash", f"cmts-sim logged (after this case or the one before): {logged}")

    async def handshake(self) -> str | None:
        """A normal gate controller's handshake on a fresh connection; None if it completed, else the problem."""
        try:
            peer = await Peer.connect(self.host, self.port)
        except OSError as exc:
            return f"cannot connect: {exc}"
        try:
            if await peer.expect(ClientOpen, HANDSHAKE_TIMEOUT) is None:
                return f"no Client-Open within {HANDSHAKE_TIMEOUT:g} s"
            await peer.send(ClientAccept.new(30).encode())
            if await peer.expect(Request, HANDSHAKE_TIMEOUT) is None:
                return f"no Request within {HANDSHAKE_TIMEOUT:g} s of our Client-Accept"
            await peer.send(ClientClose.new(ErrorCode.SHUTTING_DOWN).encode())
            return None
        except Closed:
            return "closed during the handshake"
        finally:
            await peer.aclose()

    async def _normal_call(self) -> str:
        """scenarios/basic_call.yaml through ``cms-sim run``: "passed" or what went wrong."""
        command = python_command("cms_sim.cli", "run", "--cmts", f"{self.host}:{self.port}", "--mta", "-q",
                                 "--var", f"subscriber={NORMAL_SUBSCRIBER}", str(NORMAL_CALL))
        with trio.move_on_after(120):
            result = await trio.run_process(command, capture_stdout=True, capture_stderr=True, check=False,
                                            env=child_env())
            if result.returncode == 0:
                return "passed"
            output = (result.stdout + result.stderr).decode(errors="replace").strip().splitlines()
            return f"FAILED (exit {result.returncode}: {' | '.join(output[-3:])}): {quoted(command)}"
        return f"FAILED (no end within 120 s): {quoted(command)}"

    async def _stop(self, summary: Summary) -> None:
        if self.server is None:
            return
        code = await self.server.stop()
        logged = self.server.new_tracebacks()
        if code != 0 or logged:
            summary.fail(summary.cases, "crash", f"Ctrl-C: cmts-sim exit code {code}, expected 0"
                         + (f"; it logged: {logged}" if logged else ""))

    def _rss(self) -> int | None:
        return self.server.rss() if self.server is not None else None

    def _rss_text(self) -> str:
        rss = self._rss()
        return f", cmts-sim RSS {rss / 1e6:.1f} MB" if rss else ""

    # --- one case ------------------------------------------------------------------------------------

    async def case(self, number: int, trace: Trace | None = None) -> list[str]:
        """Run case ``number``; returns what the CMTS sent that does not decode (empty if all did)."""
        rng = case_rng(self.seed, number)
        trace = trace or Trace([], [])
        peer = await Peer.connect(self.host, self.port)
        try:
            await self._play(rng, peer, trace)
        except Closed:
            self.outcomes["closed by the CMTS"] += 1
            peer.seen.append("(closed)")
        finally:
            await peer.aclose()
            trace.received.extend(peer.seen)
        return peer.malformed

    async def _play(self, rng: random.Random, peer: Peer, trace: Trace) -> None:
        if await self._receive(peer, ClientOpen, HANDSHAKE_TIMEOUT, trace) is None:
            return
        if rng.random() < 0.1:  # a broken Client-Accept
            seeds = pdp_messages()
            cat = rng.choice([index for index, seed in enumerate(seeds) if seed.name.startswith("CAT")])
            await self._send(peer, "mutated " + seeds[cat].name, mutate(rng, _data(seeds), cat), trace)
            await peer.drain(0.05)
            return
        await self._send_valid(peer, "CAT", ClientAccept.new(30).encode(), trace)
        request = await self._receive(peer, Request, HANDSHAKE_TIMEOUT, trace)
        if request is None:
            return
        handle = request.handle
        gate = await self._gate(rng, peer, handle, trace)
        seeds = pdp_messages(handle, gate)
        decisions = [index for index, seed in enumerate(seeds) if seed.name.startswith("DEC")]
        for _ in range(rng.choice((1, 1, 2, 3, 4))):
            index = rng.choice(decisions) if rng.random() < 0.75 else rng.randrange(len(seeds))
            if rng.random() < MUTATED_SHARE:
                await self._send(peer, "mutated " + seeds[index].name, mutate(rng, _data(seeds), index), trace)
            else:
                await self._send_valid(peer, seeds[index].name, seeds[index].data, trace)
        await self._send_valid(peer, "SSQ (sentinel)", SyncRequest.new().encode(), trace)
        done = await self._receive(peer, SyncComplete, SENTINEL_TIMEOUT, trace)
        self.outcomes["answered" if done is not None else "unanswered"] += 1

    async def _gate(self, rng: random.Random, peer: Peer, handle, trace: Trace) -> int:
        """Half the cases first set up a real gate, so mutated commands can name one that exists."""
        if rng.random() < 0.5:
            return GATE
        command = GateSet(0xF00D, SUBSCRIBER, (DS_SPEC, US_SPEC), activity_count=4)
        await self._send_valid(peer, "DEC Gate-Set (setup)", decision_for(handle, command).encode(), trace)
        reply = await self._receive(peer, Report, HANDSHAKE_TIMEOUT, trace)
        ack = gate_command_of(reply) if reply is not None else None
        return getattr(ack, "gate_id", None) or GATE

    async def _send(self, peer: Peer, label: str, mutation, trace: Trace) -> None:
        trace.sent.append((f"{label} [{'; '.join(mutation.steps)}]", mutation.data))
        if not await peer.send(mutation.data):
            raise Closed()

    async def _send_valid(self, peer: Peer, label: str, data: bytes, trace: Trace) -> None:
        trace.sent.append((label, data))
        if not await peer.send(data):
            raise Closed()

    async def _receive(self, peer: Peer, kind: type, timeout: float, trace: Trace):
        message = await peer.expect(kind, timeout)
        if message is None:
            peer.seen.append(f"(no {kind.__name__} within {timeout:g} s)")
        return message


def _data(seeds) -> tuple[bytes, ...]:
    return tuple(seed.data for seed in seeds)

