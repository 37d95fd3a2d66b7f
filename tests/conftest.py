"""The whole suite: pytester for the plugin's own tests; scenario files under tests/ are data, not test items."""

from __future__ import annotations

from typing import Callable

import pytest

from .tshark import run_tshark, tshark_path

pytest_plugins = ["pytester"]

# Deliberately failing scenarios live here as fixtures of the tests that load them.
collect_ignore_glob = ["cms_sim/scenarios_failing/*.yaml"]


@pytest.fixture
def tshark() -> Callable[..., str]:
    """:func:`tests.tshark.run_tshark`; without tshark the test skips (under CI fails) before it does anything."""
    tshark_path()
    return run_tshark
