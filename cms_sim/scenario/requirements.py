"""Which scenarios apply to which CMTS: a scenario's ``requires:`` against what the run can offer.

Against the embedded CMTS everything applies: the scenario configures it and
its modem acts.  Against real gear (``--cmts``) a scenario may need what
only the embedded CMTS has (a capacity it sets, a fault it injects), a modem
that acts on its gates (a call made on the MTA while it runs: ``--mta``), or
values that only the lab knows (the CMTS's configured timers: ``--var``).
A need that is not met skips the scenario with the reason, so a run against
gear fails only for what the gear did.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .model import Scenario


@dataclass(frozen=True)
class Target:
    """What a run offers the scenarios: the embedded CMTS or real gear, a modem that acts, the ``--var`` given."""

    embedded: bool
    mta: bool = False
    given: frozenset[str] = frozenset()


EMBEDDED = Target(embedded=True, mta=True)


def unmet(scenario: Scenario, target: Target) -> str | None:
    """Why ``scenario`` cannot run against ``target``, or None when it can."""
    if target.embedded:
        return None
    needs = scenario.requires
    if needs.embedded:
        return f"needs the embedded CMTS: {needs.embedded}"
    if needs.mta and not target.mta:
        return f"needs {needs.mta}: run with --mta"
    missing = [name for name in needs.variables if name not in target.given]
    if missing:
        return "needs " + "; ".join(f"--var {name}=... ({needs.variables[name]})" for name in missing)
    return None


def against_gear(scenario: Scenario) -> str:
    """One line for docs/real-cmts.md: what running ``scenario`` against real gear takes."""
    needs = scenario.requires
    if needs.embedded:
        return f"skipped: {needs.embedded}"
    terms = []
    if needs.mta:
        terms.append(f"`--mta`: {needs.mta}")
    terms += [f"`--var {name}=...`: {why}" for name, why in needs.variables.items()]
    return "; ".join(terms) if terms else "as it is: gate commands only"


def gear_table(scenarios: list[Scenario]) -> str:
    """The Markdown table of docs/real-cmts.md: each scenario and what it takes against real gear."""
    rows = ["| Scenario | Against real gear |", "|---|---|"]
    rows += [f"| `{Path(scenario.source).stem}` | {against_gear(scenario)} |" for scenario in scenarios]
    return "\n".join(rows) + "\n"
