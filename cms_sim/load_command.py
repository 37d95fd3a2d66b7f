"""``cms-sim load``: one scenario as many calls, at a rate, with live statistics (SIPp for COPS).

Exit codes: 0 the run passed its thresholds (no failed call unless
``--max-failed`` allows some, every ``--max-p99`` met), 1 it did not or the
CMTS could not be reached, 2 usage or input error (one line, before
anything is sent), 130 interrupted (Ctrl-C: calls in progress end, their
gates are deleted, every output is written with ``partial: true``).
"""

from __future__ import annotations

import ipaddress
import signal
import sys
from contextlib import nullcontext
from dataclasses import asdict

import click
import trio
from rich.console import Console

from cmts_sim.config import IntegrityConfig
from cmts_sim.gcpolicy import tuned_gc
from cmts_sim.integrity_cli import integrity_options, one_security
from cops_core.addresses import parse_address

from .errors import ConnectError, innermost
from .load.generator import LoadSettings, Target
from .load.outputs import LatencyLimit, StatsCsv, Summary, json_report, junit_xml, plot_png, verdicts
from .load.program import compile_program
from .load.run import LoadRun
from .load.screen import LiveScreen, plain_line, raw_keys, read_keys
from .load.subscribers import SubscriberError, Subscribers
from .load.workers import Job
from .report.files import check_writable, write_atomically
from .run_command import _variables, tls_options, tls_setup
from .scenario import ScenarioError, load_scenario
from .scenario.modem import DEFAULT_MODEM_TIMEOUT
from .scenario.values import parse_duration

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
SUBSCRIBER_BLOCK = 1 << 20  # default: a new subscriber per call from the scenario's, for this many calls

EXAMPLES = """
\b
Examples:
  cms-sim load scenarios/basic_call.yaml --rate 200 --duration 20 --report r.json
  cms-sim load scenarios/basic_call.yaml --cmts 192.0.2.1 --rate 50 --calls 10000 --max-concurrent 500
  cms-sim load scenarios/basic_call.yaml --rate-start 10 --ramp-step 10 --rate 500 --duration 5m
  cms-sim load scenarios/basic_call.yaml --subscribers 10.64.0.0/16 --stats-csv stats.csv --plot run.png
  cms-sim load scenarios/basic_call.yaml --cmts cmts1@3 --cmts cmts2 --junit load.xml --max-p99 Gate-Set=20ms
"""


class Usage(Exception):
    """A bad option value: one line, exit 2."""


