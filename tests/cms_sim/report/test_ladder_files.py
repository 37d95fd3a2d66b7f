"""The ladder files (``--ladder X.svg``, ``--ladder X.html``): whole, readable, printable, self-contained."""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET
from collections import defaultdict

import pytest
from matplotlib.image import imread

from cms_sim.report import ladder_svg

from .ladders import FAILURE, LONG_ERROR, audit_of_a_lost_gate

SVG = "{http://www.w3.org/2000/svg}"


def texts(svg: str) -> list[ET.Element]:
    return list(ET.fromstring(svg).iter(f"{SVG}text"))


def test_the_svg_writes_every_label_whole_and_inside_its_drawing(basic_call):
    drawn = ladder_svg.drawing(audit_of_a_lost_gate(), "lab")
    root = ET.fromstring(drawn)
    width, height = (float(root.get(name)) for name in ("width", "height"))
    assert root.get("viewBox") == f"0 0 {width:g} {height:g}"
    shown = [element.text for element in texts(drawn)]
    assert LONG_ERROR in shown  # whole, on one line of its own
    assert f"step 1 (line 5): {FAILURE}" in shown and "✗ FAIL audit the gate (1.0 ms)" in shown
    for svg in (drawn, basic_call["svg"].read_text()):
        for element in texts(svg):  # measured as the drawing measures (CHAR a character, more than fonts take)
            size = float(element.get("font-size", ladder_svg.FONT_SIZE))
            extent = len(element.text or "") * ladder_svg.CHAR * size / ladder_svg.FONT_SIZE
            left = float(element.get("x")) - {"start": 0, "middle": extent / 2, "end": extent}[
                element.get("text-anchor", "start")]
            assert 0 <= left and left + extent <= float(ET.fromstring(svg).get("width")), element.text


def test_the_svg_renders_at_its_size_with_nothing_cut_at_its_edges(basic_call, rsvg_convert, tmp_path):
    """rsvg-convert (real fonts) draws the PNG at the viewBox's size, and no text reaches the paper's edge."""
    for name, svg in (("basic_call", basic_call["svg"].read_text()),
                      ("lost_gate", ladder_svg.drawing(audit_of_a_lost_gate(), "lab"))):
        source, png = tmp_path / f"{name}.svg", tmp_path / f"{name}.png"
        source.write_text(svg)
        subprocess.run([rsvg_convert, str(source), "-o", str(png)], check=True, timeout=60)
        pixels = imread(png)
        _, _, width, height = map(float, ET.fromstring(svg).get("viewBox").split())
        assert pixels.shape[:2] == (round(height), round(width))
        edges = [pixels[:8], pixels[-8:], pixels[:, :8], pixels[:, -8:]]  # paper, or a scenario's light band
        assert all((edge[..., :3] > 0.9).all() for edge in edges), f"{name}: ink at the edge: something is cut"
        assert (pixels[..., :3] < 0.5).any()  # and something is drawn


def test_the_files_keep_codes_gate_ids_and_the_summary(basic_call):
    svg, page = basic_call["svg"].read_text(), basic_call["html"].read_text()
    shown = " ".join(element.text or "" for element in texts(svg))
    gate = re.search(r"gate (0x[0-9a-f]{8})", shown).group(1)
    for needle in (f"gate {gate} released by the modem (reason 1, sub-code 0)", "error 11 shutting down",
                   "✓ authorize the media", "Summary", "1 scenario: 1 passed · 9 steps: 9 passed · 0 findings",
                   "Steps of basic call", "the gate is closed",
                   "The modem committed: media may flow and billing starts (T1 stops)."):  # --explain's note
        assert needle in shown and needle in page, needle
    assert page.count('<td class="pass">passed</td>') == 1 + 9  # the scenario and each of its steps
    fills: dict = {}  # a colour per call: each label as the ladder draws it (the first time it appears)
    for element in texts(svg):
        fills.setdefault(element.text, element.get("fill"))
    assert fills["DEC Gate-Alloc"] == fills["RPT Gate-Close"] == fills["reserve"] == ladder_svg.CALLS[0]
    assert fills["OPN"] == fills["REQ"] == ladder_svg.CONNECTION and fills["CC"] == ladder_svg.FAIL


def colour_roles(text: str) -> dict[str, set[str]]:
    """Every colour a file uses, by what it paints: "background", "line" (arrows, rules) or "text".

    SVG elements say it by their kind; CSS by its property; a colour found anywhere else counts as text (the
    strictest).
    """
    roles: dict[str, set[str]] = defaultdict(set)
    for svg in re.findall(r"<svg.*?</svg>", text, re.S):
        for element in ET.fromstring(svg).iter():
            kind = element.tag.removeprefix(SVG)
            for attribute in ("fill", "stroke"):
                colour = (element.get(attribute) or "").lower()
                if colour.startswith("#"):
                    roles[colour].add("text" if kind == "text" else
                                      "background" if (kind, attribute) == ("rect", "fill") else "line")
        text = text.replace(svg, "")
    for prop, value in re.findall(r"([\w-]+)\s*:\s*([^;}\"]+)", text):
        for colour in re.findall(r"#[0-9a-fA-F]{6}\b", value):
            roles[colour.lower()].add("background" if prop.startswith("background") else
                                      "line" if prop.startswith(("border", "outline", "stroke")) else "text")
    for colour in re.findall(r"#[0-9a-fA-F]{6}\b", text):
        roles[colour.lower()] or roles[colour.lower()].add("text")
    return roles


