"""``trailguard template``: write the files derived from the technique registry, or check them.

The template's rule patterns and remediation statements (marked blocks in
``src/trailguard/data/trailguard.yaml``),
``docs/techniques.md`` and the technique table of ``docs/detection-policy.md``. ``--check`` is what a
test and CI run: exit 1 with a diff when a committed file is not what the registry generates.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from trailguard.cli.exit import Exit
from trailguard.gen.blocks import BlockError
from trailguard.gen.files import ROOT, TARGETS, TEMPLATE, generate, write


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "template",
        help="regenerate the template's rule patterns and IAM statements and the technique docs",
        description="Regenerate, from the technique registry, the EventBridge patterns and the remediation "
        "role's IAM statements in src/trailguard/data/trailguard.yaml, docs/techniques.md and the "
        "technique table of docs/detection-policy.md (in place, by default).",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 and print a diff when a committed file differs from what is generated",
    )
    mode.add_argument(
        "--output",
        metavar="FILE",
        help="write the generated template to FILE ('-' for stdout) instead; the docs are left alone",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=ROOT,
        metavar="DIR",
        help="the source checkout to regenerate (default: the one trailguard runs from)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    root: Path = args.root
    targets = [t for t in TARGETS if t.path == TEMPLATE] if args.output else list(TARGETS)
    try:
        results = generate(root, targets)
    except (OSError, BlockError) as exc:
        print(f"trailguard template: {exc}", file=sys.stderr)
        return Exit.USAGE
    if args.output:
        (template,) = results
        if args.output == "-":
            sys.stdout.write(template.generated)
        else:
            Path(args.output).write_text(template.generated, encoding="utf-8")
        return Exit.OK
    if args.check:
        stale = [r for r in results if r.stale]
        for result in stale:
            sys.stdout.write(result.diff())
        for result in stale:
            print(
                f"trailguard template: {result.path} is out of date: run trailguard template", file=sys.stderr
            )
        return Exit.FAILED if stale else Exit.OK
    for path in write(root, results):
        print(f"wrote {path}")
    return Exit.OK
