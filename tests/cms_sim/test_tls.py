"""cms-sim over TLS (RFC 4261): the gate controller is the TLS server whichever side dialled, refuses a CMTS that
opens without TLS, tells a CMTS asking for TLS when it has none to offer, and the commands take the options."""

from __future__ import annotations

import logging
import signal
import subprocess

import pytest
import trio
from click.testing import CliRunner

from cmts_sim.config import CmtsConfig, TlsSettings
from cmts_sim.server import CmtsServer
from cms_sim.cli import main
from cms_sim.errors import ConnectError
from cms_sim.pool import GateControllerPool
from cops_core.codes import ClientType, ErrorCode
from cops_core.messages import ClientClose, ClientOpen, decode_message
from cops_core.tls import NO_SECURITY, WANT_TLS, pdp_context, start_tls_open

from .test_run_command import BASIC, _assert_tshark_clean, _cli, _env, _start_cmts


def cmts_dialling(port: int, tls: TlsSettings | None) -> CmtsServer:
    """A CMTS that dials 127.0.0.1:``port`` (RFC 2748's direction), over TLS or not."""
    return CmtsServer(CmtsConfig(listen=[], connect=[f"127.0.0.1:{port}"], tls=tls))


async def test_listening_it_refuses_a_cmts_without_tls_and_serves_the_next_one_with_it(pki, nursery, autojump_clock,
                                                                                      caplog):
    caplog.set_level(logging.INFO, "cmts_sim")
    async with GateControllerPool(tls=pdp_context(pki.cms_cert, pki.cms_key)) as pool:
        (_, port), = await pool.listen("127.0.0.1", 0)
        plain = cmts_dialling(port, None)
        nursery.start_soon(plain.serve)
        with trio.move_on_after(0.5):  # its first attempt, before it redials
            await pool.accept()
        plain_closed = [record.getMessage() for record in caplog.records if record.name == "cmts_sim"]
        nursery.start_soon(cmts_dialling(port, TlsSettings(ca=pki.ca)).serve)
        gc = await pool.accept()
        assert (await gc.gate_alloc("10.0.1.10")).gate_id
    line, = [record.getMessage() for record in caplog.records
             if record.name == "cms_sim" and record.levelno == logging.WARNING]
    assert line.endswith(": the PEP opened client-type 0x8008 without TLS; we require it (sent Client-Close "
                         "error 15 authentication required)")
    assert any(text.endswith("it sent Client-Close (error 15 authentication required)") for text in plain_closed)


async def test_without_tls_it_answers_starttls_with_client_close_15_no_security(nursery, autojump_clock):
    async with GateControllerPool() as pool:
        (_, port), = await pool.listen("127.0.0.1", 0)
        async with await trio.open_tcp_stream("127.0.0.1", port) as pep:
            await pep.send_all(start_tls_open("CMTS").encode())
            with trio.fail_after(5):
                close = decode_message(await pep.receive_some(1000))
    assert type(close) is ClientClose and close.client_type == ClientType.CONNECTION
    assert close.error == (ErrorCode.AUTHENTICATION_REQUIRED, NO_SECURITY)


async def test_dialling_a_cmts_without_tls_it_says_tls_is_required(pki, nursery, autojump_clock):
    listener, = await trio.open_tcp_listeners(0, host="127.0.0.1")
    failures = []
    failed = trio.Event()

    async def dial(pool) -> None:
        with pytest.raises(ConnectError) as info:
            await pool.connect("127.0.0.1:%d" % listener.socket.getsockname()[1])
        failures.append(str(info.value))
        failed.set()

    async with GateControllerPool(tls=pdp_context(pki.cms_cert, pki.cms_key)) as pool:
        nursery.start_soon(dial, pool)
        cmts = await listener.accept()  # a plain CMTS, played by hand: Client-Open, client-type 0x8008
        await cmts.send_all(ClientOpen.new("CMTS-PLAIN").encode())
        with trio.fail_after(5):
            close = decode_message(await cmts.receive_some(1000))
            await failed.wait()
    assert close.client_type == ClientType.PACKETCABLE_DQOS  # answering the client-type it opened, as 5.2 has it
    assert close.error == (ErrorCode.AUTHENTICATION_REQUIRED, WANT_TLS)
    assert failures == ["127.0.0.1:%d: the PEP opened client-type 0x8008 without TLS; we require it (sent "
                        "Client-Close error 15 authentication required)" % listener.socket.getsockname()[1]]


def test_run_against_the_embedded_cmts_over_tls_passes_and_captures_the_starttls(pki, tmp_path):
    pcap = tmp_path / "tls.pcap"
    result = CliRunner().invoke(main, ["run", "--tls-cert", pki.cms_cert, "--tls-key", pki.cms_key, "--tls-ca",
                                       pki.ca, "--tls-require-client-cert", "--pcap", str(pcap), str(BASIC)])
    assert result.exit_code == 0, result.output
    assert "OPN StartTLS CMTS-SIM" in result.output and "CAT StartTLS KA 30 s" in result.output
    assert "about the CMTS's protocol" not in result.output  # a client-type 0 Client-Open is RFC 4261's, no fault
    assert pcap.stat().st_size > 1000


def test_run_and_serve_in_two_processes_over_tls(pki, tmp_path, tshark):
    server, port = _start_cmts("--hold", "1", "--tls-ca", pki.ca, "--tls-cert", pki.cmts_cert, "--tls-key",
                               pki.cmts_key)
    try:
        pcap = tmp_path / "tls.pcap"
        run = subprocess.run(_cli("run", "--cmts", f"127.0.0.1:{port}", "--mta", "--pcap", str(pcap), "--tls-cert",
                                  pki.cms_cert, "--tls-key", pki.cms_key, "--tls-ca", pki.ca,
                                  "--tls-require-client-cert", str(BASIC)),
                             capture_output=True, text=True, env=_env(), timeout=60)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "OPN StartTLS" in run.stdout and "RPT Gate-Open" in run.stdout
        stranger = subprocess.run(_cli("run", "--cmts", f"127.0.0.1:{port}", "--mta", "--quiet", "--tls-cert",
                                       pki.stranger_cert, "--tls-key", pki.stranger_key, str(BASIC)),
                                  capture_output=True, text=True, env=_env(), timeout=60)
        server.send_signal(signal.SIGINT)
        out, _ = server.communicate(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
    assert stranger.returncode == 1 and "TLS handshake failed: tlsv1 alert unknown ca" in stranger.stdout
    warned = [line for line in out.splitlines() if "TLS" in line]
    assert len(warned) == 1 and warned[0].endswith(
        ": closed: TLS handshake failed: certificate verify failed: unable to get local issuer certificate"), out
    assert "Traceback" not in out and "stopped" in out
    _assert_tshark_clean(tshark, pcap, port, ["Gate Alloc", "Gate Set", "Gate Open", "Gate Close", "Gate Delete"])
