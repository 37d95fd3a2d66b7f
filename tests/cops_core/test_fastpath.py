"""The layout-template fast path (cops_core.templates, cops_core.dqos.templates) against the general codec.

The general path is the reference.  For everything the templates take, the public API must give the same
values (compared by repr, which names every class down to IPv4Address, so a plain tuple cannot pass for a
Handle nor an int for a bool) and the same bytes as with no template at all; anything they do not take must
fall back to the general path, errors included (same DecodeError class, offset, reason and codes).
"""

from __future__ import annotations

import inspect
import struct
import traceback
from contextlib import ExitStack, contextmanager
from ipaddress import IPv4Address, IPv6Address
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cops_core import DecodeError, decode_message, messages
from cops_core.dqos import (
    COMMAND_CLASSES,
    ActivityCount,
    GateID,
    GateInfoAck,
    GateSet,
    GateSetAck,
    SubscriberIDIPv4,
    TransactionID,
    commands,
    decision_for,
    decode_gate_command,
    gate_command_of,
    packed_decision,
    packed_report,
    report_for,
)
from cops_core.messages import Decision, Report
from cops_core.objects import ClientSpecificDecision, Context, DecisionFlags, Handle, ReportTypeObject, SignaledClientSI

from .samples import DS_SPEC, EGI, GATE, HANDLE, INTEGRITY, MTA, TID, UNKNOWN_CNUM, UNKNOWN_PC, US_SPEC
from .strategies import GC_COMMANDS, cops_message, gate_command, gate_message, handle, u8

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MESSAGES = messages._TEMPLATES
COMMANDS = commands._TEMPLATES
_SET_EXTRAS = tuple(slot.field for slot in commands.SET_EXTRAS)


@contextmanager
def general_path():
    """The codec with every template table empty: what the fast path must match."""
    with ExitStack() as stack:
        for table in (MESSAGES.decoders, MESSAGES.encoders, COMMANDS.decoders, COMMANDS.encoders):
            stack.enter_context(patch.dict(table, clear=True))
        yield


def outcome(function, *args) -> tuple:
    """What a call gives, comparably: its value's repr, or its exception's class and every attribute."""
    try:
        return "value", repr(function(*args))
    except (DecodeError, struct.error, AttributeError, TypeError) as exc:
        return "raised", type(exc).__name__, str(exc), sorted(vars(exc).items())


def general_outcome(function, *args) -> tuple:
    with general_path():
        return outcome(function, *args)


def decode_both(wire: bytes) -> tuple:
    """The message and its gate command, as the public API gives them (DEC/RPT of client-type DQoS)."""
    message = decode_message(wire)
    return message, gate_command_of(message)


def assert_same_as_general(function, *args) -> None:
    assert outcome(function, *args) == general_outcome(function, *args)


def takes_template(command) -> bool:
    """Whether a gate command has a shape the templates cover (restated here, independently of their code)."""
    fields = command._asdict()
    subscriber = fields.get("subscriber")
    return (not fields["extra"] and all(fields.get(name) is None for name in _SET_EXTRAS)
            and (subscriber is None or type(subscriber) is IPv4Address)
            and len(fields.get("gate_specs", ())) <= 2)


def carry(handle: Handle, command, event_report_type: int = 1):
    """The DEC (GC commands) or RPT (CMTS replies and events) a command travels in."""
    if command.COMMAND in GC_COMMANDS:
        return decision_for(handle, command)
    return report_for(handle, command, event_report_type=event_report_type)


@st.composite
def templated_command(draw, command_type: int | None = None):
    """A gate command of a shape the templates cover: IPv4 or no subscriber, no extras, at most 2 Gate-Specs."""
    command = draw(gate_command(command_type))
    if isinstance(command.subscriber, IPv6Address):
        command = command._replace(subscriber=IPv4Address(int(command.subscriber) & 0xFFFFFFFF))
    if "gate_specs" in command._fields:
        command = command._replace(gate_specs=command.gate_specs[:2])
    return command._replace(extra=(), **{name: None for name in _SET_EXTRAS if name in command._fields})


