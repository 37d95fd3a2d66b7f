"""One-line explanations of what each message does in PacketCable, for ``--explain`` (teaching).

:func:`explain` says what a kind of message does; an :class:`Explainer`
follows a run's messages and says what *this* one does here: a Gate-Set that
authorizes a new gate is not the Gate-Set that modifies a committed one, the
first audit is not the tenth, and an error or a Gate-Close reason is named
with what it means and what the gate controller does next.
"""

from __future__ import annotations

from cops_core.codes import ClientType, OpCode, spoken
from cops_core.dqos import (
    GateAlloc,
    GateAllocAck,
    GateClose,
    GateCommandType,
    GateDelete,
    GateInfo,
    GateOpen,
    GateSet,
    GateSetAck,
    PacketCableErrorCode,
    PacketCableReasonCode,
)
from cops_core.trace import TraceRecord

OPCODES = {
    OpCode.OPN: "The CMTS (PEP) opens COPS for client-type 0x8008 and names itself (PEPID).",
    OpCode.CAT: "The gate controller (PDP) accepts and sets the keep-alive interval.",
    OpCode.REQ: "The CMTS installs its one request state; every gate command reuses this handle.",
    OpCode.KA: "Keep-alive: the CMTS sends one at a random point in 1/4..3/4 of the interval; the GC echoes it.",
    OpCode.CC: "Client-Close: this side ends COPS for the client-type; the Error says why.",
    OpCode.DRQ: "The CMTS deletes its request state (all gate control on this connection) and says why.",
    OpCode.SSQ: "The gate controller asks the CMTS to resend its request state.",
    OpCode.SSC: "The CMTS has resent its request state.",
    OpCode.DEC: "A decision from the gate controller.",
    OpCode.RPT: "A report from the CMTS.",
}

SECURITY = {  # the client-type 0 exchange that negotiates integrity before the DQoS Client-Open (RFC 2748 4.1)
    OpCode.OPN: "The CMTS asks for signed COPS (client-type 0): its digest proves the key, its sequence number "
                "is where the gate controller's messages count from.",
    OpCode.CAT: "The gate controller checked the digest and agrees; from now on every message each way is signed "
                "and numbered, and a bad one closes the connection.",
}

GATE_COMMANDS = {
    GateCommandType.GATE_ALLOC: "Reserve a Gate-ID for the subscriber before the call is set up (starts T0).",
    GateCommandType.GATE_ALLOC_ACK: "The CMTS hands out the Gate-ID; Activity-Count = gates the subscriber holds.",
    GateCommandType.GATE_ALLOC_ERR: "The CMTS refuses to allocate a gate; PacketCable-Error says why.",
    GateCommandType.GATE_SET: "Authorize the call's QoS envelope (Gate-Specs); the modem may now reserve (starts T1).",
    GateCommandType.GATE_SET_ACK: "The gate is authorized; the gate controller learns or confirms its Gate-ID.",
    GateCommandType.GATE_SET_ERR: "The CMTS refuses the authorization; PacketCable-Error says why.",
    GateCommandType.GATE_INFO: "Audit: ask the CMTS for a gate's current state.",
    GateCommandType.GATE_INFO_ACK: "The gate's state: subscriber, Gate-Specs and the rest it holds.",
    GateCommandType.GATE_INFO_ERR: "The CMTS cannot report on that gate.",
    GateCommandType.GATE_DELETE: "Remove the gate; its resources are freed.",
    GateCommandType.GATE_DELETE_ACK: "The gate is gone.",
    GateCommandType.GATE_DELETE_ERR: "The CMTS cannot delete that gate.",
    GateCommandType.GATE_OPEN: "The modem committed its flows: media can flow, billing can start.",
    GateCommandType.GATE_CLOSE: "The gate closed (release, timer or preemption); PacketCable-Reason says which.",
}

MODEM_ACTIONS = {
    "reserve": "The modem asks for its DOCSIS service flows inside the authorized envelope (DSA).",
    "commit": "The modem activates its flows: the CMTS commits the gate and sends Gate-Open.",
    "release": "The modem tears its flows down (DSD): the CMTS closes the gate and sends Gate-Close.",
    "stop_media": "The media goes quiet: the T8 inactivity timer starts.",
}


def explain(opcode: int, gate_command: int | None = None) -> str:
    if gate_command is not None and gate_command in GATE_COMMANDS:
        return GATE_COMMANDS[GateCommandType(gate_command)]
    return OPCODES.get(opcode, "")


