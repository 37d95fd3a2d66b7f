"""Show decoded messages to people: one rich tree per message, like Wireshark's detail pane.

The tree opens with the common header, field by field, then each object;
the rules the message breaks follow as one warning line each, as Wireshark's
expert info does.  Every label is a :class:`rich.text.Text`, never markup, so
brackets in the data cannot be taken for style tags; colour only appears on a
terminal.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text
from rich.tree import Tree

from cops_core.codes import HEADER_SIZE, ErrorCode
from cops_core.dqos.codes import PacketCableErrorCode
from cops_core.errors import DecodeError, PacketCableDecodeError

from .dissect import MessageView, ObjectView, code_name
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


def message_tree(view: MessageView) -> Tree:
    header = f"COPS {view.title}"
    if view.gate_command:
        header += f" — {view.gate_command}"
    header += (f", {view.length} bytes, client-type {view.client_type_name} (0x{view.client_type:04x}),"
               f" solicited {'yes' if view.solicited else 'no'}")
    root = Tree(Text(header, style="bold"))
    common = root.add(Text.assemble(("Common header", "bold cyan"), f", {HEADER_SIZE} bytes"))
    _add_fields(common, view.header)
    for obj in view.objects:
        _add_object(root, obj, view.gate_command)
    if view.error is not None:
        root.add(Text(f"✗ Malformed PacketCable payload: {view.error.reason} (at offset {view.error.offset});"
                      f" PacketCable-Error to answer with: {_pc_error(view.error)}", style="bold red"))
    for finding in view.findings:
        root.add(Text(f"⚠ {finding}", style="yellow"))
    return root


def _add_object(parent: Tree, obj: ObjectView, gate_command: str | None) -> None:
    numbering = "C-Num/C-Type" if obj.layer == "C" else "S-Num/S-Type"
    label = Text.assemble((obj.name, "bold cyan"), f" ({numbering} {obj.num}/{obj.type}), {obj.length} bytes")
    if obj.children is not None and gate_command:
        label.append(f" — {gate_command}", style="bold")
    node = parent.add(label)
    _add_fields(node, obj.fields)
    for child in obj.children or ():
        _add_object(node, child, None)


def _add_fields(node: Tree, fields) -> None:
    for field in fields:
        node.add(Text.assemble((f"{field.label}: ", "dim"), field.text))


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
