"""Write ``samples/dqos_call.pcap``: one whole PacketCable DQoS session between a CMS and a CMTS.

The session follows protocol.md 1.3 and section 4: the Gate Controller
(10.0.0.2) opens TCP to the CMTS (10.0.0.1:2126); the CMTS sends OPN, the GC
answers CAT, the CMTS sends its REQ; then Gate-Alloc, Gate-Set (the 4.2
message plus the allocated Gate-ID), a keep-alive and its echo, Gate-Open,
Gate-Info, Gate-Close, Gate-Delete and the GC's Client-Close.  Every message
is built with the codec and written with :class:`cms_sim.pcap.PcapWriter`;
times and sequence numbers are fixed, so the file is the same on every run.

Run ``python samples/make_sample.py [OUTPUT]`` after changing the codec or the writer.
"""

from __future__ import annotations

import sys
from ipaddress import IPv4Address
from pathlib import Path

from cms_sim.pcap import PcapWriter
from cops_core import ClientAccept, ClientClose, ClientOpen, ErrorCode, KeepAlive, Request
from cops_core.dqos import (
    GateAlloc,
    GateAllocAck,
    GateClose,
    GateDelete,
    GateDeleteAck,
    GateInfo,
    GateInfoAck,
    GateOpen,
    GateSet,
    GateSetAck,
    GateSpec,
    PacketCableReason,
    decision_for,
    report_for,
)
from cops_core.objects import Handle

CMTS = ("10.0.0.1", 2126)
GC = ("10.0.0.2", 49152)
START = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
MTA = IPv4Address("10.0.1.10")
FAR_END = IPv4Address("10.1.1.20")
GATE_ID = 0x0000A001
HANDLE = Handle.from_int(1)


def _gate_spec(direction: int, source: IPv4Address, destination: IPv4Address) -> GateSpec:
    """G.711 / 20 ms as in protocol.md 4.2: UDP to port 16384, EF, T1 250 s, T7 200 s."""
    return GateSpec(direction, 17, 0, 1, source, destination, 0, 16384, 0xB8, 250, 200, 0,
                    10000.0, 200.0, 10000.0, 200, 200, 10000.0, 800)


GATE_SPECS = (_gate_spec(0, FAR_END, MTA), _gate_spec(1, MTA, FAR_END))

SESSION = [
    # (seconds after START, sent by the GC (the TCP client)?, message)
    (0.001, False, ClientOpen.new("CMTS-LAB1")),
    (0.002, True, ClientAccept.new(30)),
    (0.003, False, Request.new(HANDLE)),
    (1.000, True, decision_for(HANDLE, GateAlloc(0x1233, MTA, activity_count=4))),
    (1.002, False, report_for(HANDLE, GateAllocAck(0x1233, GATE_ID, MTA, activity_count=1))),
    (1.100, True, decision_for(HANDLE, GateSet(0x1234, MTA, GATE_SPECS, gate_id=GATE_ID, activity_count=4))),
    (1.102, False, report_for(HANDLE, GateSetAck(0x1234, GATE_ID, MTA, activity_count=1))),
    (8.000, False, KeepAlive()),
    (8.001, True, KeepAlive(solicited=True)),
    (9.000, False, report_for(HANDLE, GateOpen(0, GATE_ID, MTA))),
    (12.000, True, decision_for(HANDLE, GateInfo(0x1235, MTA, GATE_ID))),
    (12.002, False, report_for(HANDLE, GateInfoAck(0x1235, GATE_ID, MTA, activity_count=1, gate_specs=GATE_SPECS))),
    (20.000, False, report_for(HANDLE, GateClose(0, GATE_ID, MTA, PacketCableReason(1, 0)))),
    (20.500, True, decision_for(HANDLE, GateDelete(0x1236, MTA, GATE_ID))),
    (20.502, False, report_for(HANDLE, GateDeleteAck(0x1236, GATE_ID, MTA))),
    (21.000, True, ClientClose.new(ErrorCode.SHUTTING_DOWN)),
]


def write(target) -> None:
    """Write the session to ``target`` (a path or a binary file)."""
    with PcapWriter(target) as pcap:
        connection = pcap.connection(client=GC, server=CMTS, start_time=START)
        for offset, from_gc, message in SESSION:
            connection.send(START + offset, from_client=from_gc, data=message.encode())
        connection.close(START + 21.001, from_client=True)


if __name__ == "__main__":
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("dqos_call.pcap")
    write(output)
    print(f"wrote {output}")
