"""The ten COPS messages (RFC 2748 section 3) as immutable values.

A message is its header fields (client-type, solicited flag) plus its objects
in wire order.  Keeping the object list, rather than only typed fields, is what
lets unknown objects survive a round trip untouched; the typed accessors
(``handle``, ``error``, ``decisions`` ...) read from it.  ``new(...)``
constructors place objects in the order the RFC's grammar gives.

:func:`decode_message` turns one whole frame into a message or raises
:class:`~cops_core.errors.DecodeError`; ``message.encode()`` is the inverse.
"""

from __future__ import annotations

import struct
from typing import Iterable, NamedTuple

from .codes import HEADER_SIZE, VERSION, ClientType, CNum, ErrorCode, OpCode, RType, object_subcode
from .errors import DecodeError
from .objects import (
    COPS_OBJECTS,
    PEPID,
    AccountingTimer,
    ClientSpecificDecision,
    Context,
    DecisionFlags,
    Error,
    Handle,
    KATimer,
    NamedClientSI,
    NamedDecisionData,
    Reason,
    ReplacementData,
    ReportTypeObject,
    SignaledClientSI,
    StatelessData,
    UnknownObject,
)
from . import fastpath
from .templates import HANDLE_4, MessageTemplates, part
from .wire import walk

HEADER = struct.Struct("!BBHI")
DQOS = ClientType.PACKETCABLE_DQOS


def _encode(self) -> bytes:
    data = _TEMPLATES.encode(self)  # a gate-command DEC/RPT packs in one go
    if data is not None:
        return data
    return _encode_general(self)


def _encode_general(self) -> bytes:
    """The reference encoding, object by object: what the templates must match."""
    body = b"".join([obj.encode() for obj in self.objects])
    flags = 0x11 if self.solicited else 0x10
    return HEADER.pack(flags, self.OPCODE, self.client_type, HEADER_SIZE + len(body)) + body


def _first(objects: Iterable, cls: type | tuple[type, ...]):
    for obj in objects:
        if isinstance(obj, cls):
            return obj
    return None


def _unknown(self) -> tuple[UnknownObject, ...]:
    objects = self.objects
    if UnknownObject not in map(type, objects):  # nearly always: a C-level scan, no generator
        return ()
    return tuple(obj for obj in objects if type(obj) is UnknownObject)


class Request(NamedTuple):
    """Request (REQ, PEP to PDP): Handle, Context, [In-Int], [Out-Int], [ClientSI*], [LPDPDecision*], [Integrity]."""

    objects: tuple
    client_type: int = DQOS
    solicited: bool = False

    OPCODE = OpCode.REQ
    encode = _encode
    unknown_objects = property(_unknown)

    @classmethod
    def new(cls, handle: Handle, context: Context = Context(RType.CONFIGURATION), *extra, client_type: int = DQOS) -> "Request":
        """A REQ; the DQoS configuration request is ``Request.new(handle)``."""
        return cls((handle, context, *extra), client_type)

    @property
    def handle(self) -> Handle:
        return _first(self.objects, Handle)

    @property
    def context(self) -> Context:
        return _first(self.objects, Context)


class DecisionGroup(NamedTuple):
    """One Context and the decision objects that follow it in a DEC."""

    context: Context
    flags: DecisionFlags
    stateless: StatelessData | None = None
    replacement: ReplacementData | None = None
    client_specific: ClientSpecificDecision | None = None
    named: NamedDecisionData | None = None


_GROUP_SLOTS = {StatelessData: 2, ReplacementData: 3, ClientSpecificDecision: 4, NamedDecisionData: 5}


