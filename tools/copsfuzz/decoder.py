"""Target ``decoder``: mutated messages through cops_core's framer, ``decode_message`` and the DQoS decode.

The contract under test (cops_core.errors): decoding raises nothing but
:class:`DecodeError`.  Anything else escaping a case is a crash.  A case that
takes longer than the bound is run twice more and counts as a hang only if it
is slow every time; a case still running after ``HARD_LIMIT`` bounds is
interrupted by an alarm and is a hang at once.  Both count the CPU time of
this process, not the wall clock: on a shared machine a niced campaign gets a
third of a core at times, and a wall-clock bound would call that a hang.
RSS is read from /proc/self at the start and the end.
"""

from __future__ import annotations

import random
import signal
import time
import traceback
from typing import Callable, NamedTuple

from cops_core.dqos import gate_command_of
from cops_core.errors import DecodeError
from cops_core.framing import Framer
from cops_core.messages import ClientAccept, ClientClose, ClientOpen, Decision, Malformed, Report, decode_message

from .campaign import Progress, Summary, megabytes, rss_of
from .corpus import full_corpus
from .mutate import Mutation, case_rng, mutate

HARD_LIMIT = 10  # times the hang bound: then the alarm stops the case
RETRIES = 2


class CaseTimeout(BaseException):
    """Raised by the alarm in a case that runs far past the bound (a BaseException: no target may swallow it)."""


ALARM = signal.ITIMER_PROF  # counts this process's CPU time; it sends SIGPROF


class Plan(NamedTuple):
    """How the bytes reach the decoder: the buffer type for the direct decode, and where the stream is cut."""

    buffer: str  # "bytes", "bytearray" or "memoryview"
    cuts: tuple[int, ...]


class Case(NamedTuple):
    number: int
    mutation: Mutation
    plan: Plan


Target = Callable[[bytes, Plan, "list[str] | None"], None]


def make_plan(rng: random.Random, size: int) -> Plan:
    """Mostly one bytes object in one read; sometimes another buffer type, or a stream cut into pieces."""
    buffer = rng.choice(("bytes", "bytes", "bytes", "bytes", "bytes", "bytes", "bytearray", "memoryview"))
    cuts: tuple[int, ...] = ()
    if size > 1 and rng.random() < 0.3:
        cuts = tuple(sorted(rng.sample(range(1, size), min(size - 1, rng.randint(1, 3)))))
    return Plan(buffer, cuts)


def decode_everything(data: bytes, plan: Plan, log: list[str] | None = None) -> None:
    """What a peer's bytes go through: one direct decode, then the framer and a decode of each frame.

    Each decoded message is used the way the servers use it (typed accessors,
    the gate command, re-encoding), since a value the decoder lets through
    must be usable.  ``log``, if given, collects what happened (for --replay).
    """
    buffer = {"bytes": bytes, "bytearray": bytearray, "memoryview": memoryview}[plan.buffer](data)
    _decode_one(buffer, "direct", log)
    framer = Framer()
    start = 0
    for end in plan.cuts + (len(data),):
        framer.feed(data[start:end])
        start = end
        try:
            while (frame := framer.next_frame()) is not None:
                _decode_one(frame, "framed", log)
        except DecodeError as exc:
            if log is not None:
                log.append(f"framer: DecodeError {exc}")
            return


def _decode_one(frame, how: str, log: list[str] | None) -> None:
    try:
        message = decode_message(frame)
    except DecodeError as exc:
        Malformed.of(bytes(frame), exc)  # what a trace keeps of it
        if log is not None:
            log.append(f"{how}: DecodeError {exc}")
        return
    try:
        command = gate_command_of(message)
    except DecodeError as exc:
        command = None
        if log is not None:
            log.append(f"{how}: {type(message).__name__}, gate command: {type(exc).__name__} {exc}")
    else:
        if log is not None:
            log.append(f"{how}: {type(message).__name__}" + (f" carrying {command.title}" if command else ""))
    _use(message, command)


def _use(message, command) -> None:
    """Touch what the servers read of a message, and re-encode it."""
    message.unknown_objects
    kind = type(message)
    if kind is Decision:
        message.handle, message.error, message.decisions, message.client_specific
    elif kind is Report:
        message.handle, message.report_type, message.client_si
    elif kind is ClientOpen:
        message.pep_id
    elif kind is ClientAccept:
        message.ka_seconds
    elif kind is ClientClose:
        message.error
    message.encode()
    if command is not None:
        command.encode()


