"""``trailguard destroy``: delete the trailguard stack (after asking, unless ``--yes``), then say what it
kept (the state table, retained log groups, the artifact bucket) and how to remove those.

Exit status: 0 deleted; 1 the deletion ran and failed, or AWS could not be reached; 2 bad usage, no such
stack, or not confirmed (answered no, or no terminal to ask on and no ``--yes``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from trailguard.cli._common import (
    add_aws_options,
    add_output,
    add_stack_name,
    failure,
    progress,
    prompt,
    stack,
    write_document,
)
from trailguard.cli.exit import CommandError, Exit
from trailguard.deploy.destroy import destroy, plan
from trailguard.deploy.errors import DeployError, client

SCHEMA = "trailguard.destroy/1"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "destroy",
        help="delete the trailguard stack (asks first unless --yes)",
        description="Delete the trailguard stack and wait until it is gone, then list what it keeps "
        "(the state table with baselines and incidents, retained log groups, the artifact bucket) with "
        "the commands that remove them. Until the stack is gone, its own guard may report the "
        "DeleteStack call unless the caller is allow-listed.",
    )
    add_stack_name(parser)
    parser.add_argument("--yes", action="store_true", help="delete without asking")
    add_aws_options(parser)
    add_output(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> Exit:
    info = stack(args)
    try:
        cfn = client("cloudformation", info.region, profile=args.profile, endpoint_url=args.endpoint_url)
        kept = plan(cfn, info)
    except DeployError as exc:
        raise failure(exc) from exc
    if not args.yes:
        if not sys.stdin.isatty():
            raise CommandError(
                Exit.USAGE, f"not deleting {info.name}: no terminal to ask on; pass --yes to delete it"
            )
        progress(f"This deletes stack {info.name} in account {info.account}, {info.region}:")
        progress("trailguard stops protecting its trails there. It keeps:")
        for item in kept:
            progress(f"  {item.kind} {item.name}")
        if not prompt(f"Delete stack {info.name}?"):
            raise CommandError(Exit.USAGE, f"not deleting {info.name}: not confirmed")
    try:
        done = destroy(cfn, info, kept, progress=progress)
    except DeployError as exc:
        raise failure(exc) from exc
    if args.output == "json":
        write_document(SCHEMA, done.to_dict())
        return Exit.OK
    print(f"deleted stack {done.stack_name} ({done.region})")
    if done.kept:
        print("kept (remove them yourself once you no longer need them):")
        for item in done.kept:
            print(f"  {item.kind} {item.name}")
            print(f"    {item.remove}")
    return Exit.OK
