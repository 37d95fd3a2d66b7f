"""What the ladder-file tests share: the basic call's ladder files, and the real tools that read them.

rsvg-convert renders the SVG to PNG; Debian's chromium, driven by Playwright
with its ``executable_path`` (a browser build of Playwright's own cannot be
downloaded here), opens the HTML.  Where a tool is missing its tests skip
and say how to install it, except under CI (``CI=true``), whose .ci/run
installs them: there a missing tool fails, so a green CI never hides a test
that did not run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cms_sim.cli import main

BASIC = Path(__file__).parents[3] / "scenarios" / "basic_call.yaml"


def missing(tool: str, install: str) -> None:
    """Skip (or, under CI, fail) the test that needs ``tool``."""
    message = f"{tool} is not installed ({install}; .ci/run installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def basic_call(tmp_path_factory) -> dict[str, Path]:
    """``cms-sim run --explain scenarios/basic_call.yaml --ladder call.svg --ladder call.html``, in process."""
    folder = tmp_path_factory.mktemp("basic_call")
    paths = {"svg": folder / "call.svg", "html": folder / "call.html"}
    result = CliRunner().invoke(main, ["run", "--explain", str(BASIC), "--ladder", str(paths["svg"]), "--ladder",
                                       str(paths["html"])])
    assert result.exit_code == 0, result.output
    return paths


@pytest.fixture(scope="session")
def rsvg_convert() -> str:
    path = shutil.which("rsvg-convert")
    if path is None:
        missing("rsvg-convert", "apt-get install librsvg2-bin")
    return path


@pytest.fixture(scope="session")
def browser():
    """Headless chromium (Debian's), for the tests that click through the HTML ladder."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright", "pip install -e '.[test]'")
    path = shutil.which("chromium")
    if path is None:
        missing("chromium", "apt-get install chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path)
        yield chromium
        chromium.close()