@st.composite
def templated_message(draw):
    """A DEC or RPT of a templated gate command with a 4-byte Handle; returns (message, command)."""
    command = draw(templated_command())
    handle = Handle(draw(st.binary(min_size=4, max_size=4)))
    return carry(handle, command, draw(st.sampled_from([1, 2, 3]))), command


# --- generated messages: the templates take them and match the general path --------------------------------


@PROPERTY
@given(templated_message())
def test_templated_gate_messages_take_the_fast_path_and_match_the_general_path(pair):
    message, command = pair
    wire = message.encode()
    with general_path():
        assert message.encode() == wire
        general = decode_both(wire)
    assert MESSAGES.encode(message) == wire
    assert MESSAGES.decode(wire) is not None
    payload = message.objects[-1].data
    assert COMMANDS.encode(command) == payload
    assert COMMANDS.decode(payload) is not None
    fast = decode_both(wire)
    assert repr(fast) == repr(general)
    assert repr(fast[1]) == repr(command)


@pytest.mark.parametrize("command_type", sorted(COMMAND_CLASSES), ids=lambda t: COMMAND_CLASSES[t].__name__)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_command_class_has_templates_for_its_common_shapes(command_type, data):
    command = data.draw(templated_command(command_type))
    payload = command.encode()
    assert COMMANDS.encode(command) == payload
    decoded = COMMANDS.decode(payload)
    assert decoded is not None
    with general_path():
        assert command.encode() == payload
        assert repr(decode_gate_command(payload)) == repr(decoded) == repr(command)


@PROPERTY
@given(gate_message())
def test_any_generated_gate_message_gives_what_the_general_path_gives(pair):
    # Any handle length, IPv6 subscribers, extras, 3 Gate-Specs: taken or not, the results are the general path's.
    message, command = pair
    wire = message.encode()
    with general_path():
        assert message.encode() == wire
    assert_same_as_general(decode_both, wire)
    if len(message.objects[0].value) == 4 and takes_template(command):
        assert MESSAGES.decode(wire) is not None and COMMANDS.decode(message.objects[-1].data) is not None


PACKERS = {  # what each packs in one go (a gate controller's DECs, a CMTS's RPTs), and the message it stands for
    "DEC": (lambda handle, command, _: packed_decision(handle, command),
            lambda handle, command, _: decision_for(handle, command)),
    "RPT": (lambda handle, command, event: packed_report(handle, command, event_report_type=event),
            lambda handle, command, event: report_for(handle, command, event_report_type=event)),
}


@pytest.mark.parametrize("packer", PACKERS)
@PROPERTY
@given(gate_command(), handle, st.sampled_from([1, 2, 3]), st.booleans())
def test_a_packer_gives_the_bytes_the_general_path_gives_its_message(packer, command, handle_value, event_type,
                                                                     four_bytes):
    pack, message_for = PACKERS[packer]
    if four_bytes:  # the Handle every CMTS we know uses, and the one the one-go packing takes
        handle_value = Handle(handle_value.value.ljust(4, b"\xff")[:4])
    wire = pack(handle_value, command, event_type)
    with general_path():
        general = message_for(handle_value, command, event_type).encode()
    if len(handle_value.value) == 4 and len(command.encode()) % 4 == 0:
        assert wire == general
    else:  # a Handle or payload the one struct does not lay out: the caller encodes the message
        assert wire is None


@PROPERTY
@given(gate_command())
def test_any_generated_payload_gives_what_the_general_path_gives(command):
    payload = command.encode()
    with general_path():
        assert command.encode() == payload
    assert_same_as_general(decode_gate_command, payload)
    assert (COMMANDS.decode(payload) is not None) == takes_template(command)


@PROPERTY
@given(cops_message)
def test_any_cops_message_gives_what_the_general_path_gives(message):
    wire = message.encode()
    with general_path():
        assert message.encode() == wire
    assert_same_as_general(decode_message, wire)


# --- gate commands read from their frames (Connection(gate_traffic=True)) ----------------------------------------

READ_FRAME = commands.FRAME_COMMANDS


def read_generally(wire: bytes) -> tuple:
    """What a frame reader must give: the Handle's value, the gate command and the carrier's payload, decoded."""
    with general_path():
        message, command = decode_both(wire)
    return message.objects[0].value, command, message.objects[-1].data