class Decision(NamedTuple):
    """Decision (DEC, PDP to PEP): Handle, then decision groups or an Error, [Integrity].

    DQoS gate commands travel as an unsolicited DEC whose one group carries
    Context 8/0, Flags Install + Trigger-Error and the command in 6/4 (last).
    """

    objects: tuple
    client_type: int = DQOS
    solicited: bool = False

    OPCODE = OpCode.DEC
    encode = _encode
    unknown_objects = property(_unknown)

    @classmethod
    def new(cls, handle: Handle, *groups: DecisionGroup, error: Error | None = None,
            client_type: int = DQOS, solicited: bool = False) -> "Decision":
        objects: list = [handle]
        if error is not None:
            objects.append(error)
        for group in groups:
            objects.extend(obj for obj in group if obj is not None)
        return cls(tuple(objects), client_type, solicited)

    @property
    def handle(self) -> Handle:
        return _first(self.objects, Handle)

    @property
    def error(self) -> Error | None:
        return _first(self.objects, Error)

    @property
    def decisions(self) -> tuple[DecisionGroup, ...]:
        groups = []
        current: list | None = None
        for obj in self.objects:
            kind = type(obj)
            if kind is Context:
                if current is not None:
                    groups.append(DecisionGroup(*current))
                current = [obj, None, None, None, None, None]
            elif current is not None:
                if kind is DecisionFlags:
                    current[1] = obj
                elif kind in _GROUP_SLOTS:
                    current[_GROUP_SLOTS[kind]] = obj
        if current is not None:
            groups.append(DecisionGroup(*current))
        return tuple(groups)

    @property
    def client_specific(self) -> ClientSpecificDecision | None:
        """The Client Specific Decision (6/4) that carries a DQoS gate command."""
        return _first(self.objects, ClientSpecificDecision)


class Report(NamedTuple):
    """Report State (RPT, PEP to PDP): Handle, Report-Type, [ClientSI], [Integrity]."""

    objects: tuple
    client_type: int = DQOS
    solicited: bool = False

    OPCODE = OpCode.RPT
    encode = _encode
    unknown_objects = property(_unknown)

    @classmethod
    def new(cls, handle: Handle, report_type: int, client_si: SignaledClientSI | NamedClientSI | None = None,
            *, client_type: int = DQOS, solicited: bool = False) -> "Report":
        objects = (handle, ReportTypeObject(report_type)) + ((client_si,) if client_si is not None else ())
        return cls(objects, client_type, solicited)

    @property
    def handle(self) -> Handle:
        return _first(self.objects, Handle)

    @property
    def report_type(self) -> int:
        return _first(self.objects, ReportTypeObject).report_type

    @property
    def client_si(self) -> SignaledClientSI | None:
        """The Signaled ClientSI (9/1) that carries a DQoS reply or event."""
        return _first(self.objects, SignaledClientSI)


class DeleteRequest(NamedTuple):
    """Delete Request State (DRQ, PEP to PDP): Handle, Reason, [Integrity]."""

    objects: tuple
    client_type: int = DQOS
    solicited: bool = False

    OPCODE = OpCode.DRQ
    encode = _encode
    unknown_objects = property(_unknown)

    @classmethod
    def new(cls, handle: Handle, reason: Reason, *, client_type: int = DQOS) -> "DeleteRequest":
        return cls((handle, reason), client_type)

    @property
    def handle(self) -> Handle:
        return _first(self.objects, Handle)

    @property
    def reason(self) -> Reason:
        return _first(self.objects, Reason)


class SyncRequest(NamedTuple):
    """Synchronize State Request (SSQ, PDP to PEP): [Handle], [Integrity]."""

    objects: tuple = ()
    client_type: int = DQOS
    solicited: bool = False

    OPCODE = OpCode.SSQ
    encode = _encode
    unknown_objects = property(_unknown)

    @classmethod
    def new(cls, handle: Handle | None = None, *, client_type: int = DQOS) -> "SyncRequest":
        return cls((handle,) if handle is not None else (), client_type)

    @property
    def handle(self) -> Handle | None:
        return _first(self.objects, Handle)


class ClientOpen(NamedTuple):
    """Client-Open (OPN, PEP to PDP): PEPID, [ClientSI], [LastPDPAddr], [Integrity]."""

    objects: tuple
    client_type: int = DQOS
    solicited: bool = False

    OPCODE = OpCode.OPN
    encode = _encode
    unknown_objects = property(_unknown)

    @classmethod
    def new(cls, pep_id: str, *extra, client_type: int = DQOS) -> "ClientOpen":
        return cls((PEPID(pep_id), *extra), client_type)

    @property
    def pep_id(self) -> str:
        return _first(self.objects, PEPID).identifier


