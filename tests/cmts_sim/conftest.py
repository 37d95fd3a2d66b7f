"""A bare-bones gate controller for driving the simulated CMTS over real loopback sockets.

It is deliberately not cms_sim's controller: it speaks through the sans-IO
core directly, so these tests pin the CMTS's wire behaviour message by
message, including messages a well-behaved controller would never send.
"""

from __future__ import annotations

import ipaddress

import pytest
import trio

from cmts_sim.config import CmtsConfig
from cmts_sim.server import CmtsServer
from cops_core.codes import ClientType
from cops_core.connection import NEED_DATA, Connection, ConnectionClosed, Role
from cops_core.integrity import IntegritySettings
from cops_core.dqos import GateSpec, decision_for, gate_command_of
from cops_core.messages import ClientAccept, KeepAlive, Report, Request

SUBSCRIBER = ipaddress.IPv4Address("10.0.1.10")
FAR_END = ipaddress.IPv4Address("10.1.1.20")
WAIT = 300.0  # seconds of trio time a test waits for a message before it fails


def gate_spec(direction: int = 0, *, t1: int = 0, t7: int = 0, t8: int = 0, session_class: int = 1,
              flags: int = 0, rate: float = 10000.0) -> GateSpec:
    src, dst = (FAR_END, SUBSCRIBER) if direction == 0 else (SUBSCRIBER, FAR_END)
    return GateSpec(direction=direction, protocol=17, flags=flags, session_class=session_class, source_ip=src,
                    destination_ip=dst, source_port=0, destination_port=16384, ds_field=0xB8, t1=t1, t7=t7, t8=t8,
                    token_bucket_rate=rate, token_bucket_size=200.0, peak_data_rate=rate, minimum_policed_unit=200,
                    maximum_packet_size=200, rate=rate, slack_term=800)


class TestGC:
    """A PDP over a trio socket: handshake, send gate commands, read what comes back."""

    __test__ = False  # a helper, not a test class

    def __init__(self, stream: trio.SocketStream, ka_seconds: int = 30,
                 integrity: IntegritySettings | None = None) -> None:
        self.stream = stream
        self.connection = Connection(Role.PDP, integrity=integrity)
        self.ka_seconds = ka_seconds
        self.handle = None
        self.pep_id = None
        self.last_report: Report | None = None  # the RPT that carried the last reply()
        self.keepalives: list[float] = []  # when each KA from the CMTS arrived (trio clock)
        self.echo = True  # answer the CMTS's keep-alives

    async def receive(self):
        """The next message from the CMTS (or ConnectionClosed); fails after ``WAIT`` seconds of trio time."""
        with trio.fail_after(WAIT):
            while True:
                event = self.connection.next_event()
                if event is not NEED_DATA:
                    return event
                data = await self.stream.receive_some(65536)
                self.connection.receive_data(data, trio.current_time())

    async def send(self, message) -> None:
        await self.stream.send_all(self.connection.send(message, trio.current_time()))

    async def send_raw(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def handshake(self) -> None:
        opn = await self.receive()
        if opn.client_type == ClientType.CONNECTION:  # integrity is negotiated first (RFC 2748 4.1)
            await self.send(ClientAccept.new(self.ka_seconds, client_type=ClientType.CONNECTION))
            opn = await self.receive()
        self.pep_id = opn.pep_id
        await self.send(ClientAccept.new(self.ka_seconds))
        req = await self.receive()
        assert type(req) is Request
        self.handle = req.handle

    async def command(self, command):
        """Send a gate command and return the gate command of the next RPT."""
        await self.send(decision_for(self.handle, command))
        return await self.reply()

    async def reply(self):
        """The gate command of the next RPT, skipping keep-alives."""
        message = await self.next_message()
        if type(message) is ConnectionClosed:
            raise AssertionError("CMTS closed the connection")
        assert type(message) is Report, f"expected an RPT, got {message!r}"
        self.last_report = message
        return gate_command_of(message)

    async def next_message(self):
        """The next message that is not a keep-alive (echoed while ``echo`` is set).

        Fails after ``WAIT`` seconds of trio time: with keep-alives flowing and the autojump clock a missing
        message would otherwise be waited for forever, in no time.
        """
        with trio.fail_after(WAIT):
            while True:
                message = await self.receive()
                if type(message) is not KeepAlive:
                    return message
                self.keepalives.append(trio.current_time())
                if self.echo:
                    await self.send(self.connection.keepalive())

    async def closed(self) -> None:
        """Wait for the CMTS to hang up (TCP EOF)."""
        message = await self.next_message()
        assert type(message) is ConnectionClosed, f"expected the connection to close, got {message!r}"


@pytest.fixture
def cmts_config() -> CmtsConfig:
    return CmtsConfig(listen=["127.0.0.1:0"], modem={"mode": "driven"})


@pytest.fixture
async def cmts(nursery, cmts_config):
    server = CmtsServer(cmts_config)
    await nursery.start(server.serve)
    return server


async def start_cmts(nursery, *, taps=None, counter=None, rng=None, **settings) -> CmtsServer:
    """A CMTS on an ephemeral loopback port, modems driven, with ``settings`` over the defaults."""
    settings = {"listen": ["127.0.0.1:0"], "modem": {"mode": "driven"}, **settings}
    server = CmtsServer(CmtsConfig(**settings), taps=taps, counter=counter, rng=rng)
    await nursery.start(server.serve)
    return server


async def connect(server: CmtsServer, ka_seconds: int = 30, *, handshake: bool = True,
                  integrity: IntegritySettings | None = None) -> TestGC:
    host, port = server.addresses[0]
    gc = TestGC(await trio.open_tcp_stream(host, port), ka_seconds, integrity)
    if handshake:
        await gc.handshake()
    return gc
