"""Judging the peer: each deviation, committed by a hand-driven CMTS, becomes a finding with its rule and clause."""

from __future__ import annotations

import struct
import textwrap

import pytest
import trio

from cms_sim.judge import Severity
from cms_sim.pool import GateControllerPool
from cms_sim.report.capture import write_capture
from cms_sim.scenario import RealModem, ScenarioRunner, Verdict, parse_scenario
from cops_core import KeepAlive, Report
from cops_core.codes import ReportType
from cops_core.dqos import GateClose, GateSetAck, PacketCableReason, report_for
from cops_core.messages import Malformed
from cops_core.objects import Handle, UnknownObject

from .fake_pep import SUBSCRIBER, FakePep

SCENARIO = """\
name: judged
description: a Gate-Set, a pause for events and keep-alives, a Gate-Delete
variables: {subscriber: 10.0.1.10, remote: 10.1.1.20}
controller: {ka_seconds: 4}
steps:
  - gate_set: {profile: G711-20, remote_ip: "${remote}"}
    save: {gate: gate_id}
  - wait: 3s
  - gate_delete: {gate_id: "${gate}"}
"""


async def judged(nursery, *, respond=None, during_wait=None, strict: bool = False, pep: FakePep | None = None):
    """Run SCENARIO against a FakePep that misbehaves through ``respond`` or, in the wait, ``during_wait(pep)``."""
    pep = pep or FakePep()
    if respond is not None:
        pep.respond = respond(pep)
    host, port = await pep.listen(nursery)

    def on_step(step):
        if step.kind == "gate_set" and during_wait is not None:
            nursery.start_soon(during_wait, pep)

    runner = ScenarioRunner(parse_scenario(SCENARIO, "judged.yaml"), RealModem(), on_step=on_step, strict=strict)
    async with GateControllerPool(**runner.scenario.controller.options()) as pool:
        runner.attach(pool)
        return await runner.run(await pool.connect(f"{host}:{port}"))


def rules(result) -> list[tuple[str, Severity]]:
    return [(finding.rule, finding.severity) for finding in result.findings]


async def test_a_well_behaved_cmts_draws_no_finding(nursery, autojump_clock):
    async def keepalives(pep):
        for _ in range(2):
            await trio.sleep(1.5)  # within [1/4, 3/4] of the 4 s KA timer
            await pep.keepalive()

    result = await judged(nursery, during_wait=keepalives)
    assert result.verdict is Verdict.PASSED and result.findings == []


async def test_a_keepalive_with_the_dqos_client_type(nursery, autojump_clock):
    async def wrong_ka(pep):
        await pep.send(KeepAlive((), 0x8008))

    result = await judged(nursery, during_wait=wrong_ka)
    [finding] = result.findings
    assert (finding.rule, finding.clause, finding.severity) == ("ka.client-type", "RFC 2748 3.9", Severity.ERROR)
    assert finding.text == "client-type 0x8008; a Keep-Alive's must be 0"
    assert finding.data == bytes.fromhex("1009800800000008")
    assert result.steps[1].findings == [finding]  # under the step it came in
    assert result.verdict is Verdict.PASSED  # a finding alone does not fail the scenario ...


async def test_strict_makes_any_finding_fail_the_scenario(nursery, autojump_clock):
    async def wrong_ka(pep):
        await pep.send(KeepAlive((), 0x8008))

    result = await judged(nursery, during_wait=wrong_ka, strict=True)  # ... unless --strict
    assert result.verdict is Verdict.FAILED
    last = result.steps[-1]
    assert (last.kind, last.where, last.message) == ("findings", "findings", "1 finding(s) about the CMTS: ka.client-type")


async def test_keepalives_off_the_quarter_to_three_quarter_window(nursery, autojump_clock):
    async def hasty_kas(pep):
        await pep.keepalive()
        await trio.sleep(0.5)  # 1/4 of 4 s is 1 s
        await pep.keepalive()

    result = await judged(nursery, during_wait=hasty_kas)
    assert rules(result) == [("ka.timing", Severity.WARNING)]
    assert result.findings[0].text == ("0.50 s after the previous one; the PEP sends them between 1/4 and 3/4 of "
                                       "the 4 s KA timer (1-3 s)")


