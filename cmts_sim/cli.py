"""``cmts-sim``: run the simulated CMTS as a target for a real CMS or policy server."""

from __future__ import annotations

import ipaddress
import logging
import signal
import sys
from typing import Any

import click
import pydantic
import trio
from rich.console import Console

from cops_core import __version__
from cops_core.addresses import parse_address
from cops_core.integrity import ALGORITHMS
from pktcable_settings import SettingsFileError, format_validation_error, read_yaml

from .config import CmtsConfig
from .gates import Timers
from .integrity_cli import ALGORITHM_HELP, REQUIRED_HELP, key_option

EXAMPLES = """
\b
Examples:
  cmts-sim serve                                   # 127.0.0.1:2126, modems automatic
  cmts-sim serve --listen 0.0.0.0:2126 --cmts-id LAB-CMTS-1
  cmts-sim serve --config lab.yaml --t1 30 --log-json cops.jsonl
  cmts-sim serve --connect 192.0.2.10:3288          # PEP dials the PDP (generic COPS)
  cmts-sim serve --fault-reject-share 0.1 --fault-reject-code 1
  cmts-sim serve --metrics-port 9126                # Prometheus: http://127.0.0.1:9126/metrics
  cmts-sim serve --tls-ca lab-ca.pem --tls-cert cmts.pem --tls-key cmts.key   # COPS over TLS (RFC 4261)
  cmts-sim serve --integrity-key @cops.keys --integrity-required   # signed COPS only (RFC 2748 Integrity)
"""

# flag name -> (dotted config path, click type, help)
FLAGS: dict[str, tuple[str, Any, str]] = {
    "cmts_id": ("cmts_id", str, "PEPID sent in Client-Open"),
    "ka_tolerance": ("ka_tolerance", float, "KA intervals of silence before the peer is dead (default 1)"),
    "metrics_port": ("metrics_port", int, "serve Prometheus metrics (GET /metrics) on this port"),
    "tls_cert": ("tls.cert", str, "COPS over TLS (RFC 4261): our PEM certificate, for a GC that checks CMTSes"),
    "tls_key": ("tls.key", str, "TLS: its PEM private key (default: in the certificate file)"),
    "tls_ca": ("tls.ca", str, "TLS: PEM CA a gate controller's certificate must chain to (turns TLS on)"),
    "t0": ("timers.t0", float, f"T0 seconds: Allocated without Gate-Set (default {Timers.t0:g})"),
    "t1": ("timers.t1", float, f"T1 seconds: Authorized without commit (default {Timers.t1:g})"),
    "t7": ("timers.t7", float, f"T7 seconds: Reserved without activation (default {Timers.t7:g})"),
    "t8": ("timers.t8", float, f"T8 seconds: Committed and idle; 0 = off (default {Timers.t8:g})"),
    "upstream_kbps": ("capacity.upstream_kbps", float, "upstream capacity, kbit/s"),
    "downstream_kbps": ("capacity.downstream_kbps", float, "downstream capacity, kbit/s"),
    "max_gates": ("capacity.max_gates", int, "most gates at once"),
    "rate_unit": ("capacity.rate_unit", click.Choice(["bytes", "bits"]), "unit of Gate-Spec rates"),
    "modem": ("modem.mode", click.Choice(["auto", "driven"]), "auto: modems reserve and commit by themselves"),
    "reserve_delay": ("modem.reserve_delay", float, "auto modem: seconds from Gate-Set to reservation"),
    "commit_delay": ("modem.commit_delay", float, "auto modem: seconds from reservation to commit"),
    "hold": ("modem.hold", float, "auto modem: seconds from commit to release (default: never)"),
    "fault_reply_delay": ("faults.reply_delay", float, "fault: seconds before each reply"),
    "fault_reject_share": ("faults.reject_gate_set.share", float, "fault: share of Gate-Sets rejected (0-1)"),
    "fault_reject_code": ("faults.reject_gate_set.code", int, "fault: PacketCable-Error code of those rejections"),
    "fault_drop_after": ("faults.drop_after_messages", int, "fault: close TCP after N received messages"),
    "fault_no_keepalives": ("faults.stop_keepalives", bool, "fault: send no keep-alives"),
    "fault_malformed_after": ("faults.malformed_after_messages", int, "fault: send a malformed message after N"),
    "integrity_algorithm": ("integrity.algorithm", click.Choice(list(ALGORITHMS)), ALGORITHM_HELP),
    "integrity_required": ("integrity.required", bool, REQUIRED_HELP),
}


@click.group(epilog=EXAMPLES)
@click.version_option(__version__, prog_name="cmts-sim")
def main() -> None:
    """A simulated PacketCable DQoS CMTS (COPS PEP, client-type 0x8008) for lab testing."""