ERRORS = {
    PacketCableErrorCode.INSUFFICIENT_RESOURCES:
        "the CMTS has no room for this envelope; next: a lower-rate codec, or try later",
    PacketCableErrorCode.UNKNOWN_GATE_ID:
        "no gate has this ID (never given, deleted, or closed by a timer); next: stop using it",
    PacketCableErrorCode.ILLEGAL_SESSION_CLASS:
        "the session class must be 1 (normal) or 2 (high priority); next: send a valid one",
    PacketCableErrorCode.SUBSCRIBER_EXCEEDED_GATE_LIMIT:
        "the subscriber already holds as many gates as Activity-Count allows; next: delete one, or raise the count",
    PacketCableErrorCode.GATE_ALREADY_SET:
        "the gate cannot be set in its state; next: audit it with Gate-Info",
    PacketCableErrorCode.MISSING_REQUIRED_OBJECT:
        "an object the command needs is missing (the sub-code is its S-Num and S-Type); next: add it",
    PacketCableErrorCode.INVALID_OBJECT:
        "an object is malformed (the sub-code is its S-Num and S-Type); next: fix it",
    PacketCableErrorCode.UNSPECIFIED: "the CMTS gives no reason; next: look at its logs",
}
"""What each PacketCable error means, and what a gate controller does about it."""

CLOSES = {
    0: "the modem released its flows: the call hung up; the gate is gone",
    1: "the CMTS took the reservation for another flow (preemption)",
    2: "the modem stopped maintaining its reservation",
    3: "the modem stopped answering on the DOCSIS MAC layer (it went offline)",
    4: "T0 expired: no Gate-Set came for the allocated gate; its Gate-ID is free again",
    5: "T1 expired: the modem never committed (the call was not answered)",
    6: "T7 expired: the reserved flows were never activated",
    7: "T8 expired: no media flowed for the inactivity time",
    127: "the CMTS gives no reason",
}
"""Why a gate closed, by Gate-Close sub-code."""


class Explainer:
    """Explains each message of one run in the light of the ones before it."""

    def __init__(self) -> None:
        self.gates: dict[int, str] = {}  # Gate-ID -> "allocated", "authorized" or "committed"
        self.audits: dict[int, int] = {}  # Gate-ID -> Gate-Infos sent for it
        self._asked: dict[int, object] = {}  # TID -> the command, for its reply

    def note(self, record: TraceRecord) -> str:
        """What ``record``'s message does here, given the messages noted before it."""
        message, command = record.message, record.command
        if record.command_error is not None:
            return "The gate command does not decode: the receiver answers with an error."
        if command is None:
            if message.client_type == ClientType.CONNECTION and message.OPCODE in SECURITY:
                return SECURITY[message.OPCODE]
            return explain(message.OPCODE)
        error = getattr(command, "error", None)
        if error is not None:
            self._asked.pop(command.transaction_id, None)
            return (f"{command.title}: error {error.code} "
                    f"{spoken(PacketCableErrorCode, error.code)}: {ERRORS.get(error.code, 'not a defined error')}.")
        return self._command(command) or explain(message.OPCODE, command.COMMAND)

    def _command(self, command) -> str | None:
        kind, gate = type(command), getattr(command, "gate_id", None)
        if kind in (GateAlloc, GateSet, GateInfo, GateDelete):
            self._asked[command.transaction_id] = command
        if kind is GateSet and gate is None:
            return "Allocate and authorize a new gate in one step, as deployed gate controllers do (starts T1)."
        if kind is GateSet:
            state = self.gates.get(gate)
            if state == "allocated":
                return "Authorize the allocated gate's envelope (stops T0, starts T1: the modem must commit in time)."
            if state == "committed":
                return ("Modify the committed gate (a new envelope, e.g. another codec): not a new authorization; "
                        "the gate stays committed and no timer starts.")
            if state == "authorized":
                return "Change the envelope before the modem commits; T1 keeps running."
        if kind is GateInfo:
            count = self.audits[gate] = self.audits.get(gate, 0) + 1
            return None if count == 1 else f"Audit number {count} of the same gate: is it still there, still the same?"
        if kind is GateAllocAck:
            self.gates[command.gate_id] = "allocated"
        elif kind is GateSetAck:
            asked = self._asked.pop(command.transaction_id, None)
            new = type(asked) is GateSet and asked.gate_id is None  # the TID may have asked something else
            if new or self.gates.get(command.gate_id) in (None, "allocated"):
                self.gates[command.gate_id] = "authorized"
            if new:
                return "The gate is authorized; the gate controller learns its new Gate-ID here (matched by TID)."
        elif kind is GateOpen:
            self.gates[command.gate_id] = "committed"
            return "The modem committed: media may flow and billing starts (T1 stops)."
        elif kind is GateClose:
            self.gates.pop(command.gate_id, None)
            reason = command.reason
            if reason is not None and reason.code == PacketCableReasonCode.GATE_CLOSE:
                return f"Gate-Close: {CLOSES.get(reason.subcode, 'a reason the reference does not define')}."
        elif kind is GateDelete:
            self.gates.pop(gate, None)
        return None
