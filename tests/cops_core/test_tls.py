"""COPS over TLS (RFC 4261): the StartTLS exchange in the state machine, its bytes, the contexts, and both sides
of it over real loopback sockets with trustme's certificates."""

from __future__ import annotations

import pytest
import trio

from cops_core.codes import ClientType, ErrorCode
from cops_core.connection import Connection, ConnectionClosed, Role, State
from cops_core.errors import RemoteProtocolError
from cops_core.messages import ClientAccept, ClientClose, ClientOpen, decode_message
from cops_core.tls import (
    NO_SECURITY,
    WANT_TLS,
    TlsError,
    pdp_context,
    pep_context,
    refuse,
    start_tls_accept,
    start_tls_open,
    starts_tls,
)
from cops_core.transport import CopsTransport, start_tls_as_pdp, start_tls_as_pep

from .test_connection import deliver, pair
from .test_transport import socket_pair

# --- the state machine --------------------------------------------------------------------------------------------


def test_the_starttls_exchange_leads_back_to_connected_for_the_real_client_open():
    pep, pdp = pair()
    deliver(pep, pdp, start_tls_open("CMTS"))
    assert pep.state is pdp.state is State.SECURING
    accept = deliver(pdp, pep, start_tls_accept(30))
    assert starts_tls(accept) and pep.state is pdp.state is State.CONNECTED
    assert pep.ka_interval == 0  # keep-alives start with the real Client-Accept, inside TLS
    deliver(pep, pdp, ClientOpen.new("CMTS"))
    deliver(pdp, pep, ClientAccept.new(30))
    assert pep.state is pdp.state is State.ACCEPTED and pep.ka_interval == 30


def test_a_client_type_0_client_accept_answers_only_a_client_type_0_client_open():
    pep, pdp = pair()
    deliver(pep, pdp, ClientOpen.new("CMTS"))
    pep.receive_data(start_tls_accept(30).encode(), 0.0)  # a PDP that answers as if we had asked for TLS
    with pytest.raises(RemoteProtocolError) as info:
        pep.next_event()
    assert info.value.error_code == ErrorCode.UNSUPPORTED_CLIENT_TYPE


@pytest.mark.parametrize("client_type", [ClientType.CONNECTION, ClientType.PACKETCABLE_DQOS])
def test_a_starttls_client_open_may_be_refused_with_a_client_close_of_either_client_type(client_type):
    pep, pdp = pair()
    deliver(pep, pdp, start_tls_open("CMTS"))
    close = deliver(pdp, pep, refuse(NO_SECURITY, client_type))
    assert close.error.code == ErrorCode.AUTHENTICATION_REQUIRED and pep.state is pdp.state is State.CLOSED


def test_a_pep_may_refuse_a_client_accept_without_starttls():
    pep, pdp = pair()
    deliver(pep, pdp, start_tls_open("CMTS"))
    accept = deliver(pdp, pep, ClientAccept.new(30, client_type=ClientType.CONNECTION))
    assert not starts_tls(accept) and pep.state is State.CONNECTED
    deliver(pep, pdp, refuse(WANT_TLS))
    assert pep.state is pdp.state is State.CLOSED


# --- the bytes (RFC 4261 section 4.1) -----------------------------------------------------------------------------


def test_the_starttls_client_open_is_client_type_0_with_pepid_and_integrity_tls():
    data = start_tls_open("CMTS").encode()
    assert data.hex(" ") == ("10 06 00 00 00 00 00 1c "  # OPN, client-type 0, 28 bytes
                             "00 0c 0b 01 43 4d 54 53 00 00 00 00 "  # PEPID "CMTS"
                             "00 08 10 02 00 00 00 01")  # Integrity 16/2: reserved, flags 0x0001 StartTLS
    assert starts_tls(decode_message(data))


def test_the_starttls_client_accept_is_client_type_0_with_ka_timer_and_integrity_tls():
    data = start_tls_accept(30).encode()
    assert data.hex(" ") == "10 07 00 00 00 00 00 18 00 08 0a 01 00 00 00 1e 00 08 10 02 00 00 00 01"
    assert not starts_tls(ClientAccept.new(30))  # the ordinary one


def test_refusals_carry_error_15_and_the_integrity_c_num_and_c_type_wanted():
    assert refuse(WANT_TLS).error == (ErrorCode.AUTHENTICATION_REQUIRED, 0x1002)
    assert refuse(NO_SECURITY).error == (ErrorCode.AUTHENTICATION_REQUIRED, 0x1000)


# --- contexts -----------------------------------------------------------------------------------------------------


def test_a_context_names_the_file_it_cannot_read_or_load(pki, tmp_path):
    missing = str(tmp_path / "missing.pem")
    with pytest.raises(ValueError, match=f"^{missing}: cannot read: No such file or directory$"):
        pep_context(missing)
    with pytest.raises(ValueError, match=f"^{pki.cms_key}: not a PEM CA certificate"):
        pep_context(pki.cms_key)
    with pytest.raises(ValueError, match=f"^{pki.cms_cert} and {pki.cmts_key}: not a PEM certificate and its private "
                                         r"key \(key values mismatch\)$"):
        pdp_context(pki.cms_cert, pki.cmts_key)


def test_a_key_needs_its_certificate_and_requiring_a_peer_certificate_needs_a_ca(pki):
    with pytest.raises(ValueError, match="a key needs its certificate"):
        pep_context(pki.ca, key=pki.cmts_key)
    with pytest.raises(ValueError, match="needs the CA"):
        pdp_context(pki.cms_cert, pki.cms_key, require_peer_cert=True)


