"""The ceiling server: what trio + loopback can do with COPS-sized messages and no codec at all.

    python bench/ceiling.py --port 0 [--ka SECONDS] [--keep]

``bench/load.py`` sets each figure of the simulated CMTS next to the same
measurement against this server, run the same way (its own process, same
client, same run).  It has the shape of ``cmts-sim serve`` and none of its
work:

* the handshake is the CMTS's, byte for byte from protocol.md 4.1: on accept
  it sends a 24-byte Client-Open, waits for one whole message (the 16-byte
  Client-Accept) and sends a 24-byte REQ with a 4-byte handle;
* then every message it receives is answered with the 60-byte Gate-Set-Ack
  RPT of protocol.md 4.3 (a constant: nothing is decoded, nothing patched),
  except keep-alives (op-code 9), which need no answer;
* frames are cut by the length field of the 8-byte COPS header; one task per
  connection handles every frame one ``receive_some`` brought and sends all
  the replies in one ``send_all`` (architecture.md, "Performance habits").

``--ka SECONDS`` also sends an 8-byte keep-alive at a random point in
[1/4, 3/4] of SECONDS after the previous one, like a PEP (the cost of a
deadline per connection).  ``--keep`` keeps every received message as a
``bytes`` in one dict, the least a server that remembers its gates can hold
(the memory ceiling).  The listening address is printed as
``listening on 127.0.0.1:PORT`` on stdout.
"""

from __future__ import annotations

import argparse
import random
import resource
import struct
import sys

import trio

# protocol.md 4.1 and 4.3; the ceiling never looks inside them.
CLIENT_OPEN = bytes.fromhex("10068008 00000018 00100b01 434d5453 2d4c4142 31000000")
REQUEST = bytes.fromhex("10018008 00000018 00080101 00000001 00080201 00080000")
GATE_SET_ACK = bytes.fromhex("11038008 0000003c 00080101 00000001 00080c01 00010000 00240901"
                             "00080101 12340005 00080201 0a00010a 00080301 0000a001 00080401 00000001")
KEEP_ALIVE = bytes.fromhex("10090000 00000008")
KEEP_ALIVE_OPCODE = 9

HEADER = 8
LENGTH = struct.Struct("!I")  # the COPS header's message length, at offset 4
MAX_MESSAGE = 1 << 16  # a bigger length is a broken peer, not a message to buffer
RECEIVE_SIZE = 1 << 16

kept: dict[int, bytes] = {}  # --keep: every message received, by arrival number


class Closed(Exception):
    """The peer went away or sent a length no COPS message has."""


def cut(buffer: bytearray, keep: bool) -> int:
    """Drop the whole messages at the front of ``buffer``; the number that want a reply."""
    offset = 0
    replies = 0
    end = len(buffer)
    while end - offset >= HEADER:
        length = LENGTH.unpack_from(buffer, offset + 4)[0]
        if length < HEADER or length > MAX_MESSAGE:
            raise Closed(f"bad message length {length}")
        if end - offset < length:
            break
        if buffer[offset + 1] != KEEP_ALIVE_OPCODE:
            replies += 1
            if keep:
                kept[len(kept)] = bytes(buffer[offset:offset + length])
        offset += length
    if offset:
        del buffer[:offset]
    return replies


async def receive_into(stream: trio.SocketStream, buffer: bytearray) -> None:
    data = await stream.receive_some(RECEIVE_SIZE)
    if not data:
        raise Closed("end of stream")
    buffer += data


async def handshake(stream: trio.SocketStream, buffer: bytearray) -> None:
    """Client-Open out, one whole message (the Client-Accept) in, REQ out."""
    await stream.send_all(CLIENT_OPEN)
    while len(buffer) < HEADER or len(buffer) < LENGTH.unpack_from(buffer, 4)[0]:
        await receive_into(stream, buffer)
    del buffer[:LENGTH.unpack_from(buffer, 4)[0]]
    await stream.send_all(REQUEST)


def next_keepalive(ka: float) -> float:
    return trio.current_time() + random.uniform(0.25, 0.75) * ka


async def answer(stream: trio.SocketStream, buffer: bytearray, keep: bool) -> None:
    """The hot loop without keep-alives: no cancel scope per receive."""
    while True:
        await receive_into(stream, buffer)
        replies = cut(buffer, keep)
        if replies:
            await stream.send_all(GATE_SET_ACK * replies)


async def answer_with_keepalives(stream: trio.SocketStream, buffer: bytearray, keep: bool, ka: float) -> None:
    due = next_keepalive(ka)
    while True:
        # Only the receive may time out: a send_all cut short would leave half a message on the wire.
        with trio.move_on_at(due) as waiting:
            await receive_into(stream, buffer)
        if waiting.cancelled_caught:
            await stream.send_all(KEEP_ALIVE)
            due = next_keepalive(ka)
            continue
        replies = cut(buffer, keep)
        if replies:
            await stream.send_all(GATE_SET_ACK * replies)


async def connection(stream: trio.SocketStream, keep: bool, ka: float) -> None:
    buffer = bytearray()
    try:
        await handshake(stream, buffer)
        if ka > 0:
            await answer_with_keepalives(stream, buffer, keep, ka)
        else:
            await answer(stream, buffer, keep)
    except (Closed, trio.BrokenResourceError, trio.ClosedResourceError):
        pass  # one peer going away must not take the listener down
    finally:
        await stream.aclose()


def raise_open_files_limit() -> None:
    """bench/load.py holds 1,000+ connections here."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))


async def serve(port: int, keep: bool, ka: float) -> None:
    listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
    host, bound = listeners[0].socket.getsockname()[:2]
    print(f"listening on {host}:{bound}", flush=True)

    async def handler(stream: trio.SocketStream) -> None:
        await connection(stream, keep, ka)

    await trio.serve_listeners(handler, listeners)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="loopback port (0: any free one, printed)")
    parser.add_argument("--ka", type=float, default=0.0, help="send keep-alives, KA timer in seconds (0: none)")
    parser.add_argument("--keep", action="store_true", help="keep every received message in a dict")
    args = parser.parse_args(argv)
    raise_open_files_limit()
    try:
        trio.run(serve, args.port, args.keep, args.ka)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
