"""Codec micro-benchmark: encode and decode of the protocol.md 4.2 Gate-Set DEC and the 4.3 Gate-Set-Ack RPT.

    python bench/codec.py [--repeat 7] [--number 20000]

"full decode" = decode_message + gate_command_of; "full encode" =
decision_for(...).encode() (report_for(...).encode() for the RPT).  The "floor"
is what any Python codec must at least pay: one precompiled struct.Struct that
covers the whole message layout, one pack of all its fields plus one
unpack_from of the same bytes.  Every figure is the best of several repeats,
all measured in the same run.  Targets: Gate-Set round trip <= 5 us and <= 4x floor.
"""

from __future__ import annotations

import argparse
import platform
import struct
import sys
import time
from ipaddress import IPv4Address

from cops_core import decode_message
from cops_core.dqos import GateSet, GateSetAck, GateSpec, decision_for, gate_command_of, report_for
from cops_core.objects import Handle

MTA = IPv4Address("10.0.1.10")
FAR_END = IPv4Address("10.1.1.20")
HANDLE = Handle.from_int(1)
DS_SPEC = GateSpec(direction=0, protocol=17, flags=0, session_class=1, source_ip=FAR_END, destination_ip=MTA,
                   source_port=0, destination_port=16384, ds_field=0xB8, t1=250, t7=200, t8=0,
                   token_bucket_rate=10000.0, token_bucket_size=200.0, peak_data_rate=10000.0,
                   minimum_policed_unit=200, maximum_packet_size=200, rate=10000.0, slack_term=800)
US_SPEC = DS_SPEC._replace(direction=1, source_ip=MTA, destination_ip=FAR_END)
GATE_SET = GateSet(0x1234, MTA, (DS_SPEC, US_SPEC), activity_count=4)
GATE_SET_ACK = GateSetAck(0x1234, 0xA001, MTA, 1)

# --- the floor: one Struct for the whole message ------------------------------------------------

_SPEC = "HBB" "BBBBIIHHB3xH2xHHfffIIfI"
DEC_STRUCT = struct.Struct("!BBHI" "HBBI" "HBBHH" "HBBHH" "HBB" "HBBHH" "HBBI" "HBBI" + _SPEC + _SPEC)
RPT_STRUCT = struct.Struct("!BBHI" "HBBI" "HBBH2x" "HBB" "HBBHH" "HBBI" "HBBI" "HBBI")


def _spec_values(spec: GateSpec) -> tuple:
    values = list(spec)
    values[4], values[5] = int(spec.source_ip), int(spec.destination_ip)
    return (60, 5, 1, *values)


DEC_VALUES = (
    0x10, 2, 0x8008, 180,
    8, 1, 1, 1,
    8, 2, 1, 8, 0,
    8, 6, 1, 1, 1,
    148, 6, 4,
    8, 1, 1, 0x1234, 4,
    8, 2, 1, int(MTA),
    8, 4, 1, 4,
    *_spec_values(DS_SPEC), *_spec_values(US_SPEC),
)
RPT_VALUES = (
    0x11, 3, 0x8008, 60,
    8, 1, 1, 1,
    8, 12, 1, 1,
    36, 9, 1,
    8, 1, 1, 0x1234, 5,
    8, 2, 1, int(MTA),
    8, 3, 1, 0xA001,
    8, 4, 1, 1,
)


def best_of(function, number: int, repeat: int) -> float:
    """Best time per call of ``function`` in microseconds."""
    best = float("inf")
    loop = range(number)
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in loop:
            function()
        best = min(best, time.perf_counter() - start)
    return best / number * 1e6


def measure(name: str, encode, decode, floor_struct: struct.Struct, floor_values: tuple, wire: bytes,
            number: int, repeat: int) -> dict:
    pack, unpack_from = floor_struct.pack, floor_struct.unpack_from

    def round_trip():
        decode(encode())

    def floor_round_trip():
        unpack_from(pack(*floor_values), 0)

    def full_decode():
        decode(wire)

    def floor_pack():
        pack(*floor_values)

    def floor_unpack():
        unpack_from(wire, 0)

    return {
        "name": name,
        "size": len(wire),
        "encode": best_of(encode, number, repeat),
        "decode": best_of(full_decode, number, repeat),
        "round trip": best_of(round_trip, number, repeat),
        "floor pack": best_of(floor_pack, number, repeat),
        "floor unpack": best_of(floor_unpack, number, repeat),
        "floor round trip": best_of(floor_round_trip, number, repeat),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="repeats; the best one counts (default 7)")
    parser.add_argument("--number", type=int, default=20000, help="calls per repeat (default 20000)")
    args = parser.parse_args(argv)

    dec_wire = decision_for(HANDLE, GATE_SET).encode()
    rpt_wire = report_for(HANDLE, GATE_SET_ACK).encode()
    # The floor must do the same work: same layout, same bytes.
    assert DEC_STRUCT.size == len(dec_wire) == 180 and DEC_STRUCT.pack(*DEC_VALUES) == dec_wire
    assert RPT_STRUCT.size == len(rpt_wire) == 60 and RPT_STRUCT.pack(*RPT_VALUES) == rpt_wire
    assert gate_command_of(decode_message(dec_wire)) == GATE_SET
    assert gate_command_of(decode_message(rpt_wire)) == GATE_SET_ACK

    results = [
        measure("Gate-Set DEC (4.2)", lambda: decision_for(HANDLE, GATE_SET).encode(),
                lambda data: gate_command_of(decode_message(data)), DEC_STRUCT, DEC_VALUES, dec_wire,
                args.number, args.repeat),
        measure("Gate-Set-Ack RPT (4.3)", lambda: report_for(HANDLE, GATE_SET_ACK).encode(),
                lambda data: gate_command_of(decode_message(data)), RPT_STRUCT, RPT_VALUES, rpt_wire,
                args.number, args.repeat),
    ]

    print(f"Python {platform.python_version()} ({platform.python_implementation()}) on {platform.machine()}; "
          f"best of {args.repeat} x {args.number} calls; microseconds per operation")
    columns = ["encode", "decode", "round trip", "floor pack", "floor unpack", "floor round trip"]
    print(f"{'message':<24}{'bytes':>6}" + "".join(f"{c:>17}" for c in columns) + f"{'ratio':>8}")
    for r in results:
        ratio = r["round trip"] / r["floor round trip"]
        print(f"{r['name']:<24}{r['size']:>6}" + "".join(f"{r[c]:>17.2f}" for c in columns) + f"{ratio:>7.1f}x")

    gate_set = results[0]
    ratio = gate_set["round trip"] / gate_set["floor round trip"]
    ok_abs, ok_ratio = gate_set["round trip"] <= 5.0, ratio <= 4.0
    print(f"target Gate-Set round trip <= 5 us: {gate_set['round trip']:.2f} us -> {'met' if ok_abs else 'MISSED'}; "
          f"<= 4x floor: {ratio:.1f}x -> {'met' if ok_ratio else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
