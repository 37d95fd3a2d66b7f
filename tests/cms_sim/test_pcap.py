"""The pcap writer: TCP framing a dissector believes, the shipped sample, and tshark's verdict."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import dpkt
import pytest

from cms_sim.pcap import PcapWriter
from cops_core import ClientAccept, ClientOpen, KeepAlive

SAMPLES = Path(__file__).parents[2] / "samples"
CMTS = ("10.0.0.1", 2126)
GC = ("10.0.0.2", 49152)
T0 = 1_700_000_000.0
OPN = ClientOpen.new("CMTS-LAB1").encode()
CAT = ClientAccept.new(30).encode()
KA = KeepAlive().encode()


def _make_sample():
    spec = importlib.util.spec_from_file_location("make_sample", SAMPLES / "make_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _segments(capture: bytes) -> list[tuple[float, dpkt.ip.IP, dpkt.tcp.TCP]]:
    out = []
    for ts, buf in dpkt.pcap.Reader(io.BytesIO(capture)):
        ip = dpkt.ethernet.Ethernet(buf).data
        out.append((float(ts), ip, ip.data))
    return out


def _write(client_isn=1000, server_isn=5000, close=True) -> bytes:
    out = io.BytesIO()
    with PcapWriter(out) as pcap:
        connection = pcap.connection(client=GC, server=CMTS, start_time=T0, client_isn=client_isn,
                                     server_isn=server_isn)
        connection.send(T0 + 0.01, from_client=False, data=OPN)
        connection.send(T0 + 0.02, from_client=True, data=CAT)
        connection.send(T0 + 0.03, from_client=False, data=KA)
        if close:
            connection.close(T0 + 1.0)
    return out.getvalue()


def test_handshake_data_and_fin_carry_consistent_sequence_numbers():
    segments = _segments(_write())
    syn, syn_ack, ack, opn, cat, ka, fin, fin_ack, last_ack = tcps = [tcp for _, _, tcp in segments]
    S, A, P, F = dpkt.tcp.TH_SYN, dpkt.tcp.TH_ACK, dpkt.tcp.TH_PUSH, dpkt.tcp.TH_FIN
    assert [(t.flags, t.seq, t.ack, len(t.data)) for t in tcps] == [
        (S, 1000, 0, 0),
        (S | A, 5000, 1001, 0),
        (A, 1001, 5001, 0),
        (P | A, 5001, 1001, len(OPN)),
        (P | A, 1001, 5001 + len(OPN), len(CAT)),
        (P | A, 5001 + len(OPN), 1001 + len(CAT), len(KA)),
        (F | A, 1001 + len(CAT), 5001 + len(OPN) + len(KA), 0),
        (F | A, 5001 + len(OPN) + len(KA), 1002 + len(CAT), 0),
        (A, 1002 + len(CAT), 5002 + len(OPN) + len(KA), 0),
    ]
    assert (syn.sport, syn.dport, opn.sport, opn.dport) == (49152, 2126, 2126, 49152)
    assert bytes(opn.data) == OPN and bytes(cat.data) == CAT
    assert syn.opts == b"\x02\x04\x05\xb4"  # MSS 1460
    times = [ts for ts, _, _ in segments]
    assert times[:3] == pytest.approx([T0, T0 + 0.0001, T0 + 0.0002]) and times[3] == pytest.approx(T0 + 0.01)
    _, ip, _ = segments[3]
    assert (ip.src, ip.dst, ip.df) == (bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), 1)


def test_checksums_are_valid():
    for _, ip, tcp in _segments(_write()):
        raw = bytes(ip)
        ip.sum, tcp.sum = 0, 0
        assert bytes(ip) == raw


def test_closed_connection_refuses_more_and_sequence_wraps():
    out = io.BytesIO()
    with PcapWriter(out) as pcap:
        connection = pcap.connection(client=GC, server=CMTS, start_time=T0, client_isn=0xFFFFFFF0)
        connection.send(T0 + 0.01, from_client=True, data=CAT)
        connection.send(T0 + 0.02, from_client=True, data=CAT)
        connection.close(T0 + 0.1)
        with pytest.raises(ValueError):
            connection.send(T0 + 0.2, from_client=True, data=KA)
    first, second = [tcp for _, _, tcp in _segments(out.getvalue())][3:5]
    assert (first.seq, second.seq) == (0xFFFFFFF1, (0xFFFFFFF1 + len(CAT)) & 0xFFFFFFFF)
    assert not out.closed  # a file object passed in stays the caller's


def test_path_target_and_deterministic_output(tmp_path):
    path = tmp_path / "x.pcap"
    with PcapWriter(path) as pcap:
        pcap.connection(client=GC, server=CMTS, start_time=T0).send(T0 + 1, from_client=False, data=OPN)
    again = io.BytesIO()
    with PcapWriter(again) as pcap:
        pcap.connection(client=GC, server=CMTS, start_time=T0).send(T0 + 1, from_client=False, data=OPN)
    assert path.read_bytes() == again.getvalue()
    assert dpkt.pcap.Reader(io.BytesIO(again.getvalue())).datalink() == dpkt.pcap.DLT_EN10MB


def test_mixed_ip_versions_are_refused():
    with pytest.raises(ValueError):
        PcapWriter(io.BytesIO()).connection(client=("2001:db8::2", 1), server=CMTS, start_time=T0)


def test_shipped_sample_is_what_make_sample_writes():
    fresh = io.BytesIO()
    _make_sample().write(fresh)
    assert (SAMPLES / "dqos_call.pcap").read_bytes() == fresh.getvalue(), "run: python samples/make_sample.py"


def _split_capture(path: Path) -> None:
    """One message cut over two segments, and two messages in one segment."""
    sample = _make_sample()
    gate_set = next(m for _, _, m in sample.SESSION if getattr(m, "OPCODE", 0) == 2 and len(m.encode()) == 188)
    data = gate_set.encode()
    with PcapWriter(path) as pcap:
        connection = pcap.connection(client=GC, server=CMTS, start_time=T0)
        connection.send(T0 + 0.01, from_client=False, data=OPN)
        connection.send(T0 + 0.02, from_client=True, data=data[:100])
        connection.send(T0 + 0.03, from_client=True, data=data[100:] + CAT)
        connection.close(T0 + 0.1)


SESSION_INFOS = [
    "Client-Open (OPN)", "Client-Accept (CAT)", "Request (REQ)", "Decision (DEC) - Gate Alloc",
    "Report State (RPT) - Gate Alloc Ack", "Decision (DEC) - Gate Set", "Report State (RPT) - Gate Set Ack",
    "Keep-Alive (KA)", "Keep-Alive (KA)", "Report State (RPT) - Gate Open", "Decision (DEC) - Gate Info",
    "Report State (RPT) - Gate Info Ack", "Report State (RPT) - Gate Close", "Decision (DEC) - Gate Delete",
    "Report State (RPT) - Gate Delete Ack", "Client-Close (CC)",
]


@pytest.mark.parametrize("make, infos", [
    (lambda path: _make_sample().write(path), ["COPS " + info for info in SESSION_INFOS]),
    # Frame 6 completes the Gate-Set and carries the CAT: tshark lists both PDUs in its Info.
    (_split_capture, ["COPS Client-Open (OPN)", "COPS Decision (DEC) - Gate SetCOPS Client-Accept (CAT)"]),
], ids=["session", "split-segments"])
def test_tshark_decodes_writer_captures_cleanly(tmp_path, make, infos, tshark):
    path = tmp_path / "capture.pcap"
    make(path)
    columns = tshark("-r", str(path), "-Y", "cops", "-T", "fields", "-e", "_ws.col.Info").splitlines()
    assert [" ".join(line.split()) for line in columns] == infos
    detail = tshark("-r", str(path), "-V", "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE")
    assert "Malformed" not in detail
    assert "Expert Info (Warning" not in detail and "Expert Info (Error" not in detail
    assert "Expert Info (Chat/Sequence): Connection establish request (SYN)" in detail  # expert analysis did run
    expert = tshark("-r", str(path), "-q", "-z", "expert", "-o", "tcp.check_checksum:TRUE")
    assert "Errors" not in expert and "Warnings" not in expert
