"""The simulated CMTS with COPS integrity (protocol.md 2.8): it negotiates, signs everything, and closes on a forgery.

The gate controller here is the hand-driven one of conftest.py, over real
loopback sockets; what it forges is laid out by hand (tests/cops_core/integrity_bytes.py).
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from cops_core.codes import ClientType, ErrorCode
from cops_core.dqos import GateAlloc, GateAllocAck, GateSet, GateSetAck, decision_for
from cops_core.framing import Framer
from cops_core.integrity import IntegrityKey, IntegritySettings
from cops_core.messages import ClientAccept, ClientClose, ClientOpen, Request, decode_message

from ..cops_core.integrity_bytes import SECRET, integrity_of, signed_by_hand, verifies
from .conftest import SUBSCRIBER, connect, gate_spec, start_cmts

KEY = f"1:{SECRET.hex()}"
SETTINGS = IntegritySettings((IntegrityKey(1, SECRET),))


async def signed_cmts(nursery, *, taps=None, **integrity):
    """A CMTS with the shared key, and what it says about each connection it ends (event, why)."""
    server = await start_cmts(nursery, taps=taps, integrity={"keys": [KEY], **integrity})
    server.ends = []
    server.on_connection = lambda peer, event, why: server.ends.append(why) if event == "closed" else None
    return server


async def client_close(gc) -> ClientClose:
    """The Client-Close the CMTS answers with; then it hangs up."""
    message = await gc.next_message()
    assert type(message) is ClientClose, f"expected Client-Close, got {message!r}"
    await gc.closed()
    await trio.testing.wait_all_tasks_blocked()  # the session's own bookkeeping of why it ended
    return message


async def test_a_gate_controller_with_the_key_gets_every_message_signed_and_its_commands_answered(
        nursery, autojump_clock):
    records = []
    server = await signed_cmts(nursery, taps=[records.append])
    gc = await connect(server, integrity=SETTINGS)
    assert type(await gc.command(GateSet(1, SUBSCRIBER, (gate_spec(0),)))) is GateSetAck
    sent = [record.data for record in records if record.outgoing]
    received = [record.data for record in records if not record.outgoing]
    assert sent[0][:4] == bytes.fromhex("10060000")  # Client-Open of client-type 0 first (RFC 2748 4.1)
    assert [type(record.message) for record in records if record.outgoing][:3] == [ClientOpen, ClientOpen, Request]
    assert all(verifies(data) for data in sent + received)  # both ways, checked with the key by hand
    # Each way the numbers run on by one from the base the other side chose in the client-type 0 exchange.
    ours = [integrity_of(data)[1] for data in sent]
    theirs = [integrity_of(data)[1] for data in received]
    assert ours[1:] == [(integrity_of(received[0])[1] + n) & 0xFFFFFFFF for n in range(1, len(ours))]
    assert theirs[1:] == [(ours[0] + n) & 0xFFFFFFFF for n in range(1, len(theirs))]


@pytest.mark.parametrize("forgery", ["bogus digest", "wrong key id", "replayed"])
async def test_a_forged_or_replayed_decision_gets_client_close_14_on_client_type_0(nursery, autojump_clock, forgery):
    server = await signed_cmts(nursery)
    gc = await connect(server, integrity=SETTINGS)
    command = decision_for(gc.handle, GateAlloc(1, SUBSCRIBER))
    if forgery == "bogus digest":
        data = bytearray(gc.connection.send(command, trio.current_time()))
        data[-1] ^= 0x01
    elif forgery == "wrong key id":
        data = signed_by_hand(command.encode(), 2, gc.connection.integrity.sent + 1, b"a key the CMTS lacks")
    else:
        data = gc.connection.send(command, trio.current_time())
        await gc.send_raw(data)
        assert type(await gc.reply()) is GateAllocAck  # the genuine one is answered; its copy is not
    await gc.send_raw(bytes(data))
    close = await client_close(gc)
    assert (close.client_type, close.error.code) == (ClientType.CONNECTION, ErrorCode.AUTHENTICATION_FAILURE)
    assert verifies(gc.connection.last_frame)  # RFC 2748 4.1: the Client-Close carries a valid Integrity object
    assert "integrity: " in server.ends[-1] and "error 14 authentication failure" in server.ends[-1]


async def test_a_message_without_the_integrity_object_gets_client_close_15(nursery, autojump_clock):
    server = await signed_cmts(nursery)
    gc = await connect(server, integrity=SETTINGS)
    await gc.send_raw(decision_for(gc.handle, GateAlloc(1, SUBSCRIBER)).encode())
    close = await client_close(gc)
    assert (close.client_type, close.error) == (0, (ErrorCode.AUTHENTICATION_REQUIRED, 16 << 8 | 1))
    assert "the message has no Integrity object" in server.ends[-1]


async def read(stream: trio.SocketStream, framer: Framer):
    """The next message from the CMTS, decoded as it is (no integrity checked), or None when it hangs up."""
    with trio.fail_after(60):
        while (frame := framer.next_frame()) is None:
            data = await stream.receive_some(65536)
            if not data:
                return None
            framer.feed(data)
    return decode_message(frame)


@pytest.mark.parametrize("required", [True, False])
async def test_a_client_accept_without_integrity_is_refused_only_when_integrity_is_required(
        nursery, autojump_clock, required):
    server = await signed_cmts(nursery, required=required)
    stream = await trio.open_tcp_stream(*server.addresses[0])
    framer = Framer()
    opening = await read(stream, framer)
    assert opening.client_type == 0 and integrity_of(opening.encode()) is not None
    await stream.send_all(ClientAccept.new(30, client_type=0).encode())  # a GC that accepts without security
    answer = await read(stream, framer)
    if required:
        assert type(answer) is ClientClose and answer.client_type == 0
        assert answer.error.code == ErrorCode.AUTHENTICATION_REQUIRED
        assert integrity_of(answer.encode()) is None  # nothing was negotiated: it is not signed
        assert await read(stream, framer) is None
    else:
        assert answer == ClientOpen.new(server.config.cmts_id)  # on it goes, unsigned