def contrast(first: str, second: str) -> float:
    """WCAG 2 contrast ratio of two sRGB colours."""
    def luminance(colour: str) -> float:
        channels = [int(colour[index:index + 2], 16) / 255 for index in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@pytest.mark.parametrize("kind", ["svg", "html"])
def test_every_colour_pair_meets_wcag_aa(basic_call, kind):
    """Text 4.5:1 and lines 3:1 against every background the file has (WCAG 2 AA, 1.4.3 and 1.4.11)."""
    roles = colour_roles(basic_call[kind].read_text() + ladder_svg.drawing(audit_of_a_lost_gate(), "lab"))
    backgrounds = [colour for colour, role in roles.items() if "background" in role]
    assert ladder_svg.PAPER in backgrounds and len(roles) > len(backgrounds) + 4  # the test saw the colours
    for colour, role in roles.items():
        if role != {"background"}:
            least = 4.5 if "text" in role else 3.0
            worst = min(backgrounds, key=lambda background: contrast(colour, background))
            assert contrast(colour, worst) >= least, f"{colour} on {worst}: {contrast(colour, worst):.2f}:1"
    assert {"text"} <= roles[ladder_svg.FAIL] & roles[ladder_svg.WARN] & roles[ladder_svg.CALLS[0]]
    for colour in ladder_svg.CALLS:  # the calls a run has not reached yet
        assert min(contrast(colour, background) for background in backgrounds) >= 4.5, colour


@pytest.mark.parametrize("kind", ["svg", "html"])
def test_the_files_fetch_nothing_and_print(basic_call, kind):
    text = basic_call[kind].read_text()
    outside = text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    for needle in ("http:", "https:", "//cdn", "@font-face", "@import", "url(", "<link", " src="):
        assert needle not in outside, needle
    assert "@media print" in text
    assert "monospace" in text and "Fira" not in text  # any monospace font the reader has


def test_the_html_embeds_each_arrow_message_decoded_with_its_bytes(basic_call):
    page = basic_call["html"].read_text()
    messages = json.loads(re.search(r'<script type="application/json" id="messages">(.*?)</script>', page,
                                    re.S).group(1))
    numbers = [int(number) for number in re.findall(r'<g class="msg" data-msg="(\d+)"', page)]
    assert numbers == list(range(len(messages))) and len(messages) == 15
    gate_set = next(message for message in messages if message["label"] == "DEC Gate-Set")
    ack = next(message for message in messages if message["label"] == "RPT Gate-Set-Ack")
    assert "verdict" not in gate_set and ack["verdict"] == ["✓ authorize the media (" + ack["verdict"][0][23:], "pass"]
    data = bytes.fromhex(gate_set["hex"])

    def lines(node):
        yield node
        for child in node.get("c", ()):
            yield from lines(child)

    found = {"".join(text for text, _ in node["p"]): node for node in lines(gate_set["tree"])}
    assert "Gate-Spec (S-Num/S-Type 5/1), 60 bytes" in found
    gate_id = found[f"Gate Identifier: {gate_set['gate']}"]
    assert data[gate_id["o"]:gate_id["o"] + gate_id["n"]] == bytes.fromhex(gate_set["gate"][2:])
    assert all(0 <= node["o"] and node["o"] + node["n"] <= len(data) for node in found.values())
    header = found["Common header, 8 bytes"]  # the decoder's common header, field by field, bytes and all
    assert (header["o"], header["n"]) == (0, 8)
    length = found[f"Message Length: {len(data)} bytes"]
    assert data[length["o"]:length["o"] + length["n"]] == len(data).to_bytes(4, "big")
    # A colour per call and the Gate-ID on every arrow of the call: the Gate-Alloc too, though only its reply
    # names the gate; the connection's own messages (OPN, CAT, REQ, CC) have none.
    assert {message["label"] for message in messages if message["gate"] is None} == {"OPN", "CAT", "REQ", "CC"}
    assert {message["gate"] for message in messages} == {None, gate_set["gate"]}
    alloc = next(message for message in messages if message["label"] == "DEC Gate-Alloc")
    assert alloc["detail"] == f"tid 1 (gate {gate_set['gate']}, named in the reply)"
    modem = next(message for message in messages if message["label"] == "reserve")
    assert modem["hex"] == "" and "not a COPS message" in modem["note"]
