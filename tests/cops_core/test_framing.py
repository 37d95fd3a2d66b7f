"""Cutting a TCP byte stream into COPS messages (protocol.md 2.1: the Length frames the stream)."""

from __future__ import annotations

import pytest

from cops_core import DecodeError, Framer, decode_message
from cops_core.framing import DEFAULT_MAX_MESSAGE

from .samples import MESSAGES, unhex

STREAM_MESSAGES = [MESSAGES[name] for name in ("OPN", "CAT", "REQ", "DEC-two-groups", "RPT-full", "KA", "CC")]
FRAMES = [m.encode() for m in STREAM_MESSAGES]
STREAM = b"".join(FRAMES)


def frames_of(chunks, framer=None) -> list[bytes]:
    framer = framer or Framer()
    out = []
    for chunk in chunks:
        framer.feed(chunk)
        out.extend(framer.frames())
    return out


def test_a_whole_message_comes_out_as_one_frame():
    framer = Framer()
    framer.feed(FRAMES[0])
    assert framer.next_frame() == FRAMES[0]
    assert framer.next_frame() is None
    assert framer.buffered == 0


def test_nothing_comes_out_until_the_header_is_complete():
    framer = Framer()
    framer.feed(FRAMES[0][:7])
    assert framer.next_frame() is None
    assert framer.buffered == 7


def test_nothing_comes_out_until_the_body_is_complete():
    framer = Framer()
    framer.feed(FRAMES[0][:-1])
    assert framer.next_frame() is None
    framer.feed(FRAMES[0][-1:])
    assert framer.next_frame() == FRAMES[0]


def test_many_messages_in_one_chunk_come_out_in_order():
    assert frames_of([STREAM]) == FRAMES


def test_frames_leaves_a_partial_message_buffered():
    framer = Framer()
    framer.feed(STREAM[: len(FRAMES[0]) + 3])
    assert framer.frames() == [FRAMES[0]]
    assert framer.buffered == 3
    framer.feed(STREAM[len(FRAMES[0]) + 3:])
    assert framer.frames() == FRAMES[1:]


@pytest.mark.parametrize("cut", range(len(STREAM) + 1))
def test_every_single_cut_point_yields_the_same_frames(cut):
    assert frames_of([STREAM[:cut], STREAM[cut:]]) == FRAMES


def test_every_pair_of_cut_points_yields_the_same_frames():
    for first in range(0, len(STREAM) + 1, 3):
        for second in range(first, len(STREAM) + 1, 5):
            assert frames_of([STREAM[:first], STREAM[first:second], STREAM[second:]]) == FRAMES


def test_byte_by_byte_feeding_yields_the_same_frames():
    assert frames_of([STREAM[i:i + 1] for i in range(len(STREAM))]) == FRAMES


def test_frames_decode_to_the_messages_sent():
    assert [decode_message(f) for f in frames_of([STREAM])] == STREAM_MESSAGES


def test_feed_accepts_bytearray_and_memoryview():
    framer = Framer()
    framer.feed(bytearray(STREAM[:10]))
    framer.feed(memoryview(STREAM)[10:])
    assert framer.frames() == FRAMES


def test_a_buffer_fed_may_be_reused_at_once():
    # Fed bytes wait, unjoined, until they complete a frame: they must not be the caller's buffer.
    framer = Framer()
    chunk = bytearray(FRAMES[0][:5])
    framer.feed(chunk)
    chunk[:] = b"\xff" * 5
    framer.feed(FRAMES[0][5:])
    assert framer.frames() == [FRAMES[0]]


# --- refusing a stream from its header alone -------------------------------------------------


def test_default_maximum_is_64_kib():
    assert Framer().max_message == DEFAULT_MAX_MESSAGE == 65536


def test_oversized_length_is_refused_as_soon_as_the_header_arrives():
    framer = Framer(max_message=1024)
    framer.feed(unhex("10 02 80 08 00 00 04 04"))  # announces 1028 bytes; no body sent
    with pytest.raises(DecodeError) as info:
        framer.next_frame()
    assert info.value.offset == 4
    assert framer.buffered == 8


