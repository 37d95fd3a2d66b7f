"""Hypothesis strategies for valid COPS messages (all ten types), COPS and PacketCable objects, gate commands.

Generated values are canonical, i.e. what the codec itself emits: they must
decode back to an equal value and re-encode to identical bytes.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

from hypothesis import strategies as st

from cops_core.codes import ClientType
from cops_core.dqos import (
    COMMAND_CLASSES,
    PACKETCABLE_OBJECTS,
    ElectronicSurveillanceParameters,
    EventGenerationInfo,
    GateSpec,
    MediaConnectionEventInfo,
    PacketCableError,
    PacketCableReason,
    RemoteGateInfo,
    SessionDescriptionParameters,
    UnknownPacketCableObject,
    decision_for,
    report_for,
)
from cops_core.fields import IPV4, TEXT
from cops_core.messages import (
    ClientAccept,
    ClientClose,
    ClientOpen,
    Decision,
    DeleteRequest,
    KeepAlive,
    Report,
    Request,
    SyncComplete,
    SyncRequest,
)
from cops_core.objects import (
    COPS_OBJECTS,
    PEPID,
    AccountingTimer,
    ClientSpecificDecision,
    Context,
    DecisionFlags,
    Error,
    Handle,
    InInterfaceIPv4,
    InInterfaceIPv6,
    IntegrityHMAC,
    IntegrityTLS,
    KATimer,
    LastPDPAddressIPv4,
    LastPDPAddressIPv6,
    LPDPClientSpecificDecision,
    LPDPDecisionFlags,
    LPDPNamedDecisionData,
    LPDPReplacementData,
    LPDPStatelessData,
    NamedClientSI,
    NamedDecisionData,
    OutInterfaceIPv4,
    OutInterfaceIPv6,
    PDPRedirectAddressIPv4,
    PDPRedirectAddressIPv6,
    Reason,
    ReplacementData,
    ReportTypeObject,
    SignaledClientSI,
    StatelessData,
    UnknownObject,
)

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
f32 = st.floats(width=32, allow_nan=False)
small_bytes = st.binary(max_size=24)
ipv4 = st.builds(IPv4Address, u32)
ipv6 = st.builds(IPv6Address, st.binary(min_size=16, max_size=16))
address = st.one_of(ipv4, ipv6)
_BY_WIRE = {"B": u8, "H": u16, "I": u32, "f": f32}


def declared(cls) -> st.SearchStrategy:
    """Any value of a fixed-layout object, each field drawn as its declaration (cops_core.fields) says it travels:
    a field added to a declaration is generated here too, by name."""
    fields = {}
    for field in cls.FIELDS:
        if field.reserved:
            continue
        if field.conv is IPV4:
            fields[field.name] = ipv4
        elif field.conv is TEXT:
            fields[field.name] = st.text(st.characters(min_codepoint=0, max_codepoint=0xFF), min_size=field.size,
                                         max_size=field.size)  # latin-1
        else:
            fields[field.name] = _BY_WIRE[field.wire]
    return st.builds(cls, **fields)

client_type = st.sampled_from([ClientType.PACKETCABLE_DQOS, ClientType.PACKETCABLE_MM, 0, 1, 2, 0xFFFF])

# --- COPS objects ------------------------------------------------------------------------------

handle = st.builds(Handle, st.binary(max_size=12))
context = declared(Context)
in_int = st.one_of(st.builds(InInterfaceIPv4, ipv4, u32), st.builds(InInterfaceIPv6, ipv6, u32))
out_int = st.one_of(st.builds(OutInterfaceIPv4, ipv4, u32), st.builds(OutInterfaceIPv6, ipv6, u32))
reason = declared(Reason)
flags = declared(DecisionFlags)
error = declared(Error)
client_si = st.one_of(st.builds(SignaledClientSI, small_bytes), st.builds(NamedClientSI, small_bytes))
lpdp = st.one_of(st.builds(LPDPDecisionFlags, u16, u16), st.builds(LPDPStatelessData, small_bytes),
                 st.builds(LPDPReplacementData, small_bytes), st.builds(LPDPClientSpecificDecision, small_bytes),
                 st.builds(LPDPNamedDecisionData, small_bytes))
pepid = st.builds(PEPID, st.text(st.characters(min_codepoint=1, max_codepoint=127), max_size=40))
redirect = st.one_of(st.builds(PDPRedirectAddressIPv4, ipv4, u16), st.builds(PDPRedirectAddressIPv6, ipv6, u16))
last_pdp = st.one_of(st.builds(LastPDPAddressIPv4, ipv4, u16), st.builds(LastPDPAddressIPv6, ipv6, u16))
integrity = st.one_of(st.builds(IntegrityHMAC, u32, u32, st.binary(max_size=20)), st.builds(IntegrityTLS, u16))

_FORBIDDEN_EVERYWHERE = frozenset(range(1, 17))


def unknown_object(allowed_cnums: frozenset[int] = frozenset()) -> st.SearchStrategy[UnknownObject]:
    """An object the codec does not know: a C-Num outside 1..16, or an unregistered C-Type of an allowed C-Num."""
    foreign = st.builds(UnknownObject, st.sampled_from([0, 17, 42, 128, 255]), u8, small_bytes)
    if not allowed_cnums:
        return foreign
    known_cnum = st.builds(UnknownObject, st.sampled_from(sorted(allowed_cnums)), u8, small_bytes).filter(
        lambda obj: COPS_OBJECTS.get(obj.cnum, obj.ctype) is None)
    return st.one_of(foreign, known_cnum)


@st.composite
def sprinkle(draw, objects: list, allowed_cnums: frozenset[int] = frozenset()) -> tuple:
    """``objects`` with unknown objects inserted anywhere and maybe an Integrity object last."""
    objects = list(objects)
    for _ in range(draw(st.integers(0, 2))):
        objects.insert(draw(st.integers(0, len(objects))), draw(unknown_object(allowed_cnums)))
    if draw(st.booleans()):
        objects.append(draw(integrity))
    return tuple(objects)


def _message(cls, objects_strategy, default_client_type=None):
    return st.builds(cls, objects_strategy, client_type if default_client_type is None else default_client_type,
                     st.booleans())


def _optional(strategy) -> st.SearchStrategy[list]:
    return st.lists(strategy, max_size=1)


@st.composite
def request_objects(draw) -> tuple:
    base = [draw(handle), draw(context), *draw(_optional(in_int)), *draw(_optional(out_int)),
            *draw(st.lists(client_si, max_size=2)), *draw(st.lists(lpdp, max_size=2))]
    return draw(sprinkle(base, frozenset({1, 2, 3, 4, 9, 7, 16})))


@st.composite
def decision_objects(draw) -> tuple:
    objects = [draw(handle)]
    if draw(st.booleans()):
        objects.append(draw(error))
    else:
        for _ in range(draw(st.integers(1, 3))):
            objects += [draw(context), draw(flags)]
            for cls in (StatelessData, ReplacementData, ClientSpecificDecision, NamedDecisionData):
                if draw(st.booleans()):
                    objects.append(cls(draw(small_bytes)))
    # Unknown objects may go anywhere except between a Context and its Flags (RFC 2748 3.2: Flags first).
    slots = [i for i in range(len(objects) + 1) if not (i > 0 and type(objects[i - 1]) is Context)]
    for _ in range(draw(st.integers(0, 2))):
        index = draw(st.sampled_from(slots))
        objects.insert(index, draw(unknown_object(frozenset({1, 2, 6, 8, 16}))))
        slots = [i for i in range(len(objects) + 1) if not (i > 0 and type(objects[i - 1]) is Context)]
    if draw(st.booleans()):
        objects.append(draw(integrity))
    return tuple(objects)


@st.composite
def report_objects(draw) -> tuple:
    base = [draw(handle), ReportTypeObject(draw(u16)), *draw(_optional(client_si))]
    return draw(sprinkle(base, frozenset({1, 12, 9, 16})))


@st.composite
def handle_only(draw) -> tuple:
    return draw(sprinkle(draw(_optional(handle)), frozenset({1, 16})))


@st.composite
def open_objects(draw) -> tuple:
    base = [draw(pepid), *draw(_optional(client_si)), *draw(_optional(last_pdp))]
    return draw(sprinkle(base, frozenset({11, 9, 14, 16})))


@st.composite
def accept_objects(draw) -> tuple:
    base = [KATimer(draw(u16)), *[AccountingTimer(s) for s in draw(_optional(u16))]]
    return draw(sprinkle(base, frozenset({10, 15, 16})))


@st.composite
def close_objects(draw) -> tuple:
    return draw(sprinkle([draw(error), *draw(_optional(redirect))], frozenset({8, 13, 16})))


@st.composite
def delete_objects(draw) -> tuple:
    return draw(sprinkle([draw(handle), draw(reason)], frozenset({1, 5, 16})))


@st.composite
def keepalive_objects(draw) -> tuple:
    return draw(sprinkle([], frozenset({16})))


COPS_MESSAGES = {
    "REQ": _message(Request, request_objects()),
    "DEC": _message(Decision, decision_objects()),
    "RPT": _message(Report, report_objects()),
    "DRQ": _message(DeleteRequest, delete_objects()),
    "SSQ": _message(SyncRequest, handle_only()),
    "OPN": _message(ClientOpen, open_objects()),
    "CAT": _message(ClientAccept, accept_objects()),
    "CC": _message(ClientClose, close_objects()),
    "KA": _message(KeepAlive, keepalive_objects()),
    "SSC": _message(SyncComplete, handle_only()),
}
cops_message = st.one_of(*COPS_MESSAGES.values())

# --- PacketCable objects and gate commands ------------------------------------------------------

gate_spec = declared(GateSpec)
event_generation_info = declared(EventGenerationInfo)
electronic_surveillance = declared(ElectronicSurveillanceParameters)
session_description = st.one_of(
    st.builds(SessionDescriptionParameters.from_sdp, st.text(max_size=20).filter(lambda t: "\0" not in t),
              st.text(max_size=20).filter(lambda t: "\0" not in t)),
    st.builds(SessionDescriptionParameters, small_bytes),
)
unknown_packetcable_object = st.builds(UnknownPacketCableObject, u8, u8, small_bytes).filter(
    lambda obj: PACKETCABLE_OBJECTS.get(obj.snum, obj.stype) is None)

FIELD_STRATEGIES = {
    "transaction_id": u16,
    "subscriber": address,
    "gate_id": u32,
    "activity_count": u32,
    "gate_specs": st.lists(gate_spec, min_size=1, max_size=3).map(tuple),
    "error": declared(PacketCableError),
    "reason": declared(PacketCableReason),
    "remote_gate_info": st.builds(RemoteGateInfo, small_bytes),
    "event_generation_info": event_generation_info,
    "media_connection_event_info": st.builds(MediaConnectionEventInfo, small_bytes),
    "electronic_surveillance_parameters": electronic_surveillance,
    "session_description_parameters": session_description,
    "extra": st.lists(unknown_packetcable_object, max_size=2).map(tuple),
}


@st.composite
def gate_command(draw, command_type: int | None = None):
    """Any of the 14 gate commands, every field arbitrary; optional fields present or absent."""
    cls = COMMAND_CLASSES[command_type if command_type is not None else draw(st.sampled_from(sorted(COMMAND_CLASSES)))]
    required = {slot.field for slot in cls.REQUIRED} | {"transaction_id"}
    values = {}
    for name in cls._fields:
        if name in required or name not in cls._field_defaults or draw(st.booleans()):
            values[name] = draw(FIELD_STRATEGIES[name])
        elif name == "gate_specs":
            values[name] = ()
    return cls(**values)


GC_COMMANDS = {1, 4, 7, 10}


@st.composite
def gate_message(draw):
    """A DQoS DEC or RPT carrying an arbitrary gate command; returns (message, command)."""
    command = draw(gate_command())
    handle_value = draw(handle)
    if command.COMMAND in GC_COMMANDS:
        return decision_for(handle_value, command), command
    return report_for(handle_value, command, event_report_type=draw(st.sampled_from([1, 2, 3]))), command


any_message = st.one_of(cops_message, gate_message().map(lambda pair: pair[0]))
