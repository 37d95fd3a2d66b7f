"""A trace record as plain data: the one summary of a message every report shares."""

from __future__ import annotations

from cops_core.codes import OpCode
from cops_core.dqos import GateCommandType
from cops_core.messages import Malformed
from cops_core.trace import TraceRecord


def gate_id_text(gate_id: int) -> str:
    """A Gate-ID's one form in every report, as on the ladder: 0x0000a001."""
    return f"0x{gate_id:08x}"


def summarize(record: TraceRecord, start: float) -> dict:
    """Time since ``start``, direction, op-code, gate command, Gate-ID, TID and the bytes in hex."""
    message = record.message
    entry: dict = {
        "time_ms": round((record.time - start) * 1000.0, 3),
        "direction": "sent" if record.outgoing else "received",
        "local": f"{record.local[0]}:{record.local[1]}",
        "peer": f"{record.peer[0]}:{record.peer[1]}",
        "opcode": "malformed" if type(message) is Malformed else message.OPCODE.name,
    }
    if type(message) is Malformed:
        entry["error"] = message.error
    elif message.OPCODE in (OpCode.DEC, OpCode.RPT):
        command = record.command
        if record.command_error is not None:
            entry["error"] = str(record.command_error)
        if command is not None:
            entry["gate_command"] = GateCommandType(command.COMMAND).title
            entry["transaction_id"] = command.transaction_id
            if getattr(command, "gate_id", None) is not None:
                entry["gate_id"] = gate_id_text(command.gate_id)
    entry["hex"] = record.data.hex()
    return entry
