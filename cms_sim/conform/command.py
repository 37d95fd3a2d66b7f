"""``cms-sim conform``: the conformance suite for a CMTS, as a matrix, JUnit, JSON and a one-page HTML report.

Exit codes: 0 every applicable row passed, 1 a row failed, 2 usage error,
130 interrupted (the rows so far are written).
"""

from __future__ import annotations

import sys
import time

import click
import trio
from rich.console import Console
from rich.table import Table

from cmts_sim.integrity_cli import integrity_options, one_security

from ..run import Run, embedded_port
from ..run_command import (
    _variables,
    check_connection_options,
    check_outputs,
    load_all,
    run_interruptibly,
    tls_options,
    tls_setup,
    write_outputs,
)
from ..scenario import ScenarioResult
from . import report
from .suite import REQUIREMENTS, Outcome, judge, scenarios

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

EXAMPLES = """
\b
Examples:
  cms-sim conform                                   # the suite against the embedded CMTS
  cms-sim conform --cmts 192.0.2.1 --var subscriber=10.9.8.7 --html cmts.html --junit cmts.xml
  cms-sim conform --cmts 192.0.2.1 --var t0_wait=35s --mta     # T0 set to 30 s; a call is made on the MTA
"""

_STYLE = {Outcome.PASS: "bold green", Outcome.FAIL: "bold red", Outcome.SKIPPED: "yellow",
          Outcome.NOT_TESTABLE: "yellow"}


@click.command(epilog=EXAMPLES)
@click.option("--cmts", metavar="HOST[:PORT]", help="the CMTS under test (default: the embedded simulated CMTS)")
@click.option("--var", "var_pairs", multiple=True, metavar="NAME=VALUE",
              help="subscriber=ADDRESS of the MTA; t0_wait, t1, t1_wait for the CMTS's timers (repeatable)")
@click.option("--mta", is_flag=True, help="a call is made on the MTA while the Gate-Open/Gate-Close row waits")
@click.option("--source", metavar="ADDRESS", help="the local address to dial the CMTS from")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="write the matrix as JSON")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), help="write JUnit XML, a testcase per row")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="write a one-page HTML report")
@click.option("--list", "list_only", is_flag=True, help="print the requirements and exit")
@tls_options
@integrity_options
def conform(cmts, var_pairs, mta, source, report_path, junit_path, html_path, list_only, tls_cert, tls_key, tls_ca,
            tls_require_client_cert, integrity) -> None:
    """Check a CMTS against PacketCable DQoS and RFC 2748, one requirement per row."""
    console = Console(highlight=False)
    errors = Console(stderr=True, highlight=False)
    if list_only:
        console.print(_matrix([(requirement, None, "") for requirement in REQUIREMENTS], "requirements"))
        return
    check_connection_options(cmts, None, source)
    check_outputs({"--report": report_path, "--junit": junit_path, "--html": html_path})
    tls_context, embedded_tls = tls_setup(tls_cert, tls_key, tls_ca, tls_require_client_cert, embedded=cmts is None)
    one_security(integrity is not None, tls_context is not None)
    suite = load_all(scenarios(), _variables(var_pairs))
    target = cmts or "the embedded CMTS"
    console.print(f"[bold]PacketCable DQoS conformance[/] of {target}: {len(REQUIREMENTS)} requirements")

    def done(result: ScenarioResult) -> None:
        verdict = "skipped" if result.skipped else ("passed" if result.passed else "FAILED")
        console.print(f"  {result.name:<22} {verdict}", style="dim" if result.skipped else None)

    started = time.time()

    async def main() -> tuple[list[ScenarioResult], bool]:
        port = 0 if cmts is not None else await embedded_port()
        runner = Run(suite, cmts=cmts, port=port, mta=mta, source=source, tls=tls_context, embedded_tls=embedded_tls,
                     integrity=integrity, on_end=done)
        interrupted = await run_interruptibly(runner, errors)
        return runner.results, interrupted

    results, interrupted = trio.run(main)
    rows = judge(results)
    findings = [finding for result in results for finding in result.findings]
    console.print(_matrix([(row.requirement, row.outcome, row.detail) for row in rows], target))
    write_outputs([(report_path, lambda p: report.write_json(rows, findings, target, started, p)),
                   (junit_path, lambda p: report.write_junit(rows, target, p)),
                   (html_path, lambda p: report.write_html(rows, findings, target, started, p))])
    counts = report.summary(rows)
    console.print(", ".join(f"{count} {name.replace('_', ' ')}" for name, count in counts.items()))
    if interrupted:
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(EXIT_FAILED if counts["fail"] else EXIT_PASSED)


def _matrix(rows, target: str) -> Table:
    table = Table(title=f"Conformance: {target}", title_justify="left")
    for column in ("requirement", "clause", "sent", "expected", "outcome"):
        table.add_column(column)
    for requirement, outcome, detail in rows:
        cells = [requirement.id, requirement.clause, requirement.sends, requirement.expects]
        if outcome is None:
            table.add_row(*cells, "")
        else:
            table.add_row(*cells, f"[{_STYLE[outcome]}]{outcome.value}[/]" + (f"\n{detail}" if detail else ""))
    return table
