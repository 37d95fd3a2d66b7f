"""``cms-sim decode``: read hex, binary COPS or a capture and show every message in it."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import BinaryIO

import click
from rich.console import Console

from cops_core.errors import DecodeError

from . import jsonview, tree
from .dissect import MessageView, dissect
from .inputs import COPS_PORTS, MAX_STREAM_BYTES, InputError, Unit, read_units


@click.command()
@click.argument("words", metavar="[INPUT]...", nargs=-1)
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read this file (binary COPS, hex text, pcap or pcapng).")
@click.option("--port", "ports", type=click.IntRange(1, 65535), multiple=True, metavar="N",
              help="Also decode TCP port N in captures (repeatable); 2126, 3288 and 3918 always are.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per message, one per line.")
@click.pass_context
def decode(ctx: click.Context, words: tuple[str, ...], path: Path | None, ports: tuple[int, ...], as_json: bool):
    """Decode COPS / PacketCable DQoS messages, Wireshark style.

    INPUT is hex (spaces, colons, commas, newlines and 0x prefixes allowed; several
    messages may follow each other), a file (binary COPS, hex text, pcap or
    pcapng, told apart by content), or '-' / nothing to read standard input.
    Captures are reassembled per TCP direction.  Exit status 1 if any message
    is malformed or nothing was found, 2 if the input cannot be read at all.

    \b
    Examples:
      cms-sim decode 10 09 00 00 00 00 00 08
      cms-sim decode 0x10,0x09,0x00,0x00,0x00,0x00,0x00,0x08
      cms-sim decode samples/dqos_call.pcap
      cms-sim decode --port 12126 lab.pcapng
      xxd -p dec.bin | cms-sim decode --json | jq .gate_command
    """
    source = _source(words, path)
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 100_000  # pipes and files get one line per field, never wrapped
    found = failed = False
    try:
        for unit in read_units(source, COPS_PORTS | frozenset(ports)):
            found = True
            view, error = _decode(unit)
            failed = failed or error is not None or view.error is not None
            if as_json:
                record = jsonview.error_record(unit, error) if error else jsonview.message_record(view, unit.origin)
                click.echo(json.dumps(record))
            elif error:
                tree.show_error(console, unit, error)
            else:
                tree.show_message(console, view, unit.origin)
    except InputError as exc:  # input that cannot be read at all: a usage error, as the docstring says
        click.echo(f"Error: {exc}", err=True)
        ctx.exit(2)
    finally:
        source.close()
    if not found:
        ports_text = ", ".join(map(str, sorted(COPS_PORTS | set(ports))))
        click.echo(f"no COPS messages found (in captures, TCP ports {ports_text} are read)", err=True)
    ctx.exit(1 if failed or not found else 0)


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
