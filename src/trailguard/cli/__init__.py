"""The ``trailguard`` command: one module per subcommand, each with ``register`` and ``run``.

Exit codes (documented in the README): 0 success; 1 the command ran but found or caused a failure
(a deploy that failed, a repair that could not be verified); 2 bad usage or an unreadable input.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules under trailguard.cli, in help order; each defines register(subparsers) and run(args) -> int.
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
)


def build_parser() -> argparse.ArgumentParser:
    from trailguard import __version__

    parser = argparse.ArgumentParser(
        prog="trailguard",
        description="Keeps AWS CloudTrail from being switched off.",
    )
    parser.add_argument("--version", action="version", version=f"trailguard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMANDS:
        try:
            module = importlib.import_module(f"trailguard.cli.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"trailguard.cli.{module_name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    code: int = args.run(args)
    return code
