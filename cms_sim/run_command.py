"""``cms-sim run``: scenario files in, a ladder on screen, a verdict out (and reports for CI).

Exit codes: 0 all scenarios passed, 1 a scenario failed, 2 usage or scenario
file error, 130 interrupted (Ctrl-C: Client-Close is sent, partial reports
are still written).
"""

from __future__ import annotations

import contextlib
import ipaddress
import signal
import ssl
import sys
from typing import Any

import click
import trio
from rich.console import Console
from rich.table import Table

from cmts_sim.cli import networks
from cmts_sim.config import TlsSettings
from cmts_sim.integrity_cli import integrity_options, one_security
from cops_core import tls
from cops_core.addresses import parse_address

from .report.capture import LiveCapture
from .report.files import atomic_path, check_writable
from .report.live_ladder import LadderPrinter
from .report.summary import scenario_summary
from .run import EMBEDDED_PORT, Run, embedded_port
from .scenario import Scenario, ScenarioError, ScenarioResult, load_scenario
from .scenario.loader import check_values
from .scenario.modem import DEFAULT_MODEM_TIMEOUT
from .scenario.requirements import Target, unmet

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

EXAMPLES = """
\b
Examples:
  cms-sim run scenarios/basic_call.yaml                  # against the embedded CMTS
  cms-sim run scenarios/*.yaml --junit results.xml       # every shipped scenario, for CI
  cms-sim run --explain --ladder call.svg scenarios/basic_call.yaml
  cms-sim run --cmts 192.0.2.1 --var subscriber=10.9.8.7 scenarios/basic_call.yaml
  cms-sim run --pcap call.pcap --report call.json scenarios/basic_call.yaml
  cms-sim run --cmts 192.0.2.1 --tls-cert gc.pem --tls-key gc.key --tls-ca lab-ca.pem scenarios/basic_call.yaml
  cms-sim run --step --explain scenarios/basic_call.yaml  # a pause before each message sent, for a class
  cms-sim run --integrity-key 1:00112233445566778899aabbccddeeff scenarios/basic_call.yaml   # signed COPS
"""


def tls_options(command):
    """``--tls-cert``, ``--tls-key``, ``--tls-ca``, ``--tls-require-client-cert``: every cms-sim command that opens
    COPS connections takes them (see :func:`tls_setup`)."""
    options = [
        click.option("--tls-cert", metavar="FILE.pem",
                     help="COPS over TLS (RFC 4261): our PEM certificate; turns TLS on (we are the TLS server)"),
        click.option("--tls-key", metavar="FILE.pem", help="TLS: its PEM private key (default: in the certificate file)"),
        click.option("--tls-ca", metavar="FILE.pem", help="TLS: the PEM CA a CMTS's certificate must chain to"),
        click.option("--tls-require-client-cert", is_flag=True,
                     help="TLS: refuse a CMTS without a certificate from --tls-ca"),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def tls_setup(cert: str | None, key: str | None, ca: str | None, require: bool, *,
              embedded: bool) -> tuple[ssl.SSLContext | None, TlsSettings | None]:
    """Our TLS server context (None: plain TCP) and, for an ``embedded`` CMTS, its TLS settings, checked before
    anything starts: a click usage error (exit 2) names the option at fault.

    RFC 4261 makes the CMTS (PEP) the TLS client whichever side dialled, so
    cms-sim is the TLS server and needs a certificate.  The embedded CMTS
    checks it against ``--tls-ca`` and shows the same certificate when
    ``--tls-require-client-cert`` asks it for one.
    """
    if cert is None:
        for option, given in (("--tls-key", key), ("--tls-ca", ca), ("--tls-require-client-cert", require)):
            if given:
                raise click.BadParameter("goes with --tls-cert: cms-sim is the TLS server (RFC 4261: the CMTS "
                                         "starts TLS) and needs a certificate", param_hint=option)
        return None, None
    if ca is None and (require or embedded):
        why = "to check CMTS certificates" if require else "for the embedded CMTS to check ours"
        raise click.BadParameter(f"needs --tls-ca, {why}",
                                 param_hint="--tls-require-client-cert" if require else "--tls-cert")
    for option, check in (("--tls-cert", lambda: tls.check_identity(cert, key)),
                          ("--tls-ca", lambda: ca is None or tls.check_ca(ca))):
        try:
            check()
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint=option) from None
    context = tls.pdp_context(cert, key, ca, require_peer_cert=require)
    return context, TlsSettings(cert=cert, key=key, ca=ca) if embedded else None


