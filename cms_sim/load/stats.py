"""Load statistics: counts that add up, and latencies in HDR histograms that merge exactly.

A generator (one per worker process) keeps a :class:`Tally` of cumulative
counts and one interval histogram per gate command and per step.  Every
interval it hands a :class:`Sample` to a :class:`LoadStatistics`, which sums
the tallies of all sources, merges the histograms (HDR histograms add
exactly, so N workers give the same percentiles as one), and produces one
:class:`Row` per interval for the screen and the CSV file (written as it
goes), a bounded :class:`Series` for the plot, and the totals and peaks for
the report.  Never a list of every sample, nor of every row: a soak of hours
must not grow by 5 KB a second.
"""

from __future__ import annotations

import base64
import bisect
import itertools
import math
import operator
from array import array
from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Iterable

from hdrh.histogram import HdrHistogram

# Microseconds from 1 us to one hour, 2 significant digits (1% resolution): finer makes every percentile
# walk 8x longer (pure Python) for a precision no latency report needs.
LOWEST_US, HIGHEST_US, DIGITS = 1, 3_600_000_000, 2
PERCENTILES = (50, 90, 99)


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)


@dataclass
class Tally:
    """Cumulative counts of one generator (or, summed, of all; gauges of the worst kind take the worst)."""

    attempted: int = 0  # calls started
    completed: int = 0  # calls whose every step passed
    failed: int = 0
    capped: int = 0  # calls the schedule owed that the concurrency cap held back
    unplaced: int = 0  # calls the schedule owed while no CMTS was connected
    sent: int = 0  # COPS messages out, keep-alives included
    received: int = 0
    reconnects: int = 0  # connections re-established after a loss
    lost: int = 0  # connections lost
    concurrent: int = 0  # calls in progress now (a gauge)
    gates: int = 0  # gates the calls hold now (a gauge)
    schedule_lag_ms: float = 0.0  # how late calls started, at worst, in the last interval (busy load process)
    gc_pause_ms: float = 0.0  # the longest garbage collection so far (it stalls every call in flight), wall time
    gc_pause_cpu_ms: float = 0.0  # the CPU that collection took (the wall time also counts being descheduled)
    rss_kib: int = 0  # the load processes' resident memory now
    target_cps: float = 0.0  # the schedule's rate now (0 while paused or stopping)
    achieved_cps: float = 0.0  # calls started per second of starting them, so far
    failed_by_cause: Counter = field(default_factory=Counter)

    def __add__(self, other: "Tally") -> "Tally":
        total = Tally()
        for f in fields(Tally):
            merge = max if f.name in _WORST_OF else operator.add
            setattr(total, f.name, merge(getattr(self, f.name), getattr(other, f.name)))
        return total

    def shortfall(self, target_cps: float, achieved_cps: float) -> str | None:
        """Why calls start slower than the target, if they do by more than 1% (None otherwise)."""
        if not target_cps or achieved_cps >= 0.99 * target_cps:
            return None
        if self.capped:
            return f"the concurrency cap held back {self.capped} calls"
        if self.unplaced:
            return f"{self.unplaced} calls were due while no CMTS was connected"
        if self.schedule_lag_ms >= 10:
            return f"this load process is too busy: calls started up to {self.schedule_lag_ms:.0f} ms late " \
                   "(more --workers)"
        return None

    def to_json(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(Tally)}
        data["failed_by_cause"] = dict(self.failed_by_cause)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Tally":
        tally = cls(**{**data, "failed_by_cause": Counter(data.get("failed_by_cause", {}))})
        return tally


_WORST_OF = {"schedule_lag_ms", "gc_pause_ms", "gc_pause_cpu_ms"}


@dataclass
class Sample:
    """One interval of one source: its tally so far and the latencies recorded in the interval."""

    time: float
    tally: Tally
    histograms: dict[str, HdrHistogram]

    def to_json(self) -> dict:
        return {"time": self.time, "tally": self.tally.to_json(),
                "histograms": {name: base64.b64encode(h.encode()).decode("ascii")
                               for name, h in self.histograms.items() if h.get_total_count()}}

    @classmethod
    def from_json(cls, data: dict) -> "Sample":
        histograms = {name: HdrHistogram.decode(base64.b64decode(text)) for name, text in data["histograms"].items()}
        return cls(data["time"], Tally.from_json(data["tally"]), histograms)


