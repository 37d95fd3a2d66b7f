"""What a step-through pause shows: the ladder so far, then the next message as a tree, each field explained.

Every field of the tree gets two lines under it: what the field is
(:mod:`.fields`) and why it has this value here (:mod:`.preview`).
"""

from __future__ import annotations

from rich.console import Console, Group
from rich.padding import Padding
from rich.rule import Rule
from rich.text import Text
from rich.tree import Tree

from cops_core.codes import HEADER_SIZE

from ..decode.dissect import MessageView, ObjectView, dissect
from ..scenario.result import StepResult
from .fields import ALWAYS, HEADER, short_name, what as field_what
from .preview import Preview, Why

KEYS = Text.assemble(("Enter", "bold reverse"), " go on   ", ("c", "bold reverse"), " continue without pausing   ",
                     ("q", "bold reverse"), " quit cleanly")
WHILE_YOU_READ = ("While you read, the CMTS's timers keep running and keep-alives are answered for you: a pause "
                  "longer than a timer (T0, T1) lets it expire, as a slow gate controller would.")


def pause_screen(ladder: list[Text], scenario: str, step: StepResult, preview: Preview) -> Group:
    """The whole pause: the ladder lines of this scenario so far, what comes next, the keys."""
    line = f", line {step.line}" if step.line else ""
    parts: list = list(ladder)
    parts.append(Rule(Text(f" next: step {step.id} of {scenario}: {step.title}{line} ", style="bold")))
    parts.append(Text.assemble(("▶ " + preview.action[0].upper() + preview.action[1:], "bold"), "  ",
                               (preview.summary, "italic")))
    if preview.frame is not None:
        parts.append(message_tree(dissect(preview.frame), preview.why))
    for note in preview.notes:
        parts.append(Text("• " + note, style="yellow"))
    parts.append(Text(WHILE_YOU_READ, style="dim"))
    parts.append(KEYS)
    return Group(*parts)


def message_tree(view: MessageView, why: Why) -> Tree:
    """The decoded message (as ``cms-sim decode`` shows it), each field with what it is and why it is so here."""
    header = f"COPS {view.title}" + (f" — {view.gate_command}" if view.gate_command else "")
    root = Tree(Text(f"{header}, {view.length} bytes, client-type {view.client_type_name} "
                     f"(0x{view.client_type:04x})", style="bold"))
    common = root.add(Text.assemble((HEADER, "bold cyan"), f", {HEADER_SIZE} bytes"))
    _add_fields(common, HEADER, HEADER, view.header, why)
    for obj in view.objects:
        _add_object(root, obj, why)
    return root


def _add_object(parent: Tree, obj: ObjectView, why: Why) -> None:
    numbering = "C-Num/C-Type" if obj.layer == "C" else "S-Num/S-Type"
    node = parent.add(Text.assemble((obj.name, "bold cyan"), f" ({numbering} {obj.num}/{obj.type}), "
                                                             f"{obj.length} bytes"))
    name = short_name(obj.name)
    key = name
    if name == "Gate-Spec":  # two of them: the reasons differ by direction
        key = f"Gate-Spec/{next(field.value for field in obj.fields if field.key == 'direction')}"
    _add_fields(node, name, key, obj.fields, why)
    for child in obj.children or ():
        _add_object(node, child, why)


def _add_fields(node: Tree, name: str, key: str, fields, why: Why) -> None:
    """Each field under ``node``: its value, what it is, why it is so here (``key``: the object, as ``why`` has it)."""
    for field in fields:
        lines = [Text.assemble((f"{field.label}: ", "dim"), (field.text, "bold"))]
        what = field_what(name, field.key)
        reason = why.get((key, field.key)) or ALWAYS.get((name, field.key))
        # Padded, so that a line that wraps keeps its indent under the field.
        if what:
            lines.append(Padding(Text(f"what: {what}", style="dim"), (0, 0, 0, 2), expand=False))
        if reason:
            lines.append(Padding(Text(f"here: {reason}", style="green"), (0, 0, 0, 2), expand=False))
        node.add(Group(*lines))


def show(console: Console, screen: Group) -> None:
    """A pause replaces the screen on a terminal (it shows the whole ladder again); elsewhere it follows on."""
    if console.is_terminal:
        console.clear()
    console.print(screen)
