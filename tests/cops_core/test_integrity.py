"""COPS message integrity (cops_core.integrity, RFC 2748 2.2.16 and 4.1): what each side signs, checks and refuses.

The expected bytes are laid out here by hand from the RFC, and every digest is
computed here with the standard library's ``hmac``, independently of the code
under test.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import random
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cops_core.codes import ClientType, ErrorCode
from cops_core.connection import Connection, Role, State
from cops_core.dqos import GateSet, GateSetAck, GateSpec, decision_for, packed_decision, packed_report, report_for
from cops_core.errors import DecodeError, IntegrityError, LocalProtocolError
from cops_core.integrity import ALGORITHMS, Integrity, IntegrityKey, IntegritySettings, KeyedDigest, Phase
from cops_core.messages import ClientAccept, ClientClose, ClientOpen, Decision, KeepAlive, Request, decode_message
from cops_core.objects import Context, Handle, IntegrityHMAC

from .integrity_bytes import SECRET, hmac_md5_96, signed_by_hand
from .strategies import any_message

KEY = IntegrityKey(1, SECRET)
MD5 = IntegritySettings((KEY,))
HANDLE = Handle.from_int(1)
MTA = ipaddress.IPv4Address("10.0.1.10")
FAR = ipaddress.IPv4Address("10.1.1.20")
SPEC = GateSpec(direction=0, protocol=17, flags=0, session_class=1, source_ip=FAR, destination_ip=MTA, source_port=0,
                destination_port=16384, ds_field=0xB8, t1=250, t7=200, t8=0, token_bucket_rate=10000.0,
                token_bucket_size=200.0, peak_data_rate=10000.0, minimum_policed_unit=200, maximum_packet_size=200,
                rate=10000.0, slack_term=800)


def deliver(sender: Connection, receiver: Connection, message, now: float = 0.0):
    data = sender.send(message, now)
    receiver.receive_data(data, now)
    return receiver.next_event()


def refused(receiver: Connection, data: bytes) -> IntegrityError:
    receiver.receive_data(data, 0.0)
    with pytest.raises(IntegrityError) as info:
        receiver.next_event()
    return info.value


def secured(pep_settings: IntegritySettings = MD5, pdp_settings: IntegritySettings = MD5):
    """A PEP and a PDP through the client-type 0 exchange, the DQoS OPN and CAT, and the REQ."""
    pep, pdp = Connection(Role.PEP, integrity=pep_settings), Connection(Role.PDP, integrity=pdp_settings)
    deliver(pep, pdp, ClientOpen.new("CMTS-1", client_type=ClientType.CONNECTION))
    deliver(pdp, pep, ClientAccept.new(30, client_type=ClientType.CONNECTION))
    deliver(pep, pdp, ClientOpen.new("CMTS-1"))
    deliver(pdp, pep, ClientAccept.new(30))
    deliver(pep, pdp, Request.new(HANDLE))
    return pep, pdp


# --- the algorithms -------------------------------------------------------------------------------------


def test_hmac_md5_96_is_rfc_2202s_hmac_md5_cut_to_96_bits():
    # RFC 2202 test case 2: HMAC-MD5("Jefe", "what do ya want for nothing?") = 750c783e6ab0b503eaa86e310a5db738
    assert KeyedDigest(ALGORITHMS["hmac-md5-96"], b"Jefe")(b"what do ya want for nothing?") \
        == bytes.fromhex("750c783e6ab0b503eaa86e31")


def test_hmac_sha256_128_is_rfc_4231s_hmac_sha256_cut_to_128_bits():
    # RFC 4231 test case 2: HMAC-SHA-256("Jefe", "what do ya want for nothing?") = 5bdcc146bf60754e6a042426089575c7...
    assert KeyedDigest(ALGORITHMS["hmac-sha256-128"], b"Jefe")(b"what do ya want for nothing?") \
        == bytes.fromhex("5bdcc146bf60754e6a042426089575c7")


# --- what goes on the wire ------------------------------------------------------------------------------


def test_the_pep_opens_with_a_signed_client_type_0_client_open():
    pep = Connection(Role.PEP, integrity=MD5)
    data = pep.send(ClientOpen.new("CMTS-1", client_type=ClientType.CONNECTION), 0.0)
    initial = pep.integrity.received  # the number the PEP chose for the PDP to count up from
    pepid = struct.pack("!HBB", 12, 11, 1) + b"CMTS-1\0\0"  # PEPID 11/1, NUL-terminated and padded
    head = struct.pack("!BBHI", 0x10, 6, 0, 8 + 12 + 24) + pepid + struct.pack("!HBBII", 24, 16, 1, 1, initial)
    assert data == head + hmac_md5_96(SECRET, head)  # the digest covers everything up to the sequence number
    assert pep.state is State.SECURING and pep.integrity.phase is Phase.OFFERED


def test_each_side_counts_up_from_the_number_the_other_chose():
    pep, pdp = Connection(Role.PEP, integrity=MD5), Connection(Role.PDP, integrity=MD5)
    opening = decode_message(pep.send(ClientOpen.new("CMTS-1", client_type=0), 0.0))
    pdp.receive_data(opening.encode(), 0.0)
    pdp.next_event()
    accepting = decode_message(pdp.send(ClientAccept.new(30, client_type=0), 0.0))
    pep.receive_data(accepting.encode(), 0.0)
    pep.next_event()
    for_the_pdp, for_the_pep = opening.objects[-1].sequence, accepting.objects[-1].sequence
    # RFC 2748 4.1: the PEP's messages carry the PDP's number plus one, two ...; the PDP's the PEP's plus one ...
    first = decode_message(pep.send(ClientOpen.new("CMTS-1"), 0.0)).objects[-1]
    second = decode_message(pep.send(ClientClose.new(ErrorCode.SHUTTING_DOWN), 0.0)).objects[-1]
    assert (first.sequence, second.sequence) == (for_the_pep + 1 & 0xFFFFFFFF, for_the_pep + 2 & 0xFFFFFFFF)
    assert decode_message(pdp.send(ClientClose.new(ErrorCode.SHUTTING_DOWN), 0.0)).objects[-1].sequence \
        == for_the_pdp + 1 & 0xFFFFFFFF
    assert type(first) is IntegrityHMAC and first.key_id == 1 and len(first.digest) == 12


def test_every_message_after_the_exchange_is_signed_and_reaches_the_peer_without_its_integrity_object():
    pep, pdp = secured()
    keepalive = pep.send(KeepAlive(), 0.0)
    expected = pep.integrity.sent
    assert keepalive == signed_by_hand(KeepAlive().encode(), 1, expected)
    pdp.receive_data(keepalive, 0.0)
    assert pdp.next_event() == KeepAlive()  # the caller never sees an Integrity object
    assert pdp.last_frame == keepalive  # a trace keeps the bytes as they came


def test_a_gate_command_with_pre_packed_bytes_is_signed_and_decoded_by_the_fast_path():
    pep, pdp = secured()
    gate_set = GateSet(0x1234, MTA, (SPEC,), activity_count=4)
    decision, data = decision_for(HANDLE, gate_set), packed_decision(HANDLE, gate_set)
    assert not pdp.send_gate_traffic(data, HANDLE.value)  # signed: only send, with the message, may take it
    sent = pdp.send(decision, 0.0, data)
    assert sent == signed_by_hand(data, 1, pdp.integrity.sent)
    pep.receive_data(sent, 0.0)
    assert pep.next_event() == decision
    ack = GateSetAck(0x1234, 0xA001, MTA, 4)
    report, data = report_for(HANDLE, ack), packed_report(HANDLE, ack)
    assert not pep.send_gate_traffic(data, HANDLE.value)
    sent = pep.send(report, 0.0, data)
    assert sent == signed_by_hand(data, 1, pep.integrity.sent)
    pdp.receive_data(sent, 0.0)
    assert pdp.next_event() == report


def test_a_malformed_but_authentic_message_is_a_decode_error_and_still_counts_in_the_sequence():
    pep, pdp = secured()
    no_flags = Decision((HANDLE, Context(8)), ClientType.PACKETCABLE_DQOS).encode()  # a Context without its Flags
    pdp.integrity.sent += 1
    data = signed_by_hand(no_flags, 1, pdp.integrity.sent)
    pep.receive_data(data, 0.0)
    with pytest.raises(DecodeError) as info:
        pep.next_event()
    assert info.value.frame == data  # the evidence as it came, Integrity object and all
    assert deliver(pdp, pep, KeepAlive(solicited=True)) == KeepAlive(solicited=True)  # the next number follows it


def test_sequence_numbers_go_from_0xffffffff_to_0():
    pep, pdp = secured()
    pep.integrity.sent = pdp.integrity.received = 0xFFFFFFFE
    for expected in (0xFFFFFFFF, 0, 1):
        data = pep.send(KeepAlive(), 0.0)
        assert data == signed_by_hand(KeepAlive().encode(), 1, expected)
        pdp.receive_data(data, 0.0)
        assert pdp.next_event() == KeepAlive()


def test_hmac_sha256_128_makes_a_16_byte_digest():
    settings = IntegritySettings((KEY,), "hmac-sha256-128")
    pep, pdp = secured(settings, settings)
    data = pep.send(KeepAlive(), 0.0)
    head = KeepAlive().encode()[:4] + struct.pack("!I", 8 + 28) + struct.pack("!HBBII", 28, 16, 1, 1,
                                                                            pep.integrity.sent)
    assert data == head + hmac.new(SECRET, head, hashlib.sha256).digest()[:16]
    pdp.receive_data(data, 0.0)
    assert pdp.next_event() == KeepAlive()


def test_any_configured_key_is_accepted_and_the_first_signs():
    rotated = IntegritySettings((IntegrityKey(2, b"next key"), KEY))
    pep, pdp = secured(rotated, IntegritySettings((KEY, IntegrityKey(2, b"next key"))))
    assert pdp.integrity.key_id == 2  # the PEP signs with its first key, which the PDP also has
    assert pep.integrity.key_id == 1
    assert deliver(pep, pdp, KeepAlive()) == KeepAlive()


# --- what is refused, and how -----------------------------------------------------------------------------


def test_a_bogus_digest_is_an_authentication_failure_closed_on_client_type_0():
    pep, pdp = secured()
    data = bytearray(pep.send(KeepAlive(), 0.0))
    data[-1] ^= 0x01
    error = refused(pdp, bytes(data))
    assert (error.error_code, error.client_type) == (ErrorCode.AUTHENTICATION_FAILURE, ClientType.CONNECTION)
    assert "digest does not match" in error.reason
    assert error.frame == bytes(data) and type(error.message) is KeepAlive  # the evidence, for a trace


def test_an_unknown_key_id_is_an_authentication_failure():
    pep, pdp = secured()
    sequence = (pep.integrity.sent + 1) & 0xFFFFFFFF
    error = refused(pdp, signed_by_hand(KeepAlive().encode(), 7, sequence, b"a key the PDP does not have"))
    assert error.error_code == ErrorCode.AUTHENTICATION_FAILURE and "unknown Key ID 7" in error.reason


def test_a_replayed_message_is_an_authentication_failure():
    pep, pdp = secured()
    data = pep.send(KeepAlive(), 0.0)
    pdp.receive_data(data, 0.0)
    pdp.next_event()
    error = refused(pdp, data)
    assert error.error_code == ErrorCode.AUTHENTICATION_FAILURE and "replayed" in error.reason


def test_a_message_from_further_ahead_is_refused_too():
    pep, pdp = secured()
    pep.send(KeepAlive(), 0.0)  # never delivered
    error = refused(pdp, pep.send(KeepAlive(), 0.0))
    assert error.error_code == ErrorCode.AUTHENTICATION_FAILURE and "expected" in error.reason


def test_a_message_without_integrity_once_negotiated_is_authentication_required():
    pep, pdp = secured()
    error = refused(pep, KeepAlive(solicited=True).encode())
    assert error.error_code == ErrorCode.AUTHENTICATION_REQUIRED
    assert error.error_subcode == 16 << 8 | 1  # the object wanted: C-Num 16, C-Type 1 (RFC 4261 4.2)


def test_a_digest_of_another_length_is_an_authentication_failure():
    pep = Connection(Role.PEP, integrity=IntegritySettings((KEY,), "hmac-sha256-128"))
    pdp = Connection(Role.PDP, integrity=MD5)
    error = refused(pdp, pep.send(ClientOpen.new("CMTS-1", client_type=0), 0.0))
    assert error.error_code == ErrorCode.AUTHENTICATION_FAILURE
    assert "a digest of 16 bytes; hmac-md5-96 makes 12" in error.reason


def test_a_starttls_to_a_side_set_for_integrity_is_told_which_integrity_it_wants():
    pdp = Connection(Role.PDP, integrity=MD5)
    tls = struct.pack("!HBBHH", 8, 16, 2, 0, 1)  # RFC 4261's Integrity-TLS, C-Type 2, StartTLS
    opening = ClientOpen.new("CMTS-1", client_type=0).encode()
    error = refused(pdp, opening[:4] + struct.pack("!I", len(opening) + 8) + opening[8:] + tls)
    # RFC 4261 4.2: Authentication required, sub-code C-Num 16 and the C-Type this side uses, 1 (HMAC).
    assert (error.error_code, error.error_subcode) == (ErrorCode.AUTHENTICATION_REQUIRED, 16 << 8 | 1)
    assert "C-Type 2 (Integrity-TLS, RFC 4261)" in error.reason


def test_a_pdp_that_requires_integrity_refuses_a_pep_that_opens_without_it():
    pdp = Connection(Role.PDP, integrity=IntegritySettings((KEY,), required=True))
    error = refused(pdp, ClientOpen.new("CMTS-1").encode())
    assert (error.error_code, error.client_type) == (ErrorCode.AUTHENTICATION_REQUIRED, ClientType.CONNECTION)
    assert "without the client-type 0 security exchange" in error.reason


def test_the_client_close_refusing_the_negotiation_is_unsigned_and_after_it_signed():
    pdp = Connection(Role.PDP, integrity=IntegritySettings((KEY,), required=True))
    refused(pdp, ClientOpen.new("CMTS-1").encode())
    close = ClientClose.new(ErrorCode.AUTHENTICATION_REQUIRED, 16 << 8 | 1, client_type=0)
    assert pdp.send(close, 0.0) == close.encode()  # RFC 2748 4.1: it need not carry an Integrity object
    pep, pdp = secured()
    assert deliver(pep, pdp, KeepAlive()) == KeepAlive()
    refused(pdp, pdp.last_frame)  # the same again: a replay
    close = ClientClose.new(ErrorCode.AUTHENTICATION_FAILURE, client_type=0)
    assert pdp.send(close, 0.0) == signed_by_hand(close.encode(), 1, pdp.integrity.sent)  # "a valid Integrity object"


def test_a_pdp_that_does_not_require_integrity_serves_an_unsigned_pep_unsigned():
    pep, pdp = Connection(Role.PEP), Connection(Role.PDP, integrity=MD5)
    assert deliver(pep, pdp, ClientOpen.new("CMTS-1")) == ClientOpen.new("CMTS-1")
    assert pdp.send(ClientAccept.new(30), 0.0) == ClientAccept.new(30).encode()
    assert pdp.integrity.phase is Phase.UNSIGNED


def test_a_pep_goes_on_unsigned_when_the_pdp_accepts_without_integrity_unless_it_requires_it():
    for required in (False, True):
        pep = Connection(Role.PEP, integrity=IntegritySettings((KEY,), required=required))
        pep.send(ClientOpen.new("CMTS-1", client_type=0), 0.0)
        pep.receive_data(ClientAccept.new(30, client_type=0).encode(), 0.0)
        if required:
            with pytest.raises(IntegrityError) as info:
                pep.next_event()
            assert info.value.error_code == ErrorCode.AUTHENTICATION_REQUIRED
        else:
            assert pep.next_event() == ClientAccept.new(30, client_type=0)
            assert pep.send(ClientOpen.new("CMTS-1"), 0.0) == ClientOpen.new("CMTS-1").encode()
            assert pep.integrity.phase is Phase.UNSIGNED and pep.state is State.OPENING  # the DQoS Client-Open


# --- the client-type 0 exchange in the state machine -------------------------------------------------------


def test_a_pdp_without_integrity_leaves_the_signed_client_type_0_client_open_to_its_caller():
    pep, pdp = Connection(Role.PEP, integrity=MD5), Connection(Role.PDP)
    pdp.receive_data(pep.send(ClientOpen.new("CMTS-1", client_type=0), 0.0), 0.0)
    opening = pdp.next_event()  # the caller offers what it has, or refuses (cms-sim: Error 15, sub-code 16/0)
    assert opening.client_type == 0 and type(opening.objects[-1]) is IntegrityHMAC and pdp.state is State.SECURING


def test_a_client_type_0_client_close_ends_the_connection_either_way():
    pep, pdp = secured()
    assert deliver(pdp, pep, ClientClose.new(ErrorCode.AUTHENTICATION_FAILURE, client_type=0)).client_type == 0
    assert pep.state is pdp.state is State.CLOSED
    plain_pep, plain_pdp = Connection(Role.PEP), Connection(Role.PDP)  # no integrity: still a Client-Close
    deliver(plain_pep, plain_pdp, ClientOpen.new("CMTS-1"))
    deliver(plain_pdp, plain_pep, ClientClose.new(ErrorCode.AUTHENTICATION_REQUIRED, client_type=0))
    assert plain_pep.state is State.CLOSED


def test_security_is_negotiated_once_and_before_the_client_types_own_client_open():
    pep, pdp = secured()
    with pytest.raises(LocalProtocolError):
        pep.send(ClientOpen.new("CMTS-1", client_type=0), 0.0)  # a second one
    late = Connection(Role.PEP, integrity=MD5)
    late.send(ClientOpen.new("CMTS-1"), 0.0)
    with pytest.raises(LocalProtocolError):
        late.send(ClientOpen.new("CMTS-1", client_type=0), 0.0)  # after the DQoS Client-Open


def test_the_dqos_client_accept_cannot_answer_the_security_client_open():
    pep, pdp = Connection(Role.PEP, integrity=MD5), Connection(Role.PDP, integrity=MD5)
    deliver(pep, pdp, ClientOpen.new("CMTS-1", client_type=0))
    with pytest.raises(LocalProtocolError):
        pdp.send(ClientAccept.new(30), 0.0)
    assert pdp.state is State.SECURING


# --- settings ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "key"), [
    ("1:00112233", IntegrityKey(1, bytes.fromhex("00112233"))),
    ("0x10:aa bb", IntegrityKey(16, b"\xaa\xbb")),
    (" 4294967295:ff ", IntegrityKey(0xFFFFFFFF, b"\xff")),
])
def test_a_key_is_keyid_colon_hex(text, key):
    assert IntegrityKey.parse(text) == key


@pytest.mark.parametrize(("text", "says"), [
    ("00112233", "expected KEYID:HEX"),
    ("one:0011", "the Key ID must be a number, got 'one'"),
    ("4294967296:00", "from 0 to 4294967295"),
    ("1:xyz", "Key ID 1: the key must be hex digits"),
    ("1:", "Key ID 1: the key is empty"),
])
def test_a_bad_key_says_what_is_wrong_without_echoing_the_secret(text, says):
    with pytest.raises(ValueError, match=says) as info:
        IntegrityKey.parse(text)
    assert "0011" not in str(info.value)


def test_settings_are_checked_and_never_show_a_secret():
    with pytest.raises(ValueError, match="Key IDs must differ"):
        IntegritySettings((KEY, IntegrityKey(1, b"other")))
    with pytest.raises(ValueError, match="unknown integrity algorithm 'hmac-sha1'"):
        IntegritySettings((KEY,), "hmac-sha1")
    with pytest.raises(ValueError, match="at least one key"):
        IntegritySettings(())
    assert SECRET.hex() not in repr(MD5) and "16 bytes" in repr(MD5)


def test_without_integrity_the_bytes_are_the_messages_own():
    pep = Connection(Role.PEP)
    assert pep.integrity is None
    assert pep.send(ClientOpen.new("CMTS-1"), 0.0) == ClientOpen.new("CMTS-1").encode()


# --- any message, any flipped bit ----------------------------------------------------------------------------


def negotiated_pair(sequence: int) -> tuple[Integrity, Integrity]:
    """A sender and a receiver past the negotiation, the receiver expecting the sender's next number."""
    sender, receiver = Integrity(MD5, pep=True, rng=random.Random(1)), Integrity(MD5, pep=False, rng=random.Random(2))
    sender.phase = receiver.phase = Phase.NEGOTIATED
    sender.sent = receiver.received = sequence
    return sender, receiver


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_message, st.integers(0, 0xFFFFFFFF), st.data())
def test_any_message_signed_arrives_as_it_was_and_any_flipped_bit_is_refused(message, sequence, data):
    encoded = message.encode()
    sender, receiver = negotiated_pair(sequence)
    signed = sender.sign(encoded)
    assert signed[-24:-12] == struct.pack("!HBBII", 24, 16, 1, 1, (sequence + 1) & 0xFFFFFFFF)
    assert receiver.verify(signed) == encoded
    bit = data.draw(st.integers(0, len(signed) * 8 - 1), label="bit")
    forged = bytearray(signed)
    forged[bit // 8] ^= 0x80 >> bit % 8
    with pytest.raises(IntegrityError):
        negotiated_pair(sequence)[1].verify(bytes(forged))
