"""bench/cms_path.py: its scripted CMTS carries every call of the bench scenario through, alone or batched."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import trio

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


cms_path = _module("cms_path")


@pytest.mark.parametrize("batch", [1, 3])
def test_every_call_completes_and_costs_some_cpu(batch):
    assert trio.run(cms_path.measure, cms_path.SCENARIO, 50, batch) > 0  # raises unless all 50 completed
