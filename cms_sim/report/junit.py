"""``--junit FILE.xml``: a testsuite per scenario file, a testcase per scenario, for CI systems.

Written with junitparser, the maintained library for JUnit XML, so the
format is what Jenkins, GitLab and GitHub's reporters read.
"""

from __future__ import annotations

from pathlib import Path

from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from ..scenario.result import ScenarioResult, Verdict


def _testcase(result: ScenarioResult) -> TestCase:
    case = TestCase(result.name, classname=Path(result.source or result.name).stem, time=result.duration_ms / 1000.0)
    if result.interrupted:
        case.result = [Error("interrupted before the scenario finished", "Interrupted")]
    elif result.verdict is Verdict.FAILED:
        failures = result.failures
        first = failures[0] if failures else None
        message = f"{first.where} ({first.title}): {first.message}" if first else "failed"
        failure = Failure(message, "ScenarioFailure")
        failure.text = "\n".join(f"{step.where}: {step.title}: {step.message}" for step in failures)
        case.result = [failure]
    elif result.skipped:
        case.result = [Skipped(result.skip_reason)]
    elif result.verdict is None:
        case.result = [Skipped("not run")]
    case.system_out = "\n".join(
        [f"{step.id} {step.verdict.value if step.verdict else 'not run':7} {step.duration_ms:9.3f} ms  {step.title}"
         for step in result.steps] + [f"finding: {finding} [{finding.data.hex()}]" for finding in result.findings])
    return case


def write_junit(results: list[ScenarioResult], path: str | Path) -> None:
    """Group results by their file; one testsuite each."""
    suites: dict[str, TestSuite] = {}
    for result in results:
        source = result.source or result.name
        suite = suites.get(source)
        if suite is None:
            suite = suites[source] = TestSuite(Path(source).stem)
            suite.add_property("file", source)
            suite.add_property("target", result.target)
        suite.add_testcase(_testcase(result))
    xml = JUnitXml("pktcable-sim")
    for suite in suites.values():
        suite.update_statistics()
        xml.add_testsuite(suite)
    xml.update_statistics()
    xml.write(str(path), pretty=True)
