"""The ``cms-sim`` command line: a click group whose subcommands live in their own modules.

To add a subcommand, define its click command in its module and add one line
to :data:`SUBCOMMANDS`.  A module is imported only when its subcommand runs
(or ``--help`` lists it), so ``cms-sim decode`` does not pay for the others.
"""

from __future__ import annotations

import importlib

import click

from cops_core import __version__

SUBCOMMANDS = {
    "conform": "cms_sim.conform.command:conform",
    "decode": "cms_sim.decode.command:decode",
    "explain": "cms_sim.explain_command:explain",
    "lab": "cms_sim.lab.command:lab",
    "load": "cms_sim.load_command:load",
    "run": "cms_sim.run_command:run",
}
"""Subcommand name -> "module:attribute" of its click command."""


class _LazyGroup(click.Group):
    """A group that finds its subcommands in :data:`SUBCOMMANDS`."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *SUBCOMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in SUBCOMMANDS:
            module, attribute = SUBCOMMANDS[name].split(":")
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cms-sim")
def main() -> None:
    """PacketCable DQoS Gate Controller (CMS) emulator and COPS tools.

    \b
    Examples:
      cms-sim run scenarios/basic_call.yaml      run a call flow against the embedded CMTS
      cms-sim run --cmts 192.0.2.1 --junit results.xml scenarios/basic_call.yaml
      cms-sim load scenarios/basic_call.yaml --rate 200 --duration 20   calls at a rate, live statistics
      cms-sim conform --cmts 192.0.2.1 --html cmts.html   the conformance suite for a CMTS
      cms-sim explain Gate-Set                   what a message, error, reason or timer means
      cms-sim lab list                           graded exercises for a class (start N, check N)
      cms-sim decode 10 09 00 00 00 00 00 08     decode a hex message
      cms-sim decode samples/dqos_call.pcap      decode every COPS message in a capture
      cms-sim decode --json call.pcapng          the same, one JSON object per line
      cms-sim decode --help                      all decode options
    """