async def test_a_trailing_unknown_object_in_a_reply(nursery, autojump_clock):
    def with_trailer(pep):
        def respond(command):
            reply = pep.answer(command)
            if type(reply) is GateSetAck:
                report = report_for(pep.handle, reply)
                pep.transport.queue(report._replace(objects=report.objects + (UnknownObject(99, 1, b"\0" * 4),)))
                return None
            return reply
        return respond

    result = await judged(nursery, respond=with_trailer)
    assert rules(result) == [("cops.unknown-object", Severity.WARNING)]
    assert result.findings[0].text == "objects it does not define: 99/1"
    assert result.verdict is Verdict.PASSED  # the Ack itself was good


async def test_a_reply_with_someone_elses_transaction_id(nursery, autojump_clock):
    def wrong_tid(pep):
        def respond(command):
            reply = pep.answer(command)
            return reply._replace(transaction_id=reply.transaction_id + 7) if type(reply) is GateSetAck else reply
        return respond

    result = await judged(nursery, respond=wrong_tid)
    assert ("dqos.transaction-id", Severity.ERROR) in rules(result)
    finding = next(f for f in result.findings if f.rule == "dqos.transaction-id")
    assert finding.message == "RPT Gate-Set-Ack"
    assert finding.text.startswith("Transaction-ID 8 answers no request of ours (awaiting: 1)")
    assert result.steps[0].verdict is Verdict.FAILED  # and the step never got its reply


async def test_an_ack_in_a_failure_report_with_another_handle_and_echoes_that_differ(nursery, autojump_clock):
    outbox_send, outbox = trio.open_memory_channel(10)

    def confused(pep):
        def respond(command):
            reply = pep.answer(command)
            if type(reply) is GateSetAck:
                report = report_for(Handle.from_int(99), reply._replace(subscriber=SUBSCRIBER + 1))
                # Raw bytes: the PEP's own state machine would refuse to send a handle it never opened.
                outbox_send.send_nowait(Report.new(Handle.from_int(99), ReportType.FAILURE, report.client_si,
                                                   solicited=True).encode())
                return None
            return reply
        return respond

    pep = FakePep()

    async def send_raw():
        async for data in outbox:
            await pep.transport.stream.send_all(data)

    nursery.start_soon(send_raw)
    result = await judged(nursery, respond=confused, pep=pep)
    assert sorted(rule for rule, _ in rules(result)) == ["dqos.subscriber-echo", "handle", "rpt.report-type"]
    text = {finding.rule: finding.text for finding in result.findings}
    assert text["rpt.report-type"] == "Report-Type 2; a Gate-Set-Ack travels in Report-Type 1 (success)"
    assert text["handle"] == "handle 00000063, not the configuration Request's 00000001"


async def test_a_gate_close_with_a_reason_of_the_wrong_list_and_one_undefined(nursery, autojump_clock):
    async def odd_closes(pep):
        await pep.send(report_for(pep.handle, GateClose(0, 0xA001, SUBSCRIBER, PacketCableReason(0, 0))))
        await pep.send(report_for(pep.handle, GateClose(0, 0xA001, SUBSCRIBER, PacketCableReason(1, 42))))

    result = await judged(nursery, during_wait=odd_closes)
    assert rules(result) == [("gate-close.reason", Severity.ERROR), ("gate-close.reason", Severity.WARNING)]


async def test_header_flags_and_object_order(nursery, autojump_clock):
    async def odd_bytes(pep):
        ka = bytearray(KeepAlive().encode())
        ka[0] |= 0x4  # a flag RFC 2748 does not define
        await pep.transport.stream.send_all(bytes(ka))

    def reordered(pep):
        def respond(command):
            reply = pep.answer(command)
            if type(reply) is GateSetAck:
                data = reply.encode()  # TID, Subscriber-ID, Gate-ID, Activity-Count: swap the last two
                tid, sub, gate, count = data[:8], data[8:16], data[16:24], data[24:32]
                report = report_for(pep.handle, reply)
                pep.transport.queue(report._replace(objects=report.objects[:2] + (
                    type(report.client_si)(tid + sub + count + gate),)))
                return None
            return reply
        return respond

    result = await judged(nursery, respond=reordered, during_wait=odd_bytes)
    assert sorted(rule for rule, _ in rules(result)) == ["dqos.object-order", "header.flags"]