class DecoderCampaign:
    """``DecoderCampaign(seed).run(cases)``: mutated messages through ``target`` (the real decoder by default)."""

    def __init__(self, seed: int, *, hang_ms: float = 100.0, target: Target = decode_everything,
                 quiet: bool = False) -> None:
        self.seed = seed
        self.hang = hang_ms / 1000.0
        self.target = target
        self.quiet = quiet
        self.corpus = tuple(seed_.data for seed_ in full_corpus())
        self.names = tuple(seed_.name for seed_ in full_corpus())

    def case(self, number: int) -> Case:
        """Case ``number``: its mutation and plan, a pure function of (seed, number)."""
        rng = case_rng(self.seed, number)
        mutation = mutate(rng, self.corpus)
        return Case(number, mutation, make_plan(rng, len(mutation.data)))

    def run(self, cases: int) -> Summary:
        summary = Summary("decoder", self.seed)
        progress = Progress("decoder", cases, quiet=self.quiet)
        previous = signal.signal(signal.SIGPROF, _alarm)
        started = time.perf_counter()
        summary.rss_before = rss_of()
        warm = None
        try:
            for number in range(cases):
                self._one(self.case(number), summary)
                summary.cases += 1
                if number + 1 == cases // 10:
                    warm = rss_of()
                if number & 1023 == 0:
                    progress.maybe(summary, summary.cases, f", RSS {(rss_of() or 0) / 1e6:.1f} MB")
        finally:
            signal.setitimer(ALARM, 0)
            signal.signal(signal.SIGPROF, previous)
        summary.rss_after = rss_of()
        if warm is not None:
            # The codec caches addresses it decoded (lru_cache, 65,536 each): RSS grows until they are full.
            summary.notes.append(f"RSS {megabytes(warm)} after the first {cases // 10:,} cases (caches warm), "
                                 f"{megabytes(summary.rss_after)} at the end")
        summary.seconds = time.perf_counter() - started
        return summary

    def _one(self, case: Case, summary: Summary) -> None:
        outcome = self._timed(case)
        if outcome is not None and outcome[0] == "slow":
            runs = [outcome[1]]
            for _ in range(RETRIES):
                again = self._timed(case)
                if again is None or again[0] != "slow":
                    outcome = again
                    break
                runs.append(again[1])
            else:
                outcome = ("hang", f"{min(runs) * 1000:.0f} ms of CPU or more in each of {len(runs)} runs "
                                   f"(bound {self.hang * 1000:.0f} ms)")
        if outcome is not None:
            summary.fail(case.number, *outcome)

    def _timed(self, case: Case) -> tuple[str, object] | None:
        """None if the case was fine, else ("crash", detail), ("hang", detail) or ("slow", seconds)."""
        signal.setitimer(ALARM, self.hang * HARD_LIMIT)
        began = time.thread_time()
        try:
            self.target(case.mutation.data, case.plan, None)
        except CaseTimeout:
            return "hang", f"still running after {self.hang * HARD_LIMIT:g} s of CPU (stopped by the alarm)"
        except DecodeError:
            pass  # the target may let the decoder's own error through: that is the contract, not a crash
        except Exception as exc:  # the point of the exercise: anything else is a crash
            return "crash", describe(exc)
        finally:
            signal.setitimer(ALARM, 0)
        elapsed = time.thread_time() - began
        return ("slow", elapsed) if elapsed > self.hang else None

    def replay(self, number: int) -> tuple[Case, list[str], str | None]:
        """Run case ``number`` once: the case, what the decoder said, and the traceback if it crashed."""
        case = self.case(number)
        log: list[str] = []
        try:
            self.target(case.mutation.data, case.plan, log)
        except DecodeError as exc:
            log.append(f"DecodeError {exc}")
        except Exception:
            return case, log, traceback.format_exc()
        return case, log, None


def describe(exc: BaseException) -> str:
    """One line for a crash: the exception and where it was raised (the innermost frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 2)[-1]}:{frames[-1].lineno} in {frames[-1].name}" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _alarm(signum, frame) -> None:
    raise CaseTimeout()
