"""``cms-sim decode`` on captures: the shipped sample, writer output, link types, pcapng and TCP reassembly."""

from __future__ import annotations

import io
import json
from ipaddress import IPv4Address
from pathlib import Path

import dpkt
import pytest
from click.testing import CliRunner

from cms_sim.cli import main
from cms_sim.pcap import PcapWriter
from cops_core import ClientAccept, ClientOpen, KeepAlive
from cops_core.dqos import GateInfo, GateSetAck, decision_for, report_for
from cops_core.objects import Handle

SAMPLE = Path(__file__).parents[3] / "samples" / "dqos_call.pcap"
CMTS = ("10.0.0.1", 2126)
GC = ("10.0.0.2", 49152)
T0 = 1_700_000_000.0
HANDLE = Handle.from_int(1)
MTA = IPv4Address("10.0.1.10")
OPN = ClientOpen.new("CMTS-LAB1").encode()
CAT = ClientAccept.new(30).encode()
KA = KeepAlive().encode()
GATE_INFO = decision_for(HANDLE, GateInfo(7, MTA, 0xA001)).encode()
GATE_SET_ACK = report_for(HANDLE, GateSetAck(7, 0xA001, MTA, activity_count=1)).encode()


def write_capture(sends, *, client=GC, server=CMTS) -> bytes:
    """A capture of one connection; ``sends`` are (from_client, bytes), one segment each, 10 ms apart."""
    out = io.BytesIO()
    with PcapWriter(out) as pcap:
        connection = pcap.connection(client=client, server=server, start_time=T0)
        for index, (from_client, data) in enumerate(sends, 1):
            connection.send(T0 + index / 100, from_client=from_client, data=data)
    return out.getvalue()


def decode_json(capture: bytes | Path, *options: str, tmp_path: Path) -> tuple[int, list[dict]]:
    if isinstance(capture, bytes):
        path = tmp_path / "capture.pcap"
        path.write_bytes(capture)
        capture = path
    result = CliRunner().invoke(main, ["decode", "--json", *options, str(capture)])
    return result.exit_code, [json.loads(line) for line in result.stdout.splitlines()]


def frames_of(capture: bytes) -> list[tuple[float, bytes]]:
    return [(float(ts), bytes(buf)) for ts, buf in dpkt.pcap.Reader(io.BytesIO(capture))]


def pcap_of(frames, linktype: int = dpkt.pcap.DLT_EN10MB) -> bytes:
    out = io.BytesIO()
    writer = dpkt.pcap.Writer(out, snaplen=65535, linktype=linktype)
    for ts, buf in frames:
        writer.writepkt(buf, ts=ts)
    return out.getvalue()


def test_sample_capture_holds_the_whole_session(tmp_path):
    code, records = decode_json(SAMPLE, tmp_path=tmp_path)
    assert code == 0
    assert [(r["opcode"], r.get("gate_command")) for r in records] == [
        ("OPN", None), ("CAT", None), ("REQ", None),
        ("DEC", "Gate-Alloc"), ("RPT", "Gate-Alloc-Ack"), ("DEC", "Gate-Set"), ("RPT", "Gate-Set-Ack"),
        ("KA", None), ("KA", None), ("RPT", "Gate-Open"), ("DEC", "Gate-Info"), ("RPT", "Gate-Info-Ack"),
        ("RPT", "Gate-Close"), ("DEC", "Gate-Delete"), ("RPT", "Gate-Delete-Ack"), ("CC", None),
    ]
    assert [r["frame"] for r in records] == list(range(4, 20))
    opn, cat = records[0], records[1]
    assert (opn["src"], opn["dst"]) == ("10.0.0.1:2126", "10.0.0.2:49152")
    assert (cat["src"], cat["dst"]) == ("10.0.0.2:49152", "10.0.0.1:2126")
    assert opn["time"] == pytest.approx(T0 + 0.001)
    gate_set = records[5]
    assert gate_set["length"] == 188
    assert gate_set["objects"][3]["packetcable"][2]["fields"] == {"gate_id": 0xA001}


def test_sample_capture_as_a_tree():
    result = CliRunner().invoke(main, ["decode", str(SAMPLE)])
    assert result.exit_code == 0
    assert "Frame 9, 1.100000 s, 10.0.0.2:49152 -> 10.0.0.1:2126" in result.output
    assert "COPS Decision (DEC) — Gate-Set, 188 bytes" in result.output
    assert "Error-Code: Shutting down (11)" in result.output


def test_writer_capture_decodes_with_endpoints(tmp_path):
    capture = write_capture([(False, OPN), (True, CAT), (False, KA), (True, KA)])
    code, records = decode_json(capture, tmp_path=tmp_path)
    assert code == 0
    assert [(r["frame"], r["opcode"], r["src"], r["dst"]) for r in records] == [
        (4, "OPN", "10.0.0.1:2126", "10.0.0.2:49152"),
        (5, "CAT", "10.0.0.2:49152", "10.0.0.1:2126"),
        (6, "KA", "10.0.0.1:2126", "10.0.0.2:49152"),
        (7, "KA", "10.0.0.2:49152", "10.0.0.1:2126"),
    ]
    assert records[0]["objects"][0]["fields"] == {"identifier": "CMTS-LAB1"}