async def test_a_client_open_we_cannot_read_is_named_and_kept_as_evidence(nursery, autojump_clock, tmp_path):
    pep = FakePep()
    host, port = await pep.listen(nursery)
    pep_id = b"CMTS-NO-NUL"  # 11 bytes, padded with a space instead of NUL
    body = struct.pack("!HBB", 4 + 12, 11, 1) + pep_id + b" "
    bad_open = struct.pack("!BBHI", 0x10, 6, 0x8008, 8 + len(body)) + body

    async def session(stream):
        await stream.send_all(bad_open)
        await stream.receive_some(1000)  # our Client-Close

    async with trio.open_nursery() as inner:
        listeners = await inner.start(trio.serve_tcp, session, 0)
        port = listeners[0].socket.getsockname()[1]
        runner = ScenarioRunner(parse_scenario(SCENARIO, "judged.yaml"), RealModem())
        async with GateControllerPool() as pool:
            runner.attach(pool)
            with pytest.raises(Exception) as caught:
                await pool.connect(f"127.0.0.1:{port}")
        inner.cancel_scope.cancel()
    assert "sent a malformed message in the handshake: at offset 8: PEPID: PEPID is not NUL-terminated" in str(
        caught.value)
    received = [record for record in runner.result.trace if not record.outgoing]
    assert [type(record.message) for record in received] == [Malformed]
    assert received[0].data == bad_open and received[0].message.title == "malformed OPN"
    assert [finding.rule for finding in runner.result.findings] == ["message.decodable"]
    write_capture(runner.result.trace, tmp_path / "evidence.pcap")
    assert bad_open in (tmp_path / "evidence.pcap").read_bytes()


def test_the_scenario_text_is_what_the_tests_assume():
    assert "ka_seconds: 4" in SCENARIO and textwrap.dedent(SCENARIO) == SCENARIO


def _ack_variants():
    """(rule, how a Gate-Set-Ack is spoiled): each commits exactly one deviation."""
    from cops_core.dqos import GateDeleteAck, PacketCableError
    from cops_core.dqos.objects import UnknownPacketCableObject

    return [
        ("dqos.reply-type", lambda ack: GateDeleteAck(ack.transaction_id, ack.gate_id, ack.subscriber)),
        ("dqos.objects", lambda ack: ack._replace(activity_count=None)),
        ("dqos.unknown-object", lambda ack: ack._replace(extra=(UnknownPacketCableObject(99, 1, b"\0" * 4),))),
        ("dqos.subscriber-echo", lambda ack: ack._replace(subscriber=SUBSCRIBER + 5)),
        ("dqos.decodable", lambda ack: PacketCableError(1, 0)),  # not a gate command at all: no Transaction-ID
    ]


@pytest.mark.parametrize("rule, spoil", _ack_variants(), ids=[rule for rule, _ in _ack_variants()])
async def test_each_reply_deviation_is_its_own_finding(nursery, autojump_clock, rule, spoil):
    def spoiled(pep):
        def respond(command):
            reply = pep.answer(command)
            if type(reply) is not GateSetAck:
                return reply
            bad = spoil(reply)
            if type(bad) is GateSetAck or hasattr(bad, "COMMAND"):
                return bad
            report = report_for(pep.handle, reply)  # a ClientSI that holds no gate command
            pep.transport.queue(report._replace(objects=report.objects[:2] + (type(report.client_si)(bad.encode()),)))
            return None
        return respond

    result = await judged(nursery, respond=spoiled)
    assert {finding.rule for finding in result.findings} == {rule}


async def test_a_gate_id_that_is_not_the_one_asked_about(nursery, autojump_clock):
    def other_gate(pep):
        def respond(command):
            reply = pep.answer(command)
            if type(command).__name__ == "GateDelete":
                return reply._replace(gate_id=command.gate_id + 1)
            return reply
        return respond

    result = await judged(nursery, respond=other_gate)
    assert [(finding.rule, finding.text) for finding in result.findings] == [
        ("dqos.gate-id-echo", "Gate-ID 0x0000a002; the Gate-Delete was for gate 0x0000a001")]


async def test_a_client_open_for_another_client_type(nursery, autojump_clock):
    from cops_core import ClientOpen

    async def odd_cmts(stream):
        await stream.send_all(ClientOpen.new("PCMM-CMTS", client_type=0x800A).encode())  # Multimedia, not DQoS
        await stream.receive_some(1000)

    listeners = await nursery.start(trio.serve_tcp, odd_cmts, 0)
    port = listeners[0].socket.getsockname()[1]
    runner = ScenarioRunner(parse_scenario(SCENARIO, "judged.yaml"), RealModem())
    async with GateControllerPool() as pool:
        runner.attach(pool)
        with pytest.raises(Exception):
            await pool.connect(f"127.0.0.1:{port}")
    assert [finding.rule for finding in runner.result.findings] == ["opn.client-type"]
