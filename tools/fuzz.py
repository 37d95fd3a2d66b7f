#!/usr/bin/env python3
"""Mutational fuzzing of pktcable-sim: the decoder in-process, and both live servers over loopback.

    python tools/fuzz.py decoder cmts cms --seed 1 --decoder-cases 1000000 --live-cases 10000
    python tools/fuzz.py decoder --seed 1 --replay 4711

Targets: ``decoder`` (cops_core's framer, decode_message and the DQoS gate
command decode: anything but DecodeError is a crash, a slow case a hang),
``cmts`` (a ``cmts-sim serve`` we dial as a gate controller, checked alive
after every case, then a normal call must pass) and ``cms`` (``cms-sim run
--listen`` processes we dial as a CMTS: each must end with exit 0/1/2, its
report and no traceback).  Each case is derived from ``--seed`` and its
number only; ``--replay CASE`` re-runs one and prints its bytes in hex.
Exit 1 if any crash or hang (or a failed normal call).  See tools/README.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
import trio
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

from copsfuzz.campaign import Summary, megabytes  # noqa: E402
from copsfuzz.cms import CmsCampaign  # noqa: E402
from copsfuzz.cmts import CmtsCampaign  # noqa: E402
from copsfuzz.corpus import full_corpus  # noqa: E402
from copsfuzz.decoder import DecoderCampaign  # noqa: E402

TARGETS = ("decoder", "cmts", "cms")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("targets", nargs=-1, required=True, type=click.Choice(TARGETS))
@click.option("--seed", type=int, default=1, show_default=True, help="campaign seed: with a case number, one case")
@click.option("--decoder-cases", type=click.IntRange(min=0), default=100_000, show_default=True,
              help="mutated messages through the decoder")
@click.option("--live-cases", type=click.IntRange(min=0), default=1_000, show_default=True,
              help="connections to each live server")
@click.option("--replay", "replay_case", type=click.IntRange(min=0), metavar="CASE",
              help="re-run this one case of the (one) target and print its bytes in hex")
@click.option("--hang-ms", type=click.FloatRange(min=1), default=100.0, show_default=True,
              help="decoder: a case taking more CPU than this (three runs in a row) is a hang")
@click.option("--target", "address", metavar="HOST:PORT",
              help="cmts: fuzz this CMTS instead of starting cmts-sim serve (no process or log checks)")
@click.option("--check-every", type=click.IntRange(min=1), default=1, show_default=True,
              help="cmts: check the CMTS is alive after every this many cases")
@click.option("--scenarios-per-run", type=click.IntRange(min=1), default=100, show_default=True,
              help="cms: scenarios each cms-sim run process is given (connections that complete the handshake)")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="where the servers' logs and reports go (default: a new temporary directory)")
@click.option("--quiet", "-q", is_flag=True, help="no progress lines")
def main(targets, seed, decoder_cases, live_cases, replay_case, hang_ms, address, check_every, scenarios_per_run,
         workdir, quiet) -> None:
    """Fuzz TARGET... (decoder, cmts, cms) with mutated COPS messages; one summary table at the end."""
    targets = tuple(dict.fromkeys(targets))
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    if replay_case is not None:
        if len(targets) != 1:
            raise click.BadParameter("--replay runs one case of one target: name one", param_hint="TARGET")
        sys.exit(_replay(targets[0], seed, replay_case, hang_ms, address, scenarios_per_run, workdir))
    summaries = []
    for target in targets:
        if target == "decoder":
            summaries.append(DecoderCampaign(seed, hang_ms=hang_ms, quiet=quiet).run(decoder_cases))
        elif target == "cmts":
            campaign = CmtsCampaign(seed, target=address, check_every=check_every, quiet=quiet, workdir=workdir)
            summaries.append(trio.run(campaign.run, live_cases))
        else:
            campaign = CmsCampaign(seed, scenarios_per_run=scenarios_per_run, quiet=quiet, workdir=workdir)
            summaries.append(trio.run(campaign.run, live_cases))
    _report(summaries)
    sys.exit(1 if any(summary.failed for summary in summaries) else 0)


def _report(summaries: list[Summary]) -> None:
    """One table of figures, then the notes, then each failure with the command that replays it."""
    console = Console(highlight=False)
    if not console.is_terminal:  # a log file: wide enough for the whole table on one line per target
        console = Console(highlight=False, width=110)
    table = Table(title="Fuzz campaign", title_justify="left")
    for column in ("target", "seed", "cases", "crashes", "hangs", "RSS before", "RSS after", "seconds",
                   "normal call after"):
        table.add_column(column, justify="left" if column in ("target", "normal call after") else "right")
    for summary in summaries:
        table.add_row(summary.target, str(summary.seed), f"{summary.cases:,}", _count(summary.crashes),
                      _count(summary.hangs), megabytes(summary.rss_before), megabytes(summary.rss_after),
                      f"{summary.seconds:,.0f}", _call(summary.normal_call))
    console.print(table)
    for summary in summaries:
        for note in summary.notes:
            console.print(f"{summary.target}: {note}", soft_wrap=True)
    for summary in summaries:
        for failure in summary.failures:
            console.print(f"[red]{failure.kind}[/] {failure.target} seed {failure.seed} case {failure.case}: "
                          f"{failure.detail}", soft_wrap=True)
            console.print(f"  replay: {failure.replay_command(summary.replay_options)}", soft_wrap=True)
        kept = len(summary.failures)
        if summary.crashes + summary.hangs > kept:
            console.print(f"{summary.target}: {summary.crashes + summary.hangs - kept} more failures not listed")
        if summary.normal_call not in (None, "passed"):
            console.print(f"[red]{summary.target}: normal call after the campaign[/] {summary.normal_call}",
                          soft_wrap=True)


def _count(number: int) -> str:
    return f"[red]{number:,}[/]" if number else "0"


def _call(verdict: str | None) -> str:
    if verdict is None:
        return "-"
    return "[green]passed[/]" if verdict == "passed" else "[red]FAILED[/]"


def _replay(target: str, seed: int, case: int, hang_ms: float, address: str | None, scenarios_per_run: int,
            workdir: Path | None) -> int:
    """Re-run one case; print what it sent (hex) and what came of it.  Exit status 1 if it failed."""
    if target == "decoder":
        return _replay_decoder(seed, case, hang_ms)
    if target == "cmts":
        campaign = CmtsCampaign(seed, target=address, quiet=True, workdir=workdir)
    else:
        campaign = CmsCampaign(seed, scenarios_per_run=scenarios_per_run, quiet=True, workdir=workdir)
    trace, problems = trio.run(campaign.replay, case)
    print(f"{target} case {case} of seed {seed}: {len(trace.sent)} messages sent")
    for label, data in trace.sent:
        print(f"\n> {label} ({len(data)} bytes)")
        print(hexdump(data))
    print("\nreceived: " + (", ".join(trace.received) or "nothing"))
    for problem in problems:
        print(f"FAILED: {problem}")
    if not problems:
        print("ok: no crash, no hang")
    return 1 if problems else 0


def _replay_decoder(seed: int, case: int, hang_ms: float) -> int:
    campaign = DecoderCampaign(seed, hang_ms=hang_ms, quiet=True)
    names = [entry.name for entry in full_corpus()]
    started = time.perf_counter()
    done, log, crash = campaign.replay(case)
    elapsed = (time.perf_counter() - started) * 1000
    mutation = done.mutation
    print(f"decoder case {case} of seed {seed}: corpus entry {mutation.base} ({names[mutation.base]})")
    for step in mutation.steps:
        print(f"  {step}")
    cuts = f", stream cut at {list(done.plan.cuts)}" if done.plan.cuts else ""
    print(f"  fed as {done.plan.buffer}{cuts}")
    print(f"\n{len(mutation.data)} bytes:")
    print(hexdump(mutation.data))
    print()
    for line in log:
        print(line)
    print(f"{elapsed:.1f} ms")
    if crash:
        print(f"\nCRASH:\n{crash}")
        return 1
    return 0


def hexdump(data: bytes, width: int = 32) -> str:
    """Hex in lines of ``width`` bytes, groups of four (as protocol.md writes messages)."""
    lines = []
    for start in range(0, len(data), width):
        chunk = data[start:start + width].hex()
        lines.append(f"{start:6d}  " + " ".join(chunk[i:i + 8] for i in range(0, len(chunk), 8)))
    return "\n".join(lines) if lines else "(empty)"


if __name__ == "__main__":
    main()
