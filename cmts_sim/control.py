"""The simulated CMTS as a child process of ``cms-sim load``, its modems driven over a local socket.

``cms-sim load`` against the embedded CMTS runs it in a process of its own,
so the gate controllers and the CMTS do not share a core.  A scenario's
reserve/commit/release steps still drive the simulated modems, through a
Unix socket: a private line protocol between the load processes and this
one, not a network service.

    python -m cmts_sim.control CONFIG_JSON SOCKET_PATH

The config's ``integrity`` section, if any, comes as JSON in the environment
variable ``CMTS_SIM_INTEGRITY``: the command line is readable by every
user of the host, a process's environment only by its own.

stdout, one line once ready: ``listening HOST PORT``.  On the socket (one
connection per load worker), for each line ``SEQ reserve|commit|release
GATE_ID_HEX``, one answer line: ``SEQ ok`` or ``SEQ refused WHY``.  The
actions of one read are done together and their Gate-Open/Gate-Close events
sent in one write per gate controller.  End of stdin ends the process (with
Client-Close to its peers).  SIGINT is ignored: on Ctrl-C the load run still
has gates to delete on this CMTS, and closes stdin when it is done.
"""

from __future__ import annotations

import os
import signal
import sys

import trio

from .config import CmtsConfig, IntegrityConfig
from .gates import Refused
from .gcpolicy import tuned_gc
from .server import CmtsServer

ACTIONS = ("reserve", "commit", "release")
INTEGRITY_VARIABLE = "CMTS_SIM_INTEGRITY"


def answer(server: CmtsServer, line: bytes, now: float, events: list) -> str:
    """Do one action line's work on the gate table; its events are appended to ``events``; returns the answer."""
    try:
        sequence, verb, gate = line.decode("ascii").split()
        gate_id = int(gate, 16)
    except ValueError:
        return f"? refused cannot read {line[:60]!r}"
    if verb not in ACTIONS:
        return f"{sequence} refused unknown action {verb}"
    try:
        events += getattr(server.gates, verb)(gate_id, now)
    except Refused as exc:
        return f"{sequence} refused {exc}"
    return f"{sequence} ok"


async def serve_actions(server: CmtsServer, stream: trio.abc.Stream) -> None:
    """One control connection: action lines in, answer lines out, until it closes."""
    pending = b""
    async with stream:
        while chunk := await stream.receive_some(65536):
            *lines, pending = (pending + chunk).split(b"\n")
            events: list = []
            now = trio.current_time()
            answers = [answer(server, line, now, events) for line in lines if line.strip()]
            await server.dispatch(events)
            if answers:
                await stream.send_all(("\n".join(answers) + "\n").encode())


async def serve_control(server: CmtsServer, socket_path: str, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Take modem actions for ``server`` on a Unix socket at ``socket_path`` until cancelled."""
    sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    await sock.bind(socket_path)
    sock.listen()
    task_status.started()
    await trio.serve_listeners(lambda stream: serve_actions(server, stream), [trio.SocketListener(sock)])


async def run(config: CmtsConfig, socket_path: str) -> None:
    server = CmtsServer(config)
    stdin, stdout = trio.lowlevel.FdStream(os.dup(0)), trio.lowlevel.FdStream(os.dup(1))
    async with trio.open_nursery() as nursery:
        (host, port), *_ = await nursery.start(server.serve)
        await nursery.start(serve_control, server, socket_path)
        await stdout.send_all(f"listening {host} {port}\n".encode())
        while await stdin.receive_some(4096):
            pass  # the parent says nothing on stdin; its end is the signal to stop
        await server.shutdown()
        nursery.cancel_scope.cancel()


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if len(argv) != 2:
        print("usage: python -m cmts_sim.control CONFIG_JSON SOCKET_PATH", file=sys.stderr)
        return 2
    with tuned_gc():  # as cmts-sim serve: the gate table out of the collector's way
        config = CmtsConfig.model_validate_json(argv[0])
        integrity = os.environ.get(INTEGRITY_VARIABLE)
        if integrity is not None:
            config = config.model_copy(update={"integrity": IntegrityConfig.model_validate_json(integrity)})
        trio.run(run, config, argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
