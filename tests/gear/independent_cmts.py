"""A stand-in for real CMTS gear: an independent PacketCable DQoS PEP, written from the byte layouts alone.

It shares no code with the project (no cops_core, no cmts_sim: struct and
trio only), so a bug in our codec cannot hide itself by being on both ends.
It behaves as gear does: its MTAs are idle (no modem ever commits), a gate
closed by a timer is gone, and it has no fault injection, capacity setting
or anything else only the embedded CMTS offers.  A few switches make it
misbehave the way the acceptance tests need.

    python tests/gear/independent_cmts.py [--port 0] [--t0 30] [--refuse-gate-info]
                                          [--client-close-after SECONDS]

Prints "listening on PORT" once it accepts connections.
"""

from __future__ import annotations

import argparse
import itertools
import struct
import sys

import trio

HEADER = struct.Struct("!BBHI")  # version/flags, op-code, client-type, length
OBJECT = struct.Struct("!HBB")  # length, C-Num / S-Num, C-Type / S-Type
DQOS = 0x8008
OPN, CAT, REQ, DEC, RPT, CC, KA = 6, 7, 1, 2, 3, 8, 9
SUCCESS, FAILURE, ACCOUNTING = 1, 2, 3
ALLOC, SET, INFO, DELETE, OPEN, CLOSE = 1, 4, 7, 10, 13, 14
UNKNOWN_GATE, ILLEGAL_CLASS, GATE_LIMIT, MISSING, UNSPECIFIED = 2, 3, 4, 6, 127
T1_EXPIRED, T0_EXPIRED = 5, 4
HANDLE = b"\x00\x00\x00\x2a"


def message(op: int, body: bytes, *, client_type: int = DQOS, solicited: bool = False) -> bytes:
    return HEADER.pack(0x10 | solicited, op, client_type, 8 + len(body)) + body


def cops_object(cnum: int, ctype: int, data: bytes) -> bytes:
    padding = -len(data) % 4
    return OBJECT.pack(4 + len(data), cnum, ctype) + data + bytes(padding)


def sub_object(snum: int, stype: int, data: bytes) -> bytes:
    return OBJECT.pack(4 + len(data), snum, stype) + data


def walk(data: bytes, offset: int, *, aligned: bool) -> list[tuple[int, int, bytes]]:
    """(number, type, payload) of each object from ``offset``: COPS objects are 4-aligned, DQoS ones are not."""
    found = []
    while offset + 4 <= len(data):
        length, number, kind = OBJECT.unpack_from(data, offset)
        if length < 4:
            break
        found.append((number, kind, data[offset + 4 : offset + length]))
        offset += (length + 3) & ~3 if aligned else length
    return found


class Gate:
    def __init__(self, gate_id: int, subscriber: bytes, specs: list[bytes]) -> None:
        self.gate_id, self.subscriber, self.specs = gate_id, subscriber, specs
        self.deadline = float("inf")
        self.why = 0


