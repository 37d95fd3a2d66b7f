"""What a scenario run produced, for report writers (JSON, JUnit, ladder, pcap) to read.

Plain dataclasses: per scenario its verdict, timing, variables and the whole
trace; per step (repeat bodies flattened, one entry per iteration's step) its
verdict, a message, timings, the reply or event it got, and the messages
(:class:`~cops_core.trace.TraceRecord`) sent and received while it ran.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from cops_core.trace import TraceRecord


class Verdict(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"  # a step: not run because an earlier one failed; a scenario: its needs are not met


@dataclass(slots=True)
class StepResult:
    """One step as run.  ``path`` is 1-based: (3,) is step 3; (4, 2, 1) is step 4, iteration 2, its step 1.

    ``phase`` says which list it came from: the scenario's ``steps``, its
    ``finally`` steps, or the automatic ``cleanup`` (a Gate-Delete per gate
    left up).
    """

    path: tuple[int, ...]
    kind: str
    title: str
    line: int | None
    verdict: Verdict | None = None
    message: str = ""
    started: float = 0.0  # trio clock
    duration_ms: float = 0.0
    latency_ms: float | None = None  # gate commands: request to reply
    reply: Any = None  # the Ack/Err, or the event, the step got
    gate_id: int | None = None  # the gate a modem step acted on
    messages: list[TraceRecord] = field(default_factory=list)
    phase: str = "steps"  # "steps", "finally" or "cleanup"
    findings: list = field(default_factory=list)  # cms_sim.judge.Finding: the CMTS's deviations while it ran

    @property
    def id(self) -> str:
        """"3", "4.2.1"; "finally.1", "cleanup.2" outside the scenario's steps."""
        number = ".".join(map(str, self.path))
        return number if self.phase == "steps" else f"{self.phase}.{number}"

    @property
    def where(self) -> str:
        """"step 3 (line 22)": where in the scenario file; a setup failure has no step number or line."""
        if self.kind == "connect":
            return "setup"
        if self.phase in ("cleanup", "findings"):
            return self.phase
        prefix = "finally step" if self.phase == "finally" else "step"
        return f"{prefix} {'.'.join(map(str, self.path))}" + (f" (line {self.line})" if self.line else "")


@dataclass(slots=True)
class ScenarioResult:
    name: str
    description: str
    source: str | None
    target: str  # the CMTS it ran against
    variables: dict[str, Any]  # at the end of the run: the defaults, overrides and saved values
    seed: int | None
    started_wall: float  # time.time() at the start
    started: float = 0.0  # trio clock
    duration_ms: float = 0.0
    verdict: Verdict | None = None
    interrupted: bool = False
    skip_reason: str | None = None  # why a skipped scenario did not apply to its target
    gate_variables: frozenset[str] = frozenset()  # variables that hold a saved Gate-ID (reports write them in hex)
    steps: list[StepResult] = field(default_factory=list)
    trace: list[TraceRecord] = field(default_factory=list)
    findings: list = field(default_factory=list)  # cms_sim.judge.Finding, the whole run's

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASSED

    @property
    def skipped(self) -> bool:
        return self.verdict is Verdict.SKIPPED

    @property
    def failed(self) -> bool:
        """Neither passed nor skipped: failed, interrupted or never finished."""
        return not (self.passed or self.skipped)

    def count(self, verdict: Verdict) -> int:
        return sum(step.verdict is verdict for step in self.steps)

    @property
    def failures(self) -> list[StepResult]:
        return [step for step in self.steps if step.verdict is Verdict.FAILED]
