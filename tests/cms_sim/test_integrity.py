"""cms-sim's gate controller with COPS integrity (protocol.md 2.8): signed both ways, refusals as RFC 2748 says.

Against cmts-sim (real CMS, real CMTS, loopback, both connection
directions) and against the hand-driven PEP of fake_pep.py, which forges
and replays what the gate controller must refuse.  Signatures are checked
by hand (tests/cops_core/integrity_bytes.py).
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import trio
import trio.testing

from cmts_sim.config import CmtsConfig
from cmts_sim.server import CmtsServer
from cms_sim.controller import GateController
from cms_sim.pool import connect
from cms_sim.errors import ConnectError
from cms_sim.events import ConnectionLost
from cms_sim.media import profile
from cms_sim.run import Run
from cms_sim.scenario import Verdict, load_scenario
from cops_core import tls
from cops_core.codes import ClientType, ErrorCode
from cops_core.dqos import GateSetAck
from cops_core.integrity import IntegrityKey, IntegritySettings
from cops_core.messages import ClientClose, ClientOpen, KeepAlive

from ..cops_core.integrity_bytes import SECRET, integrity_of, signed_by_hand, verifies
from .fake_pep import SUBSCRIBER, FakePep

SCENARIOS = Path(__file__).parents[2] / "scenarios"
KEY = f"1:{SECRET.hex()}"
SETTINGS = IntegritySettings((IntegrityKey(1, SECRET),))
SPECS = profile("G711-20").gate_specs(SUBSCRIBER, "10.1.1.20")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def started_cmts(nursery, **settings) -> CmtsServer:
    """cmts-sim on loopback; ``server.ends`` collects why each of its connections ended."""
    server = CmtsServer(CmtsConfig(listen=["127.0.0.1:0"], **settings))
    server.ends = []
    server.on_connection = lambda peer, event, why: server.ends.append(why) if event == "closed" else None
    await nursery.start(server.serve)
    return server


def target(server: CmtsServer) -> str:
    return "%s:%d" % server.addresses[0]


# --- signed end to end -------------------------------------------------------------------------------------


async def test_a_call_runs_signed_end_to_end_whichever_side_dials(nursery, autojump_clock):
    scenario = load_scenario(SCENARIOS / "basic_call.yaml")
    [dialled] = await Run([(scenario, {})], port=0, integrity=SETTINGS).run()  # the embedded CMTS, given the key
    port = free_port()
    server = CmtsServer(CmtsConfig(listen=[], connect=[f"127.0.0.1:{port}"], modem={"mode": "auto", "hold": 0.5},
                                   integrity={"keys": [KEY]}))
    await nursery.start(server.serve)
    [dialled_in] = await Run([(scenario, {})], listen=f"127.0.0.1:{port}", mta=True, integrity=SETTINGS).run()
    for result in (dialled, dialled_in):
        assert result.verdict is Verdict.PASSED, result.failures
        first = result.trace[0]
        assert type(first.message) is ClientOpen and first.message.client_type == ClientType.CONNECTION
        assert all(verifies(record.data) for record in result.trace)  # every message, both ways
        assert {record.outgoing for record in result.trace} == {True, False}
        assert not result.findings  # the client-type 0 exchange is RFC 2748 4.1, not a wrong client-type


async def test_a_gate_controller_that_does_not_require_integrity_talks_unsigned_to_a_cmts_without_it(
        nursery, autojump_clock):
    server = await started_cmts(nursery)
    records = []
    async with connect(target(server), integrity=SETTINGS) as gc:
        gc.add_tap(records.append)
        assert type(await gc.gate_set(SUBSCRIBER, SPECS)) is GateSetAck
    assert records and not any(integrity_of(record.data) for record in records)


# --- what the gate controller refuses -----------------------------------------------------------------------


async def lost(gc: GateController) -> ConnectionLost:
    with trio.fail_after(60):
        async for event in gc.events():
            if type(event) is ConnectionLost:
                return event


async def the_peps_client_close(pep: FakePep) -> ClientClose:
    """The Client-Close the gate controller sent the PEP, which the PEP's own connection has verified."""
    await pep.ended.wait()
    [close] = pep.received_of(ClientClose)
    assert verifies(pep.transport.connection.last_frame)  # RFC 2748 4.1: "containing a valid Integrity object"
    return close


