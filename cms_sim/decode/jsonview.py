"""Show decoded messages to scripts: one JSON object per message, one per line.

Keys (all messages): ``opcode`` ("DEC"), ``version``, ``flags`` (the header's
four flag bits), ``client_type`` (int) and ``client_type_name``,
``solicited``, ``length``; what a message is looked up by, null when it has
none: ``gate_command`` ("Gate-Set"), ``gate_id``, ``transaction_id``,
``subscriber`` (a string); ``findings`` (the rules it breaks: ``rule``,
``text``, ``section``); and ``objects``.  Each object has ``cnum``/``ctype``
(PacketCable objects: ``snum``/``stype``), ``name``, ``offset``, ``length``
and ``fields`` (the codec's field names, and ``reserved`` for reserved bytes;
a code also gets ``<field>_name``; addresses are strings, bytes hex
strings).  The carrier of a DQoS gate command has a ``packetcable`` list.
Capture input adds ``frame``, ``time`` (epoch seconds), ``src`` and ``dst``.
A payload that cannot be read adds ``error``, ``offset``, ``error_code`` and
``error_subcode`` (the COPS Error to answer with) and ``pc_error_code``,
``pc_error_subcode``; a message that could not be read at all has only
those, plus ``error_scope`` ("message" or "stream"), ``length`` and ``raw``
(hex).
"""

from __future__ import annotations

from typing import Any

from cops_core.codes import VERSION
from cops_core.errors import DecodeError

from .dissect import MessageView, ObjectView
from .inputs import Origin, Unit


def message_record(view: MessageView, origin: Origin | None) -> dict[str, Any]:
    record = _origin(origin)
    record.update(opcode=view.opcode.name, version=VERSION, flags=view.flags, client_type=view.client_type,
                  client_type_name=view.client_type_name, solicited=view.solicited, length=view.length,
                  gate_command=view.gate_command, gate_id=view.gate_id, transaction_id=view.transaction_id,
                  subscriber=view.subscriber, findings=[finding._asdict() for finding in view.findings])
    record["objects"] = [_object(obj) for obj in view.objects]
    if view.error is not None:
        record.update(_error(view.error), pc_error_code=view.error.pc_code, pc_error_subcode=view.error.pc_subcode)
    return record


def error_record(unit: Unit, error: DecodeError) -> dict[str, Any]:
    """A frame that did not decode, or (``unit.error``) a stream that could not be framed."""
    record = _origin(unit.origin)
    record.update(_error(error), error_scope="stream" if unit.error is not None else "message",
                  length=len(unit.data), raw=unit.data.hex())
    return record


def _object(obj: ObjectView) -> dict[str, Any]:
    num, kind = ("cnum", "ctype") if obj.layer == "C" else ("snum", "stype")
    fields: dict[str, Any] = {}
    for field in obj.fields:
        fields[field.key] = field.value
        if field.name is not None:
            fields[f"{field.key}_name"] = field.name
    record = {num: obj.num, kind: obj.type, "name": obj.name, "offset": obj.offset, "length": obj.length,
              "fields": fields}
    if obj.children is not None:
        record["packetcable"] = [_object(child) for child in obj.children]
    return record


def _origin(origin: Origin | None) -> dict[str, Any]:
    if origin is None:
        return {}
    return {"frame": origin.frame, "time": origin.time, "src": origin.src, "dst": origin.dst}


def _error(error: DecodeError) -> dict[str, Any]:
    return {"error": error.reason, "offset": error.offset, "error_code": int(error.error_code),
            "error_subcode": error.error_subcode}
