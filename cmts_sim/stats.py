"""Counters the live panel and the JSON log read, fed by the transport's trace tap."""

from __future__ import annotations

import json
from collections import Counter
from typing import IO

from cops_core.codes import ErrorCode, OpCode, ReasonCode
from cops_core.dqos import GateCommandType, PacketCableErrorCode, gate_command_of
from cops_core.errors import DecodeError
from cops_core.messages import ClientClose, DeleteRequest
from cops_core.transport import TraceRecord


class Stats:
    """Messages in and out, and the errors we answered with, by code."""

    def __init__(self) -> None:
        self.received = 0
        self.sent = 0
        self.by_opcode: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()

    def tap(self, record: TraceRecord) -> None:
        message = record.message
        if record.outgoing:
            self.sent += 1
        else:
            self.received += 1
        self.by_opcode[message.OPCODE.name] += 1
        if not record.outgoing:
            return
        if type(message) is ClientClose:
            self.errors[f"COPS {ErrorCode(message.error.code).name}"] += 1
        elif type(message) is DeleteRequest:
            self.errors[f"DRQ {ReasonCode(message.reason.code).name}"] += 1
        elif message.OPCODE is OpCode.RPT and message.report_type == 2:
            try:
                command = gate_command_of(message)
            except DecodeError:
                return
            error = getattr(command, "error", None)
            if error is not None:
                name = PacketCableErrorCode(error.code).name if error.code in PacketCableErrorCode._value2member_map_ \
                    else str(error.code)
                self.errors[f"PacketCable {name}"] += 1


class JsonLog:
    """One JSON line per COPS message: time, peer, direction, opcode, gate command, gate id, transaction id."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def tap(self, record: TraceRecord) -> None:
        message = record.message
        entry = {
            "time": round(record.wall, 6),
            "peer": f"{record.peer[0]}:{record.peer[1]}",
            "direction": "out" if record.outgoing else "in",
            "opcode": message.OPCODE.name,
        }
        try:
            command = gate_command_of(message) if message.OPCODE in (OpCode.DEC, OpCode.RPT) else None
        except DecodeError:
            command = None
        if command is not None:
            entry["gate_command"] = GateCommandType(command.COMMAND).title
            entry["transaction_id"] = command.transaction_id
            if getattr(command, "gate_id", None) is not None:
                entry["gate_id"] = f"0x{command.gate_id:08x}"
        self.stream.write(json.dumps(entry) + "\n")
        self.stream.flush()
