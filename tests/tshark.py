"""tshark for the tests that check our captures the way Wireshark users will see them.

Every test that runs tshark goes through :func:`run_tshark` (or the
``tshark`` fixture of tests/conftest.py), so a machine without it behaves one
way everywhere: on a fresh machine those tests skip and say why, so the
README's test command passes; under CI (``CI=true``, which ``.ci/run`` sets
after installing tshark) a missing tshark fails them, so CI cannot pass
without having checked the captures.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

MISSING = "tshark is not installed (Debian: apt-get install tshark), so the captures are not checked with Wireshark"


def under_ci() -> bool:
    """Whether the suite runs as CI, where every check must run (CI services and .ci/run set CI=true)."""
    return os.environ.get("CI", "").strip().lower() == "true"


def tshark_path() -> str:
    """Where tshark is; without it, skip the calling test, or fail it under CI."""
    path = shutil.which("tshark")
    if path is not None:
        return path
    if under_ci():
        pytest.fail(f"{MISSING}; under CI (CI=true) it must be: .ci/run installs it", pytrace=False)
    pytest.skip(MISSING)


def run_tshark(*args: str, check: bool = True, timeout: float = 60) -> str:
    """tshark's standard output for ``args``; a non-zero exit raises :class:`subprocess.CalledProcessError`."""
    done = subprocess.run([tshark_path(), *args], capture_output=True, text=True, check=check, timeout=timeout)
    return done.stdout
