"""The whole suite: pytester for the plugin's own tests; scenario files under tests/ are data, not test items.

The suite runs with the codec's fast path in verify mode (cops_core.fastpath): every template decode and
encode is checked against the general codec, here and in the tools the tests start as subprocesses.
"""

from __future__ import annotations

import os
from typing import Callable, NamedTuple

import pytest
import trustme

from cops_core import fastpath

from .tshark import run_tshark, tshark_path

fastpath.set_mode(os.environ.setdefault("PKTCABLE_FASTPATH", "verify"))

pytest_plugins = ["pytester"]

# Deliberately failing scenarios live here as fixtures of the tests that load them.
collect_ignore_glob = ["cms_sim/scenarios_failing/*.yaml"]


class Pki(NamedTuple):
    """PEM files for the TLS tests: a lab CA with a certificate and key for each tool, and a stranger's CA with one.

    These certificates name 127.0.0.1 and localhost, so that only the CA
    decides whether a peer is trusted; ``elsewhere`` is the lab CA's too, but
    names only gc.example.net.
    """

    ca: str
    cms_cert: str
    cms_key: str
    cmts_cert: str
    cmts_key: str
    stranger_ca: str
    stranger_cert: str
    stranger_key: str
    elsewhere_cert: str
    elsewhere_key: str


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")

    def write(blob, name: str) -> str:
        blob.write_to_path(folder / name)
        return str(folder / name)

    def issue(ca: trustme.CA, name: str, names=("127.0.0.1", "localhost")) -> tuple[str, str]:
        issued = ca.issue_cert(*names)
        return write(issued.cert_chain_pems[0], f"{name}.pem"), write(issued.private_key_pem, f"{name}.key")

    lab, stranger = trustme.CA(organization_name="lab"), trustme.CA(organization_name="stranger")
    return Pki(write(lab.cert_pem, "lab-ca.pem"), *issue(lab, "cms"), *issue(lab, "cmts"),
               write(stranger.cert_pem, "stranger-ca.pem"), *issue(stranger, "stranger"),
               *issue(lab, "elsewhere", ("gc.example.net",)))


@pytest.fixture
def tshark() -> Callable[..., str]:
    """:func:`tests.tshark.run_tshark`; without tshark the test skips (under CI fails) before it does anything."""
    tshark_path()
    return run_tshark
