"""docs/wireshark.md keeps its promises: every display filter in it is one tshark takes, and each matches at least
one packet of a capture of the shipped scenarios, as ``cms-sim run --pcap`` writes it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import trio
from trio.testing import MockClock

from cms_sim.report.capture import write_capture
from cms_sim.scenario import Verdict, load_scenario, run_embedded

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "wireshark.md"
SCENARIOS = ("basic_call", "unknown_gate", "t0_expiry", "missing_object")
"""Between them: a whole call, errors 2 and 6, a Gate-Close for T0: something for every filter in the guide."""
COPS_PORT = 2126


def _filters() -> list[str]:
    """Every backticked span of the guide that starts with a COPS field: the filters, and the fields it names."""
    spans = re.findall(r"`(cops[^`\n]*)`", GUIDE.read_text(encoding="utf-8"))
    return list(dict.fromkeys(span.replace(r"\|", "|") for span in spans))


def _output(tshark, *args: str) -> str:
    """tshark's output (the ``tshark`` fixture); a filter it does not take fails the test with tshark's message."""
    try:
        return tshark(*args)
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"tshark {' '.join(args)}: {exc.stderr}", pytrace=False)


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    """The shipped scenarios' traffic in one capture, the CMTS on port 2126 as when cms-sim run gets that port
    (the embedded CMTS of a test listens on a free one; the client ports keep the sessions apart)."""

    async def run_all() -> list:
        trace = []
        for name in SCENARIOS:
            result = await run_embedded(load_scenario(ROOT / "scenarios" / f"{name}.yaml"))
            assert result.verdict is Verdict.PASSED, name
            trace += [record.replace(peer=(record.peer[0], COPS_PORT)) for record in result.trace]
        return trace

    path = tmp_path_factory.mktemp("guide") / "shipped.pcap"
    write_capture(trio.run(run_all, clock=MockClock(autojump_threshold=0)), path)
    return path


def test_the_guide_has_the_filters_a_class_needs():
    filters = _filters()
    for needed in ("cops.op_code == 2", "cops.pc_gate_command_type == 4", "cops.pc_gate_id == 0x0badcafe",
                   "cops.pc_transaction_id == 2", "cops.pc_packetcable_err_code == 2"):
        assert needed in filters


def test_every_filter_in_the_guide_matches_a_packet_of_the_shipped_scenarios(tshark, capture):
    filters = _filters()
    # io,stat counts many filters in one pass, but splits its argument at commas: those filters go alone.
    together = [text for text in filters if "," not in text]
    table = _output(tshark, "-2", "-q", "-r", str(capture), "-z", "io,stat,0," + ",".join(together))
    row = next(line for line in table.splitlines() if "<>" in line)
    frames = [int(cell) for cell in [cell.strip() for cell in row.split("|") if cell.strip()][1::2]]
    counts = dict(zip(together, frames, strict=True))
    for text in filters:
        if text not in counts:
            counts[text] = len(_output(tshark, "-2", "-r", str(capture), "-Y", text).splitlines())
    assert not [text for text, count in counts.items() if count == 0], counts