@PROPERTY
@given(templated_message())
def test_a_templated_dec_or_rpt_is_read_from_its_frame_into_what_the_general_path_decodes(pair):
    message, _ = pair
    wire = message.encode()
    found = READ_FRAME[wire[:2]](wire)
    assert found is not None
    assert repr(found) == repr(read_generally(wire))


@PROPERTY
@given(gate_message())
def test_any_generated_gate_message_read_from_its_frame_gives_the_general_path_s_command_or_nothing(pair):
    # Other handle lengths, IPv6 subscribers, extras, 3 Gate-Specs: read as the general path reads them, or left to it.
    message, command = pair
    wire = message.encode()
    found = READ_FRAME[wire[:2]](wire)
    if found is not None:
        assert repr(found) == repr(read_generally(wire))
    else:
        assert len(message.objects[0].value) != 4 or not takes_template(command)


# --- near misses: bytes close to a template decode (or fail) exactly as without templates --------------------


@st.composite
def near_template_frame(draw) -> bytes:
    """A templated DEC or RPT with a few bytes overwritten, cut or added; its Length mostly kept consistent."""
    message, _ = draw(templated_message())
    data = bytearray(message.encode())
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["overwrite", "overwrite", "overwrite", "cut", "append"]))
        if kind == "overwrite" and data:
            data[draw(st.integers(0, len(data) - 1))] = draw(u8)
        elif kind == "cut":
            data = data[: draw(st.integers(0, len(data)))]
        else:
            data += draw(st.binary(min_size=1, max_size=8))
    if len(data) >= 8 and draw(st.booleans()):
        data[4:8] = len(data).to_bytes(4, "big")
    if len(data) >= 36 and draw(st.booleans()):  # and the carrier's Length (a DEC's is at 32, an RPT's at 24)
        at = 32 if data[1] == 2 else 24
        data[at : at + 2] = (len(data) - at).to_bytes(2, "big")
    return bytes(data)


@PROPERTY
@given(near_template_frame())
def test_near_template_bytes_decode_or_fail_exactly_as_the_general_path(wire):
    assert_same_as_general(decode_both, wire)


@PROPERTY
@given(near_template_frame())
def test_near_template_frames_are_read_as_the_general_path_decodes_them_or_left_to_it(wire):
    read = READ_FRAME.get(wire[:2])
    found = None if read is None else read(wire)
    if found is not None:
        assert repr(found) == repr(read_generally(wire))


@PROPERTY
@given(templated_command(), st.integers(0, 200), u8)
def test_near_template_payloads_decode_or_fail_exactly_as_the_general_path(command, position, value):
    payload = bytearray(command.encode())
    payload[position % len(payload)] = value
    assert_same_as_general(decode_gate_command, bytes(payload))


# --- what the templates leave to the general path ------------------------------------------------------------

GATE_SET = GateSet(TID, MTA, (DS_SPEC, US_SPEC), activity_count=4)
GATE_SET_ACK = GateSetAck(TID, GATE, MTA, 1)
PAYLOAD = GATE_SET.encode()


def payload_of(*objects) -> bytes:
    return b"".join(obj.encode() for obj in objects)


FALLBACK_FRAMES = {
    "2-byte handle": decision_for(Handle(b"\x00\x01"), GATE_SET).encode(),
    "8-byte handle": report_for(Handle(bytes(8)), GATE_SET_ACK).encode(),
    "empty handle": decision_for(Handle(b""), GATE_SET).encode(),
    "unknown COPS object": Decision((HANDLE, UNKNOWN_CNUM, Context(8), DecisionFlags(1, 1),
                                     ClientSpecificDecision(PAYLOAD))).encode(),
    "integrity last": Report((HANDLE, ReportTypeObject(1), SignaledClientSI(GATE_SET_ACK.encode()),
                              INTEGRITY)).encode(),
    "padded carrier": Decision((HANDLE, Context(8), DecisionFlags(1, 1),
                                ClientSpecificDecision(PAYLOAD + b"\x00\x08\x03"))).encode(),
    "two decision groups": Decision((HANDLE, Context(8), DecisionFlags(1, 1), ClientSpecificDecision(PAYLOAD),
                                     Context(8), DecisionFlags(1, 1))).encode(),
    "RPT without ClientSI": Report((HANDLE, ReportTypeObject(1))).encode(),
    "other flag bits": b"\x12" + decision_for(HANDLE, GATE_SET).encode()[1:],
    "COPS version 2": b"\x20" + decision_for(HANDLE, GATE_SET).encode()[1:],
    "Length one short": (lambda w: w[:4] + (len(w) - 1).to_bytes(4, "big") + w[8:])(
        decision_for(HANDLE, GATE_SET).encode()),
    "trailing garbage": (lambda w: w[:4] + (len(w) + 4).to_bytes(4, "big") + w[8:] + b"\x00\x04\x01\x01")(
        decision_for(HANDLE, GATE_SET).encode()),
    "frame cut short": decision_for(HANDLE, GATE_SET).encode()[:30],
}