# hdrh's record_value is pure Python (2-3 us); thousands of calls a second record ten latencies each.  So
# the recorder counts values already cut to the histogram's precision (the top MANTISSA_BITS bits, which is
# what 2 significant digits keep: 256 sub-buckets) in a dict, and hands them to the histogram once per
# interval, one record_value per distinct value.
MANTISSA_BITS = 8


class Recorder:
    """A generator's side: latencies into interval histograms; :meth:`sample` hands them over and starts anew."""

    def __init__(self, commands: dict[str, list[str]] | None = None) -> None:
        self.tally = Tally()
        # Gate command -> the steps that send it: a command's latencies are its steps' (recorded once, per step).
        self.commands = commands or {}
        self._counts: dict[str, dict[int, int]] = {}

    def record(self, name: str, seconds: float) -> None:
        value = round(seconds * 1e6)
        if value < LOWEST_US:
            value = LOWEST_US
        elif value > HIGHEST_US:
            value = HIGHEST_US
        shift = value.bit_length() - MANTISSA_BITS
        if shift > 0:
            value = value >> shift << shift
        counts = self._counts.get(name)
        if counts is None:
            counts = self._counts[name] = {}
        counts[value] = counts.get(value, 0) + 1

    def record_instant(self, name: str) -> None:
        """:meth:`record` of a latency of 0 (a step done as it started: most of a call's), without the arithmetic."""
        counts = self._counts.get(name)
        if counts is None:
            counts = self._counts[name] = {}
        counts[LOWEST_US] = counts.get(LOWEST_US, 0) + 1

    def sample(self, now: float) -> Sample:
        tally, counts_by_name = self.take()
        return Sample(now, tally, {name: histogram(counts) for name, counts in counts_by_name.items()})

    def take(self) -> tuple[Tally, dict[str, dict[int, int]]]:
        """The tally so far and the interval's latency counts (by name, each command's too); the next begins.

        Cheap: the histograms are built from these counts by the caller, one
        at a time if it must not stall the loop (:func:`histogram`).
        """
        counts_by_name = self._counts
        self._counts = {}
        for command, steps in self.commands.items():
            merged: dict[int, int] = {}
            for step in steps:
                for value, count in counts_by_name.get(step, {}).items():
                    merged[value] = merged.get(value, 0) + count
            if merged:
                counts_by_name[command] = merged
        tally = Tally(**{f.name: getattr(self.tally, f.name) for f in fields(Tally)})
        tally.failed_by_cause = Counter(self.tally.failed_by_cause)
        return tally, counts_by_name


def histogram(counts: dict[int, int]) -> HdrHistogram:
    """An HDR histogram of ``{microseconds: count}`` (a few ms of Python for a busy name)."""
    result = new_histogram()
    for value, count in counts.items():
        result.record_value(value, count)
    return result


def percentiles(histogram: HdrHistogram | None) -> dict[str, float]:
    """p50, p90, p99 and max in milliseconds (zeros for an empty histogram), as hdrh reads them.

    hdrh's own percentile walk calls a Python method per bucket (3,000+ of
    them, ~1 ms a histogram); a run reads two dozen histograms a second in
    the loop that moves the calls.  The running sums and the search are done
    in C here instead, with hdrh's own target count and value rounding.
    """
    if histogram is None or not histogram.get_total_count():
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}
    # The counts are a ctypes array of native-endian uint64: read through the buffer, not element by element.
    cumulative = list(itertools.accumulate(memoryview(histogram.counts).cast("B").cast("Q").tolist()))
    result = {}
    for percentile in PERCENTILES:
        index = bisect.bisect_left(cumulative, histogram.get_target_count_at_percentile(percentile))
        value = histogram.get_highest_equivalent_value(histogram.get_value_from_index(index))
        result[f"p{percentile}"] = value / 1000
    result["max"] = histogram.get_max_value() / 1000
    return result


@dataclass
class Row:
    """One interval, all sources together: what the screen shows and the CSV file keeps."""

    time: float  # seconds since the start
    interval: float
    target_cps: float
    achieved_cps: float
    tally: Tally
    messages_in_per_s: float
    messages_out_per_s: float
    latency: dict[str, dict[str, float]]  # name -> p50/p90/p99/max in ms, this interval only