def _positive(name: str, value: float | None, *, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if value is None or not value > 0 or value != value or value == float("inf"):
        raise Usage(f"{name}: expected a positive number, got {value}")


def _duration(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except ValueError:
        raise Usage(f"{name}: expected a duration such as 20s, 5m or 1.5, got {value!r}") from None
    _positive(name, seconds)
    return seconds


def parse_target(text: str) -> Target:
    """``HOST[:PORT][@WEIGHT]`` (``[V6]:PORT`` for IPv6); port 2126 by default, weight 1."""
    address, sep, weight_text = text.rpartition("@") if "@" in text else (text, "", "")
    weight = 1
    if sep:
        if not weight_text.isdigit() or int(weight_text) < 1:
            raise Usage(f"--cmts {text}: the weight after @ must be a whole number from 1, got {weight_text!r}")
        weight = int(weight_text)
    try:
        host, port = parse_address(address, lowest_port=1)
    except ValueError as exc:
        raise Usage(f"--cmts {text}: {exc}") from None
    host_text = f"[{host}]" if ":" in host else host
    return Target(f"{host_text}:{port}", weight)


def _subscribers(range_text: str | None, csv_path: str | None, scenario, variables: dict) -> tuple[str, str]:
    """Where each call's subscriber comes from, checked now (exit 2 on a bad range or file)."""
    if range_text and csv_path:
        raise Usage("--subscribers and --inf: give one or the other")
    if csv_path:
        Subscribers.from_csv(csv_path)
        return ("csv", csv_path)
    if range_text:
        Subscribers.from_range(range_text)
        return ("range", range_text)
    first = variables.get("subscriber", scenario.variables.get("subscriber"))
    if first is None:
        raise Usage(f"{scenario.source}: no subscriber variable; give --subscribers RANGE or --inf FILE.csv")
    try:
        start = ipaddress.ip_address(str(first))
    except ValueError:
        raise Usage(f"subscriber: expected an IP address, got {first!r}") from None
    last = min(int(start) + SUBSCRIBER_BLOCK - 1, (1 << start.max_prefixlen) - 1)
    return ("range", f"{start}-{ipaddress.ip_address(last)}")


@click.command(epilog=EXAMPLES)
@click.argument("scenario_file", metavar="SCENARIO", type=click.Path(dir_okay=False))
@click.option("--cmts", "cmts_list", multiple=True, metavar="HOST[:PORT][@WEIGHT]",
              help="a CMTS to load (repeatable; calls are shared by weight); default: the embedded CMTS in its own "
                   "process")
@click.option("--rate", type=float, metavar="CPS", default=10.0, show_default=True, help="target calls per second")
@click.option("--rate-start", type=float, metavar="CPS", help="ramp: start at this rate ...")
@click.option("--ramp-step", type=float, metavar="CPS", default=0.0, help="... and add this many calls/s ...")
@click.option("--ramp-interval", default="1s", metavar="DURATION", show_default=True, help="... every this long, up to --rate")
@click.option("--max-concurrent", type=int, metavar="N", help="most calls in progress at once (SIPp's -l)")
@click.option("--calls", type=int, metavar="N", help="stop after starting this many calls (SIPp's -m)")
@click.option("--duration", metavar="DURATION", help="stop starting calls after this long (20s, 5m, 1h)")
@click.option("--subscribers", "subscriber_range", metavar="RANGE",
              help="subscriber per call from A-B or NET/LEN (default: counting up from the scenario's subscriber)")
@click.option("--inf", "csv_path", metavar="FILE.csv",
              help="per-call variables from a CSV file whose header row names them (SIPp's -inf)")
@click.option("--var", "var_pairs", multiple=True, metavar="NAME=VALUE", help="set a scenario variable (repeatable)")
@click.option("--workers", type=int, metavar="N", default=1, show_default=True, help="load processes (each takes its share)")
@click.option("--interval", default="1s", metavar="DURATION", show_default=True, help="statistics interval")
@click.option("--seed", type=int, metavar="N", help="seed for hold-time distributions")
@click.option("--modem-timeout", default=f"{DEFAULT_MODEM_TIMEOUT:g}s", metavar="DURATION", show_default=True,
              help="real gear: how long a commit/release step waits for the modem's Gate-Open/Gate-Close")
@click.option("--report", "report_path", metavar="FILE.json", help="write the JSON report")
@click.option("--stats-csv", "csv_out", metavar="FILE.csv", help="write one row per interval")
@click.option("--junit", "junit_path", metavar="FILE.xml", help="write JUnit XML with the thresholds' verdict")
@click.option("--plot", "plot_path", metavar="FILE.png", help="plot rate, concurrency and p99 (needs matplotlib)")
@click.option("--max-failed", type=int, metavar="N", help="threshold: at most this many failed calls (default 0)")
@click.option("--max-p99", "p99_limits", multiple=True, metavar="NAME=DURATION",
              help="threshold: a gate command's (or step's) p99, e.g. Gate-Set=5ms (repeatable)")
@click.option("--metrics-port", "metrics", metavar="[HOST:]PORT",
              help="serve Prometheus metrics at http://HOST:PORT/metrics (HOST default 127.0.0.1)")
@click.option("--quiet", "-q", is_flag=True, help="no live screen; one line per interval")
@tls_options
@integrity_options
def load(scenario_file, cmts_list, rate, rate_start, ramp_step, ramp_interval, max_concurrent, calls, duration,
         subscriber_range, csv_path, var_pairs, workers, interval, seed, modem_timeout, report_path, csv_out,
         junit_path, plot_path, max_failed, p99_limits, metrics, quiet, tls_cert, tls_key, tls_ca,
         tls_require_client_cert, integrity) -> None:
    """Run SCENARIO as many calls: open-loop at --rate calls/s, with live statistics."""
    errors = Console(stderr=True, highlight=False)
    try:
        prepared = _prepare(scenario_file, cmts_list, rate, rate_start, ramp_step, ramp_interval, max_concurrent,
                            calls, duration, subscriber_range, csv_path, var_pairs, workers, interval, seed,
                            modem_timeout, (report_path, csv_out, junit_path, plot_path), max_failed, p99_limits,
                            (tls_cert, tls_key, tls_ca, tls_require_client_cert), IntegrityConfig.of(integrity))
        metrics_address = _metrics_address(metrics) if metrics else None
    except (Usage, ScenarioError, SubscriberError, click.BadParameter) as exc:
        for line in getattr(exc, "problems", None) or [exc.format_message() if isinstance(exc, click.BadParameter)
                                                        else str(exc)]:
            click.echo(f"cms-sim: {line}", err=True)
        sys.exit(EXIT_USAGE)
    run, scenario, program, limits = prepared
    console = Console(highlight=False)
    live = console.is_terminal and not quiet
    run.in_process = run.in_process and not live  # with the screen here, calls run in a worker: no redraw stalls them
    commands, steps = program.command_titles, program.step_titles
    screen = LiveScreen(console, f"{scenario.name}  →  {', '.join(run.targets) or 'embedded CMTS'}",
                        run.statistics, commands, steps, lambda: run.state_text)
    interrupted = False
    stats_csv = StatsCsv(csv_out, commands) if csv_out else None

    def on_row(row) -> None:
        if stats_csv is not None:
            stats_csv.add(row)
        if live:
            screen.update(row)
        else:
            print(plain_line(row, commands), flush=True)

    run.on_row = on_row

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            async def watch_signals() -> None:
                nonlocal interrupted
                with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for _ in signals:
                        if interrupted:  # a second Ctrl-C: stop waiting for the cleanup
                            nursery.cancel_scope.cancel()
                            return
                        interrupted = True
                        run.interrupt()

            nursery.start_soon(watch_signals)
            if metrics_address is not None:
                from cmts_sim.metrics import serve_metrics

                from .load.metrics import load_registry

                host, port = await nursery.start(serve_metrics, load_registry(run, commands), *metrics_address)
                errors.print(f"cms-sim: Prometheus metrics at http://{host}:{port}/metrics")
            if live:
                nursery.start_soon(screen.run)
                if sys.stdin.isatty():
                    nursery.start_soon(read_keys, run.key)
            await run.run()
            nursery.cancel_scope.cancel()

    failure: str | None = None
    try:
        with tuned_gc(), (raw_keys() if live and sys.stdin.isatty() else nullcontext()), (stats_csv or nullcontext()):
            trio.run(main)
    except* ConnectError as group:
        failure = str(innermost(group))
    except* OSError as group:  # the metrics port is taken, or not an address of this host
        click.echo(f"cms-sim: --metrics-port {metrics}: {innermost(group).strerror or innermost(group)}", err=True)
        sys.exit(EXIT_USAGE)
    if failure is not None:
        click.echo(f"cms-sim: {failure}", err=True)
    for line in run.worker_failures:
        click.echo(f"cms-sim: {line}", err=True)
    if run.started is None:
        sys.exit(EXIT_FAILED)
    summary = Summary(scenario.name, run.targets, run.target_cps, run.achieved_cps, run.duration,
                      run.partial or interrupted, run.statistics, commands, steps)
    problems = ([failure] if failure is not None else []) + run.worker_failures + verdicts(summary, max_failed, limits)
    _write_outputs(summary, problems, report_path, junit_path, plot_path)
    _final(console, summary, problems)
    if interrupted:
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(EXIT_FAILED if problems else EXIT_PASSED)


def _metrics_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise Usage(f"--metrics-port {text}: expected [HOST:]PORT with a port from 0 to 65535")
    return host.strip("[]") or "127.0.0.1", int(port)


def _prepare(scenario_file, cmts_list, rate, rate_start, ramp_step, ramp_interval, max_concurrent, calls, duration,
             subscriber_range, csv_path, var_pairs, workers, interval, seed, modem_timeout, outputs, max_failed,
             p99_limits, tls_files, integrity: IntegrityConfig | None = None):
    """Check every option and file; the run, the scenario, its program and the latency limits.

    ``tls_files``: ``--tls-cert``, ``--tls-key``, ``--tls-ca`` and ``--tls-require-client-cert``.
    ``integrity`` goes to every gate controller and to the embedded CMTS.
    """
    _positive("--rate", rate, allow_none=False)
    _positive("--rate-start", rate_start)
    if ramp_step is None or ramp_step < 0 or ramp_step != ramp_step:
        raise Usage(f"--ramp-step: expected 0 or more calls/s, got {ramp_step}")
    if rate_start is not None and rate_start > rate:
        raise Usage(f"--rate-start {rate_start:g} is above --rate {rate:g}; the ramp goes up to --rate")
    for name, value in (("--max-concurrent", max_concurrent), ("--calls", calls), ("--workers", workers)):
        if value is not None and value < 1:
            raise Usage(f"{name}: expected a whole number from 1, got {value}")
    if max_failed is not None and max_failed < 0:
        raise Usage(f"--max-failed: expected 0 or more, got {max_failed}")
    seconds = _duration(duration, "--duration")
    if seconds is None and calls is None:
        raise Usage("give --duration or --calls (or both): a load run needs an end")
    settings = LoadSettings(rate=rate, rate_start=rate_start, ramp_step=ramp_step,
                            ramp_interval=_duration(ramp_interval, "--ramp-interval"), max_concurrent=max_concurrent,
                            calls=calls, duration=seconds, interval=_duration(interval, "--interval"),
                            modem_timeout=_duration(modem_timeout, "--modem-timeout"), seed=seed)
    try:
        limits = [LatencyLimit.parse(text) for text in p99_limits]
    except ValueError as exc:
        raise Usage(f"--max-p99: {exc}") from None
    for option, path in zip(("--report", "--stats-csv", "--junit", "--plot"), outputs):
        if path:
            problem = check_writable(path)
            if problem:
                raise Usage(f"{option} {path}: {problem}")
    if outputs[3]:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise Usage("--plot needs matplotlib: pip install 'pktcable-sim[plot]'") from None
    targets = [parse_target(text) for text in cmts_list]
    cert, key, ca, require = tls_files
    tls_context, embedded_tls = tls_setup(cert, key, ca, require, embedded=not targets)
    one_security(integrity is not None, tls_context is not None)
    scenario = load_scenario(scenario_file)
    program = compile_program(scenario)
    variables = _variables(var_pairs)
    unknown = sorted(set(variables) - set(scenario.variables))
    if unknown:
        raise Usage(f"--var {', '.join(unknown)}: the scenario has no such variable; it has: "
                    f"{', '.join(scenario.variables) or 'none'}")
    subscribers = _subscribers(subscriber_range, csv_path, scenario, variables)
    if workers > 1:
        kind, value = subscribers
        count = len(Subscribers.from_csv(value) if kind == "csv" else Subscribers.from_range(value))
        if count < workers:
            raise Usage(f"{count} subscribers cannot be shared by {workers} workers")
    # The workers build the TLS context again from the files: an SSLContext does not cross a process.
    tls = dict(cert=cert, key=key, ca=ca, require_peer_cert=require) if tls_context is not None else None
    job = Job(scenario=scenario_file, variables=variables, settings=asdict(settings),
              targets=[asdict(target) for target in targets], subscribers=subscribers, tls=tls,
              integrity=integrity.model_dump() if integrity is not None else None)
    embedded = None
    if not targets:
        from .load.embedded import load_config
        from .scenario.embedded import embedded_config

        embedded = load_config(embedded_config(scenario), scenario.cmts.capacity is not None)
        embedded = embedded.model_copy(update={"tls": embedded_tls, "integrity": integrity})
    return LoadRun(job, settings, workers=workers, embedded=embedded), scenario, program, limits


def _write_outputs(summary: Summary, problems: list[str], report_path, junit_path, plot_path) -> None:
    """The files written at the end (the CSV was written as the run went)."""
    writers = ((report_path, lambda: json_report(summary, problems)),
               (junit_path, lambda: junit_xml(summary, problems)),
               (plot_path, lambda: plot_png(summary)))
    for path, render in writers:
        if path:
            try:
                write_atomically(path, render())
            except (OSError, RuntimeError) as exc:
                click.echo(f"cms-sim: cannot write {path}: {getattr(exc, 'strerror', None) or exc}", err=True)


def _final(console: Console, summary: Summary, problems: list[str]) -> None:
    from rich.table import Table

    tally = summary.statistics.tally
    table = Table(title=f"cms-sim load: {summary.scenario}", title_justify="left")
    for column in ("calls", "completed", "failed", "target/s", "achieved/s", "seconds"):
        table.add_column(column, justify="right")
    table.add_row(str(tally.attempted), str(tally.completed), str(tally.failed), f"{summary.target_cps:g}",
                  f"{summary.achieved_cps:.2f}", f"{summary.duration_s:.1f}")
    latency = Table(title="latency, ms (whole run)", title_justify="left")
    latency.add_column("gate command")
    for column in ("p50", "p90", "p99", "max"):
        latency.add_column(column, justify="right")
    for name, values in summary.statistics.latency(summary.commands).items():
        latency.add_row(name, *(f"{values[key]:g}" for key in ("p50", "p90", "p99", "max")))
    console.print(table)
    console.print(latency)
    for cause, count in tally.failed_by_cause.most_common(10):
        console.print(f"  [red]{count}[/] failed: {cause}")
    if summary.partial:
        console.print("[yellow]interrupted: the outputs are partial[/]")
    console.print("[green]passed[/]" if not problems else "[red]FAILED[/]: " + "; ".join(problems))
