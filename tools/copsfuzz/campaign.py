"""What every target's campaign reports: cases, crashes, hangs, memory, time, and how to replay a failure."""

from __future__ import annotations

import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

MAX_KEPT = 50
"""Failures kept per target for the report (all are counted): a systematic bug fails thousands of cases alike."""


@dataclass
class Failure:
    """One crash or hang: which case of which campaign, and what was seen."""

    target: str
    seed: int
    case: int
    kind: str  # "crash" or "hang"
    detail: str

    def replay_command(self, options: str = "") -> str:
        """The command line that re-runs exactly this case."""
        extra = f" {options}" if options else ""
        return f"python tools/fuzz.py {self.target} --seed {self.seed} --replay {self.case}{extra}"


@dataclass
class Summary:
    """A target's figures; ``normal_call`` is "passed"/"FAILED ..." for the live targets' closing call."""

    target: str
    seed: int
    cases: int = 0
    crashes: int = 0
    hangs: int = 0
    failures: list[Failure] = field(default_factory=list)
    rss_before: int | None = None  # bytes
    rss_after: int | None = None
    seconds: float = 0.0
    normal_call: str | None = None
    notes: list[str] = field(default_factory=list)
    replay_options: str = ""  # what a replay command needs besides seed and case (--target, ...)

    def fail(self, case: int, kind: str, detail: str) -> None:
        """Count a crash or hang and keep its record (up to :data:`MAX_KEPT`)."""
        if kind == "crash":
            self.crashes += 1
        else:
            self.hangs += 1
        if len(self.failures) < MAX_KEPT:
            self.failures.append(Failure(self.target, self.seed, case, kind, detail))

    @property
    def failed(self) -> bool:
        return bool(self.crashes or self.hangs) or (self.normal_call is not None and self.normal_call != "passed")


def rss_of(pid: int | str = "self") -> int | None:
    """Resident set size of a process in bytes (VmRSS of /proc/PID/status), or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return None


def megabytes(size: int | None) -> str:
    return "n/a" if size is None else f"{size / 1e6:.1f} MB"


class Progress:
    """A plain progress line on stderr every ``every`` seconds (none when quiet)."""

    def __init__(self, target: str, total: int, *, quiet: bool = False, every: float = 10.0) -> None:
        self.target, self.total, self.quiet, self.every = target, total, quiet, every
        self.started = self.last = time.monotonic()

    def maybe(self, summary: Summary, done: int, extra: str = "") -> None:
        now = time.monotonic()
        if self.quiet or now - self.last < self.every:
            return
        self.last = now
        rate = done / (now - self.started) if now > self.started else 0.0
        print(f"{self.target}: {done:,}/{self.total:,} cases, {summary.crashes} crashes, {summary.hangs} hangs, "
              f"{rate:,.0f} cases/s{extra}", file=sys.stderr, flush=True)


def python_command(module: str, *args: str) -> list[str]:
    """Run a project CLI with this interpreter (the venv's), whatever PATH says."""
    return [sys.executable, "-c", f"import sys; from {module} import main; sys.exit(main())", *args]


def quoted(command: list[str]) -> str:
    return " ".join(shlex.quote(part) for part in command)


def child_env() -> dict[str, str]:
    """The environment of the processes under test: unbuffered, wide (no wrapped lines in what we scan)."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
