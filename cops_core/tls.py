"""COPS over TLS (RFC 4261): the StartTLS messages, and the TLS context of each side.

RFC 4261 negotiates TLS on the ordinary COPS port ("upward negotiation",
section 3).  The PEP sends a Client-Open of client-type 0 that carries the
Integrity-TLS object with the StartTLS flag; the PDP answers with a
Client-Accept of client-type 0 carrying the same object; then the PEP starts
the TLS handshake (section 5.1).  So **the PEP is the TLS client and the PDP
the TLS server, whichever of them dialled TCP**: in PacketCable, where the
gate controller dials the CMTS, the side that accepted TCP says ClientHello.
Inside TLS the PEP opens its own client-type (0x8008) as it would on plain
TCP.  A PDP that wants TLS from a PEP that opened without it answers
Client-Close, error 15 (authentication required), sub-code 16/2
(section 5.2); one that offers no security answers a StartTLS Client-Open
with error 15, sub-code 16/0 (section 5.1).

Sans-IO like the rest of the core: the messages, how to recognise them, and
the :class:`ssl.SSLContext` for each role, built from PEM files and checked
when the settings load.  :meth:`cops_core.transport.CopsTransport.start_tls`
runs the exchange and the handshake.
"""

from __future__ import annotations

import re
import ssl

from .codes import ClientType, CNum, ErrorCode, IntegrityFlag, object_subcode
from .messages import ClientAccept, ClientClose, ClientOpen
from .objects import KATimer, IntegrityTLS

STARTTLS = IntegrityTLS(IntegrityFlag.STARTTLS)
WANT_TLS = object_subcode(CNum.INTEGRITY, 2)
"""Sub-code of Client-Close error 15: Integrity-TLS is required (RFC 4261 section 4.2)."""
NO_SECURITY = object_subcode(CNum.INTEGRITY, 0)
"""Sub-code of Client-Close error 15: no security offered here (RFC 4261 section 4.2)."""


class TlsError(Exception):
    """TLS did not come up on a COPS connection; the message is one line saying why."""


def start_tls_open(pep_id: str) -> ClientOpen:
    """The PEP's StartTLS request (RFC 4261 5.1): Client-Open, client-type 0, PEPID and Integrity-TLS."""
    return ClientOpen.new(pep_id, STARTTLS, client_type=ClientType.CONNECTION)


def start_tls_accept(ka_seconds: int) -> ClientAccept:
    """The PDP's go-ahead (RFC 4261 5.1, 5.2): Client-Accept, client-type 0, KA Timer and Integrity-TLS.

    The KA Timer is mandatory in a Client-Accept; keep-alives are the
    connection's, so it carries the same interval the real one will.
    """
    return ClientAccept((KATimer(ka_seconds), STARTTLS), ClientType.CONNECTION)


def refuse(subcode: int, client_type: int = ClientType.CONNECTION) -> ClientClose:
    """Client-Close error 15 (authentication required) with ``subcode``: :data:`WANT_TLS` or :data:`NO_SECURITY`."""
    return ClientClose.new(ErrorCode.AUTHENTICATION_REQUIRED, subcode, client_type=client_type)


def starts_tls(message) -> bool:
    """True for a client-type 0 message whose Integrity-TLS object has the StartTLS flag."""
    return message.client_type == ClientType.CONNECTION and any(
        type(obj) is IntegrityTLS and obj.flags & IntegrityFlag.STARTTLS for obj in message.objects)


# --- contexts ---------------------------------------------------------------------------------------------------


def pep_context(ca: str, cert: str | None = None, key: str | None = None, *, check_name: bool = True) -> ssl.SSLContext:
    """The PEP's TLS client context: the PDP's certificate must chain to ``ca`` (RFC 4261 section 7.2).

    ``cert`` (and ``key``, unless the certificate file holds it) is shown to a
    PDP that checks PEPs (section 7.1).  ``check_name``: the certificate
    must name the host dialled (section 7.2); a PDP that dialled us has no
    name we expect, so it is checked against the CA alone.  Raises
    ValueError with one line naming the file at fault.
    """
    # Not create_default_context: only the CA given vouches for a PDP, never the system's trust store.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _load_ca(context, ca)
    if cert is not None or key is not None:
        _load_identity(context, cert, key)
    context.check_hostname = check_name
    return context


def pdp_context(cert: str, key: str | None = None, ca: str | None = None, *,
                require_peer_cert: bool = False) -> ssl.SSLContext:
    """The PDP's TLS server context: its certificate, and the CA a PEP's certificate must chain to.

    With ``ca`` a PEP that shows a certificate must have one from it; with
    ``require_peer_cert`` too, a PEP without one is refused (the "access
    controlled" PEPs of RFC 4261 section 7.1).  Raises ValueError with one
    line naming the file or setting at fault.
    """
    if require_peer_cert and ca is None:
        raise ValueError("requiring the PEP's certificate needs the CA it must chain to")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _load_identity(context, cert, key)
    if ca is not None:
        _load_ca(context, ca)
        context.verify_mode = ssl.CERT_REQUIRED if require_peer_cert else ssl.CERT_OPTIONAL
    return context


def check_ca(ca: str) -> None:
    """ValueError, one line, unless ``ca`` is a readable PEM file of CA certificates."""
    _load_ca(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), ca)


def check_identity(cert: str | None, key: str | None) -> None:
    """ValueError, one line, unless ``cert`` and ``key`` (None: in the certificate file) load as a pair."""
    _load_identity(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), cert, key)


def _load_ca(context: ssl.SSLContext, ca: str) -> None:
    _readable(ca)
    try:
        context.load_verify_locations(cafile=ca)
    except ssl.SSLError as exc:
        raise ValueError(f"{ca}: not a PEM CA certificate ({describe_ssl_error(exc)})") from None


def _load_identity(context: ssl.SSLContext, cert: str | None, key: str | None) -> None:
    if cert is None:
        raise ValueError("a key needs its certificate: give the certificate too")
    _readable(cert)
    if key is not None:
        _readable(key)
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        reason = describe_ssl_error(exc)
        if key is None:
            raise ValueError(f"{cert}: not a PEM certificate with its private key in the same file ({reason}); "
                             "give the key file too") from None
        raise ValueError(f"{cert} and {key}: not a PEM certificate and its private key ({reason})") from None


def _readable(path: str) -> None:
    try:
        with open(path, "rb") as file:
            file.read(1)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from None


# --- what went wrong ----------------------------------------------------------------------------------------------

_SSL_NOISE = re.compile(r"^\[[A-Z0-9_]+(?:: [A-Z0-9_]+)?\] | \(_ssl\.c:\d+\)$")


def describe_ssl_error(exc: BaseException) -> str:
    """An SSL error as one line a person reads ("certificate verify failed: unable to get local issuer
    certificate"), without OpenSSL's library tag and source line."""
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return f"certificate verify failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
        return _SSL_NOISE.sub("", text)
    return str(exc) or type(exc).__name__


def handshake_failure(exc: BaseException) -> str:
    """Why a TLS handshake failed, from the error trio raised (its cause is the SSL error, if any)."""
    cause = exc.__cause__ if isinstance(exc.__cause__, ssl.SSLError) else exc
    if isinstance(cause, ssl.SSLEOFError) or (cause is exc and not isinstance(exc, ssl.SSLError)):
        return "the peer hung up during the TLS handshake"
    return describe_ssl_error(cause)
