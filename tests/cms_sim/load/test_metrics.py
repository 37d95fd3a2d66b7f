"""Prometheus metrics of a load run: counters that add up across hosts, latency as histograms."""

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from cms_sim.load.generator import LoadSettings
from cms_sim.load.metrics import load_registry
from cms_sim.load.run import LoadRun
from cms_sim.load.stats import Recorder
from cms_sim.load.workers import Job


def scrape(run: LoadRun) -> dict:
    text = generate_latest(load_registry(run, ["Gate-Set"])).decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_the_run_is_scraped_as_counters_gauges_and_a_latency_histogram():
    run = LoadRun(Job("s.yaml", {}, {}, [], ("range", "10.0.0.1")), LoadSettings(rate=50))
    recorder = Recorder()
    recorder.tally.attempted, recorder.tally.completed, recorder.tally.failed = 10, 8, 2
    recorder.tally.failed_by_cause["timeout: authorize"] = 2
    for ms in (0.4, 3, 3, 40):
        recorder.record("Gate-Set", ms / 1000)
    run.statistics.add(0, recorder.sample(1.0))
    metrics = scrape(run)
    assert metrics[("cms_sim_load_calls_total", (("outcome", "started"),))] == 10
    assert metrics[("cms_sim_load_failed_calls_total", (("cause", "timeout: authorize"),))] == 2
    assert metrics[("cms_sim_load_target_cps", ())] == 50
    bucket = lambda le: metrics[("cms_sim_load_latency_seconds_bucket", (("command", "Gate-Set"), ("le", le)))]
    assert (bucket("0.0005"), bucket("0.005"), bucket("0.05"), bucket("+Inf")) == (1, 3, 4, 4)
    assert metrics[("cms_sim_load_latency_seconds_count", (("command", "Gate-Set"),))] == 4