class ClientAccept(NamedTuple):
    """Client-Accept (CAT, PDP to PEP): KA Timer, [ACCT Timer], [Integrity]."""

    objects: tuple
    client_type: int = DQOS
    solicited: bool = False

    OPCODE = OpCode.CAT
    encode = _encode
    unknown_objects = property(_unknown)

    @classmethod
    def new(cls, ka_seconds: int, acct_seconds: int | None = None, *, client_type: int = DQOS) -> "ClientAccept":
        objects = (KATimer(ka_seconds),) + ((AccountingTimer(acct_seconds),) if acct_seconds is not None else ())
        return cls(objects, client_type)

    @property
    def ka_seconds(self) -> int:
        return _first(self.objects, KATimer).seconds


class ClientClose(NamedTuple):
    """Client-Close (CC, either way): Error, [PDPRedirAddr], [Integrity]."""

    objects: tuple
    client_type: int = DQOS
    solicited: bool = False

    OPCODE = OpCode.CC
    encode = _encode
    unknown_objects = property(_unknown)

    @classmethod
    def new(cls, code: int, subcode: int = 0, *extra, client_type: int = DQOS) -> "ClientClose":
        return cls((Error(code, subcode), *extra), client_type)

    @property
    def error(self) -> Error:
        return _first(self.objects, Error)


class KeepAlive(NamedTuple):
    """Keep-Alive (KA, either way): [Integrity]; client-type 0. The PDP's echo is solicited."""

    objects: tuple = ()
    client_type: int = ClientType.CONNECTION
    solicited: bool = False

    OPCODE = OpCode.KA
    encode = _encode
    unknown_objects = property(_unknown)


class SyncComplete(NamedTuple):
    """Synchronize State Complete (SSC, PEP to PDP): [Handle], [Integrity]."""

    objects: tuple = ()
    client_type: int = DQOS
    solicited: bool = False

    OPCODE = OpCode.SSC
    encode = _encode
    unknown_objects = property(_unknown)

    @classmethod
    def new(cls, handle: Handle | None = None, *, client_type: int = DQOS) -> "SyncComplete":
        return cls((handle,) if handle is not None else (), client_type)

    @property
    def handle(self) -> Handle | None:
        return _first(self.objects, Handle)


Message = Request | Decision | Report | DeleteRequest | SyncRequest | ClientOpen | ClientAccept | ClientClose | KeepAlive | SyncComplete

MESSAGE_CLASSES: dict[int, type] = {
    cls.OPCODE: cls
    for cls in (Request, Decision, Report, DeleteRequest, SyncRequest, ClientOpen, ClientAccept, ClientClose,
                KeepAlive, SyncComplete)
}


class Malformed(NamedTuple):
    """Bytes from the peer that framed as a COPS message but did not decode; a trace keeps them as this.

    Not a message anyone sends: captures, reports and the checks of a peer
    need the evidence of what it sent, even when it cannot be read.
    """

    error: str  # the DecodeError, with its offset
    opcode: int  # from the header, whatever its value
    client_type: int

    @property
    def title(self) -> str:
        """"malformed OPN", or "malformed op-code 99" when even the op-code is not one."""
        try:
            return f"malformed {OpCode(self.opcode).name}"
        except ValueError:
            return f"malformed op-code {self.opcode}"

    @classmethod
    def of(cls, frame: bytes, error: Exception) -> "Malformed":
        return cls(str(error), frame[1] if len(frame) > 1 else 0,
                   int.from_bytes(frame[2:4], "big") if len(frame) >= 4 else 0)


class Grammar(NamedTuple):
    """Which C-Nums a message may carry and which it must (RFC 2748 section 3)."""

    allowed: frozenset[int]
    mandatory: tuple[type, ...]


