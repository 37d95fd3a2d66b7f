"""The live panel ``cmts-sim serve`` shows on a terminal: peers, gates, message rates, errors."""

from __future__ import annotations

import trio
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from .gates import GateState
from .server import LAG_WARNING, MAX_BATCH, CmtsServer
from .stats import Stats


BACKLOG_ALARM = 4 * MAX_BATCH * 128  # bytes: four batches of ~128-byte Gate-Sets waiting


def render(server: CmtsServer, stats: Stats, rates: tuple[float, float]) -> Group:
    """One frame of the panel."""
    now = trio.current_time()
    peers = Table(title="Gate controllers", expand=True)
    for column in ("peer", "state", "KA interval", "last heard", "KA health", "backlog", "reply lag (max)"):
        peers.add_column(column)
    for session in sorted(server.sessions, key=lambda s: s.peer):
        connection = session.connection
        heard = now - connection.last_received if connection.last_received is not None else None
        interval = connection.ka_interval
        if not interval:
            health = "[dim]no KA[/]"
        elif heard is not None and heard < interval * 0.75:
            health = "[green]ok[/]"
        else:
            health = "[yellow]late[/]"
        peers.add_row(f"{session.peer[0]}:{session.peer[1]}", connection.state.value,
                      f"{interval} s" if interval else "-", f"{heard:.1f} s ago" if heard is not None else "-", health,
                      _backlog(session), _lag(session))
    if not server.sessions:
        peers.add_row("[dim]waiting for a gate controller on " +
                      ", ".join(f"{h}:{p}" for h, p in server.addresses) + "[/]", "", "", "", "", "", "")
    if server.orphans_deleted:
        peers.add_row(f"[yellow]deleted {server.orphans_deleted} gate(s) of gate controllers that went away[/]",
                      "", "", "", "", "", "")
    if server.limit_hits:
        hits = ", ".join(f"{limit} {count}" for limit, count in sorted(server.limit_hits.items()))
        peers.add_row(f"[yellow]connections ended by a limit: {hits}[/]", "", "", "", "", "", "")

    gates = Table(title="Gates", expand=True)
    counts = server.gates.count_by_state()
    for state in GateState:
        gates.add_column(state.name.title(), justify="right")
    gates.add_row(*(str(counts[state]) for state in GateState))

    traffic = Table(title="Messages", expand=True)
    for column in ("in/s", "out/s", "in", "out", "by op-code"):
        traffic.add_column(column, justify="right")
    traffic.add_row(f"{rates[0]:.0f}", f"{rates[1]:.0f}", str(stats.received), str(stats.sent),
                    " ".join(f"{name} {count}" for name, count in sorted(stats.by_opcode.items())))

    errors = Table(title="Errors sent", expand=True)
    errors.add_column("error")
    errors.add_column("count", justify="right")
    for name, count in stats.errors.most_common():
        errors.add_row(name, str(count))
    if not stats.errors:
        errors.add_row("[dim]none[/]", "")
    title = f"cmts-sim {server.config.cmts_id}: modem {server.config.modem.mode}"
    return Group(Panel(peers, title=title), gates, traffic, errors)


def _backlog(session) -> str:
    """Bytes the peer sent that are not answered yet; red when more than a few batches' worth wait."""
    try:
        waiting = session.backlog()
    except OSError:  # the socket went between the panel's look at the sessions and this
        return "-"
    text = f"{waiting / 1024:.1f} KiB"
    return f"[red]{text}[/]" if waiting > BACKLOG_ALARM else text


def _lag(session) -> str:
    """Seconds from reading the last batch to answering it, and the worst so far; red from a second."""
    text = f"{session.lag * 1000:.0f} ms ({session.max_lag * 1000:.0f} ms)"
    return f"[red]{text}[/]" if session.max_lag >= LAG_WARNING else text


async def run_panel(server: CmtsServer, stats: Stats, console: Console, interval: float = 0.5) -> None:
    """Redraw the panel every ``interval`` seconds until cancelled."""
    last = (stats.received, stats.sent, trio.current_time())
    with Live(render(server, stats, (0.0, 0.0)), console=console, auto_refresh=False) as live:
        while True:
            await trio.sleep(interval)
            now = trio.current_time()
            elapsed = max(now - last[2], 1e-9)
            rates = ((stats.received - last[0]) / elapsed, (stats.sent - last[1]) / elapsed)
            last = (stats.received, stats.sent, now)
            live.update(render(server, stats, rates), refresh=True)
