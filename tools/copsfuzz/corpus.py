"""Valid COPS messages to mutate: one of each message and each DQoS gate command, built with cops_core.

The live targets need messages that name the peer's Handle and a Gate-ID
the CMTS gave out, so the corpus is a function of both; the decoder uses
the defaults.  Each entry says who sends it (``pdp``: the gate controller,
``pep``: the CMTS), so a fuzzer playing one side mutates that side's words.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import NamedTuple

from cops_core.codes import DecisionCommand, ErrorCode, ReasonCode, ReportType, RType
from cops_core.dqos import (
    EventGenerationInfo,
    GateAlloc,
    GateAllocAck,
    GateAllocErr,
    GateClose,
    GateDelete,
    GateDeleteAck,
    GateDeleteErr,
    GateInfo,
    GateInfoAck,
    GateInfoErr,
    GateOpen,
    GateSet,
    GateSetAck,
    GateSetErr,
    GateSpec,
    PacketCableError,
    PacketCableReason,
    SessionDescriptionParameters,
    decision_for,
    report_for,
)
from cops_core.messages import (
    ClientAccept,
    ClientClose,
    ClientOpen,
    Decision,
    DecisionGroup,
    DeleteRequest,
    KeepAlive,
    Request,
    SyncComplete,
    SyncRequest,
)
from cops_core.objects import (
    PEPID,
    Context,
    DecisionFlags,
    Error,
    Handle,
    IntegrityHMAC,
    LastPDPAddressIPv4,
    NamedClientSI,
    PDPRedirectAddressIPv4,
    Reason,
)

SUBSCRIBER = IPv4Address("10.0.1.10")
FAR_END = IPv4Address("10.1.1.20")
HANDLE = Handle.from_int(1)
GATE = 0x0000A001
TID = 0x1234
SAMPLE_CAPTURE = Path(__file__).resolve().parents[2] / "samples" / "dqos_call.pcap"

DS_SPEC = GateSpec(direction=0, protocol=17, flags=0, session_class=1, source_ip=FAR_END, destination_ip=SUBSCRIBER,
                   source_port=0, destination_port=16384, ds_field=0xB8, t1=250, t7=200, t8=0,
                   token_bucket_rate=10000.0, token_bucket_size=200.0, peak_data_rate=10000.0,
                   minimum_policed_unit=200, maximum_packet_size=200, rate=10000.0, slack_term=800)
US_SPEC = DS_SPEC._replace(direction=1, source_ip=SUBSCRIBER, destination_ip=FAR_END)
EVENT_INFO = EventGenerationInfo(IPv4Address("10.0.0.5"), 1813, 0, IPv4Address("10.0.0.6"), 1813, 0,
                                 0x5F000000, "CMS00001", "1-0500  ", 7)


class Seed(NamedTuple):
    """One valid message: a name for reports, its bytes, and who sends it ("pdp", "pep" or "both")."""

    name: str
    data: bytes
    sender: str


def gate_commands(gate_id: int = GATE) -> list[tuple[str, object]]:
    """The gate controller's four commands, in the shapes a CMS sends them (and a few richer ones)."""
    return [
        ("Gate-Alloc", GateAlloc(TID, SUBSCRIBER, 4)),
        ("Gate-Set", GateSet(TID, SUBSCRIBER, (DS_SPEC, US_SPEC), activity_count=4)),
        ("Gate-Set modify", GateSet(TID, SUBSCRIBER, (DS_SPEC,), gate_id=gate_id)),
        ("Gate-Set full", GateSet(TID, SUBSCRIBER, (DS_SPEC, US_SPEC), gate_id=gate_id, activity_count=2,
                                  event_generation_info=EVENT_INFO,
                                  session_description_parameters=SessionDescriptionParameters.from_sdp(
                                      "v=0 m=audio 16384 RTP/AVP 0", "v=0 m=audio 30000 RTP/AVP 0"))),
        ("Gate-Set IPv6", GateSet(TID, IPv6Address("2001:db8::10"), (DS_SPEC,))),
        ("Gate-Info", GateInfo(TID, SUBSCRIBER, gate_id)),
        ("Gate-Delete", GateDelete(TID, SUBSCRIBER, gate_id, PacketCableReason(0, 0))),
    ]


