"""``trailguard audit [--org]``: is CloudTrail on, and is trailguard guarding it, in every account and region?

Without ``--org``: the caller's account. With ``--org`` (management-account credentials): every ACTIVE
account of the organization (or of the ``--ou`` OUs and the OUs below them; suspended accounts are
skipped and noted), each reached by assuming ``--role-name`` (the caller's own account with its own
credentials), in each ``--region`` (default: the resolved region) or ``--all-enabled-regions``. The
checks (:mod:`trailguard.org.checks`): Security Hub's CloudTrail.1-7, and trailguard's TG.instance,
TG.wiring, TG.baseline, TG.only-trail, TG.scp and TG.org (``--check`` narrows them). Nothing is changed.

Rows are sorted by account, region and check whatever order the concurrent work (``--workers``)
finished in; the table (or ``--output json``, schema ``trailguard.audit/1``) goes to stdout, a progress
bar to stderr only when it is a terminal. An account that cannot be reached (AssumeRole denied, a
timeout) is an ERROR row for each of its checks, never a crash or a silent pass.

Exit codes: 0 every row passed (or is a WARN or N/A below ``--fail-on``); 1 a FAIL at the ``--fail-on``
severity or above (default ``low``: any FAIL; ``warn``: WARN rows too), any ERROR, or the caller's own
account or organization not readable; 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from trailguard import aws
from trailguard.cli._common import failure, paint, write_document
from trailguard.cli.exit import CommandError, Exit
from trailguard.org import audit as auditing
from trailguard.org import checks

SCHEMA = "trailguard.audit/1"
FAIL_ON = ("critical", "high", "medium", "low", "warn")
COLOURS = {checks.PASS: "32", checks.FAIL: "31", checks.ERROR: "31", checks.WARN: "33"}


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "audit",
        help="check every account and region against Security Hub's CloudTrail controls and trailguard's own",
        description="Audit CloudTrail (Security Hub's CloudTrail.1-7) and trailguard (stack, wiring, "
        "baselines, SCPs, organization) in this account, or with --org in every active account of the "
        "organization. Changes nothing. Exit status: 0 all pass, 1 a FAIL at --fail-on or an ERROR "
        "(an unreachable account), 2 bad usage.",
    )
    parser.add_argument("--org", action="store_true", help="every active account of the organization")
    parser.add_argument(
        "--role-name",
        default=auditing.DEFAULT_ROLE,
        help=f"with --org: the role assumed in each account (default {auditing.DEFAULT_ROLE})",
    )
    parser.add_argument(
        "--region",
        action="append",
        default=[],
        dest="regions",
        metavar="R",
        help="repeatable; default: the resolved region",
    )
    parser.add_argument(
        "--all-enabled-regions",
        action="store_true",
        help="every region enabled in each account (instead of --region)",
    )
    parser.add_argument(
        "--ou",
        action="append",
        default=[],
        metavar="OU",
        help="with --org: only accounts under this OU (and its OUs)",
    )
    parser.add_argument("--workers", type=int, default=16, help="concurrent calls (default 16)")
    parser.add_argument("--output", choices=("table", "json"), default="table", help="default: table")
    parser.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="low",
        help="the lowest severity whose FAIL exits 1 (default low: any FAIL; warn: WARN rows too)",
    )
    parser.add_argument(
        "--check",
        action="append",
        default=[],
        dest="checks",
        metavar="ID",
        help=f"only this check (or prefix: CloudTrail, TG); repeatable; ids: {', '.join(checks.CHECKS)}",
    )
    parser.add_argument(
        "--stack-name",
        default="trailguard",
        help="the plain stack's name (default trailguard; StackSets: trailguard-member)",
    )
    parser.add_argument(
        "--name-prefix", default="trailguard", help="the stacks' NamePrefix (default trailguard)"
    )
    parser.add_argument("--profile", help="named profile from the AWS config files (default: AWS_PROFILE)")
    parser.add_argument("--endpoint-url", help="send every AWS call to this URL instead (an emulator)")
    parser.set_defaults(run=run)


def _options(args: argparse.Namespace) -> auditing.Options:
    if args.regions and args.all_enabled_regions:
        raise CommandError(Exit.USAGE, "--region and --all-enabled-regions exclude each other")
    if args.ou and not args.org:
        raise CommandError(Exit.USAGE, "--ou goes with --org")
    if args.workers < 1 or args.workers > 256:
        raise CommandError(Exit.USAGE, "--workers takes 1 to 256")
    for check in args.checks:
        if not any(c == check or c.startswith(check.rstrip(".") + ".") for c in checks.CHECKS):
            raise CommandError(
                Exit.USAGE, f"--check {check}: no such check (one of {', '.join(checks.CHECKS)})"
            )
    try:
        home = aws.resolve_region(args.regions[0] if args.regions else None, args.profile)
    except Exception as exc:
        raise failure(exc) from exc
    regions = () if args.all_enabled_regions else tuple(dict.fromkeys(args.regions or [home]))
    return auditing.Options(
        home_region=home,
        org=args.org,
        role_name=args.role_name,
        regions=regions,
        all_enabled_regions=args.all_enabled_regions,
        ous=tuple(args.ou),
        workers=args.workers,
        stack_name=args.stack_name,
        name_prefix=args.name_prefix,
        checks=tuple(args.checks),
        profile=args.profile,
        endpoint_url=args.endpoint_url,
    )


def _table(report: auditing.Report, failing: list[checks.Row]) -> None:
    out = sys.stdout
    header = ("ACCOUNT", "REGION", "CHECK", "STATUS", "SEVERITY", "RESOURCE", "DETAIL")
    lines = [
        header,
        *((r.account, r.region, r.check, r.status, r.severity, r.resource, r.detail) for r in report.rows),
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(5)]
    for line in lines:
        cells = [line[i].ljust(widths[i]) for i in range(5)]
        if line is not header:
            cells[3] = paint(cells[3], COLOURS[line[3]], out) if line[3] in COLOURS else cells[3]
        out.write("  ".join(cells) + "  " + (f"{line[5]}  " if line[5] else "") + line[6] + "\n")
    counts = ", ".join(f"{n} {s}" for s, n in report.counts().items() if n)
    audited = sum(1 for a in report.accounts if a.to_dict()["audited"])
    out.write(f"\n{audited} account(s) audited; {counts or 'no rows'}; {len(failing)} failing\n")
    for note in report.notes:
        out.write(f"NOTE: {note}\n")


def run(args: argparse.Namespace) -> int:
    options = _options(args)
    try:
        report = auditing.run(options, progress=auditing.Progress(0))
    except Exception as exc:  # the caller's own account or organization: nothing could be audited
        said = failure(exc, "reading the " + ("organization" if options.org else "account"))
        raise CommandError(Exit.FAILED, str(said)) from exc
    failing = report.failing(args.fail_on)
    code = Exit.FAILED if failing else Exit.OK
    if args.output == "json":
        org = report.organization
        write_document(
            SCHEMA,
            {
                "organization": None
                if org is None
                else {
                    "id": org.id,
                    "management_account": org.management_account,
                    "trusted_access": sorted(org.services),
                    "delegated_admins": list(org.delegated_admins),
                },
                "regions": sorted({r for a in report.accounts for r in a.regions}),
                "fail_on": args.fail_on,
                "accounts": [a.to_dict() for a in report.accounts],
                "rows": [r.to_dict() for r in report.rows],
                "summary": report.counts(),
                "failing": len(failing),
                "notes": report.notes,
                "exit": int(code),
            },
        )
    else:
        _table(report, failing)
    return code
