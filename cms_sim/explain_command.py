"""``cms-sim explain TOPIC``: a message, gate command, object, error, reason or timer in, a short explanation out.

Each answer names the section of docs/protocol.md it comes from, so a class
can read on.  The texts are the ones ``--explain`` puts under the ladder
(:mod:`cms_sim.report.explain`), so the two never disagree.
"""

from __future__ import annotations

import re
import sys

import click
from rich.console import Console

from cops_core.codes import OpCode, spoken
from cops_core.dqos import GateCommandType, PacketCableErrorCode

from .report.explain import CLOSES, ERRORS, GATE_COMMANDS, OPCODES

OPCODE_NAMES = {
    OpCode.REQ: "Request", OpCode.DEC: "Decision", OpCode.RPT: "Report State", OpCode.DRQ: "Delete Request State",
    OpCode.SSQ: "Synchronize State Request", OpCode.OPN: "Client-Open", OpCode.CAT: "Client-Accept",
    OpCode.CC: "Client-Close", OpCode.KA: "Keep-Alive", OpCode.SSC: "Synchronize Complete",
}

TIMERS = {
    "T0": ("Allocated without Gate-Set: starts at Gate-Alloc, stops at the Gate-Set; on expiry Gate-Close "
           "reason 4 and the Gate-ID is free (cmts-sim: --t0, 30 s)", "3.5"),
    "T1": ("Authorized without commit: starts at the Gate-Set, stops when the modem commits (Gate-Open); on expiry "
           "Gate-Close reason 5. A Gate-Spec's own T1 wins over the CMTS's (cmts-sim: --t1, 200 s)", "3.5"),
    "T7": ("Reserved without activation (DOCSIS admitted timeout): on expiry Gate-Close reason 6 "
           "(cmts-sim: --t7, 200 s)", "3.5"),
    "T8": ("Committed and idle (DOCSIS active timeout): no media for T8 closes the gate, reason 7; 0 = off "
           "(cmts-sim: --t8, 0)", "3.5"),
    "KA": ("The keep-alive timer the gate controller grants in Client-Accept: the CMTS sends a Keep-Alive at a "
           "random point in 1/4..3/4 of it; silence for a whole interval means the peer is dead", "1.3"),
}

OBJECTS = {
    "Transaction-ID": ("S-Num 1: the gate controller's TID (replies echo it) and the Gate Command Type", "3.3"),
    "Subscriber-ID": ("S-Num 2: the MTA's IPv4 or IPv6 address; the CMTS finds the subscriber's modem by it", "3.3"),
    "Gate-ID": ("S-Num 3: 32 bits the CMTS hands out in Gate-Alloc-Ack or Gate-Set-Ack; names the gate after", "3.3"),
    "Activity-Count": ("S-Num 4: in a command, the most gates the subscriber may hold; in a reply, how many it "
                       "holds now", "3.3"),
    "Gate-Spec": ("S-Num 5, 60 bytes: direction, classifier (protocol, addresses, ports), DSCP, timers T1/T7/T8 "
                  "and the token bucket (r, b, p, m, M, R, S) of one direction of the call", "3.3"),
    "PacketCable-Error": ("S-Num 9: the error code of a *-Err and its sub-code (for 6 and 7, the S-Num/S-Type of "
                          "the object at fault)", "3.6"),
    "PacketCable-Reason": ("S-Num 13: code 0 with a Gate-Delete, code 1 with a Gate-Close, and its sub-code (why)",
                           "3.3"),
    "Handle": ("C-Num 1: the configuration Request's handle; every DEC and RPT of gate control carries it", "2.4"),
}


def _key(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text).lower()


def lookup(words: tuple[str, ...]) -> tuple[str, str, str] | None:
    """(title, explanation, section) for a topic, or None."""
    text = " ".join(words).strip()
    number = re.fullmatch(r"(error|reason)\s+(\d+)", text, re.I)
    if number:
        kind, code = number.group(1).lower(), int(number.group(2))
        if kind == "error" and code in ERRORS:
            return f"PacketCable error {code}: {spoken(PacketCableErrorCode, code)}", ERRORS[code], "3.6"
        if kind == "reason" and code in CLOSES:
            return f"Gate-Close reason {code}", CLOSES[code], "3.3"
        return None
    key = _key(text)
    for command in GateCommandType:
        if key == _key(command.title):
            return command.title, GATE_COMMANDS[command], "3.2, 3.4"
    for opcode, name in OPCODE_NAMES.items():
        if key in (_key(name), _key(opcode.name)):
            return f"{name} ({opcode.name}, op-code {int(opcode)})", OPCODES[opcode], "2.2, 2.6"
    for name, (text, section) in TIMERS.items():
        if key == _key(name):
            return f"Timer {name}", text, section
    for name, (text, section) in OBJECTS.items():
        if key == _key(name):
            return name, text, section
    return None


def topics() -> list[str]:
    return ([command.title for command in GateCommandType] + [name for name in OPCODE_NAMES.values()]
            + ["error N"] + ["reason N"] + list(TIMERS) + list(OBJECTS))


@click.command()
@click.argument("words", metavar="TOPIC", nargs=-1, required=True)
def explain(words: tuple[str, ...]) -> None:
    """Explain a message, gate command, object, error, Gate-Close reason or timer.

    \b
    Examples:
      cms-sim explain Gate-Set
      cms-sim explain error 4
      cms-sim explain reason 5
      cms-sim explain T1
      cms-sim explain Gate-Spec
    """
    found = lookup(words)
    if found is None:
        click.echo(f"cms-sim: nothing on {' '.join(words)!r}; topics: {', '.join(topics())}", err=True)
        sys.exit(2)
    title, text, section = found
    console = Console(highlight=False)
    console.print(f"[bold]{title}[/]")
    console.print(text[0].upper() + text[1:])
    console.print(f"[dim]docs/protocol.md {section}[/]")
