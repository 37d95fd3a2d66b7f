"""Counters the live panel and the metrics read, fed by the transport's counter; the JSON and -vv logs, trace taps."""

from __future__ import annotations

import json
import logging
import struct
import time
from collections import Counter
from enum import IntEnum
from typing import IO

from cops_core.codes import ErrorCode, OpCode, ReasonCode
from cops_core.dqos import (
    GateCloseSubcode,
    GateCommandType,
    GateDeleteSubcode,
    PacketCableErrorCode,
    decode_gate_command,
    gate_command_of,
)
from cops_core.errors import DecodeError
from cops_core.messages import Malformed, decode_message
from cops_core.objects import ClientSpecificDecision, SignaledClientSI
from cops_core.trace import UNREAD, TraceRecord

log = logging.getLogger("cmts_sim")


_CARRIERS = (ClientSpecificDecision, SignaledClientSI)  # the objects a DEC / RPT carries its gate command in
_TID_HEADER = b"\x00\x08\x01\x01"  # Transaction-ID: length 8, S-Num 1, S-Type 1; the command type follows the TID
# Op-codes as globals: every message passes the tap, and reading an enum member (``OpCode.DEC``) costs ~0.2 us on
# CPython 3.11.
_CC, _DRQ, _DEC, _RPT = OpCode.CC, OpCode.DRQ, OpCode.DEC, OpCode.RPT

# The usual DEC and RPT read in place, from offset 8: the Handle's header (a 4-byte handle), the lengths of the 8-byte
# objects before the carrier (Context, Decision Flags; Report-Type), the carrier's length, then 8 bytes of the
# carrier's C-Num/C-Type, the Transaction-ID's header and its value, then the command type.
_DEC_SHAPE = struct.Struct("!I4xH6xH6xHQH")
_RPT_SHAPE = struct.Struct("!I4xH6xHQH")
_HANDLE_4 = 0x00080101  # Handle: length 8, C-Num 1, C-Type 1
_TID = int.from_bytes(_TID_HEADER, "big")
_IN_DEC, _IN_RPT = 0x0604 << 32 | _TID, 0x0901 << 32 | _TID  # the carrier's C-Num/C-Type and the TID's header
_ERR_COMMANDS = frozenset((GateCommandType.GATE_ALLOC_ERR, GateCommandType.GATE_SET_ERR, GateCommandType.GATE_INFO_ERR,
                           GateCommandType.GATE_DELETE_ERR))


def gate_command_type(message) -> int | None:
    """The Gate Command Type a DEC or RPT carries, read from its Transaction-ID without decoding the command.

    The counters see every message, so they must not decode: the carrier is
    the last object in every DEC/RPT we and the usual gate controllers build,
    and the Transaction-ID the first object in it.  Anything else takes the
    codec's general path.  None if the message carries no readable command.
    """
    objects = message.objects
    carrier = objects[-1] if objects else None
    if type(carrier) not in _CARRIERS:
        carrier = next((obj for obj in objects if type(obj) in _CARRIERS), None)
        if carrier is None:
            return None
    data = carrier.data
    if len(data) >= 8 and data[:4] == _TID_HEADER:  # a whole Transaction-ID: its command type at offset 6
        return (data[6] << 8) | data[7]
    try:
        return decode_gate_command(data).COMMAND
    except DecodeError:
        return None


