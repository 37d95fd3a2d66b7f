"""The HTML ladder in a real browser (headless chromium): click a Gate-Set, read its Gate-Spec, mark a field's bytes."""

from __future__ import annotations

import re

import pytest


@pytest.fixture
def page(browser, basic_call):
    """The basic call's HTML ladder, open; any script error fails the test."""
    opened = browser.new_page(viewport={"width": 1920, "height": 1080})
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto(basic_call["html"].as_uri())
    yield opened
    opened.close()
    assert not errors


def test_a_click_on_gate_set_shows_its_gate_spec_and_a_field_marks_its_bytes(page, tmp_path):
    pane = page.locator("#detail")
    page.locator('g.msg[aria-label^="DEC Gate-Set "]').click()
    assert page.locator("g.msg.selected").count() == 1
    assert pane.locator("h2").inner_text() == "DEC Gate-Set"
    tree = pane.locator(".tree").inner_text()
    assert tree.count("Gate-Spec (S-Num/S-Type 5/1), 60 bytes") == 2  # downstream and upstream
    for field in ("Direction: Downstream (0)", "Direction: Upstream (1)", "Protocol ID: UDP (17)",
                  "Token Bucket Rate (r):", "Timer T1:"):
        assert field in tree, field

    gate = re.search(r"gate (0x[0-9a-f]{8})", pane.locator(".where").inner_text()).group(1)
    pane.locator(".tree button", has_text="Gate Identifier:").click()
    assert "".join(pane.locator(".hex .mark").all_inner_texts()) == gate[2:]  # its four bytes, marked
    port = pane.locator(".tree button", has_text="Destination Port:").first
    port.click()
    value = int(port.inner_text().split(": ")[1])
    assert pane.locator(".hex .mark").all_inner_texts() == [f"{value >> 8:02x}", f"{value & 0xFF:02x}"]
    assert pane.locator(".tree button.chosen").count() == 1
    page.screenshot(path=str(tmp_path / "gate_set.png"), full_page=True)
    assert (tmp_path / "gate_set.png").stat().st_size > 10_000


def test_keyboard_reaches_the_arrows_and_print_keeps_the_chosen_message_only(page, tmp_path):
    page.locator('g.msg[aria-label^="RPT Gate-Close "]').focus()
    page.keyboard.press("Enter")
    assert "released by the modem (reason 1, sub-code 0)" in page.locator("#detail").inner_text()
    assert "Reason Sub-code: Client initiated release (0)" in page.locator("#detail .tree").inner_text()
    page.emulate_media(media="print")
    assert not page.locator("header .hint").is_visible()
    assert page.locator("#detail").is_visible()  # a message is chosen: it goes on the handout
    drawing = page.locator(".ladder svg").bounding_box()
    assert drawing["x"] + drawing["width"] <= 1920  # the ladder shrinks to the paper, not cut at its edge
    page.screenshot(path=str(tmp_path / "print.png"), full_page=True)
