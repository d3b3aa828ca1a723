"""``trailguard deploy``: package, upload and create or update the stack through a change set."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from trailguard.cli._common import add_aws_options
from trailguard.deploy import EMAIL_RE, DeployError, deploy


def _email(value: str) -> str:
    if not EMAIL_RE.match(value):
        raise argparse.ArgumentTypeError(f"not an email address: {value!r}")
    return value


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "deploy",
        help="deploy or update the trailguard stack",
        description="Package the functions, upload them to an artifact bucket and create or update "
        "the CloudFormation stack through a change set. Re-running with nothing changed is a no-op.",
    )
    parser.add_argument("--stack-name", required=True, help="CloudFormation stack name")
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


def run(args: argparse.Namespace) -> int:
    for value in (*args.allowed_principal_arn, *args.protected_trail):
        if "," in value or not value.strip():
            print(f"trailguard deploy: invalid value {value!r} (give one per flag)", file=sys.stderr)
            return 2
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
    except DeployError as exc:
        print(f"trailguard deploy: {exc}", file=sys.stderr)
        return 1
    print()
    width = max((len(k) for k in outputs), default=0)
    for key, value in outputs.items():
        print(f"{key:<{width}}  {value}")
    print()
    print(
        f"Next: AWS has emailed {args.email} a subscription confirmation. "
        "Click its link, or no alert will ever be delivered."
    )
    return 0
