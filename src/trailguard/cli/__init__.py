"""The ``trailguard`` command: one module per subcommand, each with ``register`` and ``run``.

Exit codes (documented in the README, defined in :mod:`trailguard.cli.exit`): 0 success; 1 the command
ran but failed (a deploy that failed, a repair that could not be verified, AWS not reachable); 2 bad
usage or an unreadable input. Progress and prompts go to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from trailguard import __version__
from trailguard.cli._common import resolve_region
from trailguard.cli.exit import CommandError, Exit

# Modules under trailguard.cli, in help order; each defines register(subparsers) and run(args) -> Exit.
# Loaded by name when the parser is built (not imported above): each command module imports this
# package's helpers, so importing them here would make trailguard.cli import itself.
COMMANDS = (
    "classify",
    "techniques",
    "template",
    "package",
    "deploy",
    "baseline",
    "emulator",
    "demo",
    "incidents",
    "destroy",
    "scp",
    "audit",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trailguard",
        description="Keeps AWS CloudTrail from being switched off.",
    )
    parser.add_argument("--version", action="version", version=f"trailguard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMANDS:
        importlib.import_module(f"trailguard.cli.{module_name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code (argparse's own usage errors exit 2 through SystemExit)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return Exit.USAGE
    try:
        resolve_region(args)
        return Exit(args.run(args))
    except CommandError as exc:
        print(f"trailguard {args.command}: {exc}", file=sys.stderr)
        return exc.code
