"""CPU per call of ``cms-sim load``'s own Python path, without sockets or scheduling: steady on a shared machine.

    python bench/cms_path.py [--calls 20000] [--scenario bench/scenarios/zero_hold_call.yaml] [--batch 1]

A real :class:`~cms_sim.load.calls.CallEngine` and
:class:`~cms_sim.controller.GateController` (its connection's state machine
and codec included) run the scenario's calls one after another, as
``cms-sim load`` does against ``cmts-sim serve --modem auto --hold 0``:
each Gate-Alloc, Gate-Set and Gate-Delete it queues is answered with the
Ack, and a Gate-Set also with Gate-Open and Gate-Close, fed to the
controller's reader as received bytes, ``--batch`` messages per receive (1:
every message alone, as at moderate rates).  The controller sends on a
socket pair, so its system calls count.  Only the gate controller's side is
timed (``time.process_time``), not making the answers.

What this leaves out, and ``cms-sim load`` against ``cmts-sim serve`` has
on top: the trio scheduler, receiving, and the garbage collector working on
more objects alive at once.  Those move with the rate and with
whatever else the machine runs; this does not (runs agree within ~2%).
"""

from __future__ import annotations

import argparse
import gc
import socket
import time
from pathlib import Path

import trio

from cms_sim.controller import ControllerOptions, GateController, LinkState, TransactionIds, _Link
from cms_sim.load.calls import CallEngine
from cms_sim.load.program import compile_program
from cms_sim.load.stats import Recorder
from cms_sim.load.subscribers import Subscribers
from cms_sim.scenario import load_scenario
from cops_core.connection import Connection, Role
from cops_core.dqos import (GateAlloc, GateAllocAck, GateClose, GateDelete, GateDeleteAck, GateOpen, GateSet,
                            GateSetAck, PacketCableReason, gate_command_of, report_for)
from cops_core.messages import ClientAccept, ClientOpen, Request, decode_message
from cops_core.objects import Handle
from cops_core.transport import CopsTransport

SCENARIO = Path(__file__).parent / "scenarios" / "zero_hold_call.yaml"
HANDLE = Handle(b"\0\0\0\1")
CLIENT_INITIATED_RELEASE = PacketCableReason(1, 0)


class ScriptedCmts:
    """The answers ``cmts-sim serve --modem auto --hold 0`` gives to what the controller sent, as bytes.

    What the controller sent is what its socket carried (``send_now``) and,
    standing in for its writer task, what is still queued.
    """

    def __init__(self, link: _Link, sock: socket.socket) -> None:
        self.link = link
        self.sock = sock
        self.gate_id = 0x1000

    def _sent(self) -> bytes:
        chunks = []
        while True:
            try:
                chunks.append(self.sock.recv(1 << 20))
            except BlockingIOError:
                break
        transport = self.link.transport
        chunks += transport._outgoing  # queued after the socket's bytes, so in order
        transport._outgoing.clear()
        self.link.dirty = False  # the writer has sent them
        return b"".join(chunks)

    def answer(self) -> list[bytes]:
        data, at, replies = self._sent(), 0, []
        while at < len(data):
            length = int.from_bytes(data[at + 4:at + 8], "big")
            command = gate_command_of(decode_message(data[at:at + length]))
            at += length
            kind, tid, subscriber = type(command), command.transaction_id, command.subscriber
            if kind is GateAlloc:
                self.gate_id += 1
                replies.append(GateAllocAck(tid, self.gate_id, subscriber, command.activity_count))
            elif kind is GateSet:
                replies += [GateSetAck(tid, command.gate_id, subscriber, command.activity_count),
                            GateOpen(0, command.gate_id, subscriber),
                            GateClose(0, command.gate_id, subscriber, CLIENT_INITIATED_RELEASE)]
            elif kind is GateDelete:
                replies.append(GateDeleteAck(tid, command.gate_id, subscriber))
            else:
                raise ValueError(f"not scripted: {command}")
        return [report_for(HANDLE, reply).encode() for reply in replies]


async def measure(scenario_path: Path, calls: int, batch: int) -> float:
    """Seconds of CPU per call the gate controller's side took."""
    scenario = load_scenario(str(scenario_path))
    subscribers = Subscribers.from_range("10.64.0.0/12")
    program = compile_program(scenario)
    recorder = Recorder(program.steps_by_command)
    engine = CallEngine(program.bind(scenario.variables, (*subscribers.columns, "call")), recorder,
                        clock=trio.current_time)
    controller = GateController("cmts", None, ControllerOptions(), TransactionIds(), trio.open_memory_channel(1),
                                on_event=engine.on_event)
    ours, theirs = socket.socketpair()
    theirs.setblocking(False)
    connection = Connection(Role.PDP, gate_traffic=True)  # as GateController._connect makes it
    link = _Link(CopsTransport(trio.SocketStream(trio.socket.from_stdlib_socket(ours)), connection))
    # The handshake, as the reader sees it: OPN in, CAT out, REQ in.
    for message in (ClientOpen.new("cmts"), Request.new(HANDLE)):
        connection.receive_data(message.encode(), trio.current_time())
        connection.next_event()
        if type(message) is ClientOpen:
            link.transport.queue(ClientAccept.new(0))
    link.handle = HANDLE
    link.move(LinkState.READY)
    controller._link = link
    cmts = ScriptedCmts(link, theirs)
    cmts._sent()  # the Client-Accept
    handlers, transport = controller._handlers, link.transport
    variables = scenario.variables
    clock, spent = time.process_time, 0.0
    gc.collect()
    for number in range(1, calls + 1):
        started = clock()
        engine.start(number, {**variables, **subscribers.next(), "call": number}, controller, trio.current_time())
        spent += clock() - started
        while replies := cmts.answer():
            for at in range(0, len(replies), batch):
                started = clock()
                connection.receive_data(b"".join(replies[at:at + batch]), trio.current_time())
                for message in transport._drain(None):
                    handlers[type(message)](controller, link, message)
                spent += clock() - started
    tally = recorder.tally
    if tally.completed != calls:
        raise RuntimeError(f"{tally.completed} of {calls} calls completed: {dict(tally.failed_by_cause)}")
    return spent / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--scenario", type=Path, default=SCENARIO)
    parser.add_argument("--batch", type=int, default=1, help="messages per receive")
    args = parser.parse_args()
    per_call = trio.run(measure, args.scenario, args.calls, args.batch)
    print(f"{args.calls} calls of {args.scenario.name}, {args.batch} message(s) per receive: "
          f"{per_call * 1e6:.1f} us of CPU per call (gate controller side, no I/O)")


if __name__ == "__main__":
    main()
