"""What a load run writes: the JSON report's fields, the CSV rows, JUnit verdicts from thresholds, the plot."""

import json
import xml.etree.ElementTree as ET

import pytest

from cms_sim.load.outputs import LatencyLimit, StatsCsv, Summary, json_report, junit_xml, plot_png, verdicts
from cms_sim.load.stats import LoadStatistics, Recorder


def summary(failed: int = 0, set_ms: float = 2.0, partial: bool = False, on_row=lambda row: None) -> Summary:
    statistics = LoadStatistics(0.0)
    recorder = Recorder()
    for second in range(1, 4):
        recorder.tally.attempted += 10
        recorder.tally.completed += 10 - (failed if second == 3 else 0)
        for _ in range(10):
            recorder.record("Gate-Set", set_ms / 1000)
            recorder.record("2. authorize", set_ms / 1000)
        statistics.add(0, recorder.sample(float(second)))
        on_row(statistics.close_interval(float(second)))
    recorder.tally.failed = failed
    if failed:
        recorder.tally.failed_by_cause["Gate-Set-Err: insufficient_resources (1)"] = failed
    statistics.add(0, recorder.sample(3.0))
    return Summary("basic call", ["127.0.0.1:2126"], 10.0, 10.0, 3.0, partial, statistics, ["Gate-Set"],
                   ["2. authorize"])


def test_the_json_report_has_the_documented_fields():
    report = json.loads(json_report(summary(), []))
    assert set(report["calls"]) == {"attempted", "completed", "failed", "failed_by_cause"}
    assert report["rate"] == {"target_cps": 10.0, "achieved_cps": 10.0}
    assert set(report["latency_ms"]) == {"Gate-Set"}
    assert set(report["latency_ms"]["Gate-Set"]) == {"p50", "p90", "p99", "max"}
    assert report["latency_ms"]["Gate-Set"]["p99"] == pytest.approx(2.0, rel=0.01)
    assert set(report["messages"]) == {"sent", "received"}
    assert report["duration_s"] == 3.0 and report["partial"] is False
    assert report["verdict"] == {"passed": True, "problems": []}
    assert set(report["process"]) == {"rss_kib_at_most", "concurrent_calls_at_most", "longest_gc_pause_ms",
                                      "longest_gc_pause_cpu_ms"}


def test_the_csv_has_a_row_per_interval_with_each_gate_commands_percentiles(tmp_path):
    path = tmp_path / "stats.csv"
    with StatsCsv(str(path), ["Gate-Set"]) as stats_csv:
        summary(on_row=stats_csv.add)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("time_s,target_cps,achieved_cps,attempted,completed,failed,concurrent")
    assert lines[0].endswith("Gate-Set p50 ms,Gate-Set p90 ms,Gate-Set p99 ms,Gate-Set max ms")
    assert len(lines) == 1 + 3
    assert lines[2].split(",")[3] == "20"  # attempted after two intervals
    assert list(tmp_path.iterdir()) == [path]


def test_each_csv_row_is_on_disk_as_its_interval_closes(tmp_path):
    path = tmp_path / "stats.csv"
    seen = []
    with StatsCsv(str(path), ["Gate-Set"]) as stats_csv:
        def add(row):
            stats_csv.add(row)
            [partial] = tmp_path.glob(".stats.partial.*.csv")
            seen.append(len(partial.read_text().splitlines()))
        summary(on_row=add)
    assert seen == [2, 3, 4]  # the header and every row so far, flushed


def test_the_plot_series_stays_bounded_and_keeps_the_worst_p99():
    statistics = LoadStatistics(0.0)
    statistics.series.limit = 64
    recorder = Recorder()
    for second in range(1, 1001):
        recorder.record("Gate-Set", (50 if second == 777 else 2) / 1000)
        recorder.tally.concurrent = second
        statistics.add(0, recorder.sample(float(second)))
        statistics.close_interval(float(second))
    series = statistics.series
    assert 32 <= len(series) <= 64 and series.columns["time"][-1] == 1000.0
    assert max(series.p99["Gate-Set"]) == pytest.approx(50, rel=0.01)
    assert max(series.columns["concurrent"]) == 1000 == statistics.most_concurrent


def test_any_failed_call_fails_the_run_unless_max_failed_allows_it():
    broken = summary(failed=2)
    assert verdicts(broken, None, []) == ["2 calls failed (allowed: 0): Gate-Set-Err: insufficient_resources (1) (2)"]
    assert verdicts(broken, 2, []) == []


def test_a_p99_threshold_names_the_command_and_both_figures():
    slow = summary(set_ms=8.0)
    assert verdicts(slow, None, [LatencyLimit.parse("Gate-Set=5ms")]) == ["Gate-Set p99 8.031 ms exceeds 5 ms"]  # 1% buckets
    assert verdicts(slow, None, [LatencyLimit.parse("Gate-Set=10ms")]) == []
    assert "no such gate command" in verdicts(slow, None, [LatencyLimit.parse("Gate-Info=1ms")])[0]


@pytest.mark.parametrize("text", ["Gate-Set", "=5ms", "Gate-Set=fast"])
def test_a_threshold_that_cannot_be_read_is_refused(text):
    with pytest.raises(ValueError):
        LatencyLimit.parse(text)


def test_junit_has_one_testcase_that_fails_with_the_broken_thresholds():
    passed = ET.fromstring(junit_xml(summary(), []))
    assert passed.find(".//testcase").get("name") == "load: basic call"
    assert passed.find(".//failure") is None
    problems = verdicts(summary(failed=1), None, [])
    failed = ET.fromstring(junit_xml(summary(failed=1), problems))
    assert failed.find(".//failure").get("message") == problems[0]


def test_an_interrupted_run_says_partial_and_does_not_pass():
    cut = summary(partial=True)
    problems = verdicts(cut, None, [])
    assert problems == ["the run was interrupted"]
    assert json.loads(json_report(cut, problems))["partial"] is True


def test_the_plot_is_a_png():
    assert plot_png(summary()).startswith(b"\x89PNG\r\n\x1a\n")
