"""What each field of a message the gate controller sends is, in a phrase a cable-lab class can read.

Keyed by the object's name as :mod:`cms_sim.decode.dissect` shows it (without
its "(IPv4)" kind) and the codec's field name.  Why a field has *this* value
in *this* step is the preview's business (:mod:`.preview`); the few fields
whose value is the same in every gate command say why here, in
:data:`ALWAYS`.
"""

from __future__ import annotations

HEADER = "Common header"
"""The name the tree gives the COPS common header, as if it were an object."""

WHAT: dict[tuple[str, str], str] = {
    (HEADER, "version"): "the COPS version",
    (HEADER, "flags"): "flag bits; 0x1 (solicited) marks an answer to a message of the peer",
    (HEADER, "opcode"): "which COPS message this is",
    (HEADER, "client_type"): "which COPS client the message belongs to",
    (HEADER, "length"): "the whole message in bytes, this header included",
    ("Handle", "value"): "the CMTS's request-state handle: gate control on this connection is filed under it",
    ("Context", "r_type"): "the request type this decision answers",
    ("Context", "m_type"): "message type of the request (client-specific)",
    ("Decision: Flags", "command"): "what the CMTS is to do with the decision",
    ("Decision: Flags", "flags"): "decision flags",
    ("Transaction-ID", "transaction_id"): "our number for this request: the CMTS's reply carries it back",
    ("Transaction-ID", "command"): "which gate command this is",
    ("Subscriber-ID", "address"): "the MTA's address: the CMTS finds the subscriber (and its modem) by it",
    ("Gate-ID", "gate_id"): "the gate this command acts on",
    ("Activity-Count", "count"): "the most gates this subscriber may hold at once (more: error 4)",
    ("Gate-Spec", "direction"): "which way the media of this Gate-Spec flows",
    ("Gate-Spec", "protocol"): "IP protocol of the media the gate lets through",
    ("Gate-Spec", "flags"): "Gate-Spec flags (Auto-Commit and Commit-Not-Allowed; the bits are UNVERIFIED)",
    ("Gate-Spec", "session_class"): "1 normal call, 2 high priority (emergency): may preempt normal ones",
    ("Gate-Spec", "source_ip"): "who sends this direction's media (classifier)",
    ("Gate-Spec", "destination_ip"): "who receives it (classifier)",
    ("Gate-Spec", "source_port"): "the sender's UDP port (classifier)",
    ("Gate-Spec", "destination_port"): "the receiver's UDP port (classifier)",
    ("Gate-Spec", "ds_field"): "the DSCP/TOS byte the media is marked with",
    ("Gate-Spec", "t1"): "T1: seconds from this authorization to the modem's commit (0 = the CMTS's own value)",
    ("Gate-Spec", "t7"): "T7: seconds a reservation may wait to be activated (0 = the CMTS's own value)",
    ("Gate-Spec", "t8"): "T8: seconds a committed flow may stay idle (0 = the CMTS's own value)",
    ("Gate-Spec", "token_bucket_rate"): "r, the sustained rate the flow may use (bytes/s)",
    ("Gate-Spec", "token_bucket_size"): "b, the largest burst above the rate (bytes)",
    ("Gate-Spec", "peak_data_rate"): "p, the peak rate (bytes/s)",
    ("Gate-Spec", "minimum_policed_unit"): "m, a packet smaller than this counts as this size",
    ("Gate-Spec", "maximum_packet_size"): "M, the largest packet the flow may send",
    ("Gate-Spec", "rate"): "R, the rate the CMTS reserves for it (bytes/s)",
    ("Gate-Spec", "slack_term"): "S, delay the flow can take beyond the ideal (µs)",
    ("PacketCable-Reason", "code"): "0 with a Gate-Delete, 1 with a Gate-Close",
    ("PacketCable-Reason", "subcode"): "why the gate is deleted",
    ("Error", "code"): "why this side ends COPS",
    ("Error", "subcode"): "more on the error (0: nothing more)",
}

ALWAYS: dict[tuple[str, str], str] = {
    (HEADER, "version"): "1, the only version RFC 2748 defines",
    (HEADER, "flags"): "0: we send it on our own, not in answer to a message of the CMTS",
    (HEADER, "client_type"): "0x8008, PacketCable DQoS: the client the CMTS opened COPS for (protocol.md 3)",
    ("Context", "r_type"): "DQoS gate commands are decisions on the CMTS's configuration request (protocol.md 3.1)",
    ("Context", "m_type"): "0 for DQoS",
    ("Decision: Flags", "command"): "every gate command is an Install decision, Gate-Info and Gate-Delete too",
    ("Decision: Flags", "flags"): "Trigger Error, as deployed gate controllers send it (protocol.md 3.1)",
    ("Handle", "value"): "the CMTS chose it in its Request (REQ) when the connection opened (protocol.md 2.4)",
    ("Error", "subcode"): "nothing more to say",
}


def what(name: str, key: str) -> str | None:
    """What field ``key`` of object ``name`` is; reserved bytes are the same in every object."""
    if key.startswith("reserved"):
        return "reserved: sent as zeros, and the receiver ignores them"
    return WHAT.get((name, key))


def short_name(name: str) -> str:
    """"Subscriber-ID (IPv4)" -> "Subscriber-ID": the field tables do not care about the address family."""
    return name.split(" (")[0]
