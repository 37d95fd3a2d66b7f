"""The allow list: a gate controller from elsewhere is closed before any COPS, logged and counted."""

from __future__ import annotations

import trio

from cmts_sim.config import CmtsConfig
from cmts_sim.server import CmtsServer


async def first_bytes(address: tuple[str, int], source: str) -> bytes:
    """What the CMTS sends a gate controller that connects from ``source``: a Client-Open, or nothing."""
    stream = await trio.open_tcp_stream(*address, local_address=source)
    async with stream:
        with trio.move_on_after(5):
            return await stream.receive_some(1000)
    return b"(nothing within 5 s)"


async def test_only_listed_networks_get_a_client_open(nursery, autojump_clock, caplog):
    server = CmtsServer(CmtsConfig(listen=["127.0.0.1:0"], allow=["127.0.0.2/32", "10.0.0.0/8"]))
    await nursery.start(server.serve)
    opened = await first_bytes(server.addresses[0], "127.0.0.2")
    assert opened[1] == 6  # op-code 6: Client-Open
    assert await first_bytes(server.addresses[0], "127.0.0.1") == b""  # closed at once, before any COPS
    assert server.refused == 1
    assert "refused a connection from 127.0.0.1: not in the allow list" in caplog.text


async def test_no_list_lets_everyone_in(nursery, autojump_clock):
    server = CmtsServer(CmtsConfig(listen=["127.0.0.1:0"]))
    await nursery.start(server.serve)
    assert (await first_bytes(server.addresses[0], "127.0.0.3"))[1] == 6 and server.refused == 0


async def test_a_connection_past_max_connections_is_refused_and_counted(nursery, autojump_clock):
    server = CmtsServer(CmtsConfig(listen=["127.0.0.1:0"], max_connections=1))
    await nursery.start(server.serve)
    first = await trio.open_tcp_stream(*server.addresses[0])
    assert (await first.receive_some(1000))[1] == 6  # the one allowed gets its Client-Open
    assert await first_bytes(server.addresses[0], "127.0.0.1") == b""  # the next is closed at once
    assert server.refused == 1
    await first.aclose()
