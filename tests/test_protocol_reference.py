"""docs/protocol.md keeps its promises: every citation of it resolves, every worked example decodes.

The code and documents cite the reference by section number ("protocol.md 3.4",
"(protocol.md 1.3)", "protocol.md section 4", "protocol.md 3.2 and 3.4",
"protocol.md 4.1, 4.2, 4.4"); each number, and the chapter it belongs to, must
be a heading of docs/protocol.md.  The worked examples are the ```hex blocks of
docs/protocol.md: one object per line as ``OFFSET  BYTES  # comment``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cops_core.codes import ClientType
from cops_core.dqos import gate_command_of
from cops_core.messages import Decision, Report, decode_message

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "protocol.md"
SKIP_DIRS = {".venv", "venv", ".git", "__pycache__", "node_modules", "build", "dist", ".tox", ".mypy_cache"}

_NUMBER = r"\d{1,2}(?:\.\d{1,2})*"
_SECTION = rf"(?:sections?\s+|§\s*)?{_NUMBER}"
CITATION = re.compile(
    # "protocol.md" then (possibly across a line break and a comment marker) one section number or a list of them.
    rf"protocol\.md[\s#,]*(?P<list>{_SECTION}(?:\s*(?:,|\band\b|&)\s*{_SECTION})*)")
HEADING = re.compile(rf"^#{{2,3}}\s+(?P<number>{_NUMBER})\.?\s", re.MULTILINE)
HEX_BLOCK = re.compile(r"^```hex\n(?P<body>.*?)^```", re.MULTILINE | re.DOTALL)


def _sources() -> list[Path]:
    found = []
    for path in ROOT.rglob("*"):
        parts = path.relative_to(ROOT).parts
        if path.suffix in (".py", ".md") and path.is_file() \
                and not any(part in SKIP_DIRS or part.endswith(".egg-info") for part in parts):
            found.append(path)
    return sorted(found)


def _citations() -> dict[str, list[str]]:
    """Section number -> where it is cited (``path:line``)."""
    cited: dict[str, list[str]] = {}
    for path in _sources():
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in CITATION.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            for number in re.findall(_NUMBER, match.group("list")):
                cited.setdefault(number, []).append(f"{path.relative_to(ROOT)}:{line}")
    return cited


def _headings() -> set[str]:
    return {match.group("number") for match in HEADING.finditer(REFERENCE.read_text(encoding="utf-8"))}


def _hex_blocks() -> list[tuple[str, bytes]]:
    """(heading above the block, its bytes) for each ```hex block; the offset column is checked as it is read."""
    text = REFERENCE.read_text(encoding="utf-8")
    blocks = []
    seen: dict[str, int] = {}
    for match in HEX_BLOCK.finditer(text):
        heading = [line for line in text[: match.start()].splitlines() if line.startswith("#")][-1]
        data = bytearray()
        for line in match.group("body").splitlines():
            content = line.split("#", 1)[0].strip()
            if not content:
                continue
            offset, _, hexdigits = content.partition(" ")
            assert int(offset, 16) == len(data), f"{heading}: line {line!r} says offset {offset}, is {len(data):#x}"
            data += bytes.fromhex(hexdigits)
        title = heading.lstrip("# ")
        seen[title] = seen.get(title, 0) + 1
        blocks.append((f"{title} #{seen[title]}", bytes(data)))
    return blocks


def test_the_citation_pattern_finds_the_citations():
    # A regex that broke would pass the test below vacuously.
    cited = _citations()
    assert sum(len(where) for where in cited.values()) >= 50
    assert {"1.3", "3.4", "4.2"} <= set(cited)


def test_every_cited_section_is_a_heading_of_protocol_md():
    headings = _headings()
    missing = {}
    for number, where in _citations().items():
        for needed in {number, number.split(".")[0]}:
            if needed not in headings:
                missing.setdefault(needed, []).extend(where)
    assert not missing, "docs/protocol.md lacks cited sections: " + "; ".join(
        f"{number} (cited at {', '.join(sorted(set(where))[:5])})" for number, where in sorted(missing.items()))


def test_protocol_md_has_the_numbered_chapters():
    assert {"1", "1.1", "1.2", "1.3", "2", *(f"2.{n}" for n in range(1, 8)), "3", *(f"3.{n}" for n in range(1, 7)),
            "4", "4.1", "4.2", "4.3", "4.4", "5"} <= _headings()


BLOCKS = _hex_blocks()


def test_protocol_md_has_worked_examples():
    assert len(BLOCKS) >= 9


@pytest.mark.parametrize("data", [data for _, data in BLOCKS], ids=[name for name, _ in BLOCKS])
def test_worked_example_decodes(data):
    message = decode_message(data)
    assert message.encode() == data  # nothing lost or reordered
    if type(message) in (Decision, Report) and message.client_type == ClientType.PACKETCABLE_DQOS:
        assert gate_command_of(message) is not None  # the DQoS payload decodes too
