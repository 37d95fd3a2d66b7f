"""Integrity objects laid out by hand from RFC 2748 2.2.16, digests by the standard library's ``hmac``.

Independent of cops_core.integrity on purpose: the tests of both tools
forge, replay and check signed messages with these.
"""

from __future__ import annotations

import hashlib
import hmac
import struct

SECRET = bytes.fromhex("00112233445566778899aabbccddeeff")


def hmac_md5_96(secret: bytes, data: bytes) -> bytes:
    """HMAC-MD5 cut to its first 96 bits."""
    return hmac.new(secret, data, hashlib.md5).digest()[:12]


def signed_by_hand(message: bytes, key_id: int, sequence: int, secret: bytes = SECRET) -> bytes:
    """``message`` (unsigned bytes) with an HMAC-MD5-96 Integrity object appended.

    Message Length grows by the object's 24 bytes; the digest covers the
    common header up to the Sequence Number, both included.
    """
    head = message[:4] + struct.pack("!I", len(message) + 24) + message[8:] \
        + struct.pack("!HBBII", 24, 16, 1, key_id, sequence)
    return head + hmac_md5_96(secret, head)


def integrity_of(frame: bytes) -> tuple[int, int, bytes] | None:
    """(Key ID, Sequence Number, digest) of the HMAC-MD5-96 Integrity object ending ``frame``, or None."""
    if len(frame) < 32 or frame[-24:-20] != struct.pack("!HBB", 24, 16, 1):
        return None
    key_id, sequence = struct.unpack_from("!II", frame, len(frame) - 20)
    return key_id, sequence, frame[-12:]


def verifies(frame: bytes, secret: bytes = SECRET) -> bool:
    """Whether ``frame`` ends in an HMAC-MD5-96 Integrity object whose digest is right for ``secret``."""
    return integrity_of(frame) is not None and hmac.compare_digest(hmac_md5_96(secret, frame[:-12]), frame[-12:])
