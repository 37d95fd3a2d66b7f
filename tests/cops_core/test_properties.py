"""Properties of the codec over generated messages (hypothesis).

* encode then decode gives an equal value and identical bytes, for every message type and gate command;
* any byte string either decodes or raises DecodeError -- nothing else escapes decode_message, nor
  gate_command_of on a decoded DQoS message -- and what decodes re-encodes to a fixed point;
* a stream of messages cut at arbitrary boundaries frames and decodes to the same messages.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cops_core import DecodeError, Framer, PacketCableDecodeError, decode_message
from cops_core.codes import ClientType
from cops_core.dqos import decode_gate_command, gate_command_of

from .strategies import COPS_MESSAGES, any_message, gate_command, gate_message, u8

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("kind", list(COPS_MESSAGES))
@PROPERTY
@given(data=st.data())
def test_every_generated_message_decodes_to_an_equal_value_and_identical_bytes(kind, data):
    message = data.draw(COPS_MESSAGES[kind])
    wire = message.encode()
    decoded = decode_message(wire)
    assert type(decoded) is type(message)
    assert decoded == message
    assert decoded.encode() == wire


@PROPERTY
@given(gate_message())
def test_every_generated_gate_command_survives_its_cops_message(pair):
    message, command = pair
    wire = message.encode()
    decoded = decode_message(wire)
    assert decoded == message
    assert decoded.encode() == wire
    assert gate_command_of(decoded) == command
    assert type(decoded.objects[-1]).__name__ in ("ClientSpecificDecision", "SignaledClientSI")


@PROPERTY
@given(gate_command())
def test_every_generated_gate_command_payload_round_trips(command):
    payload = command.encode()
    decoded = decode_gate_command(payload)
    assert decoded == command
    assert decoded.encode() == payload


# --- robustness: nothing but DecodeError escapes ------------------------------------------------


@st.composite
def mutated_message(draw) -> bytes:
    """A valid message with bytes overwritten, cut off or appended, its Length mostly kept consistent."""
    data = bytearray(draw(any_message).encode())
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["overwrite", "overwrite", "overwrite", "cut", "append"]))
        if kind == "overwrite" and len(data) > 8:
            data[draw(st.integers(8, len(data) - 1))] = draw(u8)
        elif kind == "cut":
            data = data[: draw(st.integers(0, len(data)))]
        else:
            data += draw(st.binary(max_size=8))
    if len(data) >= 8 and draw(st.integers(0, 3)):
        data[4:8] = len(data).to_bytes(4, "big")
    return bytes(data)


def header_then(body: bytes, opcode: int) -> bytes:
    return bytes([0x10, opcode, 0x80, 0x08]) + (8 + len(body)).to_bytes(4, "big") + body


noise = st.one_of(
    st.binary(max_size=64),
    st.builds(header_then, st.binary(max_size=96), st.integers(1, 10)),
    mutated_message(),
)


def check_decode_is_total(data: bytes) -> None:
    try:
        message = decode_message(data)
    except DecodeError as exc:
        assert isinstance(exc.offset, int) and 0 <= exc.offset <= max(len(data), 8)
        return
    # What decodes has a canonical form that is a fixed point of encode/decode.
    wire = message.encode()
    assert decode_message(wire) == message
    assert decode_message(wire).encode() == wire
    if message.client_type != ClientType.PACKETCABLE_DQOS:
        return
    try:
        command = gate_command_of(message)
    except PacketCableDecodeError as exc:
        assert 0 <= exc.offset <= len(wire)
        return
    if command is not None:
        payload = command.encode()
        assert decode_gate_command(payload).encode() == payload


@PROPERTY
@given(noise)
def test_any_bytes_either_decode_or_raise_decode_error(data):
    check_decode_is_total(data)


@PROPERTY
@given(st.binary(min_size=0, max_size=80), st.integers(1, 14), st.integers(0, 0xFFFF))
def test_any_dqos_payload_either_decodes_or_raises_packetcable_decode_error(payload, command_type, tid):
    # A Transaction-ID up front steers the walk into every command's decoder.
    lead = bytes([0, 8, 1, 1]) + tid.to_bytes(2, "big") + command_type.to_bytes(2, "big")
    for data in (payload, lead + payload):
        try:
            command = decode_gate_command(data)
        except PacketCableDecodeError:
            continue
        assert decode_gate_command(command.encode()).encode() == command.encode()


# --- framing --------------------------------------------------------------------------------------


@PROPERTY
@given(st.lists(any_message, min_size=1, max_size=6), st.data())
def test_a_stream_cut_at_arbitrary_boundaries_yields_the_same_messages(messages, data):
    frames = [m.encode() for m in messages]
    stream = b"".join(frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    framer = Framer()
    received = []
    for start, stop in zip([0, *cuts], [*cuts, len(stream)]):
        framer.feed(stream[start:stop])
        received.extend(framer.frames())
    assert received == frames
    assert [decode_message(f) for f in received] == messages
    assert framer.buffered == 0
