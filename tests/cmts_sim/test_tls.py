"""cmts-sim over TLS (RFC 4261), against cms-sim's real gate controller: the CMTS asks for TLS and is the TLS
client whichever side dialled; a failure ends that connection with one log line naming the peer and the reason,
and the CMTS goes on serving the others."""

from __future__ import annotations

import logging

import pytest
import trio

from cmts_sim.config import CmtsConfig, TlsSettings
from cmts_sim.server import CmtsServer
from cms_sim.errors import ConnectError
from cms_sim.pool import GateControllerPool
from cops_core.codes import ClientType
from cops_core.tls import pdp_context

SUBSCRIBER = "10.0.1.10"


def tls_cmts(pki, *, cert: bool = True, **config) -> CmtsServer:
    """A CMTS on 127.0.0.1 that speaks COPS over TLS, trusting the lab CA (with the lab's certificate, or none)."""
    tls = TlsSettings(ca=pki.ca, cert=pki.cmts_cert if cert else None, key=pki.cmts_key if cert else None)
    return CmtsServer(CmtsConfig(**{"listen": ["127.0.0.1:0"], **config}, tls=tls))


def warnings(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.name == "cmts_sim" and record.levelno == logging.WARNING]


async def test_a_gate_controller_that_dials_in_gets_starttls_then_gate_control_inside_tls(pki, nursery, autojump_clock):
    server = tls_cmts(pki)
    await nursery.start(server.serve)
    records = []
    async with GateControllerPool(tls=pdp_context(pki.cms_cert, pki.cms_key)) as pool:
        pool.add_tap(records.append)
        gc = await pool.connect("127.0.0.1:%d" % server.addresses[0][1])
        ack = await gc.gate_alloc(SUBSCRIBER)
        session, = server.sessions
        assert isinstance(session.transport.stream, trio.SSLStream) and ack.gate_id
    opened = [(record.outgoing, record.message.OPCODE.name, record.message.client_type) for record in records[:4]]
    assert opened == [(False, "OPN", ClientType.CONNECTION), (True, "CAT", ClientType.CONNECTION),  # in clear
                      (False, "OPN", ClientType.PACKETCABLE_DQOS), (True, "CAT", ClientType.PACKETCABLE_DQOS)]


async def test_dialling_a_gate_controller_it_is_the_tls_client_too(pki, nursery, autojump_clock):
    async with GateControllerPool(tls=pdp_context(pki.cms_cert, pki.cms_key)) as pool:
        (host, port), = await pool.listen("127.0.0.1", 0)
        server = tls_cmts(pki, listen=[], connect=[f"{host}:{port}"])
        nursery.start_soon(server.serve)
        gc = await pool.accept()
        assert (await gc.gate_alloc(SUBSCRIBER)).gate_id
        session, = server.sessions
        assert session.dialled == "127.0.0.1" and isinstance(session.transport.stream, trio.SSLStream)


async def test_a_gate_controller_it_dials_must_be_named_in_its_certificate(pki, nursery, autojump_clock, caplog):
    # RFC 4261 7.2: the PEP checks the PDP it dialled against the name it dialled; this certificate is from the lab
    # CA but names only gc.example.net.
    async with GateControllerPool(tls=pdp_context(pki.elsewhere_cert, pki.elsewhere_key)) as pool:
        (host, port), = await pool.listen("127.0.0.1", 0)
        server = tls_cmts(pki, listen=[], connect=[f"{host}:{port}"])
        nursery.start_soon(server.serve)
        with trio.move_on_after(0.5):  # the first attempt, before the redial
            await pool.accept()
        assert server.sessions == set()
    assert warnings(caplog)[0] == (f"{host}:{port}: closed: TLS handshake failed: certificate verify failed: "
                                   "IP address mismatch, certificate is not valid for '127.0.0.1'.")


async def test_a_gate_controller_that_dialled_in_is_vouched_for_by_the_ca_alone(pki, nursery, autojump_clock):
    server = tls_cmts(pki)
    await nursery.start(server.serve)
    async with GateControllerPool(tls=pdp_context(pki.elsewhere_cert, pki.elsewhere_key)) as pool:
        gc = await pool.connect("127.0.0.1:%d" % server.addresses[0][1])
        assert (await gc.gate_alloc(SUBSCRIBER)).gate_id


async def connect_fails(port: int, **options) -> str:
    """Why a gate controller with these options cannot open gate control with the CMTS on ``port``."""
    async with GateControllerPool(**options) as pool:
        with pytest.raises(ConnectError) as info:
            await pool.connect(f"127.0.0.1:{port}")
    return str(info.value)


