"""``cms-sim decode --summary``: one line per message, like tshark without ``-V``.

A line is the capture frame (or, for hex and binary input, the message's
place in it), the time since the capture's first packet, who sent it to whom,
the op-code, then what a gate controller's log would name it by: the gate
command, its Gate-ID, Transaction-ID and PacketCable-Error.  The rules a
message breaks end its line; a message that could not be read says why.
"""

from __future__ import annotations

from cops_core.errors import DecodeError

from .dissect import MessageView
from .inputs import Origin

_PEER_WIDTH = 45  # "255.255.255.255:65535 → 255.255.255.255:65535"


def message_line(number: int, view: MessageView, origin: Origin | None) -> str:
    parts = [_where(number, origin), f"{view.opcode.name:<3}"]
    if view.gate_command is not None:  # gate command and Gate-ID in columns, so the TIDs line up
        parts.append(f"{view.gate_command:<15}")
        parts.append(f"gate 0x{view.gate_id:08x}" if view.gate_id is not None else " " * 15)
    if view.transaction_id is not None:
        parts.append(f"tid {view.transaction_id}")
    if view.pc_error is not None:
        parts.append(f"error {view.pc_error}")
    if view.error is not None:
        parts.append(f"✗ malformed PacketCable payload: {view.error.reason}")
    if view.findings:
        parts.append("⚠ " + ", ".join(finding.rule for finding in view.findings))
    return "  ".join(parts).rstrip()


def error_line(number: int, origin: Origin | None, error: DecodeError, *, stream: bool) -> str:
    what = "stream cannot be cut into messages" if stream else "malformed COPS message"
    return f"{_where(number, origin)}  ✗ {what}: {error.reason} (at offset {error.offset})"


def _where(number: int, origin: Origin | None) -> str:
    if origin is None:
        return f"{number:>5}"
    return f"{origin.frame:>5}  {origin.elapsed:11.6f}  {f'{origin.src} → {origin.dst}':<{_PEER_WIDTH}}"