class Stats:
    """Messages in and out by op-code and by gate command, and the errors we answered with, by name.

    :meth:`count` is the transport's counter, which ``cmts-sim serve`` always
    installs: it sees every message's bytes, so it only counts, one increment
    a message keyed by (outgoing, op-code, Gate Command Type or None), and
    decodes nothing but the rare message it names an error of (an error reply,
    a Client-Close, a DRQ) and the odd shape.  No trace record is made for it.
    The totals and breakdowns are summed from those counts when read (a panel
    refresh or a scrape, not per message).
    """

    def __init__(self) -> None:
        # A plain dict: ``counts[key] += 1`` costs twice as much on a Counter (a Python subclass) here.
        self.counts: dict[tuple[bool, int, int | None], int] = {}  # op-codes as read from the bytes
        self.errors: Counter[str] = Counter()
        self.malformed = 0  # messages received that did not decode: received, but with no op-code to count under

    @property
    def received(self) -> int:
        return self.malformed + sum(count for (outgoing, _, _), count in self.counts.items() if not outgoing)

    @property
    def sent(self) -> int:
        return sum(count for (outgoing, _, _), count in self.counts.items() if outgoing)

    @property
    def opcodes_in(self) -> Counter[OpCode]:
        return self._by_opcode(False)

    @property
    def opcodes_out(self) -> Counter[OpCode]:
        return self._by_opcode(True)

    @property
    def commands_in(self) -> Counter[int]:
        """Gate Command Type -> DECs that carried it."""
        return self._by_command(False)

    @property
    def commands_out(self) -> Counter[int]:
        """Gate Command Type -> RPTs that carried it."""
        return self._by_command(True)

    @property
    def by_opcode(self) -> Counter[str]:
        """Messages both ways by op-code name (RPT, DEC ...)."""
        return Counter({opcode.name: count for opcode, count in (self.opcodes_in + self.opcodes_out).items()})

    def _by_opcode(self, direction: bool) -> Counter[OpCode]:
        counter: Counter[OpCode] = Counter()
        for (outgoing, opcode, _), count in self.counts.items():
            if outgoing is direction:
                counter[OpCode(opcode)] += count
        return counter

    def _by_command(self, direction: bool) -> Counter[int]:
        counter: Counter[int] = Counter()
        for (outgoing, _, command), count in self.counts.items():
            if outgoing is direction and command is not None:
                counter[command] += count
        return counter

    def count(self, outgoing: bool, data: bytes | None, command=UNREAD) -> None:
        """The transport's counter: one message each way, from its bytes (None: received, did not decode), or from
        its gate command when the transport has it (a reply we built, a DEC read as gate traffic)."""
        if data is None:  # the session's own error handling answers it
            self.malformed += 1
            return
        opcode = data[1]
        # Gate commands are counted as they travel here: in DECs received, in RPTs sent.
        if opcode == (_RPT if outgoing else _DEC):
            if command is UNREAD:
                kind = _rpt_command_type(data) if outgoing else _dec_command_type(data)
            else:
                kind = None if command is None else command.COMMAND
            key = outgoing, opcode, kind
            try:
                self.counts[key] += 1
            except KeyError:
                self.counts[key] = 1
            if outgoing and kind in _ERR_COMMANDS:
                if command is UNREAD:
                    command = gate_command_of(decode_message(data))
                self.errors[f"PacketCable {_name(PacketCableErrorCode, command.error.code)}"] += 1
            return
        key = outgoing, opcode, None
        try:
            self.counts[key] += 1
        except KeyError:
            self.counts[key] = 1
        if outgoing and (opcode == _CC or opcode == _DRQ):
            message = decode_message(data)
            if opcode == _CC:
                self.errors[f"COPS {_name(ErrorCode, message.error.code)}"] += 1
            else:
                self.errors[f"DRQ {_name(ReasonCode, message.reason.code)}"] += 1


def _dec_command_type(data: bytes) -> int | None:
    """The Gate Command Type a DEC's bytes carry, or None: read in place for the usual shape, else decoded."""
    if len(data) >= 8 + _DEC_SHAPE.size:
        handle, context, flags, carrier, head, command = _DEC_SHAPE.unpack_from(data, 8)
        # A carrier of 12 bytes or more holds the whole Transaction-ID.
        if handle == _HANDLE_4 and context == flags == 8 and carrier >= 12 and head >> 16 == _IN_DEC:
            return command
    return gate_command_type(decode_message(data))


