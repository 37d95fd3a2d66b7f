"""What a load run leaves behind: the JSON report, the per-interval CSV, JUnit with thresholds, a plot.

Every file is written to a temporary name beside its target and renamed
into place, so a reader never sees half a report, and a run cut short
(Ctrl-C) still writes all of them, marked ``partial``.  The CSV grows as the
run goes (:class:`StatsCsv`): a row per interval, flushed, so a run that is
killed leaves its rows in the partial file and a long one keeps none in
memory.
"""

from __future__ import annotations

import csv
import io
import json
from contextlib import ExitStack
from dataclasses import dataclass

from ..report.files import atomic_path
from ..scenario.values import parse_duration
from .stats import PERCENTILES, LoadStatistics, Row


@dataclass
class Summary:
    """The run as a whole: what the report says and the thresholds judge."""

    scenario: str
    targets: list[str]
    target_cps: float
    achieved_cps: float
    duration_s: float
    partial: bool
    statistics: LoadStatistics
    commands: list[str]  # gate command names, in the order the scenario uses them
    steps: list[str]

    def report(self) -> dict:
        tally = self.statistics.tally
        return {
            "calls": {"attempted": tally.attempted, "completed": tally.completed, "failed": tally.failed,
                      "failed_by_cause": dict(tally.failed_by_cause.most_common())},
            "rate": {"target_cps": round(self.target_cps, 3), "achieved_cps": round(self.achieved_cps, 3)},
            "latency_ms": self.statistics.latency(self.commands),
            "messages": {"sent": tally.sent, "received": tally.received},
            "duration_s": round(self.duration_s, 3),
            "partial": self.partial,
            "scenario": self.scenario,
            "targets": self.targets,
            "steps_latency_ms": self.statistics.latency(self.steps),
            "not_started": {"concurrency_cap": tally.capped, "no_cmts_connected": tally.unplaced},
            "connections": {"lost": tally.lost, "reconnects": tally.reconnects},
            "process": {"rss_kib_at_most": self.statistics.most_rss_kib,
                        "concurrent_calls_at_most": self.statistics.most_concurrent,
                        "longest_gc_pause_ms": round(tally.gc_pause_ms, 3),
                        "longest_gc_pause_cpu_ms": round(tally.gc_pause_cpu_ms, 3)},
            "notes": self.notes(),
        }

    def notes(self) -> list[str]:
        """What a reader should know to trust the figures: why the rate fell short, where calls failed."""
        tally = self.statistics.tally
        notes = []
        why = tally.shortfall(self.target_cps, self.achieved_cps)
        if why is None and self.achieved_cps < 0.99 * self.target_cps:
            lagged = self.statistics.most_schedule_lag_ms
            if lagged >= 10:
                why = f"this load process was too busy: calls started up to {lagged:.0f} ms late (more --workers)"
        if why:
            notes.append(f"achieved {self.achieved_cps:.1f} of {self.target_cps:g} calls/s: {why}")
        if tally.failed:
            cause, count = tally.failed_by_cause.most_common(1)[0]
            notes.append(f"{tally.failed} calls failed, most with: {cause} ({count})")
        return notes


# --- thresholds --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LatencyLimit:
    """``--max-p99 Gate-Set=5ms``: the whole run's p99 for a gate command (or step) must not exceed it."""

    name: str
    seconds: float

    @classmethod
    def parse(cls, text: str) -> "LatencyLimit":
        name, sep, limit = text.rpartition("=")
        if not sep or not name.strip():
            raise ValueError(f"expected NAME=DURATION such as Gate-Set=5ms, got {text!r}")
        return cls(name.strip(), parse_duration(limit.strip()))


def verdicts(summary: Summary, max_failed: int | None, limits: list[LatencyLimit]) -> list[str]:
    """Every threshold the run broke, as a sentence; empty when it passed.

    Without ``--max-failed`` any failed call fails the run, as in SIPp.
    """
    problems = []
    tally = summary.statistics.tally
    allowed = 0 if max_failed is None else max_failed
    if tally.failed > allowed:
        top = ", ".join(f"{cause} ({count})" for cause, count in tally.failed_by_cause.most_common(3))
        problems.append(f"{tally.failed} calls failed (allowed: {allowed}): {top}")
    known = set(summary.commands) | set(summary.steps)
    for limit in limits:
        if limit.name not in known:
            problems.append(f"--max-p99 {limit.name}: the scenario has no such gate command or step; "
                            f"it has: {', '.join(summary.commands)}")
            continue
        p99 = summary.statistics.latency([limit.name])[limit.name]["p99"]
        if p99 > limit.seconds * 1000:
            problems.append(f"{limit.name} p99 {p99:g} ms exceeds {limit.seconds * 1000:g} ms")
    if summary.partial:
        problems.append("the run was interrupted")
    return problems


