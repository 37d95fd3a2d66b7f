"""GateControllerPool's own life: connections that arrive while it is closing."""

from __future__ import annotations

import trio

from cms_sim.pool import listen


async def _read_to_the_end(stream: trio.SocketStream) -> None:
    try:
        while await stream.receive_some(4096):
            pass
    except trio.BrokenResourceError:  # reset rather than closed: gone all the same
        pass


async def test_a_cmts_dialling_in_as_the_pool_closes_is_turned_away_not_a_crash():
    # The pool closes (a scenario of `cms-sim run --listen` ends) just as it takes a new connection: it had
    # started the controller for it, which the closing pool then closed.  Adopting the connection into that
    # closed controller raised RuntimeError (Nursery is closed to new arrivals) out of the pool, and cms-sim run
    # died with a traceback and lost the report of its remaining scenarios.  trio orders the two tasks at
    # random, so the closing is tried at that moment thirty times.
    for _ in range(30):
        async with listen("127.0.0.1", 0) as pool:
            host, port = pool.addresses[0]
            client = await trio.open_tcp_stream(host, port)
            while not pool.controllers:  # accepted: its controller is being started
                await trio.sleep(0)
        with trio.fail_after(5):
            await _read_to_the_end(client)  # and the connection is closed, not left open
        await client.aclose()
