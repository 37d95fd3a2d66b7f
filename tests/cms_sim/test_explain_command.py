"""``cms-sim explain TOPIC``: a short answer and the section of the protocol reference it comes from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cms_sim.cli import main
from cms_sim.explain_command import OBJECTS, TIMERS, lookup, topics

REFERENCE = Path(__file__).parents[2] / "docs" / "protocol.md"


@pytest.mark.parametrize("topic, title, says", [
    ("Gate-Set", "Gate-Set", "starts T1"),
    ("gate set ack", "Gate-Set-Ack", "Gate-ID"),
    ("error 4", "PacketCable error 4: subscriber exceeded gate limit", "next:"),
    ("reason 4", "Gate-Close reason 4", "T0 expired"),
    ("t1", "Timer T1", "Gate-Close reason 5"),
    ("Gate-Spec", "Gate-Spec", "token bucket"),
    ("client open", "Client-Open (OPN, op-code 6)", "PEPID"),
])
def test_a_topic_gets_its_explanation_and_section(topic, title, says):
    result = CliRunner().invoke(main, ["explain", *topic.split()])
    lines = result.output.splitlines()
    assert result.exit_code == 0 and lines[0] == title
    assert says in " ".join(lines[1:-1]) and lines[-1].startswith("docs/protocol.md ")


def test_an_unknown_topic_lists_the_known_ones_and_exits_2():
    result = CliRunner().invoke(main, ["explain", "error", "99"])
    assert result.exit_code == 2 and "topics: Gate-Alloc" in result.output


def test_every_section_an_answer_cites_is_in_the_reference():
    headings = set(re.findall(r"^#+ (\d+(?:\.\d+)?)[. ]", REFERENCE.read_text(encoding="utf-8"), re.M))
    sections = {section for topic in topics() if "N" not in topic
                for section in lookup(tuple(topic.split()))[2].split(", ")}
    sections |= {section for _, section in (*TIMERS.values(), *OBJECTS.values())}
    assert sections and sections <= headings, sections - headings
