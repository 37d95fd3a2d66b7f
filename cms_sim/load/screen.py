"""What a person watches during a load run: SIPp's statistics screen, in rich; or one plain line per interval.

On a terminal, :class:`LiveScreen` redraws a few times a second from the
latest interval (never per message): rates, call counts, failures by cause,
latency per gate command and per step, and the keys.  Elsewhere (a pipe, a
CI log) :func:`plain_line` prints one line per interval.  :func:`read_keys`
turns key presses into the run's controls.
"""

from __future__ import annotations

import contextlib
import os
import sys
import termios
import tty
from typing import Callable

import trio
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .stats import LoadStatistics, Row, percentiles

KEYS = "+/- rate ±10%   * / rate ×2 ÷2   p pause/resume   q stop (q again: clean up now)"
REFRESH_PER_SECOND = 2  # the figures change once per interval; a redraw costs tens of ms of Python


def plain_line(row: Row, commands: list[str]) -> str:
    """One interval as a line for logs: time, rates, counts, and each gate command's p99."""
    tally = row.tally
    line = (f"t={row.time:7.1f}s target={row.target_cps:g}/s achieved={row.achieved_cps:.1f}/s "
            f"started={tally.attempted} completed={tally.completed} failed={tally.failed} "
            f"concurrent={tally.concurrent} gates={tally.gates} in={row.messages_in_per_s:.0f}/s "
            f"out={row.messages_out_per_s:.0f}/s")
    for name in commands:
        latency = row.latency.get(name)
        if latency:
            line += f" {name}:p99={latency['p99']:g}ms"
    why = tally.shortfall(row.target_cps, row.achieved_cps)
    return line + (f" (below target: {why})" if why else "")


class LiveScreen:
    """The live statistics screen; :meth:`update` with each new row, :meth:`run` redraws until cancelled."""

    def __init__(self, console: Console, title: str, statistics: LoadStatistics, commands: list[str],
                 steps: list[str], state: Callable[[], str]) -> None:
        self.console = console
        self.title = title
        self.statistics = statistics
        self.commands = commands
        self.steps = steps
        self.state = state
        self.row: Row | None = None
        self._totals: dict[str, dict[str, float]] = {}

    def update(self, row: Row) -> None:
        """A new interval: the whole-run percentiles are read now, once, not at every redraw."""
        self.row = row
        self._totals = self.statistics.latency(self.commands + self.steps)

    async def run(self) -> None:
        with Live(self.render(), console=self.console, auto_refresh=False, transient=False) as live:
            try:
                while True:
                    await trio.sleep(1 / REFRESH_PER_SECOND)
                    live.update(self.render(), refresh=True)
            finally:
                live.update(self.render(), refresh=True)

    def render(self) -> Group:
        row = self.row
        header = Text.assemble((f"cms-sim load  {self.title}", "bold"), "   ", (self.state(), "cyan"),
                               f"   {row.time:.0f} s" if row else "")
        if row is None:
            return Group(header, Text("connecting…"), Text(KEYS, style="dim"))
        parts = [header, self._counts(row)]
        why = row.tally.shortfall(row.target_cps, row.achieved_cps)
        if why:
            parts.append(Text(f"below the target rate: {why}", style="yellow"))
        return Group(*parts, self._failures(row), self._latency(row), Text(KEYS, style="dim"))

    def _counts(self, row: Row) -> Table:
        tally = row.tally
        table = Table.grid(padding=(0, 3))
        for _ in range(4):
            table.add_column(justify="right")
            table.add_column(justify="left", style="dim")
        table.add_row(f"{row.target_cps:g}", "target calls/s", f"{row.achieved_cps:.1f}", "achieved calls/s",
                      f"{tally.achieved_cps:.1f}", "achieved, whole run", f"{row.messages_in_per_s:.0f} / "
                      f"{row.messages_out_per_s:.0f}", "messages/s in / out")
        table.add_row(f"{tally.attempted}", "started", f"{tally.completed}", "completed",
                      Text(f"{tally.failed}", style="red" if tally.failed else ""), "failed",
                      f"{tally.concurrent}", "concurrent calls")
        table.add_row(f"{tally.gates}", "gates held", f"{tally.capped}", "held back by --max-concurrent",
                      f"{tally.unplaced}", "not placed (no CMTS)", f"{tally.lost} / {tally.reconnects}",
                      "connections lost / back")
        table.add_row(f"{tally.rss_kib / 1024:.0f} MiB", "memory", f"{tally.gc_pause_ms:.1f} ms", "longest GC pause",
                      f"{tally.schedule_lag_ms:.1f} ms", "calls started late by", "", "")
        return table

    def _failures(self, row: Row) -> Table | Text:
        causes = row.tally.failed_by_cause.most_common(8)
        if not causes:
            return Text("no failed calls", style="green")
        table = Table(title="failed calls by cause", title_justify="left", box=None, padding=(0, 2))
        table.add_column("calls", justify="right", style="red")
        table.add_column("cause")
        for cause, count in causes:
            table.add_row(str(count), cause)
        return table

    def _latency(self, row: Row) -> Table:
        table = Table(title="latency, ms (this interval | whole run)", title_justify="left", box=None,
                      padding=(0, 2))
        table.add_column("")
        for label in ("p50", "p90", "p99", "max", "p99 run", "max run"):
            table.add_column(label, justify="right")
        for name in self.commands + self.steps:
            now = row.latency.get(name) or percentiles(None)
            whole = self._totals.get(name) or percentiles(None)
            style = "bold" if name in self.commands else "dim"
            table.add_row(Text(name, style=style), *(f"{now[key]:g}" for key in ("p50", "p90", "p99", "max")),
                          f"{whole['p99']:g}", f"{whole['max']:g}")
        return table


@contextlib.contextmanager
def raw_keys():
    """Keys arrive one at a time, unechoed, while inside; the terminal is restored after (even on Ctrl-C)."""
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


async def read_keys(on_key: Callable[[str], None]) -> None:
    """Call ``on_key`` with each key typed on the terminal (stdin), until cancelled or end of input.

    The terminal is opened anew for reading: trio's FdStream makes its file non-blocking, and stdin, stdout
    and stderr on a terminal are usually one open file, so a mere dup of stdin would make stdout
    non-blocking too, and a screen drawn faster than the terminal takes it would be cut short
    (BlockingIOError) whenever the terminal falls behind (a slow link, a busy machine).
    """
    try:
        fd = os.open(os.ttyname(sys.stdin.fileno()), os.O_RDONLY | os.O_NOCTTY)
    except OSError:  # not a terminal with a name: stdin's own file, shared or not
        fd = os.dup(sys.stdin.fileno())
    stream = trio.lowlevel.FdStream(fd)
    async with stream:
        while data := await stream.receive_some(64):
            for key in data.decode(errors="ignore"):
                on_key(key)