def _set(tree: dict, dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for name in parents:
        if not isinstance(tree.get(name), dict):
            tree[name] = {}  # absent, or null in the file: the flag creates the section
        tree = tree[name]
    tree[leaf] = value


def build_config(config_path: str | None, listen: tuple[str, ...], connect: tuple[str, ...],
                 overrides: dict[str, Any], allow: tuple[str, ...] = (),
                 integrity_keys: tuple[str, ...] = ()) -> CmtsConfig:
    """The config file, with every flag given on the command line on top."""
    data: dict = {}
    root = None
    name = config_path or "command line"
    if config_path:
        data, root = read_yaml(config_path)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise SettingsFileError([f"{config_path}:1: (top level): expected a mapping of settings"])
    if listen:
        data["listen"] = list(listen)
    if connect:
        data["connect"] = list(connect)
        if not listen:
            data["listen"] = []
    if allow:
        data["allow"] = list(allow)
    if integrity_keys:
        _set(data, "integrity.keys", list(integrity_keys))
    for flag, value in overrides.items():
        if value is not None and value is not False:
            _set(data, FLAGS[flag][0], value)
    try:
        return CmtsConfig.model_validate(data)
    except pydantic.ValidationError as exc:
        # A value from a flag is the flag's fault, not the file's: name the flag.  Without a file, every setting
        # came from flags, so a missing one is named as the flag that gives it (--tls-ca).
        given = {FLAGS[flag][0]: flag for flag, value in overrides.items() if value is not None and value is not False}
        if not config_path:
            given = {path: flag for flag, (path, _, _) in FLAGS.items()} | given
        lines = []
        for error, line in zip(exc.errors(), format_validation_error(name, root, exc)):
            flag = given.get(".".join(str(part) for part in error["loc"]))
            if flag is not None:
                line = f"--{flag.replace('_', '-')}: {line.split(': ', 2)[-1]}"
            lines.append(line)
        raise SettingsFileError(lines) from None


def _addresses(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    """Each ``HOST:PORT`` well formed, or a usage error naming the option and the value."""
    for value in values:
        try:
            parse_address(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx, param) from None
    return values


def networks(values: tuple[str, ...], ctx: click.Context | None = None,
             param: click.Parameter | None = None) -> tuple[str, ...]:
    """``--allow`` values as networks (host bits may be set: 10.1.2.3/8 means 10.0.0.0/8), or a usage error."""
    found = []
    for value in values:
        try:
            found.append(str(ipaddress.ip_network(value, strict=False)))
        except ValueError:
            raise click.BadParameter(f"expected an address or a network such as 10.0.0.0/8, got {value!r}",
                                     ctx, param) from None
    return tuple(found)


def _flag_options(function):
    for flag, (_, kind, text) in reversed(FLAGS.items()):
        option = "--" + flag.replace("_", "-")
        if kind is bool:
            function = click.option(option, flag, is_flag=True, default=False, help=text)(function)
        else:
            function = click.option(option, flag, type=kind, default=None, help=text)(function)
    return function


@main.command(epilog=EXAMPLES)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML settings file")
@click.option("--listen", multiple=True, metavar="HOST:PORT", callback=_addresses,
              help="listen here (repeatable; default 127.0.0.1:2126)")
@click.option("--connect", multiple=True, metavar="HOST:PORT", callback=_addresses,
              help="dial a PDP instead (repeatable)")
@click.option("--allow", multiple=True, metavar="CIDR", callback=lambda ctx, param, values: networks(values, ctx, param),
              help="accept gate controllers only from here (repeatable; an address or a network)")
@click.option("--log-json", type=click.File("w", lazy=False),
              help="write one JSON line per COPS message and connection event here")
@click.option("--log-hex", is_flag=True, help="--log-json: add each message's bytes in hex")
@click.option("--quiet", is_flag=True, help="no live panel")
@click.option("-v", "--verbose", count=True, help="log connection events (-vv: debug)")
@key_option
@_flag_options
def serve(config_path, listen, connect, allow, log_json, log_hex, quiet, verbose, integrity_keys, **overrides) -> None:
    """Serve gate controllers until Ctrl-C (which sends Client-Close to each and exits 0)."""
    try:
        config = build_config(config_path, listen, connect, overrides, allow, integrity_keys)
    except SettingsFileError as exc:
        for line in exc.lines:
            click.echo(f"cmts-sim: {line}", err=True)
        sys.exit(2)
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
                        format="%(asctime)s %(name)s %(message)s")
    console = Console(stderr=True)
    try:
        trio.run(_serve, config, log_json, log_hex, verbose, not quiet and console.is_terminal, console)
    except* OSError as group:  # a busy port, an address not on this host, a name that does not resolve
        exc = group
        while isinstance(exc, BaseExceptionGroup):
            exc = exc.exceptions[0]
        click.echo(f"cmts-sim: cannot listen on {', '.join(config.listen)}: {exc.strerror or exc}", err=True)
        sys.exit(2)


async def _serve(config: CmtsConfig, log_json, log_hex: bool, verbose: int, panel: bool, console: Console) -> None:
    from .gcpolicy import tuned_gc
    from .live import run_panel
    from .metrics import cmts_registry, serve_metrics
    from .server import CmtsServer
    from .stats import JsonLog, Stats, log_message

    stats = Stats()
    journal = JsonLog(log_json, hex_bytes=log_hex) if log_json else None
    taps = ([journal.tap] if journal else []) + ([log_message] if verbose >= 2 else [])
    server = CmtsServer(config, taps=taps, counter=stats.count)
    if journal is not None:
        server.on_connection = journal.connection
    async with trio.open_nursery() as nursery:
        addresses = await nursery.start(server.serve)
        where = ", ".join(f"{host}:{port}" for host, port in addresses)
        console.print(f"cmts-sim {config.cmts_id}: listening on {where or '(nothing)'}"
                      + (f", dialling {', '.join(config.connect)}" if config.connect else "")
                      + "; Ctrl-C to stop", highlight=False)
        if config.metrics_port is not None:
            host = addresses[0][0] if addresses else "127.0.0.1"
            host, port = await nursery.start(serve_metrics, cmts_registry(server, stats), host, config.metrics_port)
            shown = f"[{host}]" if ":" in host else host
            console.print(f"cmts-sim: Prometheus metrics at http://{shown}:{port}/metrics", highlight=False)
        if panel:
            nursery.start_soon(run_panel, server, stats, console)
        # Started and listening: what exists now lives for the whole run, and 100k gates must not stall the loop.
        with tuned_gc(), trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                await server.shutdown()
                nursery.cancel_scope.cancel()
                break
    console.print(f"cmts-sim: stopped; {stats.received} messages in, {stats.sent} out", highlight=False)
