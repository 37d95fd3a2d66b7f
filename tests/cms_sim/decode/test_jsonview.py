"""``cms-sim decode --json``: what a message is looked up by is at its top level, findings included."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cms_sim.cli import main

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "dqos_call.pcap"
LOOKUP = ("gate_command", "gate_id", "transaction_id", "subscriber")


def records() -> list[dict]:
    result = CliRunner().invoke(main, ["decode", "--json", str(SAMPLE)])
    assert result.exit_code == 0
    return [json.loads(line) for line in result.output.splitlines()]


def test_every_message_has_the_lookup_keys_at_its_top_level_null_when_it_has_none():
    decoded = records()
    assert all(set(LOOKUP) | {"findings", "version", "flags"} <= set(record) for record in decoded)
    by_frame = {record["frame"]: record for record in decoded}
    assert [by_frame[9][key] for key in LOOKUP] == ["Gate-Set", 0xA001, 0x1234, "10.0.1.10"]
    assert [by_frame[7][key] for key in LOOKUP] == ["Gate-Alloc", None, 0x1233, "10.0.1.10"]
    assert [by_frame[11][key] for key in LOOKUP] == [None, None, None, None]  # a KA
    assert all(record["findings"] == [] for record in decoded)


def test_the_top_level_keys_repeat_what_the_objects_say():
    for record in records():
        carrier = next((obj["packetcable"] for obj in record["objects"] if "packetcable" in obj), [])
        fields = {}
        for child in carrier:
            for key in ("transaction_id", "gate_id", "address"):
                if key in child["fields"]:
                    fields.setdefault(key, child["fields"][key])
        assert record["transaction_id"] == fields.get("transaction_id")
        assert record["gate_id"] == fields.get("gate_id")
        assert record["subscriber"] == fields.get("address")