@pytest.mark.parametrize("wire", list(FALLBACK_FRAMES.values()), ids=list(FALLBACK_FRAMES))
def test_frames_outside_the_templates_take_the_general_path(wire):
    assert MESSAGES.decode(wire) is None
    assert_same_as_general(decode_both, wire)


FALLBACK_PAYLOADS = {
    "IPv6 subscriber": GATE_SET._replace(subscriber=IPv6Address("2001:db8::1")).encode(),
    "3 Gate-Specs": GATE_SET._replace(gate_specs=(DS_SPEC, US_SPEC, DS_SPEC)).encode(),
    "unknown PacketCable object": GATE_SET._replace(extra=(UNKNOWN_PC,)).encode(),
    "Event-Generation-Info": GATE_SET._replace(event_generation_info=EGI).encode(),
    "second Gate-ID": payload_of(TransactionID(TID, 5), SubscriberIDIPv4(MTA), GateID(GATE), GateID(GATE + 1)),
    "objects out of order": payload_of(TransactionID(TID, 5), GateID(GATE), SubscriberIDIPv4(MTA)),
    "Transaction-ID not first": payload_of(SubscriberIDIPv4(MTA), TransactionID(TID, 5), GateID(GATE)),
    "Gate-Spec before Activity-Count": payload_of(TransactionID(TID, 4), SubscriberIDIPv4(MTA), DS_SPEC,
                                                     ActivityCount(4)),
    "unknown command type": payload_of(TransactionID(TID, 15), SubscriberIDIPv4(MTA), GateID(GATE)),
    "command type 0x0105": payload_of(TransactionID(TID, 0x0105), SubscriberIDIPv4(MTA), GateID(GATE)),
    "Gate-Set without Gate-Spec": payload_of(TransactionID(TID, 4), SubscriberIDIPv4(MTA), GateID(GATE)),
    "Gate-ID of 12 bytes": payload_of(TransactionID(TID, 5), SubscriberIDIPv4(MTA))
    + b"\x00\x0c\x03\x01" + bytes(8),
    "Gate-Spec cut short": PAYLOAD[:-4],
    "unknown S-Type": PAYLOAD[:11] + b"\x07" + PAYLOAD[12:],
    "empty": b"",
}


@pytest.mark.parametrize("payload", list(FALLBACK_PAYLOADS.values()), ids=list(FALLBACK_PAYLOADS))
def test_payloads_outside_the_templates_take_the_general_path(payload):
    assert COMMANDS.decode(payload) is None
    assert_same_as_general(decode_gate_command, payload)
    for carrier in (Decision((HANDLE, Context(8), DecisionFlags(1, 1), ClientSpecificDecision(payload))),
                    Report((HANDLE, ReportTypeObject(1), SignaledClientSI(payload)))):
        assert_same_as_general(decode_both, carrier.encode())


@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_buffers_other_than_bytes_take_the_general_path(kind):
    wire = decision_for(HANDLE, GATE_SET).encode()
    message = decode_message(kind(wire))
    assert repr(message) == repr(decode_message(wire))
    assert repr(decode_gate_command(kind(PAYLOAD))) == repr(GATE_SET)


