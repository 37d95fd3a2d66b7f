"""The fast path's switch (cops_core.fastpath): on, off, or verify against the general codec."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cops_core import decode_message, fastpath, messages
from cops_core.dqos import GateSet, GateSetAck, commands, decision_for, packed_decision, packed_report
from cops_core.objects import Handle

from .samples import MTA, US_SPEC

HANDLE = Handle(b"\x00\x00\x00\x07")
GATE_SET = GateSet(5, MTA, (US_SPEC,))


@pytest.fixture
def restored():
    """Whatever a test switches, the suite's mode and tables afterwards."""
    tables = list(fastpath._tables)
    before = fastpath.mode
    yield
    fastpath._tables[:] = tables
    fastpath.set_mode(before)


def test_the_suite_runs_in_verify_mode_unless_told_otherwise():
    assert fastpath.mode == os.environ["PKTCABLE_FASTPATH"] == "verify"


def test_off_leaves_every_template_table_empty_and_the_codec_gives_the_same_values_and_bytes(restored):
    fastpath.set_mode("on")
    on_bytes = packed_decision(HANDLE, GATE_SET)
    on_decoded = repr(decode_message(on_bytes))
    fastpath.set_mode("off")
    assert not (messages._TEMPLATES.decoders or messages._TEMPLATES.encoders
                or commands._TEMPLATES.decoders or commands._TEMPLATES.encoders)
    ack = GateSetAck(5, 0x1234, MTA)
    assert packed_decision(HANDLE, GATE_SET) is None and packed_report(HANDLE, ack) is None  # the messages, then
    data = decision_for(HANDLE, GATE_SET).encode()
    assert data == on_bytes
    assert repr(decode_message(data)) == on_decoded


def test_verify_raises_when_a_template_reads_other_values_than_the_general_codec(restored):
    decoders = {b"k": lambda data: ("fast", data)}  # a broken template: the general codec reads something else
    encoders = {int: lambda value: b"\x01"}
    fastpath.register("a test table", decoders, encoders, lambda data: ("general", data), lambda value: b"\x02")
    fastpath.set_mode("verify")
    with pytest.raises(fastpath.FastPathMismatch, match="a test table: a template read 6b as"):
        decoders[b"k"](b"k")
    with pytest.raises(fastpath.FastPathMismatch, match="packed 3 as 01, the general codec as 02"):
        encoders[int](3)
    fastpath.set_mode("on")
    assert decoders[b"k"](b"k") == ("fast", b"k")  # on: the template alone, unchecked


def test_verify_raises_when_the_general_codec_refuses_what_a_template_took(restored):
    def refuse(data):
        raise ValueError("no such message")

    decoders = {b"k": lambda data: "fast"}
    fastpath.register("a test table", decoders, {}, refuse, bytes)
    fastpath.set_mode("verify")
    with pytest.raises(fastpath.FastPathMismatch, match="the general codec refuses it: ValueError"):
        decoders[b"k"](b"k")


def test_a_mode_that_does_not_exist_is_refused_naming_the_modes(restored):
    with pytest.raises(ValueError, match="expected one of on, off, verify"):
        fastpath.set_mode("fast")
    run = subprocess.run([sys.executable, "-c", "import cops_core"], capture_output=True, text=True,
                         env={**os.environ, "PKTCABLE_FASTPATH": "sometimes"})
    assert run.returncode == 1
    assert "PKTCABLE_FASTPATH='sometimes': expected one of on, off, verify" in run.stderr
