"""``cms-sim run --step``: a pause before each message sent, showing that very message, keys Enter, c and q.

The in-process tests run the real gate controller against the embedded CMTS
and press keys through :meth:`Stepper.key`, the seam the terminal reader
feeds; two more type them into ``cms-sim run --step`` on a pseudo-terminal.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time

import trio
from click.testing import CliRunner
from rich.console import Console

from cms_sim.cli import main
from cms_sim.decode.dissect import dissect
from cms_sim.report.live_ladder import LadderPrinter
from cms_sim.run import Run
from cms_sim.scenario import Verdict, parse_scenario
from cms_sim.step.stepper import Stepper
from cops_core.codes import OpCode

CALL = """\
name: three commands
description: Gate-Set, Gate-Info, Gate-Delete.
variables: {subscriber: 10.0.1.10, remote: 10.1.1.20}
steps:
  - name: authorize
    gate_set: {profile: G711-20, remote_ip: "${remote}"}
    save: {gate: gate_id}
  - name: audit
    gate_info: {gate_id: "${gate}"}
  - name: delete
    gate_delete: {gate_id: "${gate}"}
"""

T0_WHILE_PAUSED = """\
name: T0 while paused
description: A Gate-Alloc, then a pause longer than T0 before the Gate-Set.
variables: {subscriber: 10.0.1.10, remote: 10.1.1.20}
cmts: {timers: {t0: 1}}
steps:
  - gate_alloc: {}
    save: {gate: gate_id}
  - gate_set: {gate_id: "${gate}", profile: G711-20, remote_ip: "${remote}"}
    expect: {error: unknown_gate_id}
