"""Prometheus metrics for ``cms-sim load --metrics-port PORT``: the run's statistics, computed at scrape time.

Beyond one machine, several load hosts each take a subscriber range and
Prometheus adds them up (README): counters add, and the latencies are
exposed as histograms with fixed buckets, so ``histogram_quantile`` over
``sum by (le)`` gives the percentiles of all hosts together.  Served by
cmts-sim's trio HTTP handler (:func:`cmts_sim.metrics.serve_metrics`).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from .run import LoadRun

# Seconds: from sub-millisecond replies to timeouts.
BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class LoadCollector:
    """A load run's tally and latency histograms as metric families."""

    def __init__(self, run: LoadRun, commands: list[str]) -> None:
        self.run = run
        self.commands = commands

    def collect(self):
        tally = self.run.statistics.tally
        calls = CounterMetricFamily("cms_sim_load_calls", "calls by outcome", labels=("outcome",))
        for outcome, count in (("started", tally.attempted), ("completed", tally.completed),
                               ("failed", tally.failed), ("capped", tally.capped), ("unplaced", tally.unplaced)):
            calls.add_metric((outcome,), count)
        yield calls
        failed = CounterMetricFamily("cms_sim_load_failed_calls", "failed calls by cause", labels=("cause",))
        for cause, count in sorted(tally.failed_by_cause.items()):
            failed.add_metric((cause,), count)
        yield failed
        messages = CounterMetricFamily("cms_sim_load_messages", "COPS messages", labels=("direction",))
        messages.add_metric(("out",), tally.sent)
        messages.add_metric(("in",), tally.received)
        yield messages
        yield CounterMetricFamily("cms_sim_load_connections_lost", "connections to a CMTS lost", value=tally.lost)
        yield CounterMetricFamily("cms_sim_load_reconnects", "connections re-established", value=tally.reconnects)
        yield GaugeMetricFamily("cms_sim_load_concurrent_calls", "calls in progress", value=tally.concurrent)
        yield GaugeMetricFamily("cms_sim_load_gates", "gates the calls hold", value=tally.gates)
        yield GaugeMetricFamily("cms_sim_load_target_cps", "target calls per second", value=self.run.target_cps)
        yield GaugeMetricFamily("cms_sim_load_achieved_cps", "calls started per second, whole run",
                                value=tally.achieved_cps)
        yield self._latency()

    def _latency(self) -> HistogramMetricFamily:
        family = HistogramMetricFamily("cms_sim_load_latency_seconds", "gate command reply time",
                                       labels=("command",))
        totals = self.run.statistics.totals
        for name in self.commands:
            histogram = totals.get(name)
            if histogram is None:
                continue
            counts = [0] * len(BUCKETS)
            total_us = 0
            for item in histogram.get_recorded_iterator():
                seconds, count = item.value_iterated_to / 1e6, item.count_at_value_iterated_to
                total_us += item.value_iterated_to * count
                for index, bound in enumerate(BUCKETS):
                    if seconds <= bound:
                        counts[index] += count
            buckets = [(repr(bound), count) for bound, count in zip(BUCKETS, counts)]
            buckets.append(("+Inf", histogram.get_total_count()))
            family.add_metric((name,), buckets, sum_value=total_us / 1e6)
        return family


def load_registry(run: LoadRun, commands: list[str]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(LoadCollector(run, commands))
    return registry
