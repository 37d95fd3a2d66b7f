"""--explain in context: the same message type means different things at different points of a call."""

from __future__ import annotations

import ipaddress

from cms_sim.media import profile
from cms_sim.report.explain import Explainer
from cops_core.dqos import (
    GateAlloc,
    GateClose,
    GateInfo,
    GateOpen,
    GateSet,
    GateSetAck,
    GateSetErr,
    PacketCableError,
    PacketCableReason,
    decision_for,
    report_for,
)
from cops_core.objects import Handle
from cops_core.trace import TraceRecord

MTA, FAR = ipaddress.IPv4Address("10.0.1.10"), ipaddress.IPv4Address("10.1.1.20")
HANDLE = Handle.from_int(1)
SPECS = profile("G711-20").gate_specs(MTA, FAR)


def notes(*messages) -> list[str]:
    explainer = Explainer()
    return [explainer.note(TraceRecord(0.0, 0.0, True, ("", 0), ("", 0), message, message.encode()))
            for message in messages]


def test_a_new_authorization_and_a_modification_are_told_apart():
    said = notes(decision_for(HANDLE, GateSet(1, MTA, SPECS)),
                 report_for(HANDLE, GateSetAck(1, 0xA001, MTA, 1)),
                 report_for(HANDLE, GateOpen(0, 0xA001, MTA)),
                 decision_for(HANDLE, GateSet(2, MTA, SPECS, 0xA001)))
    assert said[0].startswith("Allocate and authorize a new gate") and "starts T1" in said[0]
    assert "learns its new Gate-ID" in said[1]
    assert said[2].startswith("The modem committed")
    assert said[3].startswith("Modify the committed gate") and "not a new authorization" in said[3]


def test_a_repeated_audit_and_a_gate_close_reason_are_named():
    said = notes(decision_for(HANDLE, GateInfo(1, MTA, 0xA001)), decision_for(HANDLE, GateInfo(2, MTA, 0xA001)),
                 report_for(HANDLE, GateClose(0, 0xA001, MTA, PacketCableReason(1, 5))))
    assert said[0].startswith("Audit:") and said[1].startswith("Audit number 2 of the same gate")
    assert said[2] == "Gate-Close: T1 expired: the modem never committed (the call was not answered)."


def test_an_error_says_which_what_it_means_and_what_to_do():
    [said] = notes(report_for(HANDLE, GateSetErr(1, PacketCableError(1, 0), MTA)))
    assert said == ("Gate-Set-Err: error 1 insufficient resources: the CMTS has no room for this envelope; "
                    "next: a lower-rate codec, or try later.")


def test_a_gate_set_ack_answering_a_gate_alloc_is_explained_not_a_crash():
    # A CMTS that answers Gate-Alloc with a Gate-Set-Ack (same TID): the explainer read the Gate-Alloc's
    # gate_id, which it has none of, and AttributeError took `cms-sim run` down, -q included, since the
    # ladder is always built (found by tools/fuzz.py cms).
    said = notes(decision_for(HANDLE, GateAlloc(7, MTA, 4)), report_for(HANDLE, GateSetAck(7, 0xA001, MTA, 1)),
                 report_for(HANDLE, GateOpen(0, 0xA001, MTA)))
    assert "learns its new Gate-ID" not in said[1]  # no Gate-Set asked for a new gate
    assert said[2].startswith("The modem committed")
