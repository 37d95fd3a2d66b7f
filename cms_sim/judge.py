"""Judging the CMTS: every message it sends, checked against RFC 2748 and the DQoS rules of our protocol reference.

A CMTS under test can answer every gate command as the scenario expects and
still break the protocol in ways the next gate controller trips over: a
keep-alive with the wrong client-type, a reply with somebody else's
Transaction-ID, an Ack carried in a Report-Type of Failure.  Each deviation
is a :class:`Finding` (the rule, the clause it comes from, the message in
hex, a severity).  A :class:`PeerJudge` is a trace tap: it sees what we send
(to know the requests, the handle and the KA interval) and judges what we
receive.  Findings never stop a run by themselves; ``--strict`` makes any
finding fail the scenario.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass
from typing import NamedTuple

from cops_core import ClientOpen, KeepAlive, Request
from cops_core.codes import ClientType
from cops_core.dqos import (
    COMMAND_CLASSES,
    REPLIES,
    GateAllocAck,
    GateAllocErr,
    GateClose,
    GateCloseSubcode,
    GateDeleteAck,
    GateDeleteErr,
    GateInfoAck,
    GateInfoErr,
    GateOpen,
    GateSetAck,
    GateSetErr,
    PacketCableReasonCode,
)
from cops_core.dqos.objects import decode_packetcable_objects
from cops_core.errors import DecodeError
from cops_core.messages import ClientAccept, Decision, DeleteRequest, Malformed, Report, SyncComplete, decode_message
from cops_core.objects import IntegrityHMAC
from cops_core.tls import starts_tls
from cops_core.trace import TraceRecord


class Severity(str, enum.Enum):
    ERROR = "error"  # breaks a MUST, or what gate controllers rely on
    WARNING = "warning"  # legal to read, but not what the reference says a CMTS sends


@dataclass(frozen=True, slots=True)
class Finding:
    """One deviation in one message from the CMTS."""

    rule: str  # short and stable, e.g. "ka.client-type": what reports count and --strict names
    clause: str  # where the rule comes from, e.g. "RFC 2748 3.9"
    severity: Severity
    text: str  # what was wrong in this message
    time: float  # trio clock of the message
    message: str  # which message: "KA", "RPT Gate-Set-Ack"
    data: bytes  # the message as received

    def __str__(self) -> str:
        return f"{self.severity.value} {self.rule} ({self.clause}): {self.message}: {self.text}"


# What each reply and event carries besides its Transaction-ID (protocol.md 3.4); brackets there mean optional.
EXPECTED_FIELDS = {
    GateAllocAck: ("subscriber", "gate_id", "activity_count"),
    GateAllocErr: ("subscriber", "error"),
    GateSetAck: ("subscriber", "gate_id", "activity_count"),
    GateSetErr: ("subscriber", "error"),
    GateInfoAck: ("subscriber", "gate_id", "activity_count", "gate_specs"),
    GateInfoErr: ("subscriber", "gate_id", "error"),
    GateDeleteAck: ("subscriber", "gate_id"),
    GateDeleteErr: ("subscriber", "gate_id", "error"),
    GateOpen: ("subscriber", "gate_id"),
    GateClose: ("subscriber", "gate_id", "reason"),
}
_ANY_SUBSCRIBER = (ipaddress.IPv4Address(0), ipaddress.IPv6Address(0))
KA_SLACK = 0.05  # seconds of scheduling either side of the [1/4, 3/4] window before a KA counts as off time


class PeerJudge:
    """A trace tap that keeps :attr:`findings` on what the CMTS sends."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self._requests: dict[int, _Asked] = {}  # TID -> the gate command we sent, until its reply
        self._handle: bytes | None = None  # the configuration Request's handle
        self._ka_interval: float | None = None  # the KA timer we granted
        self._last_ka: float | None = None  # when the CMTS's last KA came

    def __call__(self, record: TraceRecord) -> None:
        message = record.message
        if record.outgoing:
            self._sent(record, message)
        else:
            self._received(record, message)

    # --- what we sent -------------------------------------------------------------------------------

    def _sent(self, record: TraceRecord, message) -> None:
        kind = type(message)
        if kind is Decision:
            exc, command = record.command_error, record.command
            if exc is not None:  # a scenario's deliberately broken command: its echo objects still count
                if getattr(exc, "transaction_id", None) is not None and exc.command_type in COMMAND_CLASSES:
                    self._requests[exc.transaction_id] = _Asked(exc.command_type, exc.subscriber, exc.gate_id)
                return
            if command is not None:
                self._requests[command.transaction_id] = _Asked(command.COMMAND, command.subscriber,
                                                                getattr(command, "gate_id", None))
        elif kind is ClientAccept:
            self._ka_interval = message.ka_seconds or None
            self._last_ka = None

    # --- what the CMTS sent -------------------------------------------------------------------------

    def _received(self, record: TraceRecord, message) -> None:
        kind = type(message)
        name = message.OPCODE.name if kind is not Malformed else "malformed message"
        finding = _Findings(self.findings, record, name)
        if kind is Malformed:
            finding("message.decodable", "RFC 2748 2", Severity.ERROR, message.error)
            return
        flags = record.data[0] & 0x0F  # (a version other than 1 never gets here: framing stops at it)
        if flags & ~0x1:
            finding("header.flags", "RFC 2748 2.1", Severity.ERROR,
                    f"flags 0x{flags:x}: only 0x1 (solicited) is defined, the others must be 0")
        if kind is KeepAlive:
            self._keepalive(record, finding)
        elif kind is ClientOpen:
            if message.client_type != ClientType.PACKETCABLE_DQOS and not _negotiates_security(record):
                finding("opn.client-type", "RFC 2748 3.6", Severity.ERROR,
                        f"client-type 0x{message.client_type:04x}, not 0x8008 (PacketCable DQoS), nor a client-type 0 "
                        "one that negotiates security (RFC 2748 4.1, RFC 4261 5.1)")
        elif kind is Request:
            self._handle = message.handle.value
        elif kind in (Report, DeleteRequest, SyncComplete):
            handle = message.handle
            if handle is not None and self._handle is not None and handle.value != self._handle:
                finding("handle", "RFC 2748 2.2.1", Severity.ERROR,
                        f"handle {handle.value.hex()}, not the configuration Request's {self._handle.hex()}")
        if kind is not ClientOpen and getattr(message, "unknown_objects", ()):
            objects = ", ".join(f"{obj.cnum}/{obj.ctype}" for obj in message.unknown_objects)
            finding("cops.unknown-object", "RFC 2748 2.2", Severity.WARNING, f"objects it does not define: {objects}")
        if kind is Report:
            self._report(record, message, finding)

    def _keepalive(self, record: TraceRecord, finding) -> None:
        if record.message.client_type != ClientType.CONNECTION:
            finding("ka.client-type", "RFC 2748 3.9", Severity.ERROR,
                    f"client-type 0x{record.message.client_type:04x}; a Keep-Alive's must be 0")
        interval, last = self._ka_interval, self._last_ka
        self._last_ka = record.time
        if interval is None or last is None:
            return
        gap = record.time - last
        if not interval / 4 - KA_SLACK <= gap <= interval * 3 / 4 + KA_SLACK:
            finding("ka.timing", "RFC 2748 4.4", Severity.WARNING,
                    f"{gap:.2f} s after the previous one; the PEP sends them between 1/4 and 3/4 of the "
                    f"{interval:g} s KA timer ({interval / 4:g}-{interval * 3 / 4:g} s)")

    def _report(self, record: TraceRecord, message: Report, finding) -> None:
        command = record.command
        if record.command_error is not None:
            finding("dqos.decodable", "protocol.md 3.3", Severity.ERROR, str(record.command_error))
            return
        if command is None:
            return
        finding.message = f"RPT {command.title}"
        cls = type(command)
        if cls.SOLICITED and message.report_type != cls.REPORT_TYPE:
            finding("rpt.report-type", "RFC 2748 2.2.12, protocol.md 3.1", Severity.ERROR,
                    f"Report-Type {message.report_type}; a {command.title} travels in Report-Type "
                    f"{int(cls.REPORT_TYPE)} ({cls.REPORT_TYPE.name.lower()})")
        self._objects(message, command, finding)
        if cls.SOLICITED:
            self._reply(command, finding)
        elif cls is GateClose:
            self._close_reason(command, finding)

    def _objects(self, message: Report, command, finding) -> None:
        missing = [name for name in EXPECTED_FIELDS.get(type(command), ()) if getattr(command, name) in (None, ())]
        if missing:
            finding("dqos.objects", "protocol.md 3.4", Severity.WARNING, f"no {', '.join(missing)}")
        if command.extra:
            unknown = ", ".join(f"{obj.snum}/{obj.stype}" if hasattr(obj, "snum") else type(obj).__name__
                                for obj in command.extra)
            finding("dqos.unknown-object", "protocol.md 3.3", Severity.WARNING,
                    f"objects a {command.title} does not carry: {unknown}")
        objects = decode_packetcable_objects(message.client_si.data)
        rank = {klass: rank for rank, (slot, _) in enumerate(type(command).ORDER) for klass in slot.classes}
        ranks = [rank[type(obj)] for obj in objects[1:] if type(obj) in rank]
        if objects and type(objects[0]).__name__ != "TransactionID":
            finding("dqos.object-order", "protocol.md 3.4", Severity.WARNING, "the Transaction-ID is not first")
        elif ranks != sorted(ranks):
            finding("dqos.object-order", "protocol.md 3.4", Severity.WARNING,
                    "objects out of the order the reference lists (receivers accept any order)")

    def _reply(self, command, finding) -> None:
        request = self._requests.pop(command.transaction_id, None)
        if request is None:
            pending = ", ".join(map(str, sorted(self._requests))) or "none"
            finding("dqos.transaction-id", "protocol.md 3.3", Severity.ERROR,
                    f"Transaction-ID {command.transaction_id} answers no request of ours (awaiting: {pending})")
            return
        asked = COMMAND_CLASSES[request.command].title
        replies = REPLIES.get(request.command)  # None: we sent no request (a scenario's CMTS-side command)
        if replies is not None and type(command) not in replies:
            finding("dqos.reply-type", "protocol.md 3.2", Severity.ERROR,
                    f"answers a {asked} (TID {command.transaction_id}) with a {command.title}; expected "
                    f"{replies.ack.title} or {replies.err.title}")
        subscriber = getattr(command, "subscriber", None)
        if subscriber is not None and request.subscriber not in (None, *_ANY_SUBSCRIBER) \
                and subscriber != request.subscriber:
            finding("dqos.subscriber-echo", "protocol.md 3.4", Severity.WARNING,
                    f"Subscriber-ID {subscriber}; the {asked} named {request.subscriber}")
        answered = getattr(command, "gate_id", None)
        if request.gate_id is not None and answered is not None and request.gate_id != answered:
            finding("dqos.gate-id-echo", "protocol.md 3.4", Severity.ERROR,
                    f"Gate-ID 0x{answered:08x}; the {asked} was for gate 0x{request.gate_id:08x}")

    @staticmethod
    def _close_reason(command: GateClose, finding) -> None:
        reason = command.reason
        if reason is None:
            return  # EXPECTED_FIELDS has said so
        if reason.code != PacketCableReasonCode.GATE_CLOSE:
            finding("gate-close.reason", "protocol.md 3.3", Severity.ERROR,
                    f"PacketCable-Reason code {reason.code}; a Gate-Close carries code 1")
        elif reason.subcode not in GateCloseSubcode._value2member_map_:
            finding("gate-close.reason", "protocol.md 3.3", Severity.WARNING,
                    f"Gate-Close sub-code {reason.subcode}, not one the reference defines")


def _negotiates_security(record: TraceRecord) -> bool:
    """A client-type 0 Client-Open that negotiates security before the DQoS one: RFC 4261's StartTLS, or RFC 2748
    4.1's integrity (its Integrity object checked and cut off by the connection, so looked for in the bytes)."""
    message = record.message
    if message.client_type != ClientType.CONNECTION:
        return False
    if starts_tls(message):
        return True
    try:
        return any(type(obj) is IntegrityHMAC for obj in decode_message(record.data).objects)
    except DecodeError:
        return False


class _Asked(NamedTuple):
    """A gate command we sent, as far as its reply must echo it."""

    command: int  # Gate Command Type
    subscriber: object
    gate_id: int | None


class _Findings:
    """Adds findings about one received message; ``message`` may be refined once it is decoded."""

    def __init__(self, findings: list[Finding], record: TraceRecord, message: str) -> None:
        self.findings, self.record, self.message = findings, record, message

    def __call__(self, rule: str, clause: str, severity: Severity, text: str) -> None:
        record = self.record
        self.findings.append(Finding(rule, clause, severity, text, record.time, self.message, record.data))