def _variables(pairs: tuple[str, ...]) -> dict[str, str]:
    variables = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="--var")
        variables[name.strip()] = value
    return variables


@click.command(epilog=EXAMPLES)
@click.argument("scenario_files", metavar="SCENARIO...", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False))
@click.option("--cmts", metavar="HOST[:PORT]", help="a real CMTS to drive (default: the embedded simulated CMTS)")
@click.option("--var", "var_pairs", multiple=True, metavar="NAME=VALUE", help="set a scenario variable (repeatable)")
@click.option("--seed", type=int, help="seed for hold-time distributions")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="write a JSON report")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), help="write JUnit XML for CI")
@click.option("--pcap", "pcap_path", type=click.Path(dir_okay=False), help="write the COPS traffic as a pcap capture")
@click.option("--ladder", "ladder_paths", multiple=True, type=click.Path(dir_okay=False),
              help="write the ladder as .svg or .html (repeatable)")
@click.option("--explain", is_flag=True, help="explain each message in PacketCable terms (for teaching)")
@click.option("--quiet", "-q", is_flag=True, help="no ladder; only the summary")
@click.option("--modem-timeout", type=float, default=DEFAULT_MODEM_TIMEOUT, show_default=True,
              help="real gear: seconds a commit/release step waits for the real modem's Gate-Open/Gate-Close")
@click.option("--mta", is_flag=True,
              help="real gear: a modem acts on the gates (a call is made on the MTA while the scenario runs); "
                   "without it, scenarios that need one are skipped")
@click.option("--listen", metavar="HOST:PORT",
              help="real gear: let the CMTS dial in here (RFC 2748's direction) instead of dialling it (--cmts)")
@click.option("--allow", multiple=True, metavar="CIDR",
              callback=lambda ctx, param, values: networks(values, ctx, param),
              help="with --listen: accept CMTSes only from here (repeatable; an address or a network)")
@click.option("--source", metavar="ADDRESS", help="the local address to dial the CMTS from")
@click.option("--strict", is_flag=True, help="any finding about the CMTS's protocol fails its scenario")
@click.option("--step", is_flag=True, help="pause before each message sent: the ladder so far and the message "
                                           "decoded, each field explained (Enter: go on, c: continue, q: quit)")
@tls_options
@integrity_options
def run(scenario_files, cmts, var_pairs, seed, report_path, junit_path, pcap_path, ladder_paths, explain, quiet,
        modem_timeout, mta, listen, allow, source, strict, step, tls_cert, tls_key, tls_ca,
        tls_require_client_cert, integrity) -> None:
    """Run scenario files and draw the call flow as a ladder diagram."""
    console = Console(highlight=False)
    errors = Console(stderr=True, highlight=False)
    if step:
        check_step(quiet)
    for ladder_path in ladder_paths:
        if not ladder_path.lower().endswith((".svg", ".html", ".htm")):
            raise click.BadParameter(f"expected a .svg or .html file, got {ladder_path}", param_hint="--ladder")
    check_connection_options(cmts, listen, source)
    if allow and listen is None:
        raise click.BadParameter("--allow says who may dial in: it goes with --listen", param_hint="--allow")
    check_outputs({"--report": report_path, "--junit": junit_path, "--pcap": pcap_path,
                   **{f"--ladder {path}": path for path in ladder_paths}})
    tls_context, embedded_tls = tls_setup(tls_cert, tls_key, tls_ca, tls_require_client_cert,
                                          embedded=cmts is None and listen is None)
    one_security(integrity is not None, tls_context is not None)
    scenarios = load_all(scenario_files, _variables(var_pairs))
    if cmts is not None or listen is not None:
        gear = Target(embedded=False, mta=mta, given=frozenset(_variables(var_pairs)))
        for scenario, _ in scenarios:
            if scenario.cmts.model_fields_set and unmet(scenario, gear) is None:
                errors.print(f"cms-sim: {scenario.source}: its cmts: settings apply to the embedded CMTS only; "
                             f"{cmts or 'the CMTS that dials in'} keeps its own", soft_wrap=True)
    ladder = LadderPrinter(console, explain=explain, show=not quiet)
    stepper = None
    if step:
        from .step.stepper import Stepper  # the terminal's keys (termios): imported only to step through

        stepper = Stepper(console, ladder)
    interrupted = False
    results: list[ScenarioResult] = []
    with _live_capture(pcap_path) as capture:
        interrupted = _run(scenarios, results, ladder, capture, errors, report_path, junit_path, ladder_paths,
                           stepper=stepper, cmts=cmts, seed=seed, modem_timeout=modem_timeout, mta=mta, listen=listen, allow=allow,
                           source=source, strict=strict, tls=tls_context, embedded_tls=embedded_tls,
                           integrity=integrity)
    if interrupted:
        errors.print("cms-sim: interrupted; Client-Close sent, writing partial reports")
        for result in results:
            if result.failed:
                result.interrupted = True
    _write_reports(results, ladder, report_path, junit_path, ladder_paths)
    _summary(console, results)
    if interrupted:
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(EXIT_PASSED if results and not any(result.failed for result in results) else EXIT_FAILED)