"""


async def _step_through(text: str, press, *, reading: float = 0.0) -> tuple:
    """Run ``text`` stepping; ``press(stepper, output)`` presses keys whenever a pause is drawn, ``reading``
    seconds after."""
    output = io.StringIO()
    console = Console(file=output, width=200, force_terminal=False, highlight=False)
    ladder = LadderPrinter(console)
    stepper = Stepper(console, ladder)
    run = Run([(parse_scenario(text, "step.yaml"), {})], port=0, on_step=ladder.step_done, **stepper.hooks())
    stepper.on_quit = run.interrupt

    async def keys() -> None:
        seen = 0
        while True:
            await trio.sleep(0.01)
            if stepper.draws > seen:
                seen = stepper.draws
                await trio.sleep(reading)
                press(stepper, output.getvalue())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(keys)
        results = await run.run()
        nursery.cancel_scope.cancel()
    return results[0], stepper, output.getvalue()


def _sent_decisions(result) -> list:
    return [record for record in result.trace if record.outgoing and record.message.OPCODE is OpCode.DEC]


async def test_each_pause_shows_the_message_then_sent_with_why_each_field_is_so(autojump_clock):
    result, stepper, output = await _step_through(CALL, lambda stepper, shown: stepper.key("\n"))
    assert result.verdict is Verdict.PASSED and stepper.draws == 3
    pauses = re.split(r"next: step \d+ of three commands", output)[1:]
    sent = _sent_decisions(result)
    assert len(pauses) == len(sent) == 3
    for shown, record in zip(pauses, sent):
        # Every field of the DEC that went out is on the pause before it, with the same value, and says what it is.
        view = dissect(record.data)
        fields = [*view.header, *(field for obj in view.objects for part in (obj, *(obj.children or ()))
                                  for field in part.fields)]
        for field in fields:
            assert f"{field.label}: {field.text}" in shown, (field, shown)
        assert shown.count("what: ") == len(fields)
    gate = f"0x{result.variables['gate']:08x}"
    assert "No Gate-ID: the step gives none, so the CMTS allocates" in pauses[0]
    assert "G711-20 (profile not given" not in pauses[0]
    assert "(160 bytes of voice + 40 of RTP/UDP/IP headers) x 50 packets/s = 10000 bytes/s" in pauses[0]
    assert f"gate_id: ${{gate}}: {gate}, saved by step 'authorize' (line 5) from its reply (Gate-Set-Ack)" \
        in pauses[1]
    assert "the next free Transaction-ID of this gate controller" in pauses[1] and "(TID 1 went before)" in pauses[1]
    assert "Gate-Info is type 7: its Ack will be 8 (Gate-Info-Ack), its Err 9 (Gate-Info-Err)" in pauses[1]


async def test_the_time_spent_reading_is_not_the_step_s_latency(autojump_clock):
    result, _, _ = await _step_through(CALL, lambda stepper, shown: stepper.key("\n"), reading=5.0)
    assert result.verdict is Verdict.PASSED
    assert all(step.latency_ms < 100 for step in result.steps), [step.latency_ms for step in result.steps]


async def test_q_quits_before_the_next_message_then_cleans_up_and_says_client_close(autojump_clock):
    def press(stepper, shown):
        stepper.key("\n" if stepper.draws == 1 else "q")

    result, stepper, output = await _step_through(CALL, press)
    assert stepper.quit and result.interrupted
    titles = [dissect(record.data).gate_command for record in _sent_decisions(result)]
    assert titles == ["Gate-Set", "Gate-Delete"], titles  # no Gate-Info: q came at its pause; the cleanup deleted
    assert [step.phase for step in result.steps] == ["steps", "steps", "cleanup"]
    assert result.steps[1].message == "interrupted"
    assert result.trace[-1].outgoing and result.trace[-1].message.OPCODE is OpCode.CC
    assert "quitting: the finally steps and the cleanup run, then Client-Close" in output


async def test_c_goes_on_without_pausing_and_the_ladder_is_drawn_as_the_run_goes(autojump_clock):
    result, stepper, output = await _step_through(CALL, lambda stepper, shown: stepper.key("c"))
    assert result.verdict is Verdict.PASSED and stepper.draws == 1 and not stepper.quit
    after = output.split("q quit cleanly", 1)[1]
    assert "RPT Gate-Info-Ack" in after and "RPT Gate-Delete-Ack" in after


async def test_a_message_that_comes_while_paused_is_drawn_at_once(autojump_clock):
    def press(stepper, shown):
        # Paused before the Gate-Set, T0 (1 s) runs out while the class reads: Enter once the Gate-Close shows.
        latest = shown.rsplit("▶ T0 while paused", 1)[1]
        if stepper.draws == 1 or "RPT Gate-Close" in latest:
            stepper.key("\n")

    result, stepper, output = await _step_through(T0_WHILE_PAUSED, press)
    assert result.verdict is Verdict.PASSED, result.failures  # the Gate-Set then finds no gate: error 2
    *pauses, end = output.split("▶ T0 while paused")[1:]
    assert len(pauses) == stepper.draws == 3
    assert "next: step" not in end and "CC error 11" in end  # the end: the scenario's ladder, whole
    ladder, below = pauses[2].split("next: step", 1)
    assert "T0 expired (reason 1, sub-code 4)" in ladder and below.startswith(" 2 of T0 while paused")
    assert "RPT Gate-Close" not in pauses[1]


def test_step_without_a_terminal_is_one_line_and_exit_2(tmp_path):
    path = tmp_path / "call.yaml"
    path.write_text(CALL)
    result = CliRunner().invoke(main, ["run", "--step", str(path)])
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        "cms-sim: --step reads its keys (Enter, c, q) from a terminal, and stdin is not one"]


# --- on a pseudo-terminal, as a person types ------------------------------------------------------------------


class _Terminal:
    """``cms-sim`` on a pseudo-terminal 160 columns wide: read what it draws, type keys."""

    def __init__(self, *args: str) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 160, 0, 0))
        command = [sys.executable, "-c", "import sys; from cms_sim.cli import main; sys.exit(main())", *args]
        environment = {**os.environ, "COLUMNS": "160", "LINES": "60"}
        self.process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                                        env=environment)
        os.close(slave)
        self.seen = b""

    def wait_for(self, text: str, count: int = 1, timeout: float = 60.0) -> None:
        """Read until ``text`` has been drawn ``count`` times."""
        deadline = time.monotonic() + timeout
        while self.text.count(text) < count:
            assert time.monotonic() < deadline, f"{text!r} x{count} not drawn:\n{self.text}"
            if select.select([self.master], [], [], 0.1)[0]:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # the process ended and closed the terminal
                    chunk = b""
                assert chunk, f"{text!r} x{count} not drawn before the end:\n{self.text}"
                self.seen += chunk

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def finish(self) -> int:
        returncode = self.process.wait(timeout=60)
        while select.select([self.master], [], [], 0.1)[0]:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.seen += chunk
        os.close(self.master)
        return returncode

    @property
    def text(self) -> str:
        return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", self.seen.decode(errors="replace"))


KEYS = "q quit cleanly"


def test_on_a_terminal_enter_then_c_runs_the_call_to_the_end(tmp_path):
    path = tmp_path / "call.yaml"
    path.write_text(CALL)
    terminal = _Terminal("run", "--step", str(path))
    terminal.wait_for(KEYS)
    terminal.type("\r")  # the terminal turns it into a newline, as it does for Enter
    terminal.wait_for("next: step 2 of")
    terminal.wait_for(KEYS, 2)
    terminal.type("c")
    assert terminal.finish() == 0, terminal.text
    text = terminal.text
    assert "next: step 1 of three commands: authorize, line 5" in text
    assert "next: step 2 of three commands: audit, line 8" in text and "next: step 3" not in text
    assert "RPT Gate-Delete-Ack" in text and "passed" in text


def test_on_a_terminal_q_sends_client_close_writes_the_report_and_exits_130(tmp_path):
    path, report = tmp_path / "call.yaml", tmp_path / "partial.json"
    path.write_text(CALL)
    terminal = _Terminal("run", "--step", "--report", str(report), str(path))
    terminal.wait_for(KEYS)
    terminal.type("\n")
    terminal.wait_for("next: step 2 of")
    terminal.wait_for(KEYS, 2)
    terminal.type("q")
    assert terminal.finish() == 130, terminal.text
    assert "CC error 11 shutting down" in terminal.text
    assert "interrupted; Client-Close sent, writing partial reports" in terminal.text
    partial = json.loads(report.read_text())
    assert partial["summary"]["interrupted"] is True
    assert [step["verdict"] for step in partial["results"][0]["steps"]] == ["passed", "failed", "passed"]
