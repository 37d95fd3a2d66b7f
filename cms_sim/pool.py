"""Several CMTSes under one gate controller: dial some, accept others, one event stream.

A real CMS drives many CMTSes with one Transaction-ID counter and one view
of gate events; :class:`GateControllerPool` is that.  It owns the nursery
every controller's tasks live in, so leaving ``async with`` closes them all
(with Client-Close, unless the options say otherwise) even on Ctrl-C.
:func:`connect` and :func:`listen` (``cms_sim.connect``, ``cms_sim.listen``) are pools too.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from collections import deque
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Callable

import trio

from cops_core.addresses import DEFAULT_PORT, Address, allowed, parse_address
from cops_core.transport import Tap, stream_addresses

from .controller import ControllerOptions, GateController, TransactionIds
from .errors import ConnectError

log = logging.getLogger("cms_sim")


class GateControllerPool:
    """``async with GateControllerPool(**options) as pool``: the controllers made here share TIDs and events.

    ``options`` are :class:`~cms_sim.controller.ControllerOptions` fields,
    the defaults for every controller; :meth:`connect` can override them.
    ``on_event``, if given, is called with each event in the reader task
    instead of queueing it for :meth:`events` (a load generator routes
    thousands of events a second by Gate-ID; a channel would cost a task
    switch each).
    """

    def __init__(self, *, on_event: Callable[[object], None] | None = None, **options) -> None:
        self.options = ControllerOptions(**options)
        self.on_event = on_event
        self.tids = TransactionIds()
        self.controllers: list[GateController] = []
        self.addresses: list[Address] = []  # where listen() is accepting
        self.handshake_failures: deque[str] = deque(maxlen=100)  # why accepted connections did not come up
        self.refused: deque[str] = deque(maxlen=100)  # addresses of CMTSes outside listen()'s allow list
        self._events = trio.open_memory_channel(self.options.events_buffer)
        self._accepted_send, self._accepted_receive = trio.open_memory_channel(math.inf)
        self._taps: list[Tap] = []
        self._nursery: trio.Nursery | None = None
        self._lifetime = None
        self._closing = False  # set as the pool starts closing its controllers

    async def __aenter__(self) -> "GateControllerPool":
        self._lifetime = self._live()
        return await self._lifetime.__aenter__()

    async def __aexit__(self, *exc_info):
        return await self._lifetime.__aexit__(*exc_info)

    @asynccontextmanager
    async def _live(self):
        # An error in the ``async with`` body leaves as itself, not wrapped in the nursery's ExceptionGroup:
        # ``pytest.raises(UnknownGateID)`` around the block must work.
        raised: BaseException | None = None
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                yield self
            except BaseException as exc:
                raised = exc
            finally:
                self._closing = True
                with trio.CancelScope(shield=True):
                    for controller in self.controllers:
                        await controller.aclose()
                nursery.cancel_scope.cancel()
        if raised is not None:
            raise raised

    def events(self) -> trio.MemoryReceiveChannel:
        """Events of every controller in the pool; ``event.peer`` tells them apart."""
        return self._events[1]

    def add_tap(self, tap: Tap) -> None:
        """Trace every message of every controller, present and future."""
        self._taps.append(tap)
        for controller in self.controllers:
            controller.add_tap(tap)

    async def connect(self, target: str, **overrides) -> GateController:
        """Dial ``HOST[:PORT]`` (port 2126) and return its controller once the CMTS's Request is in.

        Raises :class:`~cms_sim.errors.ConnectError`.
        """
        host, port = parse_address(target)
        options = replace(self.options, **overrides) if overrides else self.options
        controller = await self._add(f"{host}:{port}", (host, port), options)
        try:
            await controller._open()
        except BaseException:
            self.controllers.remove(controller)
            await controller.aclose()
            raise
        return controller

    async def listen(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, allow=()) -> list[Address]:
        """Accept CMTSes that dial in on ``host:port`` (port 0: any free one); returns the bound addresses.

        ``allow``: networks (``ipaddress`` objects or text) a CMTS may dial from; empty = anywhere.  Others are
        closed before any COPS, logged and counted in :attr:`refused`.
        """
        listeners = await trio.open_tcp_listeners(port, host=host)
        networks = [ipaddress.ip_network(network, strict=False) for network in allow]
        for listener in listeners:
            self._nursery.start_soon(self._accept_loop, listener, networks)
        addresses = [listener.socket.getsockname()[:2] for listener in listeners]
        self.addresses.extend(addresses)
        return addresses

    async def accept(self) -> GateController:
        """The next CMTS that dialled in and completed OPN, CAT and REQ."""
        return await self._accepted_receive.receive()

    async def _accept_loop(self, listener: trio.SocketListener, networks: list) -> None:
        async with listener:
            while True:
                stream = await listener.accept()
                try:
                    peer = stream.socket.getpeername()[0]
                except OSError:  # gone already
                    await stream.aclose()
                    continue
                if not allowed(peer, networks):
                    self.refused.append(peer)
                    log.warning("refused a connection from %s: not in the allow list", peer)
                    await stream.aclose()
                    continue
                self._nursery.start_soon(self._adopt, stream)

    async def _adopt(self, stream: trio.SocketStream) -> None:
        host, port = stream_addresses(stream)[1]
        controller = await self._add(f"{host}:{port}", None, self.options)
        if self._closing:
            # The pool began closing while the controller started, and may have closed it already: its nursery
            # then takes no session (RuntimeError).  Turn the connection away.
            await stream.aclose()
            await controller.aclose()
            return
        try:
            await controller._adopt(stream)
        except ConnectError as exc:
            # Said as it happens, in one line (a TLS failure is a certificate to fix); the pool goes on accepting.
            log.warning("%s", exc)
            self.handshake_failures.append(str(exc))
            self.controllers.remove(controller)
            await controller.aclose()
            return
        self._accepted_send.send_nowait(controller)

    async def _add(self, name: str, target: Address | None, options: ControllerOptions) -> GateController:
        controller = GateController(name, target, options, self.tids, self._events, self.on_event)
        for tap in self._taps:
            controller.add_tap(tap)
        # Accepted connections that ended are closed for good: drop them, or a listening pool grows forever.
        self.controllers = [other for other in self.controllers if not other.closed]
        self.controllers.append(controller)
        await self._nursery.start(controller._run)
        return controller


@asynccontextmanager
async def connect(target: str, **options):
    """``async with cms_sim.connect("HOST[:PORT]", **options) as gc``: one controller dialling one CMTS (port 2126).

    ``options`` are :class:`~cms_sim.controller.ControllerOptions` fields.
    """
    async with GateControllerPool(**options) as pool:
        yield await pool.connect(target)


@asynccontextmanager
async def listen(host: str, port: int, **options):
    """``async with cms_sim.listen(host, port) as pool``: accept CMTSes on ``host:port``; ``await pool.accept()``."""
    async with GateControllerPool(**options) as pool:
        await pool.listen(host, port)
        yield pool
