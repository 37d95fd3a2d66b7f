"""Ladder diagrams: one row per message between the CMS, the CMTS and the modem.

Rows come from the trace (one :class:`~cops_core.trace.TraceRecord` per
COPS message) and from modem actions.  :mod:`cms_sim.report.ladder_model`
orders them into a scenario's ladder with the steps' verdicts; this module
draws a row on the terminal, :mod:`cms_sim.report.ladder_svg` and
:mod:`cms_sim.report.ladder_html` draw the same rows in the files.
"""

from __future__ import annotations

import textwrap
from typing import NamedTuple

from rich.text import Text

from cops_core.codes import ClientType, ErrorCode, OpCode, ReasonCode, spoken
from cops_core.dqos import (
    GateCloseSubcode,
    GateCommandType,
    GateDeleteSubcode,
    PacketCableErrorCode,
    PacketCableReasonCode,
)
from cops_core.messages import Malformed
from cops_core.tls import starts_tls
from cops_core.trace import TraceRecord

from .explain import MODEM_ACTIONS, Explainer, explain

CMS, CMTS, MODEM = 0, 1, 2
COLUMN_NAMES = ("CMS", "CMTS", "Modem")
LANE = 46  # characters between two columns
COMPACT_LANE = 24  # narrow terminals: arrows carry the label; details and verdicts go on lines below


def lane_for(width: int) -> int:
    """The lane that lets a ladder and its verdicts fit a terminal ``width`` columns wide."""
    return LANE if width >= 100 + 2 * (LANE - COMPACT_LANE) else COMPACT_LANE


class Row(NamedTuple):
    """One arrow in the ladder."""

    time: float  # seconds since the start of the run
    source: int
    target: int
    label: str  # "DEC Gate-Set", "reserve"
    detail: str  # "gate 0x1a2b3c4d tid 7"
    note: str = ""  # the explanation, for --explain
    error: bool = False  # an -Err, a Client-Close, a DRQ: drawn in red
    gate_id: int | None = None  # the gate it names, if it names one
    transaction_id: int | None = None  # a gate command's TID: matches a request with its reply
    data: bytes = b""  # the message as sent: what the HTML ladder decodes (a modem action has none)


def row_from_trace(record: TraceRecord, start: float, *, we_are: int = CMS, explainer: Explainer | None = None) -> Row:
    """A trace record as a ladder row; ``we_are`` says which column recorded it.

    With an ``explainer`` (following the whole run) the row's note says what the message does here.
    """
    message = record.message
    other = CMTS if we_are == CMS else CMS
    source, target = (we_are, other) if record.outgoing else (other, we_are)
    if type(message) is Malformed:
        return Row(record.time - start, source, target, message.title, message.error, "", True, data=record.data)
    opcode = message.OPCODE
    label = opcode.name
    details = []
    command = gate_id = transaction_id = None
    if opcode in (OpCode.DEC, OpCode.RPT):
        command = record.command
        if record.command_error is not None:
            details.append("malformed DQoS payload")
    error = opcode in (OpCode.CC, OpCode.DRQ)
    if command is not None:
        label = f"{opcode.name} {GateCommandType(command.COMMAND).title}"
        gate_id = getattr(command, "gate_id", None)
        if gate_id is not None:
            details.append(f"gate 0x{gate_id:08x}")
        if command.transaction_id or command.SOLICITED or command.REPORT_TYPE is None:
            details.append(f"tid {command.transaction_id}")  # events carry TID 0: no news
            transaction_id = command.transaction_id
        if getattr(command, "error", None) is not None:
            details.append(packetcable_error(command.error.code, command.error.subcode))
            error = True
        if getattr(command, "reason", None) is not None:
            details.append(packetcable_reason(command.reason.code, command.reason.subcode))
    elif opcode is OpCode.CC:
        details.append(f"error {message.error.code} {spoken(ErrorCode, message.error.code)}")
    elif opcode is OpCode.DRQ:
        details.append(f"reason {message.reason.code} {spoken(ReasonCode, message.reason.code)}")
    elif opcode is OpCode.CAT:
        details.append(f"KA {message.ka_seconds} s")
    elif opcode is OpCode.OPN:
        details.append(message.pep_id)
    if opcode in (OpCode.OPN, OpCode.CAT) and starts_tls(message):
        details.insert(0, "StartTLS")  # RFC 4261: TLS follows, and then the real OPN and CAT
    elif opcode in (OpCode.OPN, OpCode.CAT) and message.client_type == ClientType.CONNECTION:
        details.append("(integrity, client-type 0)")  # the security exchange of RFC 2748 4.1
    note = explainer.note(record) if explainer is not None else explain(opcode, command.COMMAND if command else None)
    return Row(record.time - start, source, target, label, " ".join(details), note, error, gate_id, transaction_id,
               record.data)


