"""``trailguard techniques``: what trailguard detects and repairs, straight from the policy's declarations.

The markdown output is ``docs/techniques.md`` (``trailguard template`` writes it, and a test fails when
the committed file differs), so the documentation cannot drift from the code.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from trailguard.cli._common import write_document
from trailguard.cli.exit import Exit
from trailguard.gen.docs import calls, techniques_markdown
from trailguard.gen.techniques import (
    all_techniques,
    finding_types,
    mitre,
    permissions,
    repair_name,
    technique_id,
    title,
    verification,
)
from trailguard.policy import Technique

SCHEMA = "trailguard.techniques/1"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "techniques",
        help="list every tamper technique with its calls, repair, IAM permissions and verification",
        description="List every technique of the detection policy, as declared in the code.",
    )
    parser.add_argument("--output", choices=("markdown", "json"), default="markdown")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.output == "json":
        write_document(SCHEMA, {"techniques": [as_dict(t) for t in all_techniques()]})
    else:
        sys.stdout.write(techniques_markdown())
    return Exit.OK


def as_dict(technique: Technique) -> dict[str, Any]:
    return {
        "id": technique_id(technique),
        "title": title(technique),
        "mitre": mitre(technique),
        "calls": calls(technique),
        "finding_types": sorted(f for types in finding_types(technique).values() for f in types),
        "remediation": repair_name(technique),
        "permissions": list(permissions(technique)),
        "verification": verification(technique),
    }
