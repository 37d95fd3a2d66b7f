"""The run's summary, one model for every place that shows it: the table after the ladder and the ladder files."""

from __future__ import annotations

from typing import NamedTuple

from ..scenario.result import ScenarioResult, StepResult, Verdict


class ScenarioSummary(NamedTuple):
    """One scenario's line: its verdict, steps passed of all, time, findings, and the first failure or skip reason."""

    name: str
    verdict: str  # "passed", "FAILED", "skipped" or "interrupted"
    passed: int
    steps: int
    seconds: float
    findings: int
    note: str


def scenario_summary(result: ScenarioResult) -> ScenarioSummary:
    failure = result.failures[0] if result.failures else None
    note = f"{failure.where}: {failure.message}" if failure else ""
    if result.interrupted:
        verdict = "interrupted"
    elif result.skipped:
        verdict, note = "skipped", result.skip_reason or ""
    else:
        verdict = "passed" if result.passed else "FAILED"
    return ScenarioSummary(result.name, verdict, result.count(Verdict.PASSED), len(result.steps),
                           result.duration_ms / 1000, len(result.findings), note)


def step_timing(step: StepResult) -> str:
    """How long a step took: a gate command's request-to-reply latency, else the whole step."""
    return f"{step.latency_ms:.1f} ms" if step.latency_ms is not None else f"{step.duration_ms:.0f} ms"


def totals(results: list[ScenarioResult]) -> str:
    """The run in one line: "1 scenario: 1 passed · 9 steps: 9 passed · 0 findings · 1.06 s"."""
    verdicts = [scenario_summary(result).verdict for result in results]
    steps = [step for result in results for step in result.steps]
    step_counts = {verdict.value: sum(step.verdict is verdict for step in steps) for verdict in Verdict}
    findings = sum(len(result.findings) for result in results)
    return " · ".join([
        _count(len(results), "scenario") + ": " + _counts({word: verdicts.count(word) for word in
                                                          ("passed", "FAILED", "skipped", "interrupted")}),
        _count(len(steps), "step") + ": " + _counts(step_counts),
        _count(findings, "finding"),
        f"{sum(result.duration_ms for result in results) / 1000:.2f} s",
    ])


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _counts(counts: dict[str, int]) -> str:
    """ "9 passed, 1 failed": the counts that are not zero (or "none")."""
    return ", ".join(f"{count} {word}" for word, count in counts.items() if count) or "none"