# --- both sides over loopback -------------------------------------------------------------------------------------


async def negotiate(pep_context_, pdp_context_, *, server_hostname=None):
    """Run the PEP's and the PDP's side of StartTLS on one loopback connection; each side's transport and
    the TlsError it raised (None if TLS came up)."""
    pep_end, pdp_end = await socket_pair()
    pep = CopsTransport(pep_end, Connection(Role.PEP))
    pdp = CopsTransport(pdp_end, Connection(Role.PDP))
    failures = {}

    async def side(name, run):
        try:
            await run()
        except TlsError as exc:
            failures[name] = str(exc)
            if name == "pdp":
                await pdp.aclose()  # as the tools do: a side that gives up hangs up
            else:
                await pep.aclose()

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(side, "pep", lambda: start_tls_as_pep(pep, pep_context_, "CMTS", server_hostname))
            nursery.start_soon(side, "pdp", lambda: start_tls_as_pdp(pdp, pdp_context_, 30))
    return pep, pdp, failures.get("pep"), failures.get("pdp")


async def test_after_starttls_the_real_client_open_and_accept_flow_inside_tls(pki, autojump_clock):
    pep, pdp, pep_failed, pdp_failed = await negotiate(pep_context(pki.ca, check_name=False),
                                                       pdp_context(pki.cms_cert, pki.cms_key))
    assert pep_failed is pdp_failed is None
    assert isinstance(pep.stream, trio.SSLStream) and isinstance(pdp.stream, trio.SSLStream)
    await pep.send(ClientOpen.new("CMTS"))
    opened, = await pdp.receive()
    await pdp.send(ClientAccept.new(30))
    accepted, = await pep.receive()
    assert opened.pep_id == "CMTS" and accepted.ka_seconds == 30
    pep.queue(pep.connection.keepalive())
    assert pep.send_now() is False  # never a write to the socket itself, past TLS: flush() sends it
    await pep.flush()
    keepalive, = await pdp.receive()
    assert keepalive.client_type == ClientType.CONNECTION


async def test_the_pep_checks_the_name_of_the_pdp_it_dialled(pki, autojump_clock):
    _, _, pep_failed, pdp_failed = await negotiate(pep_context(pki.ca), pdp_context(pki.cms_cert, pki.cms_key),
                                                   server_hostname="gc.example.net")
    assert pep_failed == ("TLS handshake failed: certificate verify failed: Hostname mismatch, certificate is not "
                          "valid for 'gc.example.net'.")
    assert pdp_failed.startswith("TLS handshake failed: ")


async def test_a_pdp_certificate_from_another_ca_fails_on_both_sides_with_the_reason(pki, autojump_clock):
    _, _, pep_failed, pdp_failed = await negotiate(pep_context(pki.ca, check_name=False),
                                                   pdp_context(pki.stranger_cert, pki.stranger_key))
    assert pep_failed == "TLS handshake failed: certificate verify failed: unable to get local issuer certificate"
    assert pdp_failed == "TLS handshake failed: tlsv1 alert unknown ca"


async def test_a_pdp_that_requires_a_pep_certificate_refuses_a_pep_without_one(pki, autojump_clock):
    pep, _, pep_failed, pdp_failed = await negotiate(
        pep_context(pki.ca, check_name=False), pdp_context(pki.cms_cert, pki.cms_key, pki.ca, require_peer_cert=True))
    assert pdp_failed == "TLS handshake failed: peer did not return a certificate"
    # TLS 1.3: the client's handshake completes before the server judges its certificate; the verdict comes with
    # the PEP's first read, which ends the connection, and the transport keeps it.
    assert pep_failed is None
    await pep.send(ClientOpen.new("CMTS"))
    event, = await pep.receive()
    assert type(event) is ConnectionClosed and pep.tls_failure == "tlsv13 alert certificate required"


async def test_a_pep_certificate_from_the_ca_is_accepted_when_required(pki, autojump_clock):
    _, _, pep_failed, pdp_failed = await negotiate(
        pep_context(pki.ca, pki.cmts_cert, pki.cmts_key, check_name=False),
        pdp_context(pki.cms_cert, pki.cms_key, pki.ca, require_peer_cert=True))
    assert pep_failed is pdp_failed is None


async def test_a_pdp_requiring_tls_answers_a_plain_client_open_with_client_close_15(pki, autojump_clock):
    pep_end, pdp_end = await socket_pair()
    pdp = CopsTransport(pdp_end, Connection(Role.PDP))
    pep = CopsTransport(pep_end, Connection(Role.PEP))
    await pep.send(ClientOpen.new("CMTS"))
    with pytest.raises(TlsError, match="opened client-type 0x8008 without TLS"):
        await start_tls_as_pdp(pdp, pdp_context(pki.cms_cert, pki.cms_key), 30)
    close, = await pep.receive()
    assert type(close) is ClientClose and close.client_type == ClientType.PACKETCABLE_DQOS
    assert close.error == (ErrorCode.AUTHENTICATION_REQUIRED, WANT_TLS)


async def test_a_pep_is_told_when_the_pdp_refuses_starttls(pki, autojump_clock):
    pep_end, pdp_end = await socket_pair()
    pep = CopsTransport(pep_end, Connection(Role.PEP))
    await pdp_end.send_all(refuse(NO_SECURITY).encode())  # what a PDP without TLS answers (RFC 4261 5.1)
    with pytest.raises(TlsError) as info:
        await start_tls_as_pep(pep, pep_context(pki.ca), "CMTS")
    assert str(info.value) == ("the PDP refused StartTLS: Client-Close error 15 authentication required, "
                               "sub-code 16/0")
