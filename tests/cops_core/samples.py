"""Shared example values for the codec tests: the lab of protocol.md section 4 and one of everything.

CMTS 10.0.0.1:2126, GC 10.0.0.2, MTA 10.0.1.10, far end 10.1.1.20; Handle 1,
TID 0x1234, Gate-ID 0x0000A001 (protocol.md 4).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

from cops_core.codes import DecisionCommand, DecisionFlag, ErrorCode, ReasonCode, ReportType, RType
from cops_core.dqos import (
    ActivityCount,
    ElectronicSurveillanceParameters,
    EventGenerationInfo,
    GateAlloc,
    GateAllocAck,
    GateAllocErr,
    GateClose,
    GateDelete,
    GateDeleteAck,
    GateDeleteErr,
    GateID,
    GateInfo,
    GateInfoAck,
    GateInfoErr,
    GateOpen,
    GateSet,
    GateSetAck,
    GateSetErr,
    GateSpec,
    MediaConnectionEventInfo,
    PacketCableError,
    PacketCableReason,
    RemoteGateInfo,
    SessionDescriptionParameters,
    SubscriberIDIPv4,
    SubscriberIDIPv6,
    TransactionID,
    UnknownPacketCableObject,
)
from cops_core.messages import (
    ClientAccept,
    ClientClose,
    ClientOpen,
    Decision,
    DecisionGroup,
    DeleteRequest,
    KeepAlive,
    Report,
    Request,
    SyncComplete,
    SyncRequest,
)
from cops_core.objects import (
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

CMTS = IPv4Address("10.0.0.1")
GC = IPv4Address("10.0.0.2")
MTA = IPv4Address("10.0.1.10")
FAR_END = IPv4Address("10.1.1.20")
MTA6 = IPv6Address("2001:db8::10")
HANDLE = Handle.from_int(1)
TID = 0x1234
GATE = 0x0000A001


def unhex(text: str) -> bytes:
    """Bytes from hex the way protocol.md writes it: spaces and ``|`` separators allowed."""
    return bytes.fromhex(text.replace("|", " "))


# --- protocol.md 4.2: the G.711/20 ms Gate-Spec pair ----------------------------------------

DS_SPEC = GateSpec(
    direction=0, protocol=17, flags=0, session_class=1,
    source_ip=FAR_END, destination_ip=MTA, source_port=0, destination_port=16384, ds_field=0xB8,
    t1=250, t7=200, t8=0,
    token_bucket_rate=10000.0, token_bucket_size=200.0, peak_data_rate=10000.0,
    minimum_policed_unit=200, maximum_packet_size=200, rate=10000.0, slack_term=800,
)
US_SPEC = DS_SPEC._replace(direction=1, source_ip=MTA, destination_ip=FAR_END)
GATE_SET_42 = GateSet(TID, MTA, (DS_SPEC, US_SPEC), activity_count=4)

# --- every COPS object class, with its exact wire form --------------------------------------

COPS_OBJECT_WIRE = [
    # (object, bytes on the wire: header, body, padding)
    (Handle.from_int(1), "00 08 01 01 00 00 00 01"),
    (Handle(b"\x01\x02\x03\x04\x05"), "00 09 01 01 01 02 03 04 05 00 00 00"),
    (Context(RType.CONFIGURATION, 0), "00 08 02 01 00 08 00 00"),
    (InInterfaceIPv4(IPv4Address("10.0.0.1"), 7), "00 0c 03 01 0a 00 00 01 00 00 00 07"),
    (InInterfaceIPv6(IPv6Address("2001:db8::1"), 7),
     "00 18 03 02 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 07"),
    (OutInterfaceIPv4(IPv4Address("10.0.0.2"), 0x01020304), "00 0c 04 01 0a 00 00 02 01 02 03 04"),
    (OutInterfaceIPv6(IPv6Address("fe80::2"), 9),
     "00 18 04 02 fe 80 00 00 00 00 00 00 00 00 00 00 00 00 00 02 00 00 00 09"),
    (Reason(ReasonCode.MALFORMED_DECISION, 0), "00 08 05 01 00 0c 00 00"),
    (DecisionFlags(DecisionCommand.INSTALL, DecisionFlag.TRIGGER_ERROR), "00 08 06 01 00 01 00 01"),
    (StatelessData(b"\xaa\xbb\xcc"), "00 07 06 02 aa bb cc 00"),
    (ReplacementData(b"\x01\x02\x03\x04"), "00 08 06 03 01 02 03 04"),
    (ClientSpecificDecision(b"\x00\x08\x03\x01\x00\x00\xa0\x01"), "00 0c 06 04 00 08 03 01 00 00 a0 01"),
    (NamedDecisionData(b"n"), "00 05 06 05 6e 00 00 00"),
    (LPDPDecisionFlags(DecisionCommand.REMOVE, 0), "00 08 07 01 00 02 00 00"),
    (LPDPStatelessData(b"\x01\x02"), "00 06 07 02 01 02 00 00"),
    (LPDPReplacementData(b""), "00 04 07 03"),
    (LPDPClientSpecificDecision(b"\x09\x08\x07\x06\x05"), "00 09 07 04 09 08 07 06 05 00 00 00"),
    (LPDPNamedDecisionData(b"abcdefgh"), "00 0c 07 05 61 62 63 64 65 66 67 68"),
    (Error(ErrorCode.UNKNOWN_COPS_OBJECT, 0x2a01), "00 08 08 01 00 0d 2a 01"),
    (SignaledClientSI(b"\x00\x08\x01\x01\x12\x34\x00\x05"), "00 0c 09 01 00 08 01 01 12 34 00 05"),
    (NamedClientSI(b"xyz"), "00 07 09 02 78 79 7a 00"),
    (KATimer(30), "00 08 0a 01 00 00 00 1e"),
    (PEPID("CMTS-LAB1"), "00 10 0b 01 43 4d 54 53 2d 4c 41 42 31 00 00 00"),
    (ReportTypeObject(ReportType.FAILURE), "00 08 0c 01 00 02 00 00"),
    (PDPRedirectAddressIPv4(IPv4Address("10.0.0.3"), 2126), "00 0c 0d 01 0a 00 00 03 00 00 08 4e"),
    (PDPRedirectAddressIPv6(IPv6Address("2001:db8::3"), 3918),
     "00 18 0d 02 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 03 00 00 0f 4e"),
    (LastPDPAddressIPv4(IPv4Address("10.0.0.2"), 2126), "00 0c 0e 01 0a 00 00 02 00 00 08 4e"),
    (LastPDPAddressIPv6(IPv6Address("::ffff:10.0.0.2"), 2126),
     "00 18 0e 02 00 00 00 00 00 00 00 00 00 00 ff ff 0a 00 00 02 00 00 08 4e"),
    (AccountingTimer(600), "00 08 0f 01 00 00 02 58"),
    (IntegrityHMAC(0x01020304, 7, bytes(range(12))),
     "00 18 10 01 01 02 03 04 00 00 00 07 00 01 02 03 04 05 06 07 08 09 0a 0b"),
    (IntegrityTLS(1), "00 08 10 02 00 00 00 01"),
]


def host_message(obj):
    """A minimal valid message whose grammar admits ``obj`` (placed after the mandatory objects)."""
    cnum = obj.cnum if type(obj) is UnknownObject else obj.NUM
    handle = HANDLE
    if cnum in (1, 2, 3, 4, 7):
        objects = [handle, Context(RType.CONFIGURATION)]
        if cnum == 1:
            objects[0] = obj
        elif cnum == 2:
            objects[1] = obj
        else:
            objects.append(obj)
        return Request(tuple(objects))
    if cnum == 5:
        return DeleteRequest((handle, obj))
    if cnum == 6:
        flags = obj if type(obj) is DecisionFlags else DecisionFlags()
        objects = [handle, Context(RType.CONFIGURATION), flags]
        if obj is not flags:
            objects.append(obj)
        return Decision(tuple(objects))
    if cnum == 8:
        return ClientClose((obj,))
    if cnum in (9, 12):
        return Report((handle, ReportTypeObject(ReportType.SUCCESS), obj) if cnum == 9 else (handle, obj))
    if cnum in (10, 15):
        return ClientAccept((obj,) if cnum == 10 else (KATimer(30), obj))
    if cnum in (11, 14):
        return ClientOpen((obj,) if cnum == 11 else (PEPID("CMTS-LAB1"), obj))
    if cnum == 13:
        return ClientClose((Error(ErrorCode.REDIRECT_TO_PREFERRED_SERVER), obj))
    if cnum == 16:
        return KeepAlive((obj,))
    raise AssertionError(f"no host message for C-Num {cnum}")


# --- one of every message, minimal and fully loaded ---------------------------------------

INTEGRITY = IntegrityHMAC(1, 2, bytes(range(12)))
UNKNOWN_CNUM = UnknownObject(42, 1, b"\xde\xad\xbe")

MESSAGES = {
    "REQ": Request.new(HANDLE),
    "REQ-full": Request((HANDLE, Context(RType.INCOMING_MESSAGE | RType.RESOURCE_ALLOCATION, 3),
                         InInterfaceIPv4(CMTS, 1), OutInterfaceIPv6(IPv6Address("2001:db8::1"), 2),
                         SignaledClientSI(b"abc"), NamedClientSI(b"named"),
                         LPDPDecisionFlags(), LPDPStatelessData(b"s"), LPDPReplacementData(b"r"),
                         LPDPClientSpecificDecision(b"c"), LPDPNamedDecisionData(b"n"), INTEGRITY)),
    "DEC": Decision.new(HANDLE, DecisionGroup(Context(RType.CONFIGURATION), DecisionFlags(DecisionCommand.INSTALL, 1),
                                              client_specific=ClientSpecificDecision(b"\x00\x04\x0c\x01"))),
    "DEC-two-groups": Decision.new(
        HANDLE,
        DecisionGroup(Context(RType.INCOMING_MESSAGE), DecisionFlags(DecisionCommand.REMOVE), StatelessData(b"1"),
                      ReplacementData(b"22"), ClientSpecificDecision(b"333"), NamedDecisionData(b"4444")),
        DecisionGroup(Context(RType.OUTGOING_MESSAGE), DecisionFlags(DecisionCommand.NULL_DECISION)),
        solicited=True,
    ),
    "DEC-error": Decision.new(HANDLE, error=Error(ErrorCode.UNABLE_TO_PROCESS)),
    "RPT": Report.new(HANDLE, ReportType.SUCCESS, solicited=True),
    "RPT-full": Report((HANDLE, ReportTypeObject(ReportType.ACCOUNTING), SignaledClientSI(b"12345"), INTEGRITY)),
    "DRQ": DeleteRequest.new(HANDLE, Reason(ReasonCode.UNKNOWN_COPS_OBJECT_FROM_PDP, 0x2a01)),
    "SSQ": SyncRequest.new(),
    "SSQ-handle": SyncRequest.new(HANDLE),
    "OPN": ClientOpen.new("CMTS-LAB1"),
    "OPN-full": ClientOpen.new("cmts.lab.example", NamedClientSI(b"\x00\x08\x10\x01\x00\x05\x00\x00"),
                               LastPDPAddressIPv4(GC, 2126), INTEGRITY),
    "CAT": ClientAccept.new(30),
    "CAT-full": ClientAccept((KATimer(0), AccountingTimer(60), INTEGRITY)),
    "CC": ClientClose.new(ErrorCode.SHUTTING_DOWN),
    "CC-redirect": ClientClose.new(ErrorCode.REDIRECT_TO_PREFERRED_SERVER, 0, PDPRedirectAddressIPv6(MTA6, 2126)),
    "KA": KeepAlive(),
    "KA-echo-integrity": KeepAlive((INTEGRITY,), solicited=True),
    "SSC": SyncComplete.new(),
    "SSC-handle": SyncComplete.new(HANDLE, client_type=0x800A),
}

# --- every PacketCable object, with its exact wire form -------------------------------------

EGI = EventGenerationInfo(
    primary_rks_ip=IPv4Address("10.0.2.1"), primary_rks_port=1813, primary_rks_flags=1,
    secondary_rks_ip=IPv4Address("10.0.2.2"), secondary_rks_port=1814, secondary_rks_flags=0,
    bcid_timestamp=0x5F5E1000, bcid_element_id="CMTS0001", bcid_time_zone="0-050000", bcid_event_counter=42,
)
ESP = ElectronicSurveillanceParameters(
    df_cdc_ip=IPv4Address("10.0.3.1"), df_cdc_port=1812, flags=0x0003,
    df_ccc_ip=IPv4Address("10.0.3.2"), df_ccc_port=5000, ccc_id=0xCAFEF00D,
    bcid_timestamp=1, bcid_element_id="ELEMENT1", bcid_time_zone="1+010000", bcid_event_counter=0xFFFFFFFF,
)
SDP = SessionDescriptionParameters.from_sdp("v=0 up", "v=0 down")
RGI = RemoteGateInfo(bytes(range(34)))
MCEI = MediaConnectionEventInfo(b"5551234".ljust(20) + b"5550000".ljust(20))

PACKETCABLE_OBJECT_WIRE = [
    (TransactionID(0x1234, 4), "00 08 01 01 12 34 00 04"),
    (SubscriberIDIPv4(MTA), "00 08 02 01 0a 00 01 0a"),
    (SubscriberIDIPv6(MTA6), "00 14 02 02 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 10"),
    (GateID(GATE), "00 08 03 01 00 00 a0 01"),
    (ActivityCount(4), "00 08 04 01 00 00 00 04"),
    (DS_SPEC,
     "00 3c 05 01 00 11 00 01 0a 01 01 14 0a 00 01 0a 00 00 40 00 b8 00 00 00 00 fa 00 00 00 c8 00 00"
     " 46 1c 40 00 43 48 00 00 46 1c 40 00 00 00 00 c8 00 00 00 c8 46 1c 40 00 00 00 03 20"),
    (RGI, "00 26 06 01 " + bytes(range(34)).hex()),
    (EGI,
     "00 2c 07 01 0a 00 02 01 07 15 01 00 0a 00 02 02 07 16 00 00 5f 5e 10 00"
     " 43 4d 54 53 30 30 30 31 30 2d 30 35 30 30 30 30 00 00 00 2a"),
    (MCEI, "00 2c 08 01 " + (b"5551234".ljust(20) + b"5550000".ljust(20)).hex()),
    (PacketCableError(6, 0x0501), "00 08 09 01 00 06 05 01"),
    (ESP,
     "00 30 0a 01 0a 00 03 01 07 14 00 03 0a 00 03 02 13 88 00 00 ca fe f0 0d"
     " 00 00 00 01 45 4c 45 4d 45 4e 54 31 31 2b 30 31 30 30 30 30 ff ff ff ff"),
    (SDP, "00 14 0b 01 " + b"v=0 up\0v=0 down\0".hex()),
    (PacketCableReason(1, 5), "00 08 0d 01 00 01 00 05"),
]

# --- one of every gate command, with every optional field set -------------------------------

UNKNOWN_PC = UnknownPacketCableObject(12, 1, b"\x01\x02\x03\x04")
PC_ERROR = PacketCableError(2, 0)

GATE_COMMANDS = [
    GateAlloc(1, MTA, activity_count=4, extra=(UNKNOWN_PC,)),
    GateAllocAck(1, GATE, MTA, 1),
    GateAllocErr(1, PacketCableError(4, 0), MTA, GATE),
    GateSet(TID, MTA, (DS_SPEC, US_SPEC), gate_id=GATE, activity_count=4, remote_gate_info=RGI,
            event_generation_info=EGI, media_connection_event_info=MCEI, electronic_surveillance_parameters=ESP,
            session_description_parameters=SDP, extra=(UNKNOWN_PC,)),
    GateSetAck(TID, GATE, MTA, 1),
    GateSetErr(0x1235, PacketCableError(6, 0x0501), MTA),
    GateInfo(7, MTA6, GATE),
    GateInfoAck(7, GATE, MTA, 1, (DS_SPEC, US_SPEC), RGI, EGI, MCEI, ESP, SDP),
    GateInfoErr(7, PC_ERROR, MTA, GATE),
    GateDelete(8, IPv4Address("0.0.0.0"), GATE, PacketCableReason(0, 3)),
    GateDeleteAck(8, GATE, MTA),
    GateDeleteErr(8, PC_ERROR, MTA, GATE),
    GateOpen(0, GATE, MTA),
    GateClose(0, GATE, MTA, PacketCableReason(1, 0)),
]