@contextlib.contextmanager
def _live_capture(pcap_path: str | None):
    """``--pcap``: written as the run goes to a partial file beside the target, renamed over it at the end.

    A crash of the run logic still ends it and renames it: what was captured is the evidence.
    """
    if not pcap_path:
        yield None
        return
    with atomic_path(pcap_path, keep_partial=True) as temporary, open(temporary, "wb") as file:
        capture = LiveCapture(file)
        try:
            yield capture
        finally:
            capture.close()


def _run(scenarios, results, ladder, capture, errors, report_path, junit_path, ladder_paths, *, stepper, cmts,
         listen, **options) -> bool:
    """Run the scenarios (results filled as they go); True if Ctrl-C (or q, stepping through) interrupted them."""
    interrupted = False

    async def main() -> None:
        nonlocal interrupted
        port = EMBEDDED_PORT
        if cmts is None and listen is None:
            port = await embedded_port()
            if port != EMBEDDED_PORT:
                errors.print(f"cms-sim: port {EMBEDDED_PORT} is taken; the embedded CMTS listens on a free port instead")
        taps = (capture.tap,) if capture is not None else ()
        hooks = stepper.hooks(*taps) if stepper is not None else {
            "taps": taps, "on_end": ladder.end,
            "on_begin": lambda result, scenario: ladder.begin(result, scenario.source or scenario.name)}
        runner = Run(scenarios, cmts=cmts, port=port, listen=listen, **options, on_step=ladder.step_done, **hooks)
        if stepper is not None:
            stepper.on_quit = runner.interrupt
        runner.results = results  # filled as the run goes: a crash below still has them to report
        async with stepper.keys_from_terminal() if stepper is not None else contextlib.nullcontext():
            interrupted = await run_interruptibly(runner, errors)
        interrupted = interrupted or (stepper is not None and stepper.quit)

    try:
        trio.run(main)
    except Exception:  # a bug in the run logic: the partial reports still get written, then it is shown
        for result in results:
            if result.verdict is None or result.failed:
                result.interrupted = True
        _write_reports(results, ladder, report_path, junit_path, ladder_paths)
        errors.print("cms-sim: internal error (a bug: please report it with what follows); partial reports written")
        raise
    return interrupted


def check_step(quiet: bool) -> None:
    """--step reads keys from a terminal and draws the ladder: one line and exit 2 where it cannot."""
    problem = None
    if not sys.stdin.isatty():
        problem = "--step reads its keys (Enter, c, q) from a terminal, and stdin is not one"
    elif quiet:
        problem = "--step shows the ladder and each message; --quiet shows neither: choose one"
    if problem:
        click.echo(f"cms-sim: {problem}", err=True)
        sys.exit(EXIT_USAGE)


def check_connection_options(cmts: str | None, listen: str | None, source: str | None) -> None:
    """--cmts, --listen and --source: each well formed and not at odds with the others (click's exit 2)."""
    for option, value in (("--cmts", cmts), ("--listen", listen)):
        if value is not None:
            try:
                parse_address(value)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint=option) from None
    if listen is not None and cmts is not None:
        raise click.BadParameter("either dial the CMTS (--cmts) or let it dial in (--listen), not both",
                                 param_hint="--listen")
    if source is not None:
        try:
            ipaddress.ip_address(source)
        except ValueError:
            raise click.BadParameter(f"expected an IP address of this host, got {source!r}",
                                     param_hint="--source") from None
        if listen is not None:
            raise click.BadParameter("--source is where we dial from; with --listen the CMTS dials us",
                                     param_hint="--source")


