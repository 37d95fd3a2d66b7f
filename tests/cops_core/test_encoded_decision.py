"""encoded_decision_for (a gate controller's DECs packed in one go) against decision_for and the general codec."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cops_core.dqos import decision_for, encoded_decision_for
from cops_core.objects import Handle

from .strategies import gate_command, handle
from .test_fastpath import PROPERTY, general_path


@PROPERTY
@given(gate_command(), handle, st.booleans())
def test_an_encoded_decision_is_decision_for_and_the_bytes_the_general_path_gives(command, handle_value, four_bytes):
    if four_bytes:  # the Handle every CMTS we know uses, and the one the one-go packing takes
        handle_value = Handle(handle_value.value.ljust(4, b"\xff")[:4])
    decision, wire = encoded_decision_for(handle_value, command)
    assert repr(decision) == repr(decision_for(handle_value, command))
    with general_path():
        assert wire == decision.encode()