_I = CNum.INTEGRITY
GRAMMARS: dict[int, Grammar] = {
    OpCode.REQ: Grammar(frozenset({CNum.HANDLE, CNum.CONTEXT, CNum.IN_INT, CNum.OUT_INT, CNum.CLIENT_SI,
                                   CNum.LPDP_DECISION, _I}), (Handle, Context)),
    OpCode.DEC: Grammar(frozenset({CNum.HANDLE, CNum.CONTEXT, CNum.DECISION, CNum.ERROR, _I}), (Handle,)),
    OpCode.RPT: Grammar(frozenset({CNum.HANDLE, CNum.REPORT_TYPE, CNum.CLIENT_SI, _I}), (Handle, ReportTypeObject)),
    OpCode.DRQ: Grammar(frozenset({CNum.HANDLE, CNum.REASON, _I}), (Handle, Reason)),
    OpCode.SSQ: Grammar(frozenset({CNum.HANDLE, _I}), ()),
    OpCode.OPN: Grammar(frozenset({CNum.PEPID, CNum.CLIENT_SI, CNum.LAST_PDP_ADDR, _I}), (PEPID,)),
    OpCode.CAT: Grammar(frozenset({CNum.KA_TIMER, CNum.ACCT_TIMER, _I}), (KATimer,)),
    OpCode.CC: Grammar(frozenset({CNum.ERROR, CNum.PDP_REDIR_ADDR, _I}), (Error,)),
    OpCode.KA: Grammar(frozenset({_I}), ()),
    OpCode.SSC: Grammar(frozenset({CNum.HANDLE, _I}), ()),
}
_OBJECT_NAMES = {CNum.HANDLE: "Handle", CNum.CONTEXT: "Context", CNum.REPORT_TYPE: "Report-Type",
                 CNum.REASON: "Reason", CNum.PEPID: "PEPID", CNum.KA_TIMER: "KA Timer", CNum.ERROR: "Error"}


def _object_error(offset: int, reason: str, cnum: int, ctype: int) -> DecodeError:
    return DecodeError(offset, reason, ErrorCode.BAD_MESSAGE_FORMAT, object_subcode(cnum, ctype) if cnum else 0)


def check_framing(frame) -> int:
    """The message length a common header announces, after the checks framing depends on (version, length)."""
    version_flags, _, _, length = HEADER.unpack_from(frame, 0)
    if version_flags >> 4 != VERSION:
        raise DecodeError(0, f"COPS version {version_flags >> 4}, expected {VERSION}")
    if length % 4:
        raise DecodeError(4, f"message length {length} is not a multiple of 4")
    if length < HEADER_SIZE:
        raise DecodeError(4, f"message length {length} is shorter than the 8-byte common header")
    return length


def decode_header(frame) -> tuple[int, int, int, int]:
    """Check and unpack a common header: (flags, opcode, client_type, length)."""
    if len(frame) < HEADER_SIZE:
        raise DecodeError(0, f"{len(frame)} bytes, shorter than the 8-byte common header")
    check_framing(frame)
    version_flags, opcode, client_type, length = HEADER.unpack_from(frame, 0)
    if opcode not in MESSAGE_CLASSES:
        raise DecodeError(1, f"unknown op-code {opcode}")
    return version_flags & 0x0F, opcode, client_type, length


def decode_message(frame: bytes | bytearray | memoryview) -> Message:
    """Decode one whole COPS message; anything malformed raises :class:`DecodeError`."""
    if type(frame) is bytes:
        message = _TEMPLATES.decode(frame)  # a gate-command DEC/RPT in one unpack
        if message is not None:
            return message
    return _decode_general(frame)


def _decode_general(frame: bytes | bytearray | memoryview) -> Message:
    """The reference decoding, object by object: what the templates must match."""
    flags, opcode, client_type, length = decode_header(frame)
    if length != len(frame):
        raise DecodeError(4, f"message length {length} but {len(frame)} bytes given")
    # bytes are sliced directly (cheaper than through a memoryview); other buffers through a memoryview.
    buf = frame if type(frame) is bytes or isinstance(frame, memoryview) else memoryview(frame)
    try:
        objects = walk(buf, HEADER_SIZE, length, COPS_OBJECTS, UnknownObject, _object_error, aligned=True)
        _check_grammar(opcode, objects)
    except DecodeError as exc:
        exc.opcode = opcode
        raise
    return tuple.__new__(MESSAGE_CLASSES[opcode], (tuple(objects), client_type, bool(flags & 1)))


def _offset_of(objects: list, index: int) -> int:
    """Where object ``index`` starts; only computed to report an error."""
    return HEADER_SIZE + sum((len(obj.encode()) + 3) & ~3 for obj in objects[:index])


