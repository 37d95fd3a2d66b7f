"""tools/fuzz.py: its mutation engine, its crash and hang detectors, and short campaigns against the real targets."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import trio
from click.testing import CliRunner

from cops_core.errors import DecodeError

TOOLS = Path(__file__).resolve().parents[2] / "tools"
sys.path.insert(0, str(TOOLS))  # fuzz.py finds its package next to it the same way

from copsfuzz.cms import CmsCampaign  # noqa: E402
from copsfuzz.cmts import CmtsCampaign  # noqa: E402
from copsfuzz.corpus import full_corpus  # noqa: E402
from copsfuzz.decoder import DecoderCampaign, Plan  # noqa: E402
from copsfuzz.mutate import Donors, build, case_rng, mutate, object_length, parse, repeat  # noqa: E402


def _script():
    spec = importlib.util.spec_from_file_location("fuzz_script", TOOLS / "fuzz.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CORPUS = tuple(seed.data for seed in full_corpus())
fuzz = _script()


# --- the mutation engine ----------------------------------------------------------------------------


def test_every_corpus_message_parses_into_objects_and_builds_back_to_the_same_bytes():
    assert len(CORPUS) > 40
    for data in CORPUS:
        parsed = parse(data)
        assert parsed is not None and build(*parsed) == data


def test_a_seed_and_a_case_number_give_the_same_mutation_every_time_and_others_differ():
    first = mutate(case_rng(7, 123), CORPUS)
    assert mutate(case_rng(7, 123), CORPUS) == first
    assert len({mutate(case_rng(7, case), CORPUS).data for case in range(50)}) > 45
    assert mutate(case_rng(8, 123), CORPUS) != first


def test_known_cases_of_seed_1_are_pinned_so_a_replay_gives_what_the_campaign_sent():
    # If this fails the engine changed: failures reported before the change no longer replay.
    case = mutate(case_rng(1, 5), CORPUS)
    assert (case.base, case.steps, case.data) == (48, ("truncate: truncated to 1 bytes",), b"\x10")
    case = mutate(case_rng(1, 3), CORPUS)
    assert case.steps == ("object_length: object at 16: Length 8 -> 7", "retype: DQoS object 2/1 -> 3/1")
    assert case.data.hex() == ("10028008000000540008010100000001" "0007" "020100080000000806010001000100"
                               "1c060400080101123400070008" "0301" "0a00010a000803010000a001001810010000000100"
                               "000007000000000000000000000000")


def test_a_length_lie_lands_on_an_object_header_and_repeat_goes_past_the_object_limit():
    gate_set = next(seed.data for seed in full_corpus() if seed.name == "DEC Gate-Set")
    offsets = {8, 16, 24, 32, 36, 44, 52, 60, 120}  # Handle, Context, Flags, 6/4 and its five DQoS objects
    for case in range(40):
        data, what = object_length(case_rng(2, case), gate_set, Donors(CORPUS))
        offset = int(what.split(":")[0].removeprefix("object at "))
        assert offset in offsets
        assert data[:offset] == gate_set[:offset] and data[offset + 2:] == gate_set[offset + 2:]
    lengths = set()
    for case in range(60):
        data, what = repeat(case_rng(3, case), gate_set, Donors(CORPUS))
        assert parse(data) is not None  # re-encoded: every Length consistent
        lengths.add(int(what.split(" repeated ")[1].split()[0]))
    assert max(lengths) > 256


# --- the decoder target and its detectors -----------------------------------------------------------


def test_a_few_thousand_mutated_messages_through_the_real_decoder_raise_only_decode_error():
    summary = DecoderCampaign(1, quiet=True).run(2000)
    assert (summary.cases, summary.crashes, summary.hangs) == (2000, 0, 0)
    assert summary.rss_before and summary.rss_after and not summary.failed


def _odd_length_is_a_key_error(data: bytes, plan: Plan, log) -> None:
    if len(data) % 2:
        raise KeyError("odd")
    raise DecodeError(0, "even: the contract's own error")


def test_an_exception_other_than_decode_error_is_a_crash_with_its_case_and_replay_command():
    campaign = DecoderCampaign(4, quiet=True, target=_odd_length_is_a_key_error)
    summary = campaign.run(300)
    odd = [case for case in range(300) if len(campaign.case(case).mutation.data) % 2]
    assert odd and summary.crashes == len(odd) and summary.hangs == 0 and summary.failed  # fuzz.py exits 1
    first = summary.failures[0]
    assert first.case == odd[0] and first.kind == "crash"
    assert first.detail.startswith("KeyError: 'odd' at test_fuzz.py:") and "_odd_length_is_a_key_error" in first.detail
    assert first.replay_command() == f"python tools/fuzz.py decoder --seed 4 --replay {odd[0]}"


def _slow_on_long_messages(data: bytes, plan: Plan, log) -> None:
    if len(data) > 200:
        while True:  # a runaway: only the alarm ends it
            pass
    if len(data) > 100:
        began = time.thread_time()
        while time.thread_time() - began < 0.02:  # CPU, which is what the bound counts
            pass


def test_a_slow_case_is_a_hang_only_if_slow_three_times_and_a_runaway_is_stopped_by_the_alarm():
    campaign = DecoderCampaign(5, hang_ms=10, quiet=True, target=_slow_on_long_messages)
    sizes = [len(campaign.case(case).mutation.data) for case in range(12)]
    runaway = next(case for case, size in enumerate(sizes) if size > 200)
    slow = [case for case, size in enumerate(sizes[:runaway + 1]) if 100 < size <= 200]
    summary = campaign.run(runaway + 1)
    assert summary.hangs == len(slow) + 1 and summary.crashes == 0
    details = {failure.case: failure.detail for failure in summary.failures}
    assert details[runaway] == "still running after 0.1 s of CPU (stopped by the alarm)"
    for case in slow:
        assert "in each of 3 runs" in details[case]


def test_replay_prints_the_case_in_hex_and_what_the_decoder_said():
    result = CliRunner().invoke(fuzz.main, ["decoder", "--seed", "1", "--replay", "3"])
    assert result.exit_code == 0, result.output
    case = DecoderCampaign(1).case(3)
    assert fuzz.hexdump(case.mutation.data) in result.output
    assert "object_length: object at 16: Length 8 -> 7" in result.output
    assert "direct: DecodeError at offset 16" in result.output


# --- the live targets -------------------------------------------------------------------------------


async def test_twenty_live_cases_against_each_server_leave_it_alive_and_a_normal_call_passes_after(tmp_path):
    # Both at once: most of the time is the servers' and cms-sim's start-up, which overlaps.
    campaigns = {"cmts": CmtsCampaign(1, quiet=True, workdir=tmp_path),
                 "cms": CmsCampaign(1, scenarios_per_run=40, quiet=True, workdir=tmp_path)}
    summaries = {}

    async def run(name: str) -> None:
        summaries[name] = await campaigns[name].run(20)

    async with trio.open_nursery() as nursery:
        for name in campaigns:
            nursery.start_soon(run, name)
    for name, summary in summaries.items():
        assert (summary.cases, summary.crashes, summary.hangs) == (20, 0, 0), (name, summary.failures)
        assert summary.normal_call == "passed", name
        assert summary.rss_before and summary.rss_after, name
    assert campaigns["cms"].runs[0].report.exists()  # the cms-sim run's own --report, checked by the campaign
    # Nothing outlives the campaign (a cms-sim run left listening would wait an hour for a CMTS).
    assert not campaigns["cmts"].server.running
    assert [run.number for run in campaigns["cms"].runs if run.process.running] == []
