"""Soak: hours of held calls between a CMS process and a CMTS process, watching both processes' memory.

    python bench/soak.py                                  # 30 minutes at 1,000 calls/s, 30 s holds
    python bench/soak.py --minutes 5 --rate 200           # a shorter look

``cmts-sim serve --modem auto --hold 30`` in one process, ``cms-sim load
bench/scenarios/held_call.yaml`` in another (30,000 calls held at once at
1,000 calls/s).  The RSS of both is read from ``/proc`` every ``--sample``
seconds.  Growth is judged after warm-up (``--warmup``): the highest RSS after
it against the RSS at its end; the target is under 5 %, with zero failed
calls.  Warm-up lasts until the number of held calls has levelled off (two
hold times) and every gate timer armed at the start has come due (T1, 250 s
in the media profiles): the gate table's timer heap keeps each deadline until
then, stale or not, so memory climbs for that long before it is flat.  Writes ``bench/results/soak-DATE.csv`` and, with matplotlib
installed (``pip install -e '.[plot]'``), ``soak-DATE.png``; prints one
line per sample and a verdict.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cms_sim.media import DEFAULT_T1

HERE = Path(__file__).parent
RESULTS = HERE / "results"
SCENARIO = HERE / "scenarios" / "held_call.yaml"
PAGE = os.sysconf("SC_PAGE_SIZE")
T1 = DEFAULT_T1  # seconds: the media profiles' T1, the longest timer a held call arms


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` in MiB (statm's second field, in pages)."""
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 2**20


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tool(name: str) -> list[str]:
    """The command of one of the project's CLIs, run by this interpreter (no PATH needed)."""
    package = {"cms-sim": "cms_sim", "cmts-sim": "cmts_sim"}[name]
    return [sys.executable, "-c", f"import sys; from {package}.cli import main; sys.exit(main())"]


def wait_listening(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"soak: cmts-sim did not listen on port {port} within {timeout:g} s")


def growth(samples: list[dict], warmup: float, key: str) -> tuple[float, float, float]:
    """(RSS at the end of warm-up, highest RSS after it, growth in %) for ``key``."""
    after = [s for s in samples if s["t"] >= warmup]
    if not after:
        return float("nan"), float("nan"), float("nan")
    base = after[0][key]
    peak = max(s[key] for s in after)
    return base, peak, 100 * (peak - base) / base


def plot(samples: list[dict], warmup: float, path: Path, title: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    minutes = [s["t"] / 60 for s in samples]
    figure, axis = plt.subplots(figsize=(9, 4.5), dpi=100)
    axis.plot(minutes, [s["cmts_rss_mib"] for s in samples], label="cmts-sim serve")
    axis.plot(minutes, [s["cms_rss_mib"] for s in samples], label="cms-sim load")
    axis.axvline(warmup / 60, color="grey", linestyle=":", label="end of warm-up")
    axis.set_xlabel("minutes")
    axis.set_ylabel("RSS (MiB)")
    axis.set_ylim(bottom=0)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=1000, help="calls per second")
    parser.add_argument("--hold", type=float, default=30, help="seconds each call holds its gate")
    parser.add_argument("--sample", type=float, default=10, help="seconds between RSS samples")
    parser.add_argument("--warmup", type=float,
                        help="seconds before growth counts (default: 2 holds + 30 s, and at least T1 + 60 s)")
    args = parser.parse_args()
    warmup = args.warmup if args.warmup is not None else max(2 * args.hold + 30, T1 + 60)
    duration = args.minutes * 60
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M")
    RESULTS.mkdir(exist_ok=True)
    port = free_port()
    serve = subprocess.Popen(tool("cmts-sim") + [
        "serve", "--quiet", "--listen", f"127.0.0.1:{port}", "--modem", "auto", "--reserve-delay", "0",
        "--commit-delay", "0", "--hold", f"{args.hold:g}", "--upstream-kbps", "1e9", "--downstream-kbps", "1e9",
        "--max-gates", "100000000"], stdout=subprocess.DEVNULL)
    wait_listening(port)
    report = Path(tempfile.mkdtemp()) / "soak.json"
    scenario = Path(tempfile.mkdtemp()) / "held.yaml"
    scenario.write_text(SCENARIO.read_text().replace("hold: 30s", f"hold: {args.hold:g}s"))
    load = subprocess.Popen(tool("cms-sim") + [
        "load", str(scenario), "--cmts", f"127.0.0.1:{port}", "--rate", f"{args.rate:g}",
        "--duration", f"{duration:g}s", "-q", "--interval", f"{args.sample:g}s", "--report", str(report)],
        stdout=subprocess.DEVNULL)
    samples: list[dict] = []
    started = time.monotonic()
    print(f"soak: {args.minutes:g} min at {args.rate:g} calls/s, {args.hold:g} s holds; samples every "
          f"{args.sample:g} s")
    try:
        while load.poll() is None:
            time.sleep(args.sample - (time.monotonic() - started) % args.sample)
            if load.poll() is not None:
                break
            sample = {"t": round(time.monotonic() - started, 1), "cmts_rss_mib": round(rss_mib(serve.pid), 1),
                      "cms_rss_mib": round(rss_mib(load.pid), 1), "cmts_cpu_s": round(cpu_seconds(serve.pid), 1),
                      "cms_cpu_s": round(cpu_seconds(load.pid), 1)}
            samples.append(sample)
            print(f"  t={sample['t']:7.0f}s cmts-sim {sample['cmts_rss_mib']:7.1f} MiB  "
                  f"cms-sim {sample['cms_rss_mib']:7.1f} MiB", flush=True)
    except KeyboardInterrupt:
        load.send_signal(signal.SIGINT)
    load.wait()
    serve.send_signal(signal.SIGINT)
    serve.wait(timeout=30)
    result = json.loads(report.read_text()) if report.exists() else {}
    calls = result.get("calls", {})
    table = RESULTS / f"soak-{stamp}.csv"
    with table.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(samples[0]) if samples else ["t"])
        writer.writeheader()
        writer.writerows(samples)
    print(f"calls: attempted {calls.get('attempted')} completed {calls.get('completed')} failed "
          f"{calls.get('failed')} {calls.get('failed_by_cause') or ''}")
    verdict = calls.get("failed") == 0 and bool(calls.get("completed"))
    for name, key in (("cmts-sim", "cmts_rss_mib"), ("cms-sim", "cms_rss_mib")):
        base, peak, percent = growth(samples, warmup, key)
        ok = percent < 5
        verdict = verdict and ok
        print(f"{name}: RSS {base:.1f} MiB after warm-up, at most {peak:.1f} MiB after it: growth {percent:+.1f} % "
              f"({'under' if ok else 'NOT under'} 5 %)")
    title = (f"soak {stamp}: {args.rate:g} calls/s, {args.hold:g} s holds, {args.minutes:g} min; "
             f"failed {calls.get('failed')}")
    png = RESULTS / f"soak-{stamp}.png"
    print(f"samples: {table}" + (f"; plot: {png}" if plot(samples, warmup, png, title) else
                                 " (no plot: pip install -e '.[plot]')"))
    print("soak:", "PASSED" if verdict else "FAILED")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
