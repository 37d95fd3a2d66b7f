"""Load statistics: counts that add up, latency percentiles from HDR histograms, exact merges across workers."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cms_sim.load.stats import LoadStatistics, Recorder, Sample, Tally, new_histogram, percentiles


def test_percentiles_are_read_from_the_histogram_in_milliseconds():
    recorder = Recorder()
    for ms in range(1, 101):  # 1 .. 100 ms
        recorder.record("Gate-Set", ms / 1000)
    latency = percentiles(recorder.sample(0.0).histograms["Gate-Set"])
    assert latency["p50"] == pytest.approx(50, rel=0.01)
    assert latency["p90"] == pytest.approx(90, rel=0.01)
    assert latency["p99"] == pytest.approx(99, rel=0.01)
    assert latency["max"] == pytest.approx(100, rel=0.01)


def test_an_empty_histogram_reads_as_zeros():
    assert percentiles(None) == {"p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}


def test_two_workers_merged_give_exactly_what_one_recorder_of_everything_gives():
    rng = random.Random(7)
    values = [rng.expovariate(1 / 0.004) for _ in range(5000)]
    one, first, second = Recorder(), Recorder(), Recorder()
    for index, value in enumerate(values):
        one.record("Gate-Set", value)
        (first if index % 2 else second).record("Gate-Set", value)
    alone, merged = LoadStatistics(0.0), LoadStatistics(0.0)
    alone.add(0, one.sample(1.0))
    merged.add(0, Sample.from_json(first.sample(1.0).to_json()))  # through the workers' JSON lines
    merged.add(1, Sample.from_json(second.sample(1.0).to_json()))
    assert merged.latency(["Gate-Set"]) == alone.latency(["Gate-Set"])
    assert merged.totals["Gate-Set"].get_total_count() == 5000


def test_tallies_of_all_sources_add_up_and_rows_give_rates_per_interval():
    statistics = LoadStatistics(10.0)
    for source, (attempted, sent) in enumerate([(100, 300), (50, 150)]):
        recorder = Recorder()
        recorder.tally.attempted, recorder.tally.sent = attempted, sent
        recorder.tally.failed_by_cause["timeout: authorize"] = source + 1
        statistics.add(source, recorder.sample(12.0))
    row = statistics.close_interval(12.0)
    assert row.tally.attempted == 150 and row.tally.failed_by_cause["timeout: authorize"] == 3
    assert row.achieved_cps == pytest.approx(75.0) and row.messages_out_per_s == pytest.approx(225.0)
    assert row.time == pytest.approx(2.0)


def test_a_source_that_reports_again_replaces_its_tally_rather_than_adding_to_it():
    statistics = LoadStatistics(0.0)
    recorder = Recorder()
    recorder.tally.attempted = 10
    statistics.add(0, recorder.sample(1.0))
    recorder.tally.attempted = 25
    statistics.add(0, recorder.sample(2.0))
    assert statistics.tally.attempted == 25


def test_interval_latency_starts_empty_each_interval_while_the_totals_keep_everything():
    statistics = LoadStatistics(0.0)
    recorder = Recorder()
    recorder.record("Gate-Set", 0.100)
    statistics.add(0, recorder.sample(1.0))
    assert statistics.close_interval(1.0).latency["Gate-Set"]["max"] == pytest.approx(100, rel=0.01)
    recorder.record("Gate-Set", 0.002)
    statistics.add(0, recorder.sample(2.0))
    assert statistics.close_interval(2.0).latency["Gate-Set"]["max"] == pytest.approx(2, rel=0.01)
    assert statistics.latency(["Gate-Set"])["Gate-Set"]["max"] == pytest.approx(100, rel=0.01)


def test_a_tally_round_trips_through_json():
    tally = Tally(attempted=3, failed=1, target_cps=2.5)
    tally.failed_by_cause["connection lost"] = 1
    assert Tally.from_json(tally.to_json()) == tally


def test_a_rate_short_of_the_target_says_why():
    assert Tally().shortfall(100, 99.5) is None  # within 1%
    assert Tally(capped=40).shortfall(100, 60) == "the concurrency cap held back 40 calls"
    assert Tally(unplaced=7).shortfall(100, 90) == "7 calls were due while no CMTS was connected"
    assert "too busy: calls started up to 25 ms late" in Tally(schedule_lag_ms=25).shortfall(100, 80)


def test_the_worst_lag_of_any_worker_is_the_lag_of_all():
    assert (Tally(schedule_lag_ms=3) + Tally(schedule_lag_ms=12)).schedule_lag_ms == 12


def test_a_gate_commands_latency_is_that_of_every_step_sending_it():
    recorder = Recorder({"Gate-Set": ["2. authorize", "5. modify"]})
    recorder.record("2. authorize", 0.001)
    recorder.record("5. modify", 0.009)
    recorder.record("3. hold", 1.0)
    histograms = recorder.sample(1.0).histograms
    assert histograms["Gate-Set"].get_total_count() == 2
    assert percentiles(histograms["Gate-Set"])["max"] == pytest.approx(9, rel=0.01)
    assert histograms["2. authorize"].get_total_count() == 1 and "Gate-Info" not in histograms


@given(st.lists(st.integers(min_value=1, max_value=3_600_000_000), min_size=1, max_size=300))
def test_percentiles_read_exactly_what_hdrh_reads(values):
    histogram = new_histogram()
    for value in values:
        histogram.record_value(value)
    reference = histogram.get_percentile_to_value_dict([50, 90, 99])
    got = percentiles(histogram)
    assert [got["p50"], got["p90"], got["p99"]] == [reference[p] / 1000 for p in (50, 90, 99)]


def test_an_instant_step_counts_as_a_latency_of_zero():
    instant, timed = Recorder(), Recorder()
    for _ in range(3):
        instant.record_instant("4. commit")
        timed.record("4. commit", 0.0)
    instant.record("4. commit", 0.002)
    timed.record("4. commit", 0.002)
    assert instant.take()[1] == timed.take()[1] == {"4. commit": {1: 3, 2000: 1}}
