"""Scenario files: load (schema-checked, errors with file, line and field), run step by step, read the result."""

from .loader import ScenarioError, load_scenario, parse_scenario
from .model import Scenario
from .modem import EmbeddedModem, ModemDriver, ModemRefused, ModemTimeout, RealModem
from .result import ScenarioResult, StepResult, Verdict
from .runner import ScenarioRunner
from .embedded import embedded_config, run_embedded

__all__ = [
    "EmbeddedModem", "ModemDriver", "ModemRefused", "ModemTimeout", "RealModem", "Scenario", "ScenarioError",
    "ScenarioResult", "ScenarioRunner", "StepResult", "Verdict", "embedded_config", "load_scenario", "parse_scenario",
    "run_embedded",
]