def test_four_gigabyte_length_is_refused_without_waiting_for_the_body():
    framer = Framer()
    framer.feed(unhex("10 02 80 08 ff ff ff fc"))
    with pytest.raises(DecodeError):
        framer.next_frame()


def test_message_of_exactly_the_maximum_length_is_accepted():
    message = MESSAGES["RPT-full"]
    frame = message.encode()
    framer = Framer(max_message=len(frame))
    framer.feed(frame)
    assert framer.next_frame() == frame
    small = Framer(max_message=len(frame) - 4)
    small.feed(frame)
    with pytest.raises(DecodeError):
        small.next_frame()


@pytest.mark.parametrize(
    ("header", "offset"),
    [
        ("20 02 80 08 00 00 00 b4", 0),  # version 2
        ("00 02 80 08 00 00 00 b4", 0),  # version 0
        ("10 02 80 08 00 00 00 b5", 4),  # length not a multiple of 4
        ("10 02 80 08 00 00 00 04", 4),  # length below the header size
    ],
    ids=["version-2", "version-0", "length-not-multiple-of-4", "length-below-header"],
)
def test_bad_header_is_refused_from_the_header_alone(header, offset):
    framer = Framer()
    framer.feed(unhex(header))
    with pytest.raises(DecodeError) as info:
        framer.next_frame()
    assert info.value.offset == offset


@pytest.mark.parametrize(
    "header",
    ["20 09 00 00 00 00 00 08", "10 09 00 00 00 00 00 04", "10 09 00 00 00 00 00 0a 00 00"],
    ids=["version-2", "length-below-header", "length-not-multiple-of-4"],
)
def test_bad_header_is_refused_however_the_stream_is_cut(header):
    # A bad header must not become a frame just because its whole announced length arrived in one read.
    bad = unhex(header)
    for cut in range(len(bad) + 1):
        framer = Framer()
        with pytest.raises(DecodeError):
            frames_of([bad[:cut], bad[cut:] + FRAMES[0]], framer)


def test_an_unknown_opcode_is_a_whole_frame_for_the_decoder_to_refuse():
    # Its length is sound, so the stream stays framed: the next message is still read.
    unknown = unhex("10 0c 80 08 00 00 00 08")
    for cut in range(len(unknown) + 1):
        framer = Framer()
        frames = frames_of([unknown[:cut], unknown[cut:] + FRAMES[0]], framer)
        assert frames == [unknown, FRAMES[0]]
        assert not framer.broken
    with pytest.raises(DecodeError) as info:
        decode_message(unknown)
    assert info.value.offset == 1 and "op-code 12" in info.value.reason


def test_error_offsets_count_from_the_start_of_the_stream():
    framer = Framer(max_message=1024)
    good = len(FRAMES[0]) + len(FRAMES[1])
    framer.feed(FRAMES[0] + FRAMES[1] + unhex("10 02 80 08 00 10 00 00"))
    assert framer.next_frame() == FRAMES[0]
    assert framer.next_frame() == FRAMES[1]
    with pytest.raises(DecodeError) as info:
        framer.next_frame()
    assert info.value.offset == good + 4


def test_bad_version_offset_counts_from_the_start_of_the_stream():
    framer = Framer()
    framer.feed(FRAMES[0])
    assert framer.next_frame() == FRAMES[0]
    framer.feed(unhex("30 09 00 00"))
    assert framer.next_frame() is None
    framer.feed(unhex("00 00 00 08"))
    with pytest.raises(DecodeError) as info:
        framer.next_frame()
    assert info.value.offset == len(FRAMES[0])


def test_a_broken_stream_stays_broken():
    framer = Framer()
    framer.feed(unhex("20 09 00 00 00 00 00 08"))
    with pytest.raises(DecodeError) as first:
        framer.next_frame()
    framer.feed(FRAMES[0])
    with pytest.raises(DecodeError) as second:
        framer.next_frame()
    assert second.value is first.value
