"""``cms-sim decode``: read hex, binary COPS or a capture and show every message in it."""

from __future__ import annotations

import functools
import io
import json
import sys
from pathlib import Path
from typing import BinaryIO

import click
from rich.console import Console

from cops_core.errors import DecodeError

from . import filters, jsonview, summary, tree
from .dissect import MessageView, dissect
from .inputs import COPS_PORTS, MAX_STREAM_BYTES, InputError, Unit, read_units


@click.command()
@click.argument("words", metavar="[INPUT]...", nargs=-1)
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read this file (binary COPS, hex text, pcap or pcapng).")
@click.option("--port", "ports", type=click.IntRange(1, 65535), multiple=True, metavar="N",
              help="Also decode TCP port N in captures (repeatable); 2126, 3288 and 3918 always are.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per message, one per line.")
@click.option("--summary", is_flag=True,
              help="One line per message: frame, time, peer, op-code, gate command, Gate-ID, TID (like tshark "
                   "without -V).")
@click.option("--filter", "expressions", multiple=True, metavar="FIELD=VALUE",
              help="Keep only messages whose FIELD is VALUE (repeatable: all must hold). Fields: "
                   f"{', '.join(filters.FIELDS)}.")
@click.option("--strict", is_flag=True, help="Exit 1 if a message breaks a rule (a finding), not only if it "
                                             "cannot be read.")
@click.pass_context
def decode(ctx: click.Context, words: tuple[str, ...], path: Path | None, ports: tuple[int, ...], as_json: bool,
           summary: bool, expressions: tuple[str, ...], strict: bool):
    """Decode COPS / PacketCable DQoS messages, Wireshark style.

    INPUT is hex (spaces, colons, commas, newlines and 0x prefixes allowed; several
    messages may follow each other), a file (binary COPS, hex text, pcap or
    pcapng, told apart by content), or '-' / nothing to read standard input.
    Captures are reassembled per TCP direction.

    A message that can be read is shown in full; each rule it breaks (a
    missing or extra object, a wrong Report-Type, ...) is a warning line, a
    finding, as Wireshark's expert info.  Exit status 1 if a message cannot be
    read (framing, lengths, a broken object) or nothing was found, and with
    --strict if there is a finding; 2 if the input or a --filter cannot be read.

    \b
    Examples:
      cms-sim decode 10 09 00 00 00 00 00 08
      cms-sim decode 0x10,0x09,0x00,0x00,0x00,0x00,0x00,0x08
      cms-sim decode samples/dqos_call.pcap
      cms-sim decode --summary --filter gate_command=Gate-Set call.pcap
      cms-sim decode --strict --port 12126 lab.pcapng
      xxd -p dec.bin | cms-sim decode --json | jq .gate_command
    """
    if as_json and summary:
        raise click.UsageError("--json and --summary: choose one")
    conditions = _conditions(ctx, expressions)
    source = _source(words, path)
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 100_000  # pipes and files get one line per field, never wrapped
    show = _json if as_json else _summary if summary else functools.partial(_tree, console)
    found = kept = unreadable = findings = 0
    try:
        for number, unit in enumerate(read_units(source, COPS_PORTS | frozenset(ports)), 1):
            found += 1
            view, error = _decode(unit)
            if error is None and not filters.keeps(conditions, view, unit.origin):
                continue  # what cannot be read is always shown: it may hide what the filter looks for
            kept += 1
            unreadable += error is not None or view.error is not None
            findings += error is None and bool(view.findings)
            show(number, unit, view, error)
    except InputError as exc:  # input that cannot be read at all: a usage error, as the docstring says
        click.echo(f"Error: {exc}", err=True)
        ctx.exit(2)
    finally:
        source.close()
    _note(found, kept, ports, expressions)
    ctx.exit(1 if unreadable or not found or (strict and findings) else 0)


def _conditions(ctx: click.Context, expressions: tuple[str, ...]) -> list[filters.Condition]:
    """The --filter expressions, or exit 2 with one line on the first that is not FIELD=VALUE."""
    conditions = []
    for expression in expressions:
        try:
            conditions.append(filters.parse(expression))
        except filters.FilterError as exc:
            click.echo(f"Error: --filter {expression!r}: {exc}", err=True)
            ctx.exit(2)
    return conditions


def _tree(console: Console, number: int, unit: Unit, view: MessageView | None, error: DecodeError | None) -> None:
    if error is not None:
        tree.show_error(console, unit, error)
    else:
        tree.show_message(console, view, unit.origin)


def _json(number: int, unit: Unit, view: MessageView | None, error: DecodeError | None) -> None:
    record = jsonview.error_record(unit, error) if error else jsonview.message_record(view, unit.origin)
    click.echo(json.dumps(record))


def _summary(number: int, unit: Unit, view: MessageView | None, error: DecodeError | None) -> None:
    if error is not None:
        click.echo(summary.error_line(number, unit.origin, error, stream=unit.error is not None))
    else:
        click.echo(summary.message_line(number, view, unit.origin))


def _note(found: int, kept: int, ports: tuple[int, ...], expressions: tuple[str, ...]) -> None:
    """Say on standard error why nothing was shown: no COPS at all, or nothing the filter keeps."""
    if not found:
        ports_text = ", ".join(map(str, sorted(COPS_PORTS | set(ports))))
        click.echo(f"no COPS messages found (in captures, TCP ports {ports_text} are read)", err=True)
    elif not kept:
        click.echo(f"none of the {found} messages matches --filter {' '.join(expressions)}", err=True)


def _decode(unit: Unit) -> tuple[MessageView | None, DecodeError | None]:
    """The unit's view, or the error that stopped it (a stream error, or a malformed message)."""
    if unit.error is not None:
        return None, unit.error
    try:
        return dissect(unit.data), None
    except DecodeError as exc:
        return None, exc


def _source(words: tuple[str, ...], path: Path | None) -> BinaryIO:
    """A seekable binary stream of the input, wherever it comes from."""
    if path is not None:
        if words:
            raise click.UsageError("give INPUT or --file, not both")
        return path.open("rb")
    if not words or words == ("-",):
        stdin = sys.stdin.buffer
        if not words and stdin.isatty():
            raise click.UsageError("no INPUT: give hex, a file, or '-' to read standard input")
        return io.BytesIO(stdin.read(MAX_STREAM_BYTES + 1))  # read_units refuses more than that
    if len(words) == 1 and _is_file(words[0]):
        try:
            return open(words[0], "rb")
        except OSError as exc:
            raise click.ClickException(f"cannot read {words[0]}: {exc.strerror or exc}") from None
    return io.BytesIO(" ".join(words).encode())


def _is_file(word: str) -> bool:
    """A path to read (a file, or a device such as /dev/stdin), not hex."""
    try:
        return Path(word).exists() and not Path(word).is_dir()
    except OSError:  # a long hex string is no file name the OS accepts
        return False