async def run_interruptibly(runner: Run, errors: Console) -> bool:
    """Run ``runner``; the first Ctrl-C (or SIGTERM) ends it with cleanup, a second at once.  True if interrupted."""
    interrupted = False
    async with trio.open_nursery() as nursery:
        async def watch_signals() -> None:
            nonlocal interrupted
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    if interrupted:  # the second time: no more cleanup, stop now
                        nursery.cancel_scope.cancel()
                        return
                    interrupted = True
                    errors.print("cms-sim: interrupted; cleaning up (Ctrl-C again to stop at once)")
                    runner.interrupt()

        nursery.start_soon(watch_signals)
        await runner.run()
        nursery.cancel_scope.cancel()
    return interrupted


def load_all(paths, variables: dict[str, str]) -> list[tuple[Scenario, dict[str, Any]]]:
    """Every scenario (a path or a loaded one) with the --var values it declares, or exit 2 with one line
    per problem in any of them."""
    problems: list[str] = []
    scenarios = []
    for path in paths:
        if isinstance(path, Scenario):
            scenarios.append(path)
            continue
        try:
            scenarios.append(load_scenario(path))
        except ScenarioError as exc:
            problems += exc.problems
    declared = {name for scenario in scenarios for name in scenario.variables}
    unknown = sorted(set(variables) - declared)
    if unknown and not problems:
        problems.append(f"--var {', '.join(unknown)}: no scenario has such a variable; they have: "
                        f"{', '.join(sorted(declared)) or 'none'}")
    chosen = [(scenario, {k: v for k, v in variables.items() if k in scenario.variables}) for scenario in scenarios]
    for scenario, overrides in chosen:
        problems += check_values(scenario, overrides)
    if problems:
        for line in problems:
            click.echo(f"cms-sim: {line}", err=True)  # one line each, never wrapped
        sys.exit(EXIT_USAGE)
    return chosen


def _write_reports(results, ladder: LadderPrinter, report_path, junit_path, ladder_paths) -> None:
    """The reports made from the results, once the run is over (the capture is written as it goes)."""
    def json_report(path):
        from .report.json_report import write_json_report
        write_json_report(results, path)

    def junit(path):
        from .report.junit import write_junit
        write_junit(results, path)

    def ladder_file(path):
        ladder.export(path, "pktcable-sim: " + ", ".join(result.name for result in results))

    outputs = [(report_path, json_report), (junit_path, junit)]
    write_outputs(outputs + [(path, ladder_file) for path in ladder_paths])


def check_outputs(paths: dict[str, str | None]) -> None:
    """Every output file can be written, or a usage error (exit 2) before anything is sent."""
    for option, path in paths.items():
        problem = path and check_writable(path)
        if problem:
            raise click.BadParameter(f"{path}: {problem}", param_hint=option.split(" ")[0])


def write_outputs(outputs) -> None:
    """Each ``(path, write)``: ``write`` a temporary file, renamed to ``path`` once whole."""
    for path, write in outputs:
        if path:
            try:
                with atomic_path(path) as temporary:
                    write(temporary)
            except OSError as exc:
                click.echo(f"cms-sim: cannot write {path}: {exc.strerror or exc}", err=True)


def _summary(console: Console, results: list[ScenarioResult]) -> None:
    table = Table(title="Summary", title_justify="left")
    for column, justify in (("scenario", "left"), ("verdict", "left"), ("steps", "right"), ("time", "right"),
                            ("findings", "right"), ("first failure or why skipped", "left")):
        table.add_column(column, justify=justify)
    styles = {"passed": "green", "FAILED": "red"}  # skipped and interrupted: yellow
    for line in map(scenario_summary, results):
        verdict = f"[{styles.get(line.verdict, 'yellow')}]{line.verdict}[/]"
        table.add_row(line.name, verdict, f"{line.passed}/{line.steps}", f"{line.seconds:.2f} s",
                      str(line.findings) if line.findings else "", line.note)
    console.print()
    console.print(table)