class Gear:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.gates: dict[int, Gate] = {}
        self.ids = itertools.count(0x10000001)
        self.first_set: float | None = None

    async def session(self, stream: trio.SocketStream) -> None:
        buffer = b""
        state = {"ka": 0}
        await stream.send_all(message(OPN, cops_object(11, 1, b"GEAR-CMTS\0")))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._timers, stream)
            while True:
                data = await stream.receive_some(65536)
                if not data:
                    break
                buffer += data
                while len(buffer) >= 8:
                    length = HEADER.unpack_from(buffer)[3]
                    if len(buffer) < length:
                        break
                    frame, buffer = buffer[:length], buffer[length:]
                    reply = self._handle(frame, state, nursery, stream)
                    if reply:
                        await stream.send_all(reply)
                    if frame[1] == CC:
                        nursery.cancel_scope.cancel()
                        return
            nursery.cancel_scope.cancel()

    def _handle(self, frame: bytes, state: dict, nursery: trio.Nursery, stream) -> bytes:
        op = frame[1]
        if op == CAT:
            for cnum, ctype, data in walk(frame, 8, aligned=True):
                if cnum == 10:
                    state["ka"] = struct.unpack("!H", data[2:4])[0]
            if state["ka"]:
                nursery.start_soon(self._keepalives, stream, state["ka"])
            context = struct.pack("!HH", 0x0008, 0)
            return message(REQ, cops_object(1, 1, HANDLE) + cops_object(2, 1, context))
        if op == DEC:
            payload = next((data for cnum, ctype, data in walk(frame, 8, aligned=True) if (cnum, ctype) == (6, 4)), None)
            if payload is not None:
                return self._command(payload, nursery, stream)
        return b""

    def _command(self, payload: bytes, nursery: trio.Nursery, stream) -> bytes:
        objects = walk(payload, 0, aligned=False)
        tid, command = struct.unpack("!HH", objects[0][2])
        subscriber = next((data for snum, _, data in objects if snum == 2), b"\0\0\0\0")
        gate_id = next((struct.unpack("!I", data)[0] for snum, _, data in objects if snum == 3), None)
        limit = next((struct.unpack("!I", data)[0] for snum, _, data in objects if snum == 4), None)
        specs = [data for snum, _, data in objects if snum == 5]
        now = trio.current_time()

        def reply(kind: int, *parts: bytes, error: tuple[int, int] | None = None) -> bytes:
            body = sub_object(1, 1, struct.pack("!HH", tid, kind)) + sub_object(2, 1, subscriber) + b"".join(parts)
            if error is not None:
                body += sub_object(9, 1, struct.pack("!HH", *error))
                kind_type = FAILURE
            else:
                kind_type = SUCCESS
            report = cops_object(1, 1, HANDLE) + cops_object(12, 1, struct.pack("!HH", kind_type, 0))
            return message(RPT, report + cops_object(9, 1, body), solicited=True)

        def gate_object(gate: int) -> bytes:
            return sub_object(3, 1, struct.pack("!I", gate))

        def count() -> bytes:
            held = sum(gate.subscriber == subscriber for gate in self.gates.values())
            return sub_object(4, 1, struct.pack("!I", held))

        if command in (ALLOC, SET) and gate_id is None:
            held = sum(gate.subscriber == subscriber for gate in self.gates.values())
            if limit is not None and held >= limit:
                return reply(command + 2, error=(GATE_LIMIT, 0))
        if command == ALLOC:
            gate = Gate(next(self.ids), subscriber, [])
            gate.deadline, gate.why = now + self.args.t0, T0_EXPIRED
            self.gates[gate.gate_id] = gate
            return reply(command + 1, gate_object(gate.gate_id), count())
        if command == SET:
            if not specs:
                return reply(command + 2, error=(MISSING, 0x0501))
            if any(spec[3] not in (0, 1, 2) for spec in specs):
                return reply(command + 2, error=(ILLEGAL_CLASS, 0))
            if gate_id is not None and gate_id not in self.gates:
                return reply(command + 2, gate_object(gate_id), error=(UNKNOWN_GATE, 0))
            gate = self.gates.get(gate_id) or Gate(next(self.ids), subscriber, [])
            gate.specs = specs
            t1 = struct.unpack_from("!H", specs[0], 20)[0] or 200
            gate.deadline, gate.why = now + t1, T1_EXPIRED
            self.gates[gate.gate_id] = gate
            if self.first_set is None and self.args.client_close_after is not None:
                self.first_set = now
                nursery.start_soon(self._client_close, stream)
            return reply(command + 1, gate_object(gate.gate_id), count())
        if command == INFO:
            if self.args.refuse_gate_info:
                return reply(command + 2, gate_object(gate_id or 0), error=(UNSPECIFIED, 0))
            gate = self.gates.get(gate_id)
            if gate is None:
                return reply(command + 2, gate_object(gate_id or 0), error=(UNKNOWN_GATE, 0))
            return reply(command + 1, gate_object(gate_id), count(), *(sub_object(5, 1, spec) for spec in gate.specs))
        if command == DELETE:
            if self.gates.pop(gate_id, None) is None:
                return reply(command + 2, gate_object(gate_id or 0), error=(UNKNOWN_GATE, 0))
            return reply(command + 1, gate_object(gate_id))
        return reply(command + 2, error=(UNSPECIFIED, 0))

    async def _timers(self, stream) -> None:
        while True:
            await trio.sleep(0.05)
            now = trio.current_time()
            for gate in [gate for gate in self.gates.values() if gate.deadline <= now]:
                del self.gates[gate.gate_id]
                body = (sub_object(1, 1, struct.pack("!HH", 0, CLOSE)) + sub_object(2, 1, gate.subscriber)
                        + sub_object(3, 1, struct.pack("!I", gate.gate_id))
                        + sub_object(13, 1, struct.pack("!HH", 1, gate.why)))
                report = cops_object(1, 1, HANDLE) + cops_object(12, 1, struct.pack("!HH", ACCOUNTING, 0))
                await stream.send_all(message(RPT, report + cops_object(9, 1, body)))

    @staticmethod
    async def _keepalives(stream, interval: int) -> None:
        while True:
            await trio.sleep(interval / 2)
            await stream.send_all(message(KA, b"", client_type=0))

    async def _client_close(self, stream) -> None:
        await trio.sleep(self.args.client_close_after)
        await stream.send_all(message(CC, cops_object(8, 1, struct.pack("!HH", 11, 0))))  # Shutting down
        await stream.aclose()


async def serve(args: argparse.Namespace) -> None:
    gear = Gear(args)
    listeners = await trio.open_tcp_listeners(args.port, host="127.0.0.1")
    print(f"listening on {listeners[0].socket.getsockname()[1]}", flush=True)
    await trio.serve_listeners(gear.session, listeners)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--t0", type=float, default=30.0)
    parser.add_argument("--refuse-gate-info", action="store_true", help="answer every Gate-Info with error 127")
    parser.add_argument("--client-close-after", type=float, default=None,
                        help="send Client-Close this many seconds after the first Gate-Set")
    try:
        trio.run(serve, parser.parse_args())
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