@pytest.mark.parametrize("forgery", ["bogus digest", "wrong key id", "replayed"])
async def test_a_forged_or_replayed_message_from_the_cmts_gets_client_close_14_on_client_type_0(
        nursery, autojump_clock, forgery):
    pep = FakePep(integrity=SETTINGS)
    host, port = await pep.listen(nursery)
    async with connect(f"{host}:{port}", integrity=SETTINGS, client_close_on_exit=False) as gc:
        connection = pep.transport.connection
        if forgery == "bogus digest":
            data = bytearray(connection.send(KeepAlive(), trio.current_time()))
            data[-1] ^= 0x01
        elif forgery == "wrong key id":
            data = signed_by_hand(KeepAlive().encode(), 9, connection.integrity.sent + 1, b"a key cms-sim lacks")
        else:
            data = connection.send(KeepAlive(), trio.current_time())
            await pep.send_raw(data)
            with trio.fail_after(60):
                while not pep.received_of(KeepAlive):  # the genuine one is echoed; its copy is not
                    await trio.sleep(0.1)
        await pep.send_raw(bytes(data))
        event = await lost(gc)
    assert "integrity: " in event.reason
    close = await the_peps_client_close(pep)
    assert (close.client_type, close.error.code) == (ClientType.CONNECTION, ErrorCode.AUTHENTICATION_FAILURE)


async def test_a_message_without_the_integrity_object_from_the_cmts_gets_client_close_15(nursery, autojump_clock):
    pep = FakePep(integrity=SETTINGS)
    host, port = await pep.listen(nursery)
    async with connect(f"{host}:{port}", integrity=SETTINGS, client_close_on_exit=False) as gc:
        await pep.send_raw(KeepAlive().encode())
        assert "no Integrity object" in (await lost(gc)).reason
    close = await the_peps_client_close(pep)
    assert (close.client_type, close.error) == (0, (ErrorCode.AUTHENTICATION_REQUIRED, 16 << 8 | 1))


async def test_a_gate_controller_that_requires_integrity_refuses_a_cmts_without_it(nursery, autojump_clock):
    server = await started_cmts(nursery)
    required = IntegritySettings(SETTINGS.keys, required=True)
    with pytest.raises(ConnectError, match="integrity is required, and the PEP opened without"):
        async with connect(target(server), integrity=required):
            pass
    await trio.testing.wait_all_tasks_blocked()
    assert "it sent Client-Close (error 15 authentication required)" in server.ends[-1]


@pytest.mark.parametrize(("ours", "says", "cmts_hears"), [
    (None, "asked for COPS integrity \\(RFC 2748 4.1\\) and this gate controller has no integrity key",
     "error 15 authentication required"),
    (IntegritySettings((IntegrityKey(1, b"not the CMTS's key"),)), "the digest does not match",
     "error 14 authentication failure"),
    (IntegritySettings(SETTINGS.keys, "hmac-sha256-128"), "a digest of 12 bytes; hmac-sha256-128 makes 16",
     "error 14 authentication failure"),
], ids=["no-key", "other-secret", "other-algorithm"])
async def test_a_cmts_that_signs_differently_is_refused_in_the_security_exchange(nursery, autojump_clock, ours,
                                                                                 says, cmts_hears):
    server = await started_cmts(nursery, integrity={"keys": [KEY]})
    with pytest.raises(ConnectError, match=says):
        async with connect(target(server), integrity=ours):
            pass
    await trio.testing.wait_all_tasks_blocked()
    assert f"it sent Client-Close ({cmts_hears})" in server.ends[-1]


async def test_integrity_meeting_tls_fails_in_the_security_exchange_saying_which_each_side_wants(
        nursery, autojump_clock, pki):
    # cmts-sim asks for TLS (an Integrity object of C-Type 2); cms-sim, set for integrity, wants C-Type 1.
    server = await started_cmts(nursery, tls={"ca": pki.ca})
    with pytest.raises(ConnectError, match=r"C-Type 2 \(Integrity-TLS, RFC 4261\); integrity here is C-Type 1"):
        async with connect(target(server), integrity=SETTINGS):
            pass
    await trio.testing.wait_all_tasks_blocked()
    assert "the PDP refused StartTLS: Client-Close error 15" in server.ends[-1]
    assert "sub-code 16/1" in server.ends[-1]  # RFC 4261 4.2: the C-Type the gate controller wants
    # cmts-sim signs (C-Type 1); cms-sim, set for TLS, answers with StartTLS, which the CMTS refuses.
    server = await started_cmts(nursery, integrity={"keys": [KEY]})
    with pytest.raises(ConnectError):
        async with connect(target(server), tls=tls.pdp_context(pki.cms_cert, pki.cms_key)):
            pass
    await trio.testing.wait_all_tasks_blocked()
    assert "C-Type 2 (Integrity-TLS, RFC 4261)" in server.ends[-1]
    assert "error 15 authentication required" in server.ends[-1], server.ends
