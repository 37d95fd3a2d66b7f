"""``--report FILE.json``: per scenario and step, the verdict, timings and messages."""

from __future__ import annotations

import json
from pathlib import Path

from ..scenario.result import ScenarioResult
from .messages import gate_id_text, summarize


def _jsonable(value, gate_ids: frozenset[str] = frozenset({"gate_id"})):
    """Replies are gate-command NamedTuples holding addresses and objects, variables a dict: make them plain.

    Keys in ``gate_ids`` hold Gate-IDs and are written as :func:`gate_id_text`.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "_asdict"):
        value = {name: item for name, item in value._asdict().items() if item not in (None, ())} | (
            {"gate_command": value.title} if hasattr(value, "COMMAND") else {})
    if isinstance(value, dict):
        return {str(key): gate_id_text(item) if key in gate_ids and isinstance(item, int) else _jsonable(item)
                for key, item in sorted(value.items(), key=lambda pair: pair[0] != "gate_command")}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return str(value)


def _finding(finding, start: float) -> dict:
    return {"rule": finding.rule, "clause": finding.clause, "severity": finding.severity.value,
            "message": finding.message, "text": finding.text, "time_ms": round((finding.time - start) * 1000.0, 3),
            "hex": finding.data.hex()}


def scenario_report(result: ScenarioResult) -> dict:
    start = result.started
    return {
        "name": result.name,
        "description": result.description,
        "file": result.source,
        "target": result.target,
        "verdict": result.verdict.value if result.verdict else "not run",
        "skipped": result.skip_reason,
        "interrupted": result.interrupted,
        "started": result.started_wall,
        "duration_ms": round(result.duration_ms, 3),
        "seed": result.seed,
        "variables": _jsonable(result.variables, result.gate_variables),
        "steps": [
            {
                "id": step.id,
                "kind": step.kind,
                "phase": step.phase,
                "title": step.title,
                "line": step.line,
                "verdict": step.verdict.value if step.verdict else "not run",
                "message": step.message,
                "started_ms": round((step.started - start) * 1000.0, 3) if step.started else None,
                "duration_ms": round(step.duration_ms, 3),
                "latency_ms": None if step.latency_ms is None else round(step.latency_ms, 3),
                "reply": _jsonable(step.reply),
                "messages": [summarize(record, start) for record in step.messages],
                "findings": [_finding(finding, start) for finding in step.findings],
            }
            for step in result.steps
        ],
        "findings": [_finding(finding, start) for finding in result.findings],
        "messages": [summarize(record, start) for record in result.trace],
    }


def write_json_report(results: list[ScenarioResult], path: str | Path) -> None:
    summary = {
        "scenarios": len(results),
        "passed": sum(result.passed for result in results),
        "failed": sum(result.failed and not result.interrupted for result in results),
        "skipped": sum(result.skipped for result in results),
        "findings": sum(len(result.findings) for result in results),
        "interrupted": any(result.interrupted for result in results),
    }
    document = {"summary": summary, "results": [scenario_report(result) for result in results]}
    Path(path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
