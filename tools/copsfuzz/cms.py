"""Target ``cms``: a live ``cms-sim run --listen`` that waits for a CMTS to dial in; we dial it, as a fuzzing CMTS.

``cms-sim run --listen HOST:PORT`` runs each scenario on the first CMTS
connection that completes Client-Open, Client-Accept and Request, and keeps
listening until one does (a connection that fails the handshake is logged
and dropped).  So one process takes many cases: we start it with the
scenario cms_target.yaml given ``scenarios_per_run`` times, and a case is
one connection of ours:

- 15% a mutated Client-Open (the handshake fails or not);
- 15% a valid Client-Open, then a mutated Request;
- 70% a whole session: we answer each gate command of the scenario with its
  Ack, some of them mutated, with mutated events, keep-alives, DRQs, SSCs,
  Client-Opens or Client-Closes slipped in, and hang up when the CMS falls
  silent.

Cases that complete the handshake each use up one scenario; when the last is
used up the process exits, and the next case starts a new one.  Each
process must end with a documented exit code (0, 1 or 2), write its
``--report`` (which must parse and hold every scenario), and print no
traceback.  A process that neither listens nor exits for
``LISTEN_TIMEOUT`` is a hang.  At the end the last process is run to its
end with clean sessions, which must all pass: the normal call after the
campaign.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import trio

from cops_core.dqos import (
    GateAlloc,
    GateAllocAck,
    GateDelete,
    GateDeleteAck,
    GateInfo,
    GateInfoAck,
    GateSet,
    GateSetAck,
    gate_command_of,
    report_for,
)
from cops_core.messages import ClientAccept, ClientOpen, Decision, Request

from .campaign import Progress, Summary, python_command
from .cmts import Trace
from .corpus import DS_SPEC, GATE, HANDLE, US_SPEC, pep_messages
from .mutate import case_rng, mutate
from .peer import Closed, Peer, ServerProcess, free_port

SCENARIO = Path(__file__).with_name("cms_target.yaml")
EXIT_CODES = (0, 1, 2)  # cms_sim.run_command: passed, failed, usage or input error
LISTEN_TIMEOUT = 20.0  # seconds a running cms-sim may go without listening (its cleanup may take 10)
CASE_LIMIT = 30.0
EXIT_TIMEOUT = 30.0  # seconds for a process whose connection ended to exit or listen again
QUIET = 0.15  # seconds of silence from the CMS after which a session case hangs up
MAX_REPLIES = 6
DRAIN = 0.03  # seconds of silence that end a case once its messages are out


@dataclass
class CmsRun:
    """One ``cms-sim run --listen`` process and the cases it took."""

    number: int
    process: ServerProcess
    report: Path
    scenarios: int
    cases: list[int] = field(default_factory=list)
    scenario_cases: list[int] = field(default_factory=list)  # those on which a scenario ran (a DEC came)
    rss_first: int | None = None
    rss_last: int | None = None


class CmsCampaign:
    """``await CmsCampaign(seed).run(cases)``: fuzz ``cms-sim run --listen`` processes, one after another."""

    def __init__(self, seed: int, *, scenarios_per_run: int = 100, quiet: bool = False,
                 workdir: Path | None = None) -> None:
        self.seed = seed
        self.scenarios_per_run = scenarios_per_run
        self.quiet = quiet
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="fuzz-cms-"))
        self.run_now: CmsRun | None = None
        self.runs: list[CmsRun] = []
        self.port = 0

    # --- the campaign ------------------------------------------------------------------------------

    async def run(self, cases: int) -> Summary:
        summary = Summary("cms", self.seed)
        started = time.perf_counter()
        progress = Progress("cms", cases, quiet=self.quiet)
        try:
            for number in range(cases):
                await self._case_checked(number, summary)
                summary.cases += 1
                progress.maybe(summary, summary.cases, f", {len(self.runs)} cms-sim runs")
            summary.normal_call = await self._drain(summary)
        finally:
            await self._abandon()  # none should be left; if one is (an error here), it must not outlive us
        busiest = max(self.runs, key=lambda run: len(run.cases), default=None)
        if busiest is not None:
            summary.rss_before, summary.rss_after = busiest.rss_first, busiest.rss_last
            summary.notes.append(f"{len(self.runs)} cms-sim runs of {self.scenarios_per_run} scenarios each; "
                                 f"RSS of run {busiest.number}, the busiest ({len(busiest.cases)} cases), "
                                 f"after its first and last case")
        summary.seconds = time.perf_counter() - started
        return summary

    async def replay(self, number: int) -> tuple[Trace, list[str]]:
        """Case ``number`` against a fresh process of two scenarios, the second run clean by a normal session."""
        self.scenarios_per_run = 2
        summary = Summary("cms", self.seed)
        trace = Trace([], [])
        try:
            await self._case_checked(number, summary, trace)
            summary.normal_call = await self._drain(summary)
        finally:
            await self._abandon()
        problems = [f"{failure.kind}: {failure.detail}" for failure in summary.failures]
        if summary.normal_call != "passed":
            problems.append(f"the clean sessions after it: {summary.normal_call}")
        return trace, problems

    async def _case_checked(self, number: int, summary: Summary, trace: Trace | None = None) -> None:
        with trio.move_on_after(CASE_LIMIT) as scope:
            peer = await self._connect(number, summary)
            if peer is None:
                return
            run = self.run_now
            run.cases.append(number)
            malformed = await self.case(number, peer, trace)
            if any(name.startswith("Decision") for name in peer.seen):
                run.scenario_cases.append(number)
            if malformed:
                summary.fail(number, "crash", f"cms-sim sent a message that does not decode: {malformed[0]}")
            await self._after_case(run, summary)
        if scope.cancelled_caught:
            summary.fail(number, "hang", f"the case did not end within {CASE_LIMIT:g} s")
            await self._abandon()

    async def _connect(self, number: int, summary: Summary, *, start: bool = True) -> Peer | None:
        """A connection to the listening process, starting one if none runs (unless not ``start``).

        None if there is none to connect to, or after a hang (recorded).
        """
        waited_since = trio.current_time()
        while True:
            if self.run_now is None:
                if not start:
                    return None
                await self._start()
                waited_since = trio.current_time()
            try:
                return await Peer.connect("127.0.0.1", self.port)
            except OSError:
                pass
            if not self.run_now.process.running:
                await self._finish(self.run_now, summary)
            elif trio.current_time() - waited_since > LISTEN_TIMEOUT:
                summary.fail(number, "hang", f"cms-sim run {self.run_now.number} neither listens nor exits "
                                             f"({LISTEN_TIMEOUT:g} s)")
                await self._abandon()
                return None
            await trio.sleep(0.02)

    async def _after_case(self, run: CmsRun, summary: Summary) -> None:
        """Sample the process's memory; if it has exited (its last scenario was used up), judge its end."""
        rss = run.process.rss()
        if rss is not None:
            run.rss_first = run.rss_first or rss
            run.rss_last = rss
        if not run.process.running:
            await self._finish(run, summary)

    async def _start(self, scenarios: int | None = None) -> None:
        self.port = free_port()
        number = len(self.runs) + 1
        report = self.workdir / f"run-{number}.json"
        scenarios = scenarios or self.scenarios_per_run
        command = python_command("cms_sim.cli", "run", "--listen", f"127.0.0.1:{self.port}", "--report", str(report),
                                 "-q", *[str(SCENARIO)] * scenarios)
        process = ServerProcess(command, self.workdir / f"run-{number}.log")
        await process.start()
        self.run_now = CmsRun(number, process, report, scenarios)
        self.runs.append(self.run_now)

    async def _finish(self, run: CmsRun, summary: Summary) -> None:
        """An exited process: a documented exit code, no traceback, and a whole report."""
        with trio.move_on_after(EXIT_TIMEOUT):
            await run.process.process.wait()
        if self.run_now is run:
            self.run_now = None
        # A crash of the run logic comes in a scenario: blame the last case a scenario ran on, not a later
        # connection the dying process still took.
        last = (run.scenario_cases or run.cases or [summary.cases])[-1]
        span = f"{run.cases[0]}..{run.cases[-1]}" if run.cases else "none"
        where = f"cms-sim run {run.number} (cases {span}, the last with a scenario {last})"
        code = run.process.process.returncode
        problems = []
        if code not in EXIT_CODES:
            problems.append(f"exit code {code}")
        logged = run.process.new_tracebacks()
        if logged:
            problems.append(f"stderr: {logged}")
        problems += self._report_problems(run)
        if problems:
            summary.fail(last, "crash", f"{where}: {'; '.join(problems)}")

    def _report_problems(self, run: CmsRun) -> list[str]:
        try:
            report = json.loads(run.report.read_text())
        except (OSError, ValueError) as exc:
            return [f"--report {run.report.name}: {exc}"]
        count = len(report.get("results", []))
        if count != run.scenarios:
            return [f"--report holds {count} of {run.scenarios} scenarios"]
        return []

    async def _abandon(self) -> None:
        """After a hang (or at the end, if one is left): kill the process; the next case starts another."""
        run = self.run_now
        if run is not None:
            run.process.kill()
            await run.process.process.wait()
            self.run_now = None

    async def _drain(self, summary: Summary) -> str:
        """Run the current process to its end with clean sessions: each must pass (the normal call)."""
        if self.run_now is None:
            await self._start(scenarios=1)  # the last one ran out with the last case: one normal call
        run = self.run_now
        clean = 0  # clean sessions that ran a scenario (a connection can miss one, between two scenarios)
        with trio.move_on_after(EXIT_TIMEOUT + self.scenarios_per_run * 2.0):
            while self.run_now is run:
                peer = await self._connect(summary.cases, summary, start=False)
                if peer is None:  # it has ended (and _connect judged its end)
                    break
                try:
                    await self._session(random.Random(0), peer, Trace([], []), clean=True)
                except Closed:
                    pass  # the CMS's Client-Close at the end of its scenario
                finally:
                    await peer.aclose()
                clean += any(name.startswith("Decision") for name in peer.seen)
                await self._after_case(run, summary)
        if self.run_now is run:
            return f"FAILED: cms-sim run {run.number} did not end after {clean} clean sessions"
        return self._clean_verdicts(run, clean)

    def _clean_verdicts(self, run: CmsRun, clean: int) -> str:
        try:
            results = json.loads(run.report.read_text())["results"]
        except (OSError, ValueError, KeyError) as exc:
            return f"FAILED: no report of cms-sim run {run.number}: {exc}"
        verdicts = [result["verdict"] for result in results[-clean:]] if clean else []
        if not verdicts or any(verdict != "passed" for verdict in verdicts):
            return f"FAILED: the clean sessions' scenarios: {verdicts} (report {run.report})"
        return "passed"

    # --- one case ------------------------------------------------------------------------------------

    async def case(self, number: int, peer: Peer, trace: Trace | None = None) -> list[str]:
        """Play case ``number`` on ``peer``; returns what the CMS sent that does not decode."""
        rng = case_rng(self.seed, number)
        trace = trace or Trace([], [])
        try:
            await self._play(rng, peer, trace)
        except Closed:
            peer.seen.append("(closed)")
        finally:
            await peer.aclose()
            trace.received.extend(peer.seen)
        return peer.malformed

    async def _play(self, rng: random.Random, peer: Peer, trace: Trace) -> None:
        seeds = pep_messages()
        data = tuple(seed.data for seed in seeds)
        kind = rng.random()
        if kind < 0.15:
            opens = [index for index, seed in enumerate(seeds) if seed.name.startswith("OPN")]
            base = rng.choice(opens)
            await _send(peer, trace, f"mutated {seeds[base].name}", *_mutated(rng, data, base))
            if rng.random() < 0.5:
                await _send(peer, trace, "REQ", Request.new(HANDLE).encode())
            await peer.drain(DRAIN)
            return
        await _send(peer, trace, "OPN", ClientOpen.new("CMTS-FUZZ").encode())
        if await peer.expect(ClientAccept, 5.0) is None:
            return
        if kind < 0.3:
            base = next(index for index, seed in enumerate(seeds) if seed.name == "REQ")
            await _send(peer, trace, "mutated REQ", *_mutated(rng, data, base))
            await peer.drain(DRAIN)
            return
        await _send(peer, trace, "REQ", Request.new(HANDLE).encode())
        await self._session(rng, peer, trace)

    async def _session(self, rng: random.Random, peer: Peer, trace: Trace, *, clean: bool = False) -> None:
        """Answer the scenario's gate commands, some answers mutated and mutated messages slipped in."""
        if clean:
            await _send(peer, trace, "OPN", ClientOpen.new("CMTS-FUZZ").encode())
            if await peer.expect(ClientAccept, 5.0) is None:
                return
            await _send(peer, trace, "REQ", Request.new(HANDLE).encode())
        gate = rng.choice((GATE, rng.getrandbits(32)))
        seeds = pep_messages(HANDLE, gate)
        data = tuple(seed.data for seed in seeds)
        mutated = set() if clean else {index for index in range(MAX_REPLIES) if rng.random() < 0.3}
        slipped = set() if clean else {index for index in range(MAX_REPLIES + 1) if rng.random() < 0.2}
        if not clean and not mutated and not slipped:
            slipped.add(rng.randrange(MAX_REPLIES + 1))
        for index in range(MAX_REPLIES + 1):
            if index in slipped:
                base = rng.randrange(len(data))
                await _send(peer, trace, f"mutated {seeds[base].name}", *_mutated(rng, data, base))
            if index == MAX_REPLIES:
                break
            message = await peer.receive(QUIET)
            while message is not None and type(message) is not Decision:
                message = await peer.receive(QUIET)
            if message is None:
                break
            reply = _reply(gate_command_of(message), gate)
            if reply is None:
                continue
            if index in mutated:
                await _send(peer, trace, "mutated reply", *_mutated(rng, (reply,) + data, 0))
            else:
                await _send(peer, trace, "reply", reply)
        await peer.drain(DRAIN)


def _reply(command, gate: int) -> bytes | None:
    """The RPT a CMTS answers a gate command with: its Ack, naming ``gate``."""
    tid = getattr(command, "transaction_id", 0)
    kind = type(command)
    if kind is GateAlloc:
        ack = GateAllocAck(tid, gate, command.subscriber, 1)
    elif kind is GateSet:
        ack = GateSetAck(tid, command.gate_id or gate, command.subscriber, 1)
    elif kind is GateInfo:
        ack = GateInfoAck(tid, command.gate_id, command.subscriber, 1, (DS_SPEC, US_SPEC))
    elif kind is GateDelete:
        ack = GateDeleteAck(tid, command.gate_id, command.subscriber)
    else:
        return None
    return report_for(HANDLE, ack).encode()


def _mutated(rng: random.Random, corpus: tuple[bytes, ...], base: int) -> tuple[bytes, str]:
    mutation = mutate(rng, corpus, base)
    return mutation.data, "; ".join(mutation.steps)


async def _send(peer: Peer, trace: Trace, label: str, data: bytes, steps: str = "") -> None:
    trace.sent.append((f"{label} [{steps}]" if steps else label, data))
    if not await peer.send(data):
        raise Closed()
