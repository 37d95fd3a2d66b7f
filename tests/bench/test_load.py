"""bench/load.py and bench/ceiling.py: their pre-encoded bytes against the codec, their clients against real servers.

Benchmarks are not timed tests: these check that the bench measures what it
says (the right messages, every reply counted, children cleaned up), in
fractions of a second per measurement.
"""

from __future__ import annotations

import importlib.util
import stat
import sys
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from cops_core.dqos import GateSet, GateSetAck, GateSpec, decision_for, gate_command_of
from cops_core.messages import ClientAccept, ClientOpen, Decision, KeepAlive, Report, Request, decode_message
from cops_core.objects import Handle

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


load = _module("load")
ceiling = _module("ceiling")

MTA, FAR_END = IPv4Address("10.0.1.10"), IPv4Address("10.1.1.20")


def _protocol_md_gate_set(tid: int, subscriber: IPv4Address) -> GateSet:
    ds = GateSpec(direction=0, protocol=17, flags=0, session_class=1, source_ip=FAR_END, destination_ip=MTA,
                  source_port=0, destination_port=16384, ds_field=0xB8, t1=250, t7=200, t8=0,
                  token_bucket_rate=10000.0, token_bucket_size=200.0, peak_data_rate=10000.0,
                  minimum_policed_unit=200, maximum_packet_size=200, rate=10000.0, slack_term=800)
    us = ds._replace(direction=1, source_ip=MTA, destination_ip=FAR_END)
    return GateSet(tid, subscriber, (ds, us), activity_count=4)


@pytest.fixture
def children():
    running = load.Children()
    yield running
    running.stop_all()
    assert not running.live


def _server(children, tmp_path, kind, flags):
    return load.server(children, tmp_path, kind, flags)


def test_the_pre_encoded_gate_set_is_what_the_codec_encodes_once_patched():
    feed = load.GateSets(b"\x00\x00\x00\x07", connection_index=2)
    feed.sent = 0x1234
    patched = feed.batch(1)
    expected = decision_for(Handle(b"\x00\x00\x00\x07"),
                            _protocol_md_gate_set(0x1234, IPv4Address("12.64.18.53"))).encode()
    assert patched == expected
    assert type(decode_message(load.GATE_SET_DEC)) is Decision


def test_the_ceiling_speaks_the_cmts_message_sizes_and_shapes():
    assert type(decode_message(ceiling.CLIENT_OPEN)) is ClientOpen and len(ceiling.CLIENT_OPEN) == 24
    assert type(decode_message(ceiling.REQUEST)) is Request and len(ceiling.REQUEST) == 24
    ack = decode_message(ceiling.GATE_SET_ACK)
    assert type(ack) is Report and type(gate_command_of(ack)) is GateSetAck and len(ceiling.GATE_SET_ACK) == 60
    assert type(decode_message(ceiling.KEEP_ALIVE)) is KeepAlive
    assert load.client_accept(10) == ClientAccept.new(10).encode()


def test_the_ceiling_answers_whole_messages_only_and_not_keepalive_echoes():
    buffer = bytearray(load.GATE_SET_DEC + load.KEEP_ALIVE_ECHO + load.GATE_SET_DEC + load.GATE_SET_DEC[:20])
    assert ceiling.cut(buffer, keep=False) == 2
    assert bytes(buffer) == load.GATE_SET_DEC[:20]


def test_the_pipelined_client_counts_acks_from_the_ceiling_over_four_connections(children, tmp_path):
    with _server(children, tmp_path, "ceiling", []) as target:
        result = load.client_pipelined(target.port, target.process.pid, connections=4, window=8, seconds=0.3,
                                       warmup=0.05)
    assert result["acks"] > 0 and result["errors"] == 0 and result["server_cpu_us"] > 0


def test_cmts_sim_acknowledges_every_pre_encoded_gate_set_and_grows(children, tmp_path):
    with _server(children, tmp_path, "cmts-sim", ["--modem", "driven"]) as target:
        result = load.client_fill(target.port, target.process.pid, warmup_gates=10, gates=300, window=16,
                                  timeout=20)
    assert (result["acks"], result["errors"]) == (300, 0)
    assert result["rss_after_kib"] >= result["rss_before_kib"] > 0


def test_held_connections_echo_keepalives_and_new_handshakes_are_timed(children, tmp_path):
    with _server(children, tmp_path, "cmts-sim", ["--modem", "driven"]) as target:
        result = load.client_hold(target.port, target.process.pid, connections=20, ka=1, hold=1.5, tries=3,
                                  setup_timeout=10)
    assert result["up_at_start"] == result["up_at_end"] == 20
    assert result["closed_by_server"] == 0 and result["keepalives"] > 0  # KA 1 s: one in [0.25, 0.75] s
    assert len(result["probes_ms"]) == 3 and not result["failed_probes"]


def test_the_paced_client_matches_every_reply_to_its_gate_set(children, tmp_path):
    with _server(children, tmp_path, "ceiling", []) as target:
        result = load.client_paced(target.port, target.process.pid, rate=200, seconds=0.5)
    assert result["sent"] == result["answered"] == 100
    assert 0 < result["latency_ms"]["p50"] <= result["latency_ms"]["max"]


FAKE_LOAD = '''#!{python}
import json, sys
args = sys.argv[1:]
if args[1:2] == ["--help"]:
    sys.exit(0)
options = dict(zip(args[2::2], args[3::2]))
rate, duration = float(options["--rate"]), float(options["--duration"])
calls = round(rate * duration)
json.dump({{"calls": {{"attempted": calls, "completed": calls, "failed": 0}}, "duration_s": duration,
           "rate": {{"target_cps": rate, "achieved_cps": rate}},
           "latency_ms": {{"Gate-Set": {{"p50": 0.5, "p90": 0.9, "p99": 2.0, "max": 4.0}}}}}},
          open(options["--report"], "w"))
'''


def test_row_d_reads_the_load_generators_report_beside_its_ceilings(children, tmp_path, monkeypatch):
    fake = tmp_path / "cms-sim"
    fake.write_text(FAKE_LOAD.format(python=sys.executable))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("BENCH_CMS_SIM", str(fake))
    settings = load.Settings(quick=True, seconds=0.3, hold=1, tries=1, connections=1, gates=1, call_seconds=0.2,
                             paced_seconds=0.2, raw_paced_seconds=0.3, talk=0.1)
    notes: list[str] = []
    rows = load.row_d(children, tmp_path, settings, notes, {})
    assert [row.key for row in rows] == ["d1", "d2", "d2r"], notes
    assert rows[0].value == "5,000/s" and rows[0].met == "yes"
    assert rows[1].value == "2.00 ms" and rows[1].met == "yes" and float(rows[1].ratio) > 0  # <= 2 ms: met
    p99_ratio, p999_ratio = rows[2].ratio.replace("(", "").replace(")", "").split()
    assert float(p99_ratio) > 0 and float(p999_ratio) > 0  # the raw client against cmts-sim, over the ceiling
    assert rows[2].met == ("yes" if float(p99_ratio) <= 1.5 and float(p999_ratio) <= 2 else "NO")


def test_row_d_is_skipped_without_cms_sim_load(children, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BENCH_CMS_SIM", str(tmp_path / "no-such-cms-sim"))
    notes: list[str] = []
    assert load.row_d(children, tmp_path, load.settings_from(load.parse_arguments(["--quick"])), notes, {}) == []
    assert "skipped: cms-sim load not available yet" in capsys.readouterr().out
