"""Show decoded messages to people: one rich tree per message, like Wireshark's detail pane.

The tree opens with the common header, field by field, then each object;
the rules the message breaks follow as one warning line each, as Wireshark's
expert info does.  Every label is a :class:`rich.text.Text`, never markup, so
brackets in the data cannot be taken for style tags; colour only appears on a
terminal.
"""

from __future__ import annotations

from typing import NamedTuple

from rich.console import Console
from rich.text import Text
from rich.tree import Tree

from cops_core.codes import HEADER_SIZE, ErrorCode
from cops_core.dqos.codes import PacketCableErrorCode
from cops_core.errors import DecodeError, PacketCableDecodeError

from .dissect import Field, MessageView, ObjectView, code_name
from .inputs import Origin, Unit


def show_message(console: Console, view: MessageView, origin: Origin | None) -> None:
    _show_origin(console, origin)
    console.print(message_tree(view))
    console.print()


def show_error(console: Console, unit: Unit, error: DecodeError) -> None:
    """A frame that did not decode, or (``unit.error``) a stream that could not be framed."""
    _show_origin(console, unit.origin)
    if unit.error is not None:
        what, where = "Stream cannot be cut into messages", "stream offset"
    else:
        what, where = f"Malformed COPS message, {len(unit.data)} bytes", "offset"
    root = Tree(Text(f"✗ {what}: {error.reason} (at {where} {error.offset})", style="bold red"))
    root.add(Text(f"COPS error to answer with: {_cops_error(error)}"))
    if unit.data:
        root.add(Text(f"Bytes: {unit.data.hex(' ')}"))
    console.print(root)
    console.print()


class Node(NamedTuple):
    """One line of a message's tree and the bytes it stands for, so a view can point at them (the HTML ladder)."""

    label: Text
    offset: int  # from the start of the message
    size: int
    children: tuple["Node", ...] = ()


def message_tree(view: MessageView) -> Tree:
    """The message as a rich tree: the header line, the common header, each object, each field, each finding."""
    return _tree(message_node(view))


def message_node(view: MessageView) -> Node:
    """The lines of :func:`message_tree` with their bytes: the whole message, the common header, each object, each
    field (a finding's line, which stands for no bytes of its own, has size 0)."""
    header = f"COPS {view.title}"
    if view.gate_command:
        header += f" — {view.gate_command}"
    header += (f", {view.length} bytes, client-type {view.client_type_name} (0x{view.client_type:04x}),"
               f" solicited {'yes' if view.solicited else 'no'}")
    common = Node(Text.assemble(("Common header", "bold cyan"), f", {HEADER_SIZE} bytes"), 0, HEADER_SIZE,
                  _field_nodes(view.header))
    children = [common, *(_object_node(obj, view.gate_command) for obj in view.objects)]
    if view.error is not None:
        children.append(Node(Text(f"✗ Malformed PacketCable payload: {view.error.reason} (at offset "
                                  f"{view.error.offset}); PacketCable-Error to answer with: {_pc_error(view.error)}",
                                  style="bold red"), view.error.offset, 0))
    children += [Node(Text(f"⚠ {finding}", style="yellow"), 0, 0) for finding in view.findings]
    return Node(Text(header, style="bold"), 0, view.length, tuple(children))


def _object_node(obj: ObjectView, gate_command: str | None) -> Node:
    numbering = "C-Num/C-Type" if obj.layer == "C" else "S-Num/S-Type"
    label = Text.assemble((obj.name, "bold cyan"), f" ({numbering} {obj.num}/{obj.type}), {obj.length} bytes")
    if obj.children is not None and gate_command:
        label.append(f" — {gate_command}", style="bold")
    children = [_object_node(child, None) for child in obj.children or ()]
    return Node(label, obj.offset, obj.length, (*_field_nodes(obj.fields), *children))


def _field_nodes(fields: tuple[Field, ...]) -> tuple[Node, ...]:
    return tuple(Node(Text.assemble((f"{field.label}: ", "dim"), field.text), field.offset, field.size)
                 for field in fields)


def _tree(node: Node, parent: Tree | None = None) -> Tree:
    tree = Tree(node.label) if parent is None else parent.add(node.label)
    for child in node.children:
        _tree(child, tree)
    return tree


def _show_origin(console: Console, origin: Origin | None) -> None:
    if origin is not None:
        console.print(Text(f"Frame {origin.frame}, {origin.elapsed:.6f} s, {origin.src} -> {origin.dst}",
                           style="bold magenta"))


def _cops_error(error: DecodeError) -> str:
    return f"{code_name(ErrorCode(error.error_code))} ({int(error.error_code)}), sub-code 0x{error.error_subcode:04x}"


def _pc_error(error: PacketCableDecodeError) -> str:
    try:
        name = code_name(PacketCableErrorCode(error.pc_code))
    except ValueError:
        name = "unknown"
    return f"{name} ({error.pc_code}), sub-code 0x{error.pc_subcode:04x}"
