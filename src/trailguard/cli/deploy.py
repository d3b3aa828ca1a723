"""``trailguard deploy``: package, upload and create or update the stack through a change set, with the
semantics of ``aws cloudformation deploy``.

On an update, every parameter not given keeps its previous value (``--allowed-principal-arn``,
``--protected-trail``, ``--email`` and ``--parameter-overrides Key=Value`` name what changes; an empty
value, ``--parameter-overrides AllowedPrincipalArns=``, clears one). ``--dry-run`` (alias
``--no-execute-changeset``) creates the change set, prints it and the baselines that would be recorded,
deletes it and changes nothing. Progress goes to stderr; the result (the stack's outputs, or with
``--output json`` one document) to stdout.

With ``--org`` (run with the management account's credentials) it deploys to a whole organization
instead (:mod:`trailguard.org.deploy`): ``--region`` is then repeatable (or ``--all-enabled-regions``),
``--security-account`` names where the central stack goes, ``--ou`` the OUs the stack set targets; the
result is an account x region table (exit 1 when any row failed, or the organization is not ready).

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
ORG_SCHEMA = "trailguard.deploy-org/1"


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


class _Regions(argparse.Action):
    """``--region``: the last one is the region (as the AWS CLI takes it), all of them the ``--org``
    regions."""

    def __call__(self, parser: Any, namespace: argparse.Namespace, values: Any, option: Any = None) -> None:
        regions = [*(getattr(namespace, "regions", None) or []), str(values)]
        namespace.regions = regions
        namespace.region = str(values)


def _account_id(value: str) -> str:
    if not (len(value) == 12 and value.isdigit()):
        raise argparse.ArgumentTypeError(f"not an AWS account id (12 digits): {value!r}")
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
    add_stack_name(
        parser, required=False, type=_stack_name, help="CloudFormation stack name (required without --org)"
    )
    parser.add_argument(
        "--email",
        type=_email,
        help="security contact for alerts (required to create the stack; on an update: kept unless given)",
    )
    parser.add_argument(
        "--region",
        action=_Regions,
        help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, then the profile's region); with --org "
        "repeatable: every region to deploy to",
    )
    parser.add_argument("--profile", help="named profile from the AWS config files (default: AWS_PROFILE)")
    parser.add_argument(
        "--endpoint-url",
        help="send every AWS call to this URL instead (a local emulator such as moto_server)",
    )
    parser.set_defaults(uses_aws=True, regions=None)
    org = parser.add_argument_group("organization (--org, with the management account's credentials)")
    org.add_argument(
        "--org",
        action="store_true",
        help="deploy to the organization: the central stack, the member stack set, the management "
        "account's stacks",
    )
    org.add_argument(
        "--security-account", type=_account_id, metavar="ID", help="account that gets the central stack"
    )
    org.add_argument(
        "--ou",
        action="append",
        metavar="OU",
        help="OU id or name the member stack set deploys to (repeatable; default: the whole organization)",
    )
    org.add_argument(
        "--all-enabled-regions",
        action="store_true",
        help="every region enabled in the management account (instead of --region)",
    )
    org.add_argument(
        "--security-role-name",
        metavar="NAME",
        default=None,
        help="role assumed in the security account (default: OrganizationAccountAccessRole)",
    )
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


ORG_ONLY = ("security_account", "ou", "security_role_name")
SINGLE_ONLY = (
    "allowed_principal_arn",
    "protected_trail",
    "tags",
    "role_arn",
    "s3_bucket",
    "s3_prefix",
    "allow_no_trails",
    "no_baseline",
)


def run(args: argparse.Namespace) -> Exit:
    if args.org:
        return run_org(args)
    given = [f"--{n.replace('_', '-')}" for n in ORG_ONLY if getattr(args, n)]
    if args.all_enabled_regions:
        given.append("--all-enabled-regions")
    if given:
        raise CommandError(Exit.USAGE, f"{', '.join(given)} only with --org")
    if not args.stack_name:
        raise CommandError(Exit.USAGE, "the following arguments are required: --stack-name")
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


def run_org(args: argparse.Namespace) -> Exit:
    """``deploy --org``: the organization's rollout and its account x region table."""
    from trailguard.org.deploy import DEFAULT_SECURITY_ROLE, PreflightError, Request, deploy_org

    wrong = [f"--{n.replace('_', '-')}" for n in SINGLE_ONLY if getattr(args, n)]
    if args.stack_name:
        wrong.append("--stack-name (the names are fixed: trailguard, trailguard-member, trailguard-central)")
    if wrong:
        raise CommandError(Exit.USAGE, f"not with --org: {', '.join(wrong)}")
    if not args.email:
        raise CommandError(Exit.USAGE, "--org needs --email (the security contact of the central topic)")
    if not args.security_account:
        raise CommandError(Exit.USAGE, "--org needs --security-account ID (where the central stack goes)")
    if args.all_enabled_regions and args.regions:
        raise CommandError(Exit.USAGE, "--region and --all-enabled-regions both given")
    regions = tuple(args.regions or ()) if not args.all_enabled_regions else ()
    if not regions and not args.all_enabled_regions:
        regions = (args.region,)  # resolved as the AWS CLI does: flag, environment, profile
    request = Request(
        email=args.email,
        security_account=args.security_account,
        ous=tuple(args.ou or ()),
        regions=regions,
        all_enabled_regions=args.all_enabled_regions,
        security_role_name=args.security_role_name or DEFAULT_SECURITY_ROLE,
        profile=args.profile,
        endpoint_url=args.endpoint_url,
        dry_run=args.dry_run,
        parameters=key_values(args.parameter_overrides, "--parameter-overrides"),
        home_region=args.region,
    )
    try:
        result = deploy_org(request, progress=progress)
    except PreflightError as exc:
        raise CommandError(Exit.FAILED, str(exc)) from exc
    except DeployError as exc:
        raise failure(exc) from exc
    if result.dry_run:
        progress("dry run: nothing was changed")
    elif result.failed:
        progress(paint(f"{len(result.failed)} stack(s) failed: see the reason of each", "31", sys.stderr))
    else:
        progress(
            paint(
                "Next: AWS has emailed the security contact a subscription confirmation for the central "
                "topic. Click its link, or no alert will ever be delivered.",
                "33",
                sys.stderr,
            )
        )
    if args.output == "json":
        write_document(ORG_SCHEMA, result.to_dict())
    else:
        rows: list[dict[str, str]] = result.to_dict()["rows"]
        headers = {
            "account": "ACCOUNT",
            "region": "REGION",
            "stack": "STACK",
            "status": "STATUS",
            "reason": "REASON",
        }
        widths = {k: max([len(v)] + [len(r[k]) for r in rows]) for k, v in headers.items()}
        for row in [headers, *rows]:
            print("  ".join(f"{row[k]:<{widths[k]}}" for k in headers).rstrip())
    return Exit.FAILED if result.failed else Exit.OK
