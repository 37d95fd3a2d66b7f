"""One-line explanations of what each message does in PacketCable, for ``--explain`` (teaching)."""

from __future__ import annotations

from cops_core.codes import OpCode
from cops_core.dqos import GateCommandType

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
