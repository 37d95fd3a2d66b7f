"""The conformance matrix as files: JSON, JUnit (one testcase per requirement) and a one-page HTML report."""

from __future__ import annotations

import html
import json
import time
from collections import Counter
from pathlib import Path

from junitparser import Failure, JUnitXml, Skipped, TestCase, TestSuite

from .suite import Outcome, Row


def summary(rows: list[Row]) -> dict[str, int]:
    counts = Counter(row.outcome for row in rows)
    return {outcome.value.replace(" ", "_"): counts.get(outcome, 0) for outcome in Outcome}


def write_json(rows: list[Row], findings: list, target: str, started: float, path: str | Path) -> None:
    document = {
        "target": target,
        "started": started,
        "summary": summary(rows),
        "rows": [{"id": row.requirement.id, "clause": row.requirement.clause, "sends": row.requirement.sends,
                  "expects": row.requirement.expects, "outcome": row.outcome.value, "detail": row.detail}
                 for row in rows],
        "findings": [{"rule": finding.rule, "clause": finding.clause, "severity": finding.severity.value,
                      "message": finding.message, "text": finding.text, "hex": finding.data.hex()}
                     for finding in findings],
    }
    Path(path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def write_junit(rows: list[Row], target: str, path: str | Path) -> None:
    suite = TestSuite("conformance")
    suite.add_property("target", target)
    for row in rows:
        requirement = row.requirement
        case = TestCase(requirement.id, classname="conformance")
        case.system_out = f"{requirement.clause}\nsends: {requirement.sends}\nexpects: {requirement.expects}"
        if row.outcome is Outcome.FAIL:
            case.result = [Failure(row.detail, "NonConformance")]
        elif row.outcome in (Outcome.SKIPPED, Outcome.NOT_TESTABLE):
            case.result = [Skipped(row.detail)]
        suite.add_testcase(case)
    suite.update_statistics()
    xml = JUnitXml("pktcable-sim conformance")
    xml.add_testsuite(suite)
    xml.update_statistics()
    xml.write(str(path), pretty=True)


_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; color: #1a1a1a; background: #fff; margin: 2em; }
h1 { font-size: 1.4em; margin: 0 0 .2em; } p.meta { color: #444; margin: 0 0 1em; }
table { border-collapse: collapse; width: 100%; } th, td { border: 1px solid #bbb; padding: .3em .5em;
vertical-align: top; text-align: left; } th { background: #eee; }
td.pass { color: #0b6b0b; font-weight: bold; } td.fail { color: #a30000; font-weight: bold; }
td.skipped, td.not-testable { color: #6b4e00; } code { font-size: .9em; word-break: break-all; }
@media print { body { margin: 0; } }
"""


def write_html(rows: list[Row], findings: list, target: str, started: float, path: str | Path) -> None:
    """One self-contained page (no scripts, no fonts from the network) a lab can attach to a ticket."""
    counts = summary(rows)
    when = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started))
    verdict = "does not conform" if counts["fail"] else "conforms on every applicable row"
    body = [f"<h1>PacketCable DQoS conformance: {html.escape(target)}</h1>",
            f"<p class=meta>{html.escape(when)} &middot; {html.escape(verdict)} &middot; "
            + ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in counts.items()) + "</p>",
            "<table><tr><th>Requirement</th><th>Clause</th><th>Sent</th><th>Expected</th><th>Outcome</th>"
            "<th>Detail</th></tr>"]
    for row in rows:
        requirement = row.requirement
        css = row.outcome.value.replace(" ", "-")
        body.append("<tr>" + "".join(f"<td>{html.escape(text)}</td>" for text in (
            requirement.id, requirement.clause, requirement.sends, requirement.expects))
            + f"<td class={css}>{html.escape(row.outcome.value)}</td><td>{html.escape(row.detail)}</td></tr>")
    body.append("</table>")
    if findings:
        body.append("<h2>Findings</h2><table><tr><th>Rule</th><th>Clause</th><th>Severity</th><th>Message</th>"
                    "<th>What</th><th>Bytes</th></tr>")
        for finding in findings:
            body.append("<tr>" + "".join(f"<td>{html.escape(text)}</td>" for text in (
                finding.rule, finding.clause, finding.severity.value, finding.message, finding.text))
                + f"<td><code>{finding.data.hex()}</code></td></tr>")
        body.append("</table>")
    page = (f"<!doctype html><html lang=en><meta charset=utf-8><title>Conformance: {html.escape(target)}</title>"
            f"<style>{_STYLE}</style><body>{''.join(body)}</body></html>\n")
    Path(path).write_text(page, encoding="utf-8")