FALLBACK_MESSAGES = {
    "bytearray handle": decision_for(Handle(bytearray(b"\x00\x00\x00\x01")), GATE_SET),
    "6-byte handle": decision_for(Handle(bytes(6)), GATE_SET),
    "padded carrier": Decision((HANDLE, Context(8), DecisionFlags(1, 1), ClientSpecificDecision(b"\x01"))),
    "integrity last": Decision((HANDLE, Context(8), DecisionFlags(1, 1), ClientSpecificDecision(PAYLOAD), INTEGRITY)),
}


@pytest.mark.parametrize("message", list(FALLBACK_MESSAGES.values()), ids=list(FALLBACK_MESSAGES))
def test_messages_outside_the_templates_encode_by_the_general_path(message):
    assert MESSAGES.encode(message) is None
    assert_same_as_general(lambda: message.encode())


FALLBACK_COMMANDS = {
    "IPv6 subscriber": GATE_SET._replace(subscriber=IPv6Address("2001:db8::1")),
    "3 Gate-Specs": GATE_SET._replace(gate_specs=(DS_SPEC, US_SPEC, DS_SPEC)),
    "no Gate-Spec": GATE_SET._replace(gate_specs=()),
    "Gate-Specs in a list": GATE_SET._replace(gate_specs=[DS_SPEC]),
    "a plain tuple for a Gate-Spec": GATE_SET._replace(gate_specs=(tuple(DS_SPEC),)),
    "extra objects": GATE_SET._replace(extra=(UNKNOWN_PC,)),
    "Event-Generation-Info": GATE_SET._replace(event_generation_info=EGI),
    "bool Gate-ID": GATE_SET._replace(gate_id=True),
    "str subscriber": GATE_SET_ACK._replace(subscriber="10.0.1.10"),
    "Gate-Info-Ack with 3 Gate-Specs": GateInfoAck(7, GATE, MTA, gate_specs=(DS_SPEC,) * 3),
}


@pytest.mark.parametrize("command", list(FALLBACK_COMMANDS.values()), ids=list(FALLBACK_COMMANDS))
def test_commands_outside_the_templates_encode_by_the_general_path(command):
    assert COMMANDS.encode(command) is None
    assert_same_as_general(lambda: command.encode())


@pytest.mark.parametrize("command", [
    GATE_SET._replace(transaction_id=0x10000),
    GATE_SET._replace(activity_count=-1),
    GATE_SET._replace(gate_specs=(DS_SPEC._replace(t1=0x10000), US_SPEC)),
    GATE_SET._replace(gate_specs=(DS_SPEC._replace(token_bucket_rate="fast"),)),
    GATE_SET_ACK._replace(gate_id=2**32),
], ids=["tid", "activity-count", "t1", "token-bucket-rate", "gate-id"])
def test_values_the_wire_cannot_carry_fail_as_in_the_general_path(command):
    assert outcome(command.encode)[0] == "raised"
    assert outcome(command.encode) == general_outcome(command.encode)


def test_out_of_range_message_fields_fail_as_in_the_general_path():
    message = decision_for(HANDLE, GATE_SET)._replace(client_type=0x10000)
    assert outcome(message.encode)[:2] == general_outcome(message.encode)[:2] == ("raised", "error")


# --- the generated code ----------------------------------------------------------------------------------------


def test_generated_functions_show_their_source_in_tracebacks_and_inspect():
    functions = [*MESSAGES.decoders.values(), *MESSAGES.encoders.values(), *COMMANDS.decoders.values(),
                 *COMMANDS.encoders.values()]
    assert len(functions) > 100
    for function in functions:
        assert inspect.getsource(function) == function.source
    with pytest.raises(struct.error) as info:
        GATE_SET._replace(transaction_id=-1).encode()
    assert any(frame.filename.startswith("<template encode_GateSet") and "pack" in frame.line
               for frame in traceback.extract_tb(info.value.__traceback__))


def test_the_benchmark_messages_take_the_fast_path():
    for message, command in ((decision_for(HANDLE, GATE_SET), GATE_SET), (report_for(HANDLE, GATE_SET_ACK),
                                                                           GATE_SET_ACK)):
        wire = message.encode()
        assert MESSAGES.encode(message) == wire and COMMANDS.encode(command) == message.objects[-1].data
        assert MESSAGES.decode(wire) == message and COMMANDS.decode(message.objects[-1].data) == command
