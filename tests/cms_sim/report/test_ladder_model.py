"""One model of the ladder: what each step draws, and which call (gate) each arrow belongs to."""

from __future__ import annotations

from cms_sim.report.ladder import row_from_trace
from cms_sim.report.ladder_model import Arrow, Pause, Remark, call_gates
from cms_sim.scenario.result import Verdict
from cops_core import ClientClose, ErrorCode
from cops_core.dqos import GateAlloc, GateAllocAck, GateAllocErr, PacketCableError, decision_for, report_for
from cops_core.objects import Handle

from .ladders import FAILURE, LONG_ERROR, MTA, audit_of_a_lost_gate, record


def test_a_step_draws_its_messages_its_verdict_on_the_last_and_why_it_failed():
    scenario, skipped = audit_of_a_lost_gate().scenarios
    request, reply, remark, wait = scenario.entries
    assert (type(request), type(reply), type(remark), type(wait)) == (Arrow, Arrow, Remark, Pause)
    assert request.mark is None and request.row.label == "DEC Gate-Info"
    assert reply.row.detail == LONG_ERROR and reply.row.error
    assert (reply.mark.text, reply.mark.verdict) == ("✗ FAIL audit the gate (1.0 ms)", Verdict.FAILED)
    assert remark == Remark(f"step 1 (line 5): {FAILURE}")
    assert (wait.mark.text, wait.message) == ("✓ wait (500 ms)", "waited 0.500 s")
    assert round(wait.time, 3) == 0.01  # from the scenario's start
    assert reply.row.data == scenario.result.trace[1].data  # what the HTML ladder decodes
    assert skipped.entries == [] and skipped.source == "call.yaml"


def test_a_request_belongs_to_the_gate_its_reply_names_and_the_connection_to_none():
    handle = Handle.from_int(1)
    rows = [row_from_trace(record(time, outgoing, message), 0.0) for time, outgoing, message in (
        (0.1, True, decision_for(handle, GateAlloc(1, MTA, 1))),
        (0.2, True, decision_for(handle, GateAlloc(2, MTA, 1))),
        (0.3, False, report_for(handle, GateAllocErr(2, PacketCableError(4, 0), MTA))),
        (0.4, False, report_for(handle, GateAllocAck(1, 0xA001, MTA, 1))),
        (0.5, True, ClientClose.new(ErrorCode.SHUTTING_DOWN)),
    )]
    assert rows[0].gate_id is None and rows[0].transaction_id == 1
    assert call_gates(rows) == [0xA001, None, None, 0xA001, None]
