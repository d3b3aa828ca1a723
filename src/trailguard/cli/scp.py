"""``trailguard scp``: the service control policies that keep member accounts from switching CloudTrail
off or blinding trailguard (:mod:`trailguard.org.scp`), written out or attached through Organizations.

Without ``--attach`` nothing is called: the policies are printed (or written to ``--output-dir``, one
minified ``<name>.json`` each). With ``--attach --target ID ...`` (management-account credentials) they
are created or updated and attached (:mod:`trailguard.org.attach`); ``--dry-run`` checks and says what
would change, changing nothing. Every output says that SCPs do not apply to the management account.

Exit codes: 0 done; 1 the organization is not ready (not all features, SCPs not enabled, a target full)
or AWS not reachable; 2 bad usage (an option that would make an unsafe or oversized policy, a target
that does not exist, ``--target`` without ``--attach``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from trailguard import aws
from trailguard.cli._common import failure, progress, write_document
from trailguard.cli.exit import CommandError, Exit
from trailguard.org import attach as attaching
from trailguard.org.scp import (
    DEFAULT_PREFIX,
    NOTES,
    SCP_LIMIT,
    Options,
    Policy,
    ScpError,
    policies,
)

SCHEMA = "trailguard.scp/1"
ORGANIZATIONS_REGION = "us-east-1"
"""Organizations is a global service answered in us-east-1 (the region ``--region`` overrides)."""


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "scp",
        help="write (or attach) the SCPs that stop member accounts switching CloudTrail or trailguard off",
        description="Write trailguard's service control policies: CloudTrail's calls (Control Tower's "
        "statement as the floor) and trailguard's own resources, denied to all but trailguard's roles, "
        "StackSets' execution role and break-glass roles. SCPs do not apply to the management account. "
        "Exit status: 0 done, 1 the organization is not ready or AWS not reachable, 2 bad usage.",
    )
    parser.add_argument(
        "--break-glass-role",
        action="append",
        default=[],
        metavar="ARN",
        help="a role exempt from every statement (arn:aws:iam::ACCOUNT:role/NAME; ACCOUNT may be *); "
        "repeatable",
    )
    parser.add_argument(
        "--control-tower",
        action="store_true",
        help="also exempt AWSControlTowerExecution (Control Tower's own SCPs are not repeated)",
    )
    parser.add_argument(
        "--trail",
        action="append",
        default=[],
        metavar="NAME",
        help="limit the trail statement to these trails (name or ARN; default: every trail); repeatable",
    )
    parser.add_argument(
        "--name-prefix",
        default=DEFAULT_PREFIX,
        help=f"the start of trailguard's stack and resource names (default {DEFAULT_PREFIX})",
    )
    parser.add_argument("--output-dir", type=Path, metavar="DIR", help="write <policy name>.json files here")
    parser.add_argument("--output", choices=("text", "json"), default="text", help="default: text")
    parser.add_argument(
        "--attach", action="store_true", help="create or update the policies and attach them to --target"
    )
    parser.add_argument(
        "--target", action="append", default=[], metavar="ID", help="root, OU or account id; repeatable"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="with --attach: check and say what would change, change nothing",
    )
    parser.add_argument("--profile", help="named profile from the AWS config files (default: AWS_PROFILE)")
    parser.add_argument("--endpoint-url", help="send the Organizations calls to this URL (an emulator)")
    parser.add_argument(
        "--region", help=f"where to call Organizations (default {ORGANIZATIONS_REGION}: a global service)"
    )
    parser.set_defaults(run=run)


def _write(directory: Path, built: tuple[Policy, ...]) -> list[str]:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for policy in built:
            path = directory / f"{policy.name}.json"
            path.write_text(policy.content + "\n", encoding="utf-8")
            written.append(str(path))
    except OSError as exc:
        raise CommandError(Exit.USAGE, f"--output-dir {directory}: {exc}") from exc
    return written


def _attach(args: argparse.Namespace, built: tuple[Policy, ...]) -> tuple[list[attaching.Step], list[str]]:
    org = aws.client(
        "organizations",
        args.region or ORGANIZATIONS_REGION,
        profile=args.profile,
        endpoint_url=args.endpoint_url,
    )
    try:
        steps, warnings = attaching.plan(org, built, args.target)
        if not args.dry_run:
            attaching.apply(org, built, steps)
    except attaching.AttachError as exc:
        raise CommandError(Exit.USAGE if exc.usage else Exit.FAILED, str(exc)) from exc
    except Exception as exc:
        raise failure(exc, "Organizations") from exc
    return steps, warnings


def run(args: argparse.Namespace) -> int:
    if (args.target or args.dry_run) and not args.attach:
        raise CommandError(Exit.USAGE, "--target and --dry-run go with --attach")
    try:
        built = policies(
            Options(
                name_prefix=args.name_prefix,
                break_glass=tuple(args.break_glass_role),
                control_tower=args.control_tower,
                trails=tuple(args.trail),
            )
        )
    except ScpError as exc:
        raise CommandError(Exit.USAGE, str(exc)) from exc
    written = _write(args.output_dir, built) if args.output_dir else []
    steps: list[attaching.Step] = []
    warnings: list[str] = []
    if args.attach:
        steps, warnings = _attach(args, built)
    notes = [*warnings, *NOTES]
    if args.output == "json":
        write_document(
            SCHEMA,
            {
                "policies": [
                    {
                        "name": p.name,
                        "description": p.description,
                        "characters": p.size,
                        "limit": SCP_LIMIT,
                        "document": p.document,
                    }
                    for p in built
                ],
                "written": written,
                "attach": [
                    {"action": s.action, "policy": s.policy, "target": s.target, "detail": s.detail}
                    for s in steps
                ],
                "dry_run": bool(args.attach and args.dry_run),
                "notes": notes,
            },
        )
        return Exit.OK
    out = sys.stdout
    paths: list[str | None] = [*written] if written else [None] * len(built)
    for policy, path in zip(built, paths, strict=True):
        where = f" -> {path}" if path else ""
        out.write(f"{policy.name}: {policy.size} of {SCP_LIMIT} characters{where}\n")
        if not path and not args.attach:
            out.write(json.dumps(policy.document, indent=2) + "\n")
    for step in steps:
        out.write(f"  {step.describe(args.dry_run)}\n")
    if args.attach and args.dry_run:
        progress("dry run: nothing was changed")
    for note in notes:
        out.write(f"NOTE: {note}\n")
    return Exit.OK