class Series:
    """The plot's columns, a point per interval, in at most ``limit`` points.

    When full, neighbouring points merge in pairs (rates averaged, the
    concurrent calls and each p99 taking the higher), so a run of a week
    plots from the memory of an hour's and no latency spike is lost.
    """

    MERGE = {"time": max, "target_cps": lambda a, b: (a + b) / 2, "achieved_cps": lambda a, b: (a + b) / 2,
             "concurrent": max}

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self.columns: dict[str, array] = {name: array("d") for name in self.MERGE}
        self.p99: dict[str, array] = {}  # gate command or step -> its p99 in ms per point (nan: none that interval)

    def __len__(self) -> int:
        return len(self.columns["time"])

    def add(self, row: "Row") -> None:
        if len(self) == self.limit:
            self._halve()
        points = len(self)
        for name, value in (("time", row.time), ("target_cps", row.target_cps), ("achieved_cps", row.achieved_cps),
                            ("concurrent", row.tally.concurrent)):
            self.columns[name].append(value)
        for name, latency in row.latency.items():
            if name not in self.p99:
                self.p99[name] = array("d", [math.nan] * points)
        for name, column in self.p99.items():
            latency = row.latency.get(name)
            column.append(latency["p99"] if latency else math.nan)

    def _halve(self) -> None:
        for name, column in self.columns.items():
            self.columns[name] = _pairs(column, self.MERGE[name])
        for name, column in self.p99.items():
            self.p99[name] = _pairs(column, _higher)


def _higher(a: float, b: float) -> float:
    """The higher of two p99s, where nan (no calls that interval) loses."""
    return b if math.isnan(a) else a if math.isnan(b) else max(a, b)


def _pairs(column: array, merge) -> array:
    merged = array("d", (merge(column[i], column[i + 1]) for i in range(0, len(column) - 1, 2)))
    if len(column) % 2:
        merged.append(column[-1])
    return merged


class LoadStatistics:
    """Every source's samples merged: one :class:`Row` per interval, and totals for the report."""

    def __init__(self, start: float = 0.0) -> None:
        self.start = start
        self.totals: dict[str, HdrHistogram] = {}
        self.series = Series()
        self.intervals = 0
        # The report's peaks, kept as rows go by.
        self.most_rss_kib = 0
        self.most_concurrent = 0
        self.most_schedule_lag_ms = 0.0
        self._tallies: dict[int, Tally] = {}
        self._interval: dict[str, HdrHistogram] = {}
        self._previous = Tally()
        self._previous_time = start

    def begin(self, now: float) -> None:
        """The run starts now: row times count from here."""
        self.start = self._previous_time = now

    def add(self, source: int, sample: Sample) -> None:
        self._tallies[source] = sample.tally
        for name, histogram in sample.histograms.items():
            for target in (self._interval, self.totals):
                if name not in target:
                    target[name] = new_histogram()
                target[name].add(histogram)

    @property
    def tally(self) -> Tally:
        return sum(self._tallies.values(), Tally())

    def close_interval(self, now: float) -> Row:
        """The row for the interval ending ``now``; the next interval starts empty."""
        tally = self.tally
        seconds = max(now - self._previous_time, 1e-9)
        previous = self._previous
        row = Row(now - self.start, seconds, tally.target_cps, (tally.attempted - previous.attempted) / seconds, tally,
                  (tally.received - previous.received) / seconds, (tally.sent - previous.sent) / seconds,
                  {name: percentiles(h) for name, h in self._interval.items()})
        self._interval = {}
        self._previous, self._previous_time = tally, now
        self.intervals += 1
        self.most_rss_kib = max(self.most_rss_kib, tally.rss_kib)
        self.most_concurrent = max(self.most_concurrent, tally.concurrent)
        self.most_schedule_lag_ms = max(self.most_schedule_lag_ms, tally.schedule_lag_ms)
        self.series.add(row)
        return row

    def latency(self, names: Iterable[str]) -> dict[str, dict[str, float]]:
        """Whole-run p50/p90/p99/max per name (in the order given), in milliseconds."""
        return {name: percentiles(self.totals.get(name)) for name in names}
