"""The JSON Schema of scenario files, generated from the pydantic models (never edited by hand).

Editors use ``scenarios/scenario.schema.json`` to complete and check
scenario files.  Regenerate it after changing :mod:`cms_sim.scenario.model`::

    python -m cms_sim.scenario.schema            # write it
    python -m cms_sim.scenario.schema --check    # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .model import Scenario

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "scenarios" / "scenario.schema.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def generate() -> str:
    """The schema's text, as shipped."""
    schema = {"$schema": DIALECT, **Scenario.model_json_schema()}
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cms_sim.scenario.schema", description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=SCHEMA_PATH)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if the file differs")
    args = parser.parse_args(argv)
    text = generate()
    if args.check:
        current = args.path.read_text(encoding="utf-8") if args.path.exists() else ""
        if current != text:
            print(f"{args.path} is stale: run python -m cms_sim.scenario.schema", file=sys.stderr)
            return 1
        return 0
    args.path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