def a_session_closed(server: CmtsServer) -> trio.Event:
    """Set once the CMTS has ended (and logged) a session: its side of a failure may come after the peer's."""
    closed = trio.Event()
    server.on_connection = lambda peer, event, why: closed.set() if event == "closed" else None
    return closed


async def still_serves(pki, server: CmtsServer) -> None:
    """A gate controller with the lab's certificate still gets gate control: one failure took nothing else down."""
    async with GateControllerPool(tls=pdp_context(pki.cms_cert, pki.cms_key)) as pool:
        gc = await pool.connect("127.0.0.1:%d" % server.addresses[0][1])
        assert (await gc.gate_alloc(SUBSCRIBER)).gate_id


async def test_a_gate_controller_certificate_from_another_ca_is_one_log_line_and_the_cmts_serves_on(
        pki, nursery, autojump_clock, caplog):
    server = tls_cmts(pki)
    await nursery.start(server.serve)
    closed = a_session_closed(server)
    why = await connect_fails(server.addresses[0][1], tls=pdp_context(pki.stranger_cert, pki.stranger_key))
    assert why.endswith(": TLS handshake failed: tlsv1 alert unknown ca")
    with trio.fail_after(10):
        await closed.wait()
    line, = warnings(caplog)
    assert line.startswith("127.0.0.1:") and line.endswith(
        ": closed: TLS handshake failed: certificate verify failed: unable to get local issuer certificate")
    await still_serves(pki, server)


async def test_a_gate_controller_without_tls_refuses_starttls_and_says_so(pki, nursery, autojump_clock, caplog):
    server = tls_cmts(pki)
    await nursery.start(server.serve)
    closed = a_session_closed(server)
    why = await connect_fails(server.addresses[0][1])
    assert why.endswith("asked for TLS (RFC 4261 StartTLS) and this gate controller has no TLS settings")
    with trio.fail_after(10):
        await closed.wait()
    line, = warnings(caplog)
    assert line.endswith(": closed: the PDP refused StartTLS: Client-Close error 15 authentication required, "
                         "sub-code 16/0")
    await still_serves(pki, server)


async def test_a_gate_controller_requiring_a_cmts_certificate_refuses_one_without(pki, nursery, autojump_clock,
                                                                                  caplog):
    server = tls_cmts(pki, cert=False)
    await nursery.start(server.serve)
    closed = a_session_closed(server)
    why = await connect_fails(server.addresses[0][1],
                              tls=pdp_context(pki.cms_cert, pki.cms_key, pki.ca, require_peer_cert=True))
    assert why.endswith(": TLS handshake failed: peer did not return a certificate")
    with trio.fail_after(10):
        await closed.wait()
    line, = warnings(caplog)  # TLS 1.3: the verdict reaches the CMTS with its first read after the handshake
    assert line.endswith(": closed: TLS: tlsv13 alert certificate required")


async def test_a_peer_that_starts_tls_without_starttls_is_one_log_line(pki, nursery, autojump_clock, caplog):
    server = tls_cmts(pki)
    await nursery.start(server.serve)
    closed = a_session_closed(server)
    async with await trio.open_tcp_stream(*server.addresses[0]) as peer:
        await peer.receive_some(1000)  # the StartTLS Client-Open
        await peer.send_all(bytes.fromhex("16030100a5010000a10303"))  # a ClientHello, as implicit TLS would send
        with trio.fail_after(5):
            while await peer.receive_some(1000):  # Client-Close (error 15), then the CMTS hangs up
                pass
    with trio.fail_after(10):
        await closed.wait()
    line, = warnings(caplog)
    assert "closed: the PDP did not answer StartTLS as RFC 4261 has it: " in line
    await still_serves(pki, server)


async def test_the_settings_name_the_file_at_fault(pki, tmp_path):
    missing = str(tmp_path / "missing.pem")
    with pytest.raises(ValueError, match=f"ca\n  Value error, {missing}: cannot read: No such file or directory"):
        TlsSettings(ca=missing)
    with pytest.raises(ValueError, match="key\n  Value error, a key needs its certificate"):
        TlsSettings(ca=pki.ca, key=pki.cmts_key)
    with pytest.raises(ValueError, match="not a PEM certificate and its private key"):
        TlsSettings(ca=pki.ca, cert=pki.cmts_cert, key=pki.cms_key)