CLOSE_REASONS = {
    GateCloseSubcode.CLIENT_INITIATED_RELEASE: "released by the modem",
    GateCloseSubcode.RESERVATION_REASSIGNMENT: "reservation reassigned",
    GateCloseSubcode.LACK_OF_RESERVATION_MAINTENANCE: "reservation not maintained",
    GateCloseSubcode.LACK_OF_DOCSIS_MAC_LAYER_RESPONSES: "no DOCSIS MAC-layer responses",
    GateCloseSubcode.TIMER_T0_EXPIRATION: "T0 expired",
    GateCloseSubcode.TIMER_T1_EXPIRATION: "T1 expired",
    GateCloseSubcode.TIMER_T7_EXPIRATION: "T7 expired",
    GateCloseSubcode.TIMER_T8_EXPIRATION: "T8 expired",
    GateCloseSubcode.UNSPECIFIED: "unspecified",
}
"""What each Gate-Close reason means, as a class is told it."""


def packetcable_error(code: int, subcode: int) -> str:
    """ "error 4 subscriber exceeded gate limit", with the sub-code when it says something."""
    text = f"error {code} {spoken(PacketCableErrorCode, code)}"
    return text + (f" (sub-code 0x{subcode:04x})" if subcode else "")


def packetcable_reason(code: int, subcode: int) -> str:
    """ "T0 expired (reason 1, sub-code 4)": a Gate-Close's or Gate-Delete's reason, named."""
    if code == PacketCableReasonCode.GATE_CLOSE:
        what = CLOSE_REASONS.get(subcode, "(not a defined reason)")
    else:
        what = spoken(GateDeleteSubcode, subcode) if code == PacketCableReasonCode.GATE_DELETE else "reason"
    return f"{what} (reason {code}, sub-code {subcode})"


def modem_row(time: float, action: str, gate_id: int, start: float) -> Row:
    """A modem action (reserve, commit, release) as a row from the modem to the CMTS."""
    return Row(time - start, MODEM, CMTS, action, f"gate 0x{gate_id:08x}", MODEM_ACTIONS.get(action, ""),
               gate_id=gate_id)


def header(lane: int = LANE) -> Text:
    text = Text(" " * 10)
    for index, name in enumerate(COLUMN_NAMES):
        text.append(name.ljust(lane + 1) if index < len(COLUMN_NAMES) - 1 else name, style="bold")
    return text


def render(row: Row, *, verdict: str = "", explain_rows: bool = False, lane: int = LANE) -> Text:
    """One row: time, the lanes with the arrow between its columns, and the verdict.

    Nothing is cut: a detail too long for the arrow goes on a line of its own below it.
    """
    left, right = sorted((row.source, row.target))
    width = (right - left) * (lane + 1) - 1
    label = f" {row.label} {row.detail} ".rstrip() + " "
    overflow = ""
    if len(label) > width - 3:
        label, overflow = f" {row.label} ", row.detail
    body = label.center(width - 2, "─")
    arrow = ("─" + body + "▶") if row.source < row.target else ("◀" + body + "─")
    text = Text(f"{row.time:8.3f}s ", style="dim")
    for column in range(len(COLUMN_NAMES)):
        if column == left:
            text.append("│")
            text.append(arrow, style="red" if row.error else ("cyan" if row.source == MODEM or row.target == MODEM
                                                              else "green"))
        elif left < column <= right:
            if column == right:
                text.append("│")
                if column < len(COLUMN_NAMES) - 1:
                    text.append(" " * lane)
        else:
            text.append("│")
            if column < len(COLUMN_NAMES) - 1:
                text.append(" " * lane)
    verdict_style = "bold red" if "FAIL" in verdict else "bold green"
    if verdict and lane == LANE:
        text.append("  ")
        text.append(verdict, style=verdict_style)
    if overflow:  # wrapped at words to the ladder's own width: a narrow terminal never wraps it mid-word
        for part in textwrap.wrap(overflow, 2 * (lane + 1) + 16, break_on_hyphens=False):
            text.append("\n" + " " * 10 + "│ " + part, style="red" if row.error else "")
    if verdict and lane != LANE:  # compact: no room after the columns, so the verdict gets a line of its own
        text.append("\n" + " " * 10 + "│ ")
        text.append(verdict, style=verdict_style)
    if explain_rows and row.note:
        for part in textwrap.wrap(row.note, 2 * (lane + 1) + 18, break_on_hyphens=False):
            text.append("\n" + " " * 10 + part, style="italic dim")
    return text
