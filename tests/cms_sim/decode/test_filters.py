"""``cms-sim decode --filter FIELD=VALUE``: which messages it keeps, and one line for a bad expression."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cms_sim.cli import main
from cms_sim.decode import filters

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "dqos_call.pcap"
# A Gate-Set-Err, subscriber exceeded its gate limit (error 4), and a malformed message (Handle of length 2).
GATE_LIMIT_ERR = ("11 03 80 08 00 00 00 34  00 08 01 01 00 00 00 01  00 08 0c 01 00 02 00 00  00 1c 09 01"
                  "  00 08 01 01 00 07 00 06  00 08 02 01 0a 00 01 0a  00 08 09 01 00 04 00 00")
MALFORMED = "11 03 80 08 00 00 00 10  00 02 01 01 00 00 00 01"


def kept(*expressions: str, source: str = str(SAMPLE)) -> list[tuple]:
    """(frame or None, opcode, gate command) of each message kept."""
    options = [option for expression in expressions for option in ("--filter", expression)]
    result = CliRunner().invoke(main, ["decode", "--json", *options, source])
    assert result.exit_code in (0, 1), result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    return [(record.get("frame"), record.get("opcode"), record.get("gate_command")) for record in records]


KEEPS = [  # the sample's frames each filter keeps
    (["gate_command=Gate-Set"], [9]),
    (["gate_command=gate_set_ack"], [10]),  # any case, "_" or "-"
    (["opcode=ka"], [11, 12]),
    (["transaction_id=0x1234"], [9, 10]),
    (["transaction_id=4660"], [9, 10]),
    (["gate_id=0x0000a001", "opcode=DEC"], [9, 14, 17]),  # repeated: all must hold (Gate-Alloc has no Gate-ID)
    (["subscriber=10.0.1.10", "opcode=RPT", "gate_command=Gate-Open"], [13]),
    (["peer=10.0.0.1:2126", "opcode=OPN"], [4]),
    (["peer=10.0.0.2", "opcode=CC"], [19]),
    (["gate_command=Gate-Set", "opcode=RPT"], []),
]


@pytest.mark.parametrize("expressions, frames", KEEPS, ids=[" ".join(expressions) for expressions, _ in KEEPS])
def test_filters_keep_the_messages_whose_field_has_the_value(expressions, frames):
    assert [frame for frame, _, _ in kept(*expressions)] == frames


def test_error_and_finding_pick_out_errs_and_rule_breakers_and_what_cannot_be_read_is_always_shown():
    no_subscriber = ("10 02 80 08 00 00 00 34  00 08 01 01 00 00 00 01  00 08 02 01 00 08 00 00  00 08 06 01 00 01"
                     " 00 01  00 14 06 04  00 08 01 01 00 09 00 0a  00 08 03 01 00 00 a0 01")
    stream = " ".join([GATE_LIMIT_ERR, MALFORMED, no_subscriber])
    assert kept("error=4", source=stream) == [(None, "RPT", "Gate-Set-Err"), (None, None, None)]
    assert kept("finding=dqos.missing-object", source=stream) == [(None, None, None), (None, "DEC", "Gate-Delete")]


def test_nothing_kept_is_said_on_standard_error_and_is_no_failure():
    result = CliRunner().invoke(main, ["decode", "--filter", "error=4", str(SAMPLE)])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == "none of the 16 messages matches --filter error=4\n"


def test_strict_judges_only_the_messages_kept():
    no_spec = ("10 02 80 08 00 00 00 2c  00 08 01 01 00 00 00 01  00 08 02 01 00 08 00 00  00 08 06 01 00 01 00 01"
               "  00 0c 06 04  00 08 01 01 12 34 00 04")
    stream = GATE_LIMIT_ERR + no_spec
    assert CliRunner().invoke(main, ["decode", "--strict", stream]).exit_code == 1
    assert CliRunner().invoke(main, ["decode", "--strict", "--filter", "opcode=RPT", stream]).exit_code == 0


@pytest.mark.parametrize("expression, says", [
    ("gate_command", "expected FIELD=VALUE, e.g. gate_command=Gate-Set (fields: opcode, gate_command, gate_id,"),
    ("=4", "expected FIELD=VALUE"),
    ("gate=0x1", "no field 'gate' (fields: opcode, gate_command, gate_id, transaction_id, subscriber, error, "
                 "finding, peer)"),
    ("gate_id=a001", "not a number: 'a001' (decimal, or hex with 0x)"),
    ("gate_command=Gate-Sett", "not a gate command: 'Gate-Sett'"),
    ("opcode=DECISION", "not an op-code: 'DECISION' (one of REQ, DEC, RPT, DRQ, SSQ, OPN, CAT, CC, KA, SSC)"),
    ("subscriber=10.0.1", "not an IP address: '10.0.1'"),
    ("finding=missing", "not a finding's rule: 'missing' (one of header.flags,"),
    ("peer=host:2126", "not an IP address: 'host'"),
])
def test_a_bad_expression_is_one_line_and_exit_2(expression, says):
    result = CliRunner().invoke(main, ["decode", "--filter", "opcode=KA", "--filter", expression, str(SAMPLE)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"Error: --filter {expression!r}: ")
    assert says in result.stderr
    with pytest.raises(filters.FilterError, match="^" + says[:20].replace("(", r"\(")):
        filters.parse(expression)


@pytest.mark.parametrize("text, endpoint", [("10.0.0.1", "10.0.0.1"), ("10.0.0.1:2126", "10.0.0.1:2126"),
                                            ("2001:db8::1", "2001:db8::1"),
                                            ("[2001:db8::1]:2126", "[2001:db8::1]:2126")])
def test_peer_takes_an_address_or_an_endpoint_as_captures_write_it(text, endpoint):
    assert filters.parse(f"peer={text}").value == endpoint
