"""The tshark helper: skip on a fresh machine, fail under CI, and the only way the tests run tshark."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .tshark import MISSING, tshark_path

TESTS = Path(__file__).resolve().parent
# A test that finds or starts tshark itself: shutil.which("tshark"), ["tshark", ...], "tshark -r ..." in a shell.
OWN_TSHARK = re.compile(r"""which\(\s*["']tshark["']|\[\s*["']tshark["']|["']tshark\s+-""")


@pytest.fixture
def no_tshark(monkeypatch, tmp_path):
    """A PATH with no tshark on it."""
    monkeypatch.setenv("PATH", str(tmp_path))


def test_without_tshark_a_test_skips_and_says_how_to_install_it(no_tshark, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=re.escape(MISSING)):
        tshark_path()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        tshark_path()


@pytest.mark.parametrize("value", ["true", "True"])
def test_without_tshark_under_ci_a_test_fails(no_tshark, monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match=r"under CI \(CI=true\) it must be: \.ci/run installs it"):
        tshark_path()


def test_every_test_runs_tshark_through_the_helper():
    own = [f"{path.relative_to(TESTS)}:{text.count(chr(10), 0, match.start()) + 1}"
           for path in sorted(TESTS.rglob("*.py")) if path.name not in ("tshark.py", "test_tshark.py")
           for text in [path.read_text(encoding="utf-8")] for match in OWN_TSHARK.finditer(text)]
    assert own == [], "use the tshark fixture (tests/conftest.py) or tests.tshark.run_tshark"
