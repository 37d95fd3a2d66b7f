"""A minimal CMTS (COPS PEP) driven by hand, for testing the gate controller message by message.

It is deliberately not cmts_sim: it speaks through cops_core directly, so a
test can make it misbehave (stay silent, answer late or out of order, send
the wrong reply, a DRQ, a Client-Close) at exactly the moment it wants.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Callable

import trio

from cops_core import ClientClose, ClientOpen, Decision, DeleteRequest, ErrorCode, KeepAlive, ReasonCode, Request
from cops_core.connection import Connection, ConnectionClosed, Role
from cops_core.dqos import (
    GateAlloc,
    GateAllocAck,
    GateClose,
    GateDelete,
    GateDeleteAck,
    GateDeleteErr,
    GateInfo,
    GateInfoAck,
    GateInfoErr,
    GateOpen,
    GateSet,
    GateSetAck,
    GateSetErr,
    PacketCableError,
    PacketCableErrorCode,
    PacketCableReason,
    gate_command_of,
    report_for,
)
from cops_core.codes import ClientType
from cops_core.integrity import IntegritySettings
from cops_core.messages import ClientAccept, SyncComplete, SyncRequest
from cops_core.objects import Handle, Reason
from cops_core.transport import CopsTransport

SUBSCRIBER = ipaddress.IPv4Address("10.0.1.10")
UNKNOWN = PacketCableError(PacketCableErrorCode.UNKNOWN_GATE_ID)


class FakePep:
    """Accepts (or dials) gate controllers; answers gate commands from a dict of gates.

    ``respond(command)`` makes the reply (None: no reply); replace it to
    misbehave.  ``hold = True`` keeps commands in ``held`` instead of
    answering, until :meth:`release_held`.
    """

    def __init__(self, *, pep_id: str = "FAKE-PEP", send_request: bool = True,
                 integrity: IntegritySettings | None = None) -> None:
        self.pep_id = pep_id
        self.send_request = send_request
        self.integrity = integrity  # negotiated first (RFC 2748 4.1), then every message signed
        self.handle = Handle.from_int(1)
        self.gates: dict[int, ipaddress.IPv4Address] = {}
        self.next_gate = 0xA001
        self.respond: Callable = self.answer
        self.hold = False
        self.held: list = []
        self.received: list = []  # every message from the gate controller, over all sessions
        self.sessions = 0
        self.ka_seconds: int | None = None
        self.address: tuple[str, int] | None = None
        self.transport: CopsTransport | None = None
        self.ready = trio.Event()  # the current session's REQ is out
        self.ended = trio.Event()  # the current session is over

    # --- running -----------------------------------------------------------------------------

    async def listen(self, nursery: trio.Nursery) -> tuple[str, int]:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, self.session, 0, host="127.0.0.1"))
        self.address = listeners[0].socket.getsockname()[:2]
        return self.address

    async def dial(self, nursery: trio.Nursery, address: tuple[str, int]) -> None:
        stream = await trio.open_tcp_stream(*address)
        nursery.start_soon(self.session, stream)

    async def session(self, stream: trio.SocketStream) -> None:
        self.sessions += 1
        self.ready, self.ended = trio.Event(), trio.Event()
        transport = self.transport = CopsTransport(stream, Connection(Role.PEP, integrity=self.integrity))
        try:
            client_type = ClientType.CONNECTION if self.integrity is not None else ClientType.PACKETCABLE_DQOS
            await transport.send(ClientOpen.new(self.pep_id, client_type=client_type))
            while True:
                try:
                    messages = await transport.receive()
                except trio.ClosedResourceError:
                    return
                for message in messages:
                    if type(message) is ConnectionClosed:
                        return
                    self.received.append(message)
                    self._on_message(message)
                await transport.flush()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return
        finally:
            self.ended.set()
            await transport.aclose()

    def _on_message(self, message) -> None:
        transport = self.transport
        kind = type(message)
        if kind is ClientAccept and message.client_type == ClientType.CONNECTION:
            transport.queue(ClientOpen.new(self.pep_id))
        elif kind is ClientAccept:
            self.ka_seconds = message.ka_seconds
            if self.send_request:
                transport.queue(Request.new(self.handle))
                self.ready.set()
        elif kind is Decision:
            command = gate_command_of(message)
            if command is None:
                return  # a NULL decision
            if self.hold:
                self.held.append(command)
                return
            reply = self.respond(command)
            if reply is not None:
                transport.queue(report_for(self.handle, reply))
        elif kind is SyncRequest:
            transport.queue(Request.new(self.handle))
            transport.queue(SyncComplete.new())

    def answer(self, command):
        """What a well-behaved CMTS says."""
        tid, kind = command.transaction_id, type(command)
        if kind is GateAlloc:
            gate_id = self._new_gate(command.subscriber)
            return GateAllocAck(tid, gate_id, command.subscriber, 1)
        if kind is GateSet:
            gate_id = command.gate_id
            if gate_id is None:
                gate_id = self._new_gate(command.subscriber)
            elif gate_id not in self.gates:
                return GateSetErr(tid, UNKNOWN, command.subscriber, gate_id)
            return GateSetAck(tid, gate_id, command.subscriber, 1)
        if kind is GateInfo:
            if command.gate_id not in self.gates:
                return GateInfoErr(tid, UNKNOWN, command.subscriber, command.gate_id)
            return GateInfoAck(tid, command.gate_id, command.subscriber, 1)
        if kind is GateDelete:
            if self.gates.pop(command.gate_id, None) is None:
                return GateDeleteErr(tid, UNKNOWN, command.subscriber, command.gate_id)
            return GateDeleteAck(tid, command.gate_id, command.subscriber)
        raise AssertionError(f"unexpected {command}")

    def _new_gate(self, subscriber) -> int:
        gate_id, self.next_gate = self.next_gate, self.next_gate + 1
        self.gates[gate_id] = subscriber
        return gate_id

    # --- acting ----------------------------------------------------------------------------------

    async def send(self, *messages) -> None:
        await self.transport.send(*messages)

    async def release_held(self, order: Callable[[list], list] = lambda held: held) -> None:
        """Answer the held commands, in ``order(held)``, in one write."""
        held, self.held, self.hold = self.held, [], False
        for command in order(held):
            self.transport.queue(report_for(self.handle, self.respond(command)))
        await self.transport.flush()

    async def gate_open(self, gate_id: int) -> None:
        await self.send(report_for(self.handle, GateOpen(0, gate_id, SUBSCRIBER)))

    async def gate_close(self, gate_id: int, subcode: int) -> None:
        await self.send(report_for(self.handle, GateClose(0, gate_id, SUBSCRIBER, PacketCableReason(1, subcode))))

    async def keepalive(self) -> None:
        await self.send(KeepAlive())

    async def delete_request_state(self) -> None:
        await self.send(DeleteRequest.new(self.handle, Reason(ReasonCode.MANAGEMENT)))

    async def request_again(self) -> None:
        await self.send(Request.new(self.handle))

    async def client_close(self, code: int = ErrorCode.SHUTTING_DOWN) -> None:
        await self.send(ClientClose.new(code))

    async def send_raw(self, data: bytes) -> None:
        """Bytes as they are, past the connection (a forged or replayed message)."""
        await self.transport.stream.send_all(data)

    async def close_tcp(self) -> None:
        await self.transport.stream.aclose()

    def received_of(self, kind: type) -> list:
        return [message for message in self.received if type(message) is kind]

    def commands(self) -> list:
        """The gate commands the gate controller sent, in order."""
        return [command for message in self.received_of(Decision) if (command := gate_command_of(message))]
