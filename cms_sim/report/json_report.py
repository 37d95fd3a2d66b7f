"""``--report FILE.json``: per scenario and step, the verdict, timings and messages."""

from __future__ import annotations

import json
from pathlib import Path

from ..scenario.result import ScenarioResult
from .messages import summarize


def _jsonable(value):
    """Step replies are gate-command NamedTuples holding addresses and objects: make them plain."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "_asdict"):
        data = {name: _jsonable(item) for name, item in value._asdict().items() if item not in (None, ())}
        if hasattr(value, "COMMAND"):
            data = {"gate_command": value.title, **data}
        return data
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return str(value)


def scenario_report(result: ScenarioResult) -> dict:
    start = result.started
    return {
        "name": result.name,
        "description": result.description,
        "file": result.source,
        "target": result.target,
        "verdict": result.verdict.value if result.verdict else "not run",
        "interrupted": result.interrupted,
        "started": result.started_wall,
        "duration_ms": round(result.duration_ms, 3),
        "seed": result.seed,
        "variables": _jsonable(result.variables),
        "steps": [
            {
                "id": step.id,
                "kind": step.kind,
                "title": step.title,
                "line": step.line,
                "verdict": step.verdict.value if step.verdict else "not run",
                "message": step.message,
                "started_ms": round((step.started - start) * 1000.0, 3) if step.started else None,
                "duration_ms": round(step.duration_ms, 3),
                "latency_ms": None if step.latency_ms is None else round(step.latency_ms, 3),
                "reply": _jsonable(step.reply),
                "messages": [summarize(record, start) for record in step.messages],
            }
            for step in result.steps
        ],
        "messages": [summarize(record, start) for record in result.trace],
    }


def write_json_report(results: list[ScenarioResult], path: str | Path) -> None:
    summary = {
        "scenarios": len(results),
        "passed": sum(result.passed for result in results),
        "failed": sum(not result.passed and not result.interrupted for result in results),
        "interrupted": any(result.interrupted for result in results),
    }
    document = {"summary": summary, "results": [scenario_report(result) for result in results]}
    Path(path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
