"""The ladder never hides the point: codes and reasons named in full, nothing cut off."""

from __future__ import annotations

import ipaddress

from cms_sim.report.ladder import LANE, render, row_from_trace
from cops_core import ClientClose, ErrorCode
from cops_core.dqos import GateClose, GateInfoErr, PacketCableError, PacketCableReason, report_for
from cops_core.objects import Handle
from cops_core.trace import TraceRecord

MTA = ipaddress.IPv4Address("10.0.1.10")
HERE, THERE = ("127.0.0.1", 40000), ("127.0.0.1", 2126)


def received(message) -> TraceRecord:
    return TraceRecord(1.5, 0.0, False, HERE, THERE, message, message.encode())


def test_a_gate_close_says_which_timer_and_keeps_the_numbers():
    row = row_from_trace(received(report_for(Handle.from_int(1), GateClose(0, 0xA001, MTA, PacketCableReason(1, 4)))),
                         0.0)
    assert row.label == "RPT Gate-Close"
    assert row.detail == "gate 0x0000a001 T0 expired (reason 1, sub-code 4)"


def test_an_error_is_named_and_never_cut_off_however_narrow_the_lane():
    err = GateInfoErr(2, PacketCableError(4, 0x0501), MTA, 0x0BADCAFE)
    row = row_from_trace(received(report_for(Handle.from_int(1), err)), 0.0)
    assert row.detail == "gate 0x0badcafe tid 2 error 4 subscriber exceeded gate limit (sub-code 0x0501)"
    assert len(f" {row.label} {row.detail} ") > LANE  # too long for the arrow ...
    drawn = render(row).plain
    assert "…" not in drawn and row.detail in drawn  # ... so it goes below it, whole
    assert row.error


def test_a_client_close_names_its_error_and_an_undefined_code_says_so():
    close = row_from_trace(received(ClientClose.new(ErrorCode.SHUTTING_DOWN)), 0.0)
    assert close.detail == "error 11 shutting down"
    odd = row_from_trace(received(report_for(Handle.from_int(1), GateInfoErr(3, PacketCableError(42, 0), MTA, 1))),
                         0.0)
    assert "error 42 (not a defined code)" in odd.detail


def test_a_narrow_terminal_gets_the_compact_ladder_with_every_line_inside_it():
    import io

    from rich.console import Console

    from cms_sim.report.ladder import COMPACT_LANE, lane_for
    from cms_sim.report.live_ladder import LadderPrinter

    assert lane_for(80) == COMPACT_LANE and lane_for(160) == LANE
    err = GateInfoErr(2, PacketCableError(4, 0x0501), MTA, 0x0BADCAFE)
    row = row_from_trace(received(report_for(Handle.from_int(1), err)), 0.0)
    drawn = render(row, verdict="✗ FAIL the audit of a gate (1.2 ms)", lane=COMPACT_LANE).plain
    lines = drawn.splitlines()
    assert all(len(line) <= 80 for line in lines)
    below = [line.split("│ ", 1)[1] for line in lines[1:]]  # the lines under the arrow, without the lane
    assert " ".join(below[:-1]) == row.detail and below[-1] == "✗ FAIL the audit of a gate (1.2 ms)"
    printer = LadderPrinter(Console(file=io.StringIO(), width=80, force_terminal=True))
    assert printer.lane == COMPACT_LANE
    assert LadderPrinter(Console(file=io.StringIO(), width=200)).lane == LANE  # not a terminal: the full ladder
