"""``cms-sim lab list | start N | check N [FILE]``: the labs for a class, from the command line.

Exit codes: 0 done (for ``check``: the answer is right), 1 the answer is
wrong (with a hint), 2 usage: no such lab, no such file, a folder that
``start`` would overwrite, or a broken lab (one line per problem).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click
import trio
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pktcable_settings import SettingsFileError, read_text

from .catalog import STUDENT_FILES, Lab, LabError, all_labs, find, labs_folder

EXIT_RIGHT, EXIT_WRONG, EXIT_USAGE = 0, 1, 2


def working_folder(lab: Lab) -> Path:
    """Where ``start`` copies a lab, and where ``check`` looks for the answer by default."""
    return Path(f"lab{lab.number}")


@click.group()
def lab() -> None:
    """Graded PacketCable exercises: list them, start one, check your answer.

    \b
    Examples:
      cms-sim lab list              the labs, what each teaches
      cms-sim lab start 1           copy lab 1 into ./lab1 (task.md, scenario.yaml)
      cms-sim lab check 1           is ./lab1/scenario.yaml right? if not, a hint
      cms-sim lab check 1 my.yaml   check another file
    """


@lab.command("list")
def list_labs() -> None:
    """The labs: number, title, what each teaches, about how long it takes."""
    labs = _labs(all_labs)
    table = Table(title="PacketCable labs", title_justify="left",
                  caption=f"Reference answers and instructor notes: {labs_folder()}", caption_justify="left")
    for column, justify in (("#", "right"), ("lab", "left"), ("teaches", "left"), ("min", "right")):
        table.add_column(column, justify=justify)
    for each in labs:
        table.add_row(str(each.number), Text(each.title, style="bold"), each.settings.teaches,
                      str(each.settings.minutes))
    console = Console(highlight=False)
    console.print(table)
    console.print("Start one with [bold]cms-sim lab start N[/]; check your answer with [bold]cms-sim lab check N[/].")


@lab.command()
@click.argument("number", type=int)
def start(number: int) -> None:
    """Copy lab NUMBER's task and scenario into ./labN (never over your work)."""
    chosen = _labs(find, number)
    target = working_folder(chosen)
    taken = [target / name for name in STUDENT_FILES if (target / name).exists()]
    if taken:
        _usage(f"{taken[0]} exists: not overwriting your work (check it with cms-sim lab check {number}, or "
               f"move it away to start again)")
    target.mkdir(exist_ok=True)
    for name in STUDENT_FILES:
        shutil.copyfile(chosen.folder / name, target / name)
    console = Console(highlight=False)
    console.print(f"[bold]Lab {number}: {chosen.title}[/]")
    console.print(f"Read {target / 'task.md'}, fill the blanks (___) in {target / 'scenario.yaml'}, then: "
                  f"[bold]cms-sim lab check {number}[/]")


@lab.command()
@click.argument("number", type=int)
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def check(number: int, file: Path | None) -> None:
    """Run your answer to lab NUMBER (default ./labN/scenario.yaml) and say if it is right; if not, a hint."""
    from .grading import grade  # the CMTS and the runner: only when there is something to run

    chosen = _labs(find, number)
    path = file or working_folder(chosen) / "scenario.yaml"
    if not path.exists():
        _usage(f"{path}: no such file" + ("" if file else f"; cms-sim lab start {number} makes it"))
    try:
        text = read_text(path)
    except SettingsFileError as exc:
        _usage(exc.lines[0])
    result = trio.run(grade, chosen, path, text)
    console = Console(highlight=False)
    if result.right:
        console.print(Text.assemble(("✓ Right. ", "bold green"), result.lines[0]))
        sys.exit(EXIT_RIGHT)
    console.print(Text("✗ Not yet.", style="bold red"))
    for line in result.lines:
        click.echo(line)  # one line each, never wrapped: FILE:LINE stays whole
    if result.hint:
        console.print(Text.assemble(("Hint: ", "bold yellow"), result.hint))
    sys.exit(EXIT_WRONG)


def _labs(load, *args):
    """``load(*args)``, or the broken lab's lines and exit 2."""
    try:
        return load(*args)
    except LabError as exc:
        for line in exc.lines:
            click.echo(f"cms-sim: {line}", err=True)
        sys.exit(EXIT_USAGE)


def _usage(message: str) -> None:
    click.echo(f"cms-sim: {message}", err=True)
    sys.exit(EXIT_USAGE)
