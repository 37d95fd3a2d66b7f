"""``--pcap``: a capture written as the run goes, so that a run that dies leaves what it saw."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dpkt

from cms_sim.report.capture import LiveCapture
from cops_core.messages import ClientAccept, ClientOpen, KeepAlive
from cops_core.trace import TraceRecord

GC, CMTS = ("10.0.0.2", 40000), ("10.0.0.1", 2126)


def payloads(capture: bytes) -> list[bytes]:
    """The TCP payloads of a capture, in order (handshake and FIN segments carry none)."""
    out = []
    for _, frame in dpkt.pcap.Reader(io.BytesIO(capture)):
        data = dpkt.ethernet.Ethernet(frame).data.data.data
        if data:
            out.append(bytes(data))
    return out


def record(wall: float, outgoing: bool, message) -> TraceRecord:
    return TraceRecord(wall, wall, outgoing, GC, CMTS, message, message.encode())


def test_each_message_is_in_the_file_as_soon_as_it_is_traced():
    file = io.BytesIO()
    capture = LiveCapture(file)
    opn, cat = ClientOpen.new("CMTS"), ClientAccept.new(30)
    capture.tap(record(100.0, False, opn))
    assert payloads(file.getvalue()) == [opn.encode()]
    capture.tap(record(100.1, True, cat))
    assert payloads(file.getvalue()) == [opn.encode(), cat.encode()]
    capture.close()
    assert payloads(file.getvalue()) == [opn.encode(), cat.encode()]
    flags = [dpkt.ethernet.Ethernet(frame).data.data.flags for _, frame in dpkt.pcap.Reader(io.BytesIO(file.getvalue()))]
    assert flags[-3:] == [dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK] * 2 + [dpkt.tcp.TH_ACK]  # the FIN exchange at close


def test_the_file_is_a_capture_from_the_start():
    file = io.BytesIO()
    LiveCapture(file)
    assert payloads(file.getvalue()) == []  # the header alone: dpkt reads it


def test_each_connection_gets_its_own_handshake_before_its_first_message():
    file = io.BytesIO()
    capture = LiveCapture(file)
    capture.tap(record(1.0, True, KeepAlive()))
    capture.tap(TraceRecord(2.0, 2.0, True, ("10.0.0.2", 40001), CMTS, KeepAlive(), KeepAlive().encode()))
    capture.close()
    syns = [frame for _, frame in dpkt.pcap.Reader(io.BytesIO(file.getvalue()))
            if dpkt.ethernet.Ethernet(frame).data.data.flags == dpkt.tcp.TH_SYN]
    assert len(syns) == 2


def test_a_run_killed_mid_call_leaves_a_capture_of_what_it_saw(tmp_path):
    scenario = tmp_path / "long.yaml"
    scenario.write_text(Path("scenarios/basic_call.yaml").read_text().replace("hold: 1s", "hold: 60s"))
    assert "hold: 60s" in scenario.read_text()
    target = tmp_path / "call.pcap"
    run = subprocess.Popen([sys.executable, "-c", "import sys; from cms_sim.cli import main; sys.exit(main())", "run", str(scenario), "--pcap", str(target), "-q"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        seen: list[bytes] = []
        while time.monotonic() < deadline and len(seen) < 8:  # up to the Gate-Open: the call is on hold
            time.sleep(0.1)
            partial = list(tmp_path.glob(".call.partial.*.pcap"))
            try:
                seen = payloads(partial[0].read_bytes()) if partial else []
            except (dpkt.NeedData, ValueError):  # read while a record was being written: look again
                continue
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait()
    assert len(seen) >= 8, seen
    assert not target.exists()  # killed: nothing renamed it, but the partial file holds every message so far
    partial, = tmp_path.glob(".call.partial.*.pcap")
    assert payloads(partial.read_bytes())[:len(seen)] == seen
    assert os.path.getsize(partial) > 0