def _rpt_command_type(data: bytes) -> int | None:
    """The Gate Command Type an RPT's bytes carry, or None: read in place for the usual shape, else decoded."""
    if len(data) >= 8 + _RPT_SHAPE.size:
        handle, report_type, carrier, head, command = _RPT_SHAPE.unpack_from(data, 8)
        if handle == _HANDLE_4 and report_type == 8 and carrier >= 12 and head >> 16 == _IN_RPT:
            return command
    return gate_command_type(decode_message(data))


def _name(codes: type[IntEnum], code: int) -> str:
    """The spec's name for ``code``, or the number if the spec has none."""
    return codes(code).name if code in codes._value2member_map_ else str(code)


def log_message(record: TraceRecord) -> None:
    """``-vv``: every message in one line (a tap installed only then: building the line costs)."""
    entry: dict = {}
    message = record.message
    if type(message) is Malformed:
        text = f"malformed: {message.error}"
    else:
        JsonLog._describe(entry, record)
        text = " ".join([message.OPCODE.name] + [
            f"{key} {value['code']}/{value['subcode']} {value['name']}" if isinstance(value, dict) else f"{key} {value}"
            for key, value in entry.items()])
    log.debug("%s:%d %s %s", *record.peer, "->" if record.outgoing else "<-", text)


class JsonLog:
    """One JSON line per COPS message and per connection event, for an operator to answer "why" from the log alone.

    A message: time, peer, direction, opcode, and for a gate command its name, transaction id, gate id,
    subscriber, error (code, sub-code and name), Gate-Close or Gate-Delete reason; a Client-Close its error;
    with ``hex`` the message's bytes.  A connection event (:meth:`connection`): time, peer, event
    ("connected", "refused", "closed") and why.
    """

    def __init__(self, stream: IO[str], *, hex_bytes: bool = False) -> None:
        self.stream = stream
        self.hex_bytes = hex_bytes

    def connection(self, peer: str, event: str, why: str = "") -> None:
        entry = {"time": round(time.time(), 6), "peer": peer, "event": event}
        if why:
            entry["why"] = why
        self.stream.write(json.dumps(entry) + "\n")
        self.stream.flush()

    def tap(self, record: TraceRecord) -> None:
        message = record.message
        entry = {
            "time": round(record.wall, 6),
            "peer": f"{record.peer[0]}:{record.peer[1]}",
            "direction": "out" if record.outgoing else "in",
        }
        if type(message) is Malformed:
            entry.update(opcode="malformed", error=message.error, hex=record.data.hex())
        else:
            entry["opcode"] = message.OPCODE.name
            self._describe(entry, record)
            if self.hex_bytes:
                entry["hex"] = record.data.hex()
        self.stream.write(json.dumps(entry) + "\n")
        self.stream.flush()

    @staticmethod
    def _describe(entry: dict, record: TraceRecord) -> None:
        """The gate command a DEC or RPT carries: its name, TID and Gate-ID."""
        message, command = record.message, record.command
        if command is not None:
            entry["gate_command"] = GateCommandType(command.COMMAND).title
            entry["transaction_id"] = command.transaction_id
            if getattr(command, "gate_id", None) is not None:
                entry["gate_id"] = f"0x{command.gate_id:08x}"
            if getattr(command, "subscriber", None) is not None:
                entry["subscriber"] = str(command.subscriber)
            error = getattr(command, "error", None)
            if error is not None:
                entry["error"] = {"code": error.code, "subcode": error.subcode,
                                  "name": _name(PacketCableErrorCode, error.code).lower()}
            reason = getattr(command, "reason", None)
            if reason is not None:
                subcodes = GateCloseSubcode if reason.code == 1 else GateDeleteSubcode
                entry["reason"] = {"code": reason.code, "subcode": reason.subcode,
                                   "name": _name(subcodes, reason.subcode).lower()}
        elif message.OPCODE is OpCode.CC:
            entry["error"] = {"code": message.error.code, "subcode": message.error.subcode,
                              "name": _name(ErrorCode, message.error.code).lower()}
