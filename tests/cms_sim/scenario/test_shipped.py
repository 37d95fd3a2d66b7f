"""The scenarios shipped in scenarios/: each passes against the embedded CMTS, and reads as documentation.

They run under trio's autojump clock, so their holds and timer waits cost no
real time.  ``tests/cms_sim/scenarios_failing/`` holds scenarios that must
fail, for report tests; each is checked to fail where it says it does.  The
YAML examples of docs/scenarios.md run too, so the docs cannot drift.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cms_sim import media
from cms_sim.scenario import Verdict, load_scenario, parse_scenario, run_embedded
from cops_core.dqos import GateInfoAck

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
FAILING = ROOT / "tests" / "cms_sim" / "scenarios_failing"
SCHEMA_COMMENT = "# yaml-language-server: $schema=scenario.schema.json"
REQUIRED = {"basic_call", "set_without_alloc", "codec_change", "gate_info_audit", "t0_expiry", "t1_expiry",
            "admission_rejection", "unknown_gate", "gate_limit", "missing_object", "reconnect", "keepalive_timeout"}


def test_every_required_scenario_is_shipped():
    assert REQUIRED <= {path.stem for path in SHIPPED}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.stem)
def test_shipped_scenario_starts_with_the_schema_comment_and_says_what_it_shows(path):
    assert path.read_text(encoding="utf-8").splitlines()[0] == SCHEMA_COMMENT
    scenario = load_scenario(path)
    assert scenario.description.strip() and scenario.name.strip()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.stem)
async def test_shipped_scenario_passes_against_the_embedded_cmts(path, autojump_clock):
    result = await run_embedded(load_scenario(path))
    failed = "; ".join(f"step {step.id} ({step.title}, line {step.line}): {step.message}" for step in result.failures)
    verdicts = {step.verdict for step in result.steps}
    assert (result.verdict, verdicts) == (Verdict.PASSED, {Verdict.PASSED}), failed
    assert not result.interrupted
    assert result.findings == []  # our CMTS keeps every rule the judge checks


async def test_codec_change_leaves_the_new_gate_specs_on_the_gate(autojump_clock):
    result = await run_embedded(load_scenario(ROOT / "scenarios" / "codec_change.yaml"))
    info = next(step.reply for step in result.steps if step.kind == "gate_info")
    assert type(info) is GateInfoAck and info.gate_id == result.variables["gate"] == result.variables["modified"]
    g729 = media.profile("G729-20")
    assert [(spec.direction, spec.token_bucket_rate, spec.maximum_packet_size) for spec in info.gate_specs] == [
        (0, g729.rate, g729.packet_bytes), (1, g729.rate, g729.packet_bytes)]


async def test_the_latency_bound_scenario_fails_at_its_slow_gate_set(autojump_clock):
    path = FAILING / "latency_bound.yaml"
    assert path.read_text(encoding="utf-8").startswith("# yaml-language-server: $schema=")
    result = await run_embedded(load_scenario(path))
    assert result.verdict is Verdict.FAILED
    assert [(step.id, step.verdict) for step in result.steps] == [
        ("1", Verdict.PASSED), ("2", Verdict.FAILED), ("3", Verdict.SKIPPED),
        ("cleanup.1", Verdict.PASSED)]  # the slow Gate-Set's gate, which step 3 would have deleted
    failure = result.failures[0]
    assert (failure.title, failure.line) == ("slow Gate-Set", 22)
    assert failure.message == "Gate-Set-Ack after 200.0 ms, expected within 50 ms"


DOCS = ROOT / "docs" / "scenarios.md"
EXAMPLE_HEADER = """\
name: docs example
description: an example from docs/scenarios.md
variables: {subscriber: 10.0.1.10, remote: 10.1.1.20}
"""


def _doc_examples() -> list[tuple[int, str]]:
    """(line, scenario text) for each ```yaml block of docs/scenarios.md, wrapped into a scenario if it is a part."""
    examples, block, start = [], None, 0
    for number, line in enumerate(DOCS.read_text(encoding="utf-8").splitlines(), 1):
        if block is None and line == "```yaml":
            block, start = [], number + 1
        elif block is not None and line == "```":
            text = "\n".join(block) + "\n"
            if text.startswith("- "):  # a list of steps
                text = EXAMPLE_HEADER + "steps:\n" + "".join(f"  {row}\n" for row in block)
            elif not text.startswith(("# yaml-language-server", "name:")):  # a top-level block
                text = EXAMPLE_HEADER + text + "steps: [wait: 0]\n"
            examples.append((start, text))
            block = None
        elif block is not None:
            block.append(line)
    return examples


@pytest.mark.parametrize("line,text", [pytest.param(*example, id=f"line{example[0]}") for example in _doc_examples()])
async def test_every_example_in_the_scenario_docs_runs_green(line, text, autojump_clock):
    result = await run_embedded(parse_scenario(text, f"docs/scenarios.md:{line}"))
    failed = "; ".join(f"step {step.id} ({step.title}): {step.message}" for step in result.failures)
    verdict = result.verdict
    assert verdict is Verdict.PASSED, failed
