"""``trailguard deploy``: package, upload and create or update the stack through a change set, with the
semantics of ``aws cloudformation deploy``.

On an update, every parameter not given keeps its previous value (``--allowed-principal-arn``,
``--protected-trail``, ``--email`` and ``--parameter-overrides Key=Value`` name what changes; an empty
value, ``--parameter-overrides AllowedPrincipalArns=``, clears one). ``--dry-run`` (alias
``--no-execute-changeset``) creates the change set, prints it and the baselines that would be recorded,
deletes it and changes nothing. Progress goes to stderr; the result (the stack's outputs, or with
``--output json`` one document) to stdout.

Exit status: 0 deployed (or already up to date, or the dry run printed); 1 the deploy ran and failed,
AWS not reachable included (no credentials, unknown profile), or it would protect no trail (unless
``--allow-no-trails``); 2 bad usage (an invalid stack name, email or value, a ``--protected-trail`` that
does not exist, an unknown parameter, no region).
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
    key_values,
    paint,
    progress,
    write_document,
)
from trailguard.cli.exit import CommandError, Exit
from trailguard.deploy.errors import DeployError, InputError
from trailguard.deploy.rollout import EMAIL_RE, apply
from trailguard.deploy.stack import validate_stack_name

SCHEMA = "trailguard.deploy/1"


def _email(value: str) -> str:
    if not EMAIL_RE.match(value):
        raise argparse.ArgumentTypeError(f"not an email address: {value!r}")
    return value


def _stack_name(value: str) -> str:
    try:
        validate_stack_name(value)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return value


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "deploy",
        help="deploy or update the trailguard stack",
        description="Package the functions, upload them to an artifact bucket and create or update "
        "the CloudFormation stack through a change set, as `aws cloudformation deploy` does: on an "
        "update, parameters not given keep their previous values. Re-running with nothing changed is a "
        "no-op. Progress is written to stderr, the stack's outputs to stdout.",
    )
    add_stack_name(parser, type=_stack_name, help="CloudFormation stack name")
    parser.add_argument(
        "--email",
        type=_email,
        help="security contact for alerts (required to create the stack; on an update: kept unless given)",
    )
    add_aws_options(parser)
    parser.add_argument(
        "--allowed-principal-arn",
        action="append",
        metavar="ARN",
        help="principal whose changes are authorised, not reverted (repeatable; replaces the list; "
        "not given: the list is kept)",
    )
    parser.add_argument(
        "--protected-trail",
        action="append",
        metavar="NAME",
        help="trail name or ARN to protect; it must exist (repeatable; replaces the list; not given: "
        "kept on an update, every trail on a create)",
    )
    parser.add_argument(
        "--parameter-overrides",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="template parameters to set, e.g. BackstopSchedule='rate(15 minutes)'; the others keep "
        "their previous values (an empty value clears a list: AllowedPrincipalArns=)",
    )
    parser.add_argument(
        "--tags",
        nargs="+",
        metavar="KEY=VALUE",
        help="tags for the stack and its resources (replace the stack's tags; not given: kept on update)",
    )
    parser.add_argument(
        "--role-arn",
        metavar="ARN",
        help="service role CloudFormation assumes to change the stack (default: the caller's credentials)",
    )
    parser.add_argument(
        "--s3-bucket",
        metavar="BUCKET",
        help="existing bucket for the Lambda zip, in the stack's region "
        "(default: trailguard-artifacts-ACCOUNT-REGION, created if missing)",
    )
    parser.add_argument(
        "--s3-prefix", metavar="PREFIX", help="key prefix for the Lambda zip (default: trailguard)"
    )
    parser.add_argument(
        "--dry-run",
        "--no-execute-changeset",
        dest="dry_run",
        action="store_true",
        help="create the change set, print it and the baselines that would be recorded, then delete it: "
        "nothing is changed",
    )
    parser.add_argument(
        "--allow-no-trails",
        action="store_true",
        help="deploy even when the stack would protect no trail (an account without one yet)",
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="do not record baselines after deploying (record them later: trailguard baseline record)",
    )
    add_output(parser)
    parser.set_defaults(run=run)


def _values(flag: str, values: list[str] | None) -> str | None:
    if values is None:
        return None
    for value in values:
        if "," in value or not value.strip():
            raise CommandError(Exit.USAGE, f"{flag}: invalid value {value!r} (give one per flag)")
    return ",".join(values)


def run(args: argparse.Namespace) -> Exit:
    parameters = key_values(args.parameter_overrides, "--parameter-overrides")
    for flag, name, values in (
        ("--allowed-principal-arn", "AllowedPrincipalArns", args.allowed_principal_arn),
        ("--protected-trail", "ProtectedTrails", args.protected_trail),
    ):
        joined = _values(flag, values)
        if joined is None:
            continue
        if name in parameters:
            raise CommandError(Exit.USAGE, f"{flag} and --parameter-overrides {name}=... both given")
        parameters[name] = joined
    if args.email and "SecurityContactEmail" in parameters:
        raise CommandError(
            Exit.USAGE, "--email and --parameter-overrides SecurityContactEmail=... both given"
        )
    tags = key_values(args.tags, "--tags") if args.tags is not None else None
    try:
        result = apply(
            args.stack_name,
            args.email,
            region=args.region,
            profile=args.profile,
            endpoint_url=args.endpoint_url,
            parameters=parameters,
            tags=tags,
            role_arn=args.role_arn,
            s3_bucket=args.s3_bucket,
            s3_prefix=args.s3_prefix,
            dry_run=args.dry_run,
            require_trails=not args.allow_no_trails,
            progress=progress,
            baseline=not args.no_baseline,
        )
    except DeployError as exc:  # InputError (invalid name, email, trail, parameter) is USAGE, the rest FAILED
        raise failure(exc) from exc
    if args.output == "json":
        write_document(SCHEMA, result.to_dict())
        return Exit.OK
    if result.status == "dry-run":
        print(
            f"dry run: stack {result.stack_name} in {result.region}: "
            f"{len(result.changes)} resource change(s), {len(result.baseline_changes)} baseline change(s); "
            "nothing was changed"
        )
        return Exit.OK
    width = max((len(k) for k in result.outputs), default=0)
    for key, value in result.outputs.items():
        print(f"{key:<{width}}  {value}")
    if result.status == "created":
        progress(
            paint(
                "Next: AWS has emailed the security contact a subscription confirmation. "
                "Click its link, or no alert will ever be delivered.",
                "33",
                sys.stderr,
            )
        )
    return Exit.OK