def test_nonstandard_port_needs_port_option(tmp_path):
    capture = write_capture([(False, OPN), (True, CAT)], server=("10.0.0.1", 12126))
    path = tmp_path / "lab.pcap"
    path.write_bytes(capture)
    result = CliRunner().invoke(main, ["decode", str(path)])
    assert result.exit_code == 1
    assert "no COPS messages found" in result.stderr and "2126, 3288, 3918" in result.stderr
    code, records = decode_json(path, "--port", "12126", tmp_path=tmp_path)
    assert code == 0
    assert [(r["opcode"], r["src"]) for r in records] == [("OPN", "10.0.0.1:12126"), ("CAT", "10.0.0.2:49152")]


def test_message_split_over_segments_and_two_in_one_segment(tmp_path):
    capture = write_capture([(False, OPN), (True, GATE_INFO[:50]), (True, GATE_INFO[50:] + CAT), (False, KA)])
    code, records = decode_json(capture, tmp_path=tmp_path)
    assert code == 0
    assert [(r["frame"], r["opcode"], r.get("gate_command")) for r in records] == [
        (4, "OPN", None), (6, "DEC", "Gate-Info"), (6, "CAT", None), (7, "KA", None)]


def test_out_of_order_and_retransmitted_segments(tmp_path):
    frames = frames_of(write_capture([(True, GATE_INFO), (True, KA), (False, GATE_SET_ACK)]))
    syn, syn_ack, ack, gate_info, ka, reply = frames
    code, records = decode_json(pcap_of([syn, syn_ack, ack, ka, gate_info, gate_info, reply]), tmp_path=tmp_path)
    assert code == 0
    # The KA waits for the Gate-Info before it; the retransmitted Gate-Info (frame 6) adds nothing.
    assert [(r["frame"], r["opcode"]) for r in records] == [(5, "DEC"), (5, "KA"), (7, "RPT")]


def test_capture_started_after_the_handshake(tmp_path):
    frames = frames_of(write_capture([(False, OPN), (True, CAT)]))
    code, records = decode_json(pcap_of(frames[3:]), tmp_path=tmp_path)
    assert code == 0
    assert [r["opcode"] for r in records] == ["OPN", "CAT"]


def test_missing_segment_and_capture_ending_mid_message_are_errors(tmp_path):
    frames = frames_of(write_capture([(True, CAT), (True, KA), (False, OPN[:12])]))
    del frames[3]  # the CAT segment
    code, records = decode_json(pcap_of(frames), tmp_path=tmp_path)
    assert code == 1 and len(records) == 2
    by_src = {r["src"]: r for r in records}
    assert "16 bytes missing from the capture" in by_src["10.0.0.2:49152"]["error"]
    assert "capture ends inside a message: 12 bytes left, the header announces 24" in by_src["10.0.0.1:2126"]["error"]
    assert all(r["error_scope"] == "stream" for r in records)


def test_ipv6_capture(tmp_path):
    capture = write_capture([(False, OPN), (True, CAT)], client=("2001:db8::2", 49152), server=("2001:db8::1", 2126))
    code, records = decode_json(capture, tmp_path=tmp_path)
    assert code == 0
    assert [(r["src"], r["dst"]) for r in records] == [("[2001:db8::1]:2126", "[2001:db8::2]:49152"),
                                                       ("[2001:db8::2]:49152", "[2001:db8::1]:2126")]


def _raw(eth: dpkt.ethernet.Ethernet) -> bytes:
    return bytes(eth.data)


def _sll(eth: dpkt.ethernet.Ethernet) -> bytes:
    return bytes(dpkt.sll.SLL(type=0, hrd=1, hlen=6, hdr=eth.src + b"\0\0", ethtype=eth.type)) + bytes(eth.data)


def _sll2(eth: dpkt.ethernet.Ethernet) -> bytes:
    return bytes(dpkt.sll2.SLL2(ethtype=eth.type, intindex=1, hrd=1, hlen=6, hdr=eth.src + b"\0\0")) + bytes(eth.data)


@pytest.mark.parametrize("linktype, relink", [(dpkt.pcap.DLT_RAW, _raw), (dpkt.pcap.DLT_LINUX_SLL, _sll),
                                              (dpkt.pcap.DLT_LINUX_SLL2, _sll2)], ids=["raw-ip", "sll", "sll2"])
def test_other_link_types(tmp_path, linktype, relink):
    frames = frames_of(write_capture([(False, OPN), (True, GATE_INFO)]))
    relinked = [(ts, relink(dpkt.ethernet.Ethernet(buf))) for ts, buf in frames]
    code, records = decode_json(pcap_of(relinked, linktype), tmp_path=tmp_path)
    assert code == 0
    assert [(r["opcode"], r["src"]) for r in records] == [("OPN", "10.0.0.1:2126"), ("DEC", "10.0.0.2:49152")]


def test_pcapng_input(tmp_path):
    out = io.BytesIO()
    writer = dpkt.pcapng.Writer(out, snaplen=65535, linktype=dpkt.pcap.DLT_EN10MB)
    for ts, buf in frames_of(SAMPLE.read_bytes()):
        writer.writepkt(buf, ts=ts)
    code, records = decode_json(out.getvalue(), tmp_path=tmp_path)
    assert code == 0
    assert len(records) == 16
    assert records[5]["gate_command"] == "Gate-Set" and records[5]["frame"] == 9
    assert records[5]["time"] == pytest.approx(T0 + 1.1)


def test_unreadable_capture(tmp_path):
    path = tmp_path / "bad.pcap"
    path.write_bytes(bytes.fromhex("d4c3b2a1") + b"\0" * 4)
    result = CliRunner().invoke(main, ["decode", str(path)])
    assert result.exit_code == 2
    assert "unreadable pcap file" in result.output
