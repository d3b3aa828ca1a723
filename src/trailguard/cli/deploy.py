"""``trailguard deploy``: package, upload and create or update the stack through a change set.

Exit status: 0 deployed (or already up to date); 1 the deploy ran and failed, AWS not reachable
included (no credentials, unknown profile); 2 bad usage (an invalid stack name, email or value).
"""

from __future__ import annotations

import argparse
from typing import Any

from trailguard.cli._common import add_aws_options, add_stack_name, failure
from trailguard.cli.exit import CommandError, Exit
from trailguard.deploy.errors import DeployError, InputError
from trailguard.deploy.rollout import EMAIL_RE, deploy
from trailguard.deploy.stack import validate_stack_name


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
        "the CloudFormation stack through a change set. Re-running with nothing changed is a no-op.",
    )
    add_stack_name(parser, type=_stack_name, help="CloudFormation stack name")
    parser.add_argument("--email", required=True, type=_email, help="security contact for alerts")
    add_aws_options(parser)
    parser.add_argument(
        "--allowed-principal-arn",
        action="append",
        default=[],
        metavar="ARN",
        help="principal whose changes are authorised, not reverted (repeatable)",
    )
    parser.add_argument(
        "--protected-trail",
        action="append",
        default=[],
        metavar="NAME",
        help="trail name or ARN to protect (repeatable; default: every trail)",
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="do not record baselines after deploying (record them later: trailguard baseline record)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> Exit:
    for value in (*args.allowed_principal_arn, *args.protected_trail):
        if "," in value or not value.strip():
            raise CommandError(Exit.USAGE, f"invalid value {value!r} (give one per flag)")
    parameters = {
        "AllowedPrincipalArns": ",".join(args.allowed_principal_arn),
        "ProtectedTrails": ",".join(args.protected_trail),
    }
    try:
        outputs = deploy(
            args.stack_name,
            args.email,
            region=args.region,
            profile=args.profile,
            endpoint_url=args.endpoint_url,
            parameters=parameters,
            baseline=not args.no_baseline,
        )
    except DeployError as exc:  # InputError (invalid name or email) is USAGE, the rest FAILED
        raise failure(exc) from exc
    print()
    width = max((len(k) for k in outputs), default=0)
    for key, value in outputs.items():
        print(f"{key:<{width}}  {value}")
    print()
    print(
        f"Next: AWS has emailed {args.email} a subscription confirmation. "
        "Click its link, or no alert will ever be delivered."
    )
    return Exit.OK