def cmts_replies(gate_id: int = GATE) -> list[tuple[str, object]]:
    """Every CMTS reply (each Ack and Err) and event."""
    error = PacketCableError(2, 0)
    return [
        ("Gate-Alloc-Ack", GateAllocAck(TID, gate_id, SUBSCRIBER, 1)),
        ("Gate-Alloc-Err", GateAllocErr(TID, PacketCableError(4, 0), SUBSCRIBER)),
        ("Gate-Set-Ack", GateSetAck(TID, gate_id, SUBSCRIBER, 1)),
        ("Gate-Set-Err", GateSetErr(TID, PacketCableError(6, 0x0501), SUBSCRIBER, gate_id)),
        ("Gate-Info-Ack", GateInfoAck(TID, gate_id, SUBSCRIBER, 1, (DS_SPEC, US_SPEC),
                                      event_generation_info=EVENT_INFO)),
        ("Gate-Info-Err", GateInfoErr(TID, error, SUBSCRIBER, gate_id)),
        ("Gate-Delete-Ack", GateDeleteAck(TID, gate_id, SUBSCRIBER)),
        ("Gate-Delete-Err", GateDeleteErr(TID, error, SUBSCRIBER, gate_id)),
        ("Gate-Open", GateOpen(0, gate_id, SUBSCRIBER)),
        ("Gate-Close", GateClose(0, gate_id, SUBSCRIBER, PacketCableReason(1, 0))),
    ]


def pdp_messages(handle: Handle = HANDLE, gate_id: int = GATE) -> list[Seed]:
    """What a gate controller sends: CAT, a DEC per gate command, the other decisions, SSQ, KA, CC."""
    seeds = [Seed("CAT", ClientAccept.new(30).encode(), "pdp"),
             Seed("CAT with ACCT", ClientAccept.new(30, 60).encode(), "pdp")]
    seeds += [Seed(f"DEC {name}", decision_for(handle, command).encode(), "pdp")
              for name, command in gate_commands(gate_id)]
    null = DecisionGroup(Context(RType.CONFIGURATION, 0), DecisionFlags(DecisionCommand.NULL_DECISION, 0))
    seeds += [
        Seed("DEC null", Decision.new(handle, null, solicited=True).encode(), "pdp"),
        Seed("DEC error", Decision.new(handle, error=Error(ErrorCode.UNABLE_TO_PROCESS, 0)).encode(), "pdp"),
        Seed("DEC signed", Decision(decision_for(handle, GateInfo(TID, SUBSCRIBER, gate_id)).objects
                                    + (IntegrityHMAC(1, 7, bytes(12)),)).encode(), "pdp"),
        Seed("SSQ", SyncRequest.new(handle).encode(), "pdp"),
        Seed("SSQ all", SyncRequest.new().encode(), "pdp"),
        Seed("KA", KeepAlive().encode(), "both"),
        Seed("CC", ClientClose.new(ErrorCode.SHUTTING_DOWN).encode(), "both"),
        Seed("CC redirect", ClientClose.new(ErrorCode.REDIRECT_TO_PREFERRED_SERVER, 0,
                                            PDPRedirectAddressIPv4(IPv4Address("10.0.0.3"), 2126)).encode(), "pdp"),
    ]
    return seeds


def pep_messages(handle: Handle = HANDLE, gate_id: int = GATE) -> list[Seed]:
    """What a CMTS sends: OPN, REQ, an RPT per reply and event, DRQ, SSC, KA, CC."""
    seeds = [
        Seed("OPN", ClientOpen.new("CMTS-FUZZ").encode(), "pep"),
        Seed("OPN full", ClientOpen((PEPID("CMTS-FUZZ-2"), NamedClientSI(b"dqos"),
                                     LastPDPAddressIPv4(IPv4Address("10.0.0.2"), 2126))).encode(), "pep"),
        Seed("REQ", Request.new(handle).encode(), "pep"),
    ]
    seeds += [Seed(f"RPT {name}", report_for(handle, command).encode(), "pep")
              for name, command in cmts_replies(gate_id)]
    seeds += [
        Seed("RPT Gate-Open as Success",
             report_for(handle, GateOpen(0, gate_id), event_report_type=ReportType.SUCCESS).encode(), "pep"),
        Seed("DRQ", DeleteRequest.new(handle, Reason(ReasonCode.MALFORMED_DECISION, 0)).encode(), "pep"),
        Seed("SSC", SyncComplete.new(handle).encode(), "pep"),
        Seed("KA", KeepAlive().encode(), "both"),
        Seed("CC", ClientClose.new(ErrorCode.COMMUNICATION_FAILURE).encode(), "both"),
    ]
    return seeds


def sample_frames(path: Path = SAMPLE_CAPTURE) -> list[Seed]:
    """The COPS frames of the project's sample capture (samples/dqos_call.pcap), if it is there."""
    from cms_sim.decode.inputs import read_units

    if not path.exists():
        return []
    with path.open("rb") as source:
        return [Seed(f"{path.name} frame {unit.origin.frame if unit.origin else index}", unit.data, "both")
                for index, unit in enumerate(read_units(source), 1) if unit.error is None]


def full_corpus() -> list[Seed]:
    """Everything the decoder target mutates: both sides' messages and the sample capture's frames."""
    pdp = pdp_messages()
    pep = [seed for seed in pep_messages() if seed.sender != "both"]  # KA and CC are in pdp's list already
    return pdp + pep + sample_frames()