# --- files ---------------------------------------------------------------------------------------------------


def json_report(summary: Summary, problems: list[str]) -> str:
    report = summary.report()
    report["verdict"] = {"passed": not problems, "problems": problems}
    return json.dumps(report, indent=2) + "\n"


def csv_columns(commands: list[str]) -> list[str]:
    columns = ["time_s", "target_cps", "achieved_cps", "attempted", "completed", "failed", "concurrent", "gates",
               "messages_in_per_s", "messages_out_per_s", "capped", "reconnects", "rss_kib", "schedule_lag_ms"]
    for name in commands:
        columns += [f"{name} p{p} ms" for p in PERCENTILES] + [f"{name} max ms"]
    return columns


def csv_values(row: Row, commands: list[str]) -> list:
    tally = row.tally
    values = [f"{row.time:.3f}", f"{row.target_cps:g}", f"{row.achieved_cps:.2f}", tally.attempted,
              tally.completed, tally.failed, tally.concurrent, tally.gates, f"{row.messages_in_per_s:.1f}",
              f"{row.messages_out_per_s:.1f}", tally.capped, tally.reconnects, tally.rss_kib,
              f"{tally.schedule_lag_ms:.2f}"]
    for name in commands:
        latency = row.latency.get(name)
        values += [f"{latency[key]:g}" if latency else "" for key in ("p50", "p90", "p99", "max")]
    return values


class StatsCsv:
    """``--stats-csv FILE``: the header at once, then a row per interval as it closes, each flushed.

    Written to the partial file beside ``path`` and renamed to ``path`` when
    the block ends, however it ends; a process killed outright leaves the
    partial file, every row up to then in it.
    """

    def __init__(self, path: str, commands: list[str]) -> None:
        self.path = path
        self.commands = commands
        self._stack = ExitStack()

    def __enter__(self) -> "StatsCsv":
        with ExitStack() as stack:
            temporary = stack.enter_context(atomic_path(self.path, keep_partial=True))
            self._file = stack.enter_context(open(temporary, "w", encoding="utf-8", newline=""))
            self._writer = csv.writer(self._file, lineterminator="\n")
            self._writer.writerow(csv_columns(self.commands))
            self._file.flush()
            self._stack = stack.pop_all()
        return self

    def add(self, row: Row) -> None:
        self._writer.writerow(csv_values(row, self.commands))
        self._file.flush()

    def __exit__(self, *exc_info) -> None:
        self._stack.__exit__(*exc_info)


def junit_xml(summary: Summary, problems: list[str]) -> str:
    from junitparser import Failure, JUnitXml, Properties, Property, TestCase, TestSuite

    report = summary.report()
    case = TestCase(f"load: {summary.scenario}", classname="cms-sim.load")
    case.time = summary.duration_s
    if problems:
        failure = Failure("; ".join(problems))
        failure.text = json.dumps(report["calls"], indent=2)
        case.result = [failure]
    suite = TestSuite("cms-sim load")
    properties = Properties()
    for name, value in (("target_cps", report["rate"]["target_cps"]), ("achieved_cps", report["rate"]["achieved_cps"]),
                        ("attempted", report["calls"]["attempted"]), ("partial", report["partial"])):
        properties.add_property(Property(name, str(value)))
    suite.append(properties)
    suite.add_testcase(case)
    xml = JUnitXml()
    xml.add_testsuite(suite)
    return xml.tostring().decode() if isinstance(xml.tostring(), bytes) else xml.tostring()


def plot_png(summary: Summary) -> bytes:
    """Achieved rate, concurrent calls and each gate command's p99 over time, as a PNG (matplotlib's Agg)."""
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("--plot needs matplotlib: pip install 'pktcable-sim[plot]'") from None
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    series = summary.statistics.series
    times = series.columns["time"]
    figure = Figure(figsize=(9, 7.5), layout="constrained")
    rate, concurrent, latency = figure.subplots(3, 1, sharex=True)
    rate.plot(times, series.columns["achieved_cps"], label="achieved", drawstyle="steps-pre")
    rate.plot(times, series.columns["target_cps"], linestyle="--", label="target", drawstyle="steps-pre")
    rate.set_ylabel("calls/s")
    rate.legend(loc="lower right")
    rate.set_title(f"cms-sim load: {summary.scenario}")
    concurrent.plot(times, series.columns["concurrent"], color="tab:green")
    concurrent.set_ylabel("concurrent calls")
    for name in summary.commands:
        latency.plot(times, series.p99.get(name, [float("nan")] * len(series)), label=name)
    latency.set_ylabel("p99 latency (ms)")
    latency.set_xlabel("seconds since start")
    latency.legend(loc="upper left")
    for axes in (rate, concurrent, latency):
        axes.grid(alpha=0.3)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100)
    return out.getvalue()