def _num_type(obj) -> tuple[int, int]:
    return (obj.cnum, obj.ctype) if type(obj) is UnknownObject else (obj.NUM, obj.TYPE)


# The classes each message may carry and must carry, derived from GRAMMARS, so that the common case
# (every object known and allowed, every mandatory one present) costs two set comparisons.
_ALLOWED_CLASSES = {
    opcode: frozenset(cls for cls in COPS_OBJECTS.classes.values() if cls.NUM in grammar.allowed)
    for opcode, grammar in GRAMMARS.items()
}
_MANDATORY_CLASSES = {opcode: frozenset(grammar.mandatory) for opcode, grammar in GRAMMARS.items()}
_DECISION_CLASSES = frozenset(cls for cls in COPS_OBJECTS.classes.values() if cls.NUM == CNum.DECISION)


def _check_grammar(opcode: int, objects: list) -> None:
    grammar = GRAMMARS[opcode]
    present = set(map(type, objects))
    if not present <= _ALLOWED_CLASSES[opcode]:
        allowed = grammar.allowed
        for index, obj in enumerate(objects):
            num, ctype = _num_type(obj)
            # Unknown C-Nums are kept for the caller to judge (RFC 2748 error 13 / DRQ reason 13).
            if num not in allowed and 1 <= num <= CNum.INTEGRITY:
                raise DecodeError(_offset_of(objects, index),
                                  f"{CNum(num).name} object ({num}/{ctype}) is not allowed in {OpCode(opcode).name}",
                                  ErrorCode.BAD_MESSAGE_FORMAT, object_subcode(num, ctype))
    if not _MANDATORY_CLASSES[opcode] <= present:
        for required in grammar.mandatory:
            if required not in present:
                raise DecodeError(HEADER_SIZE,
                                  f"{OpCode(opcode).name} lacks its mandatory {_OBJECT_NAMES[required.NUM]} object",
                                  ErrorCode.MANDATORY_COPS_OBJECT_MISSING, object_subcode(required.NUM, required.TYPE))
    if opcode == OpCode.DEC:
        _check_decision(objects, present)


def _check_decision(objects: list, present: set) -> None:
    """A DEC carries an Error or decision groups, each Context followed first by its Flags (RFC 2748 3.2)."""
    has_error = Error in present
    has_context = Context in present
    if has_error and has_context:
        raise DecodeError(HEADER_SIZE, "DEC carries both an Error and decisions")
    if not has_error and not has_context:
        raise DecodeError(HEADER_SIZE, "DEC carries neither decisions nor an Error",
                          ErrorCode.MANDATORY_COPS_OBJECT_MISSING, object_subcode(CNum.CONTEXT, 1))
    if has_context:
        last = len(objects) - 1
        for index, obj in enumerate(objects):
            if type(obj) is Context and (index == last or type(objects[index + 1]) is not DecisionFlags):
                raise DecodeError(_offset_of(objects, index),
                                  "a DEC Context is not followed by its Decision Flags (6/1)",
                                  ErrorCode.MANDATORY_COPS_OBJECT_MISSING, object_subcode(CNum.DECISION, 1))
    if not present.isdisjoint(_DECISION_CLASSES):
        for obj in objects:
            kind = type(obj)
            if kind is Context:
                break
            if kind in _DECISION_CLASSES:
                raise DecodeError(HEADER_SIZE, "a DEC Decision object comes before any Context",
                                  ErrorCode.BAD_MESSAGE_FORMAT, object_subcode(CNum.DECISION, 1))


# The DEC and RPT that carry DQoS gate commands (protocol.md 3.1), as decision_for/report_for build them: one
# struct each way instead of an object walk (see cops_core.templates).  Both shapes are grammatical, so a
# template's result needs no _check_grammar.
_TEMPLATES = MessageTemplates(
    (Decision, (HANDLE_4, part(Context), part(DecisionFlags)), ClientSpecificDecision),
    (Report, (HANDLE_4, part(ReportTypeObject)), SignaledClientSI),
)
fastpath.register("message templates", _TEMPLATES.decoders, _TEMPLATES.encoders, _decode_general, _encode_general)
