"""``trailguard baseline record|show``: snapshot what trailguard restores, and look at it.

``record`` reads the deployed stack (outputs and parameters) so it snapshots exactly what the functions
protect, with the caller's credentials; ``show`` prints what is recorded, as a table or as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from trailguard.cli._common import add_aws_options

SUMMARY_FIELDS: dict[str, tuple[str, ...]] = {
    "trail": ("HomeRegion", "S3BucketName", "KmsKeyId", "IsMultiRegionTrail", "IsLogging"),
    "bucket": ("Region", "Versioning", "Lifecycle", "Policy"),
    "key": ("KeyState", "Aliases"),
    "store": ("Status", "Name"),
    "rule": ("State", "Targets"),
    "function": ("CodeSha256", "ReservedConcurrentExecutions"),
    "topic": ("Subscriptions",),
}


def register(subparsers: Any) -> None:
    from trailguard.baseline import KINDS

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "baseline",
        help="record or show the baselines trailguard restores",
        description="Baselines are the known-good configuration of every protected trail, its bucket "
        "and key, and trailguard's own rules, functions and topic. Tamper repairs restore them.",
    )
    actions = parser.add_subparsers(dest="baseline_command", metavar="ACTION", required=True)
    record = actions.add_parser("record", help="snapshot the current configuration as the baseline")
    show = actions.add_parser("show", help="print the recorded baselines")
    for sub in (record, show):
        sub.add_argument("--stack-name", required=True, help="the trailguard stack")
        add_aws_options(sub)
        sub.set_defaults(run=run)
    show.add_argument("--kind", choices=KINDS, help="only this kind of resource")
    show.add_argument("--output", choices=("table", "json"), default="table")


def _stack(args: argparse.Namespace) -> tuple[dict[str, str], dict[str, str], str]:
    """(outputs, parameters, region) of the deployed stack, through the one stack lookup."""
    from trailguard.deploy.stack import lookup

    found = lookup(args.stack_name, region=args.region, profile=args.profile, endpoint_url=args.endpoint_url)
    return dict(found.outputs), dict(found.parameters), found.region


def run(args: argparse.Namespace) -> int:
    from trailguard.baseline import Baselines, capture_all, config_from_stack
    from trailguard.deploy import DeployError

    try:
        outputs, parameters, region = _stack(args)
    except (LookupError, DeployError) as exc:
        print(f"trailguard baseline: {exc}", file=sys.stderr)
        return 1
    config = config_from_stack(
        outputs, parameters, region=region, profile=args.profile, endpoint_url=args.endpoint_url
    )
    if args.baseline_command == "record":
        summary = capture_all(
            config, region, profile=args.profile, endpoint_url=args.endpoint_url, source="cli"
        )
        print(summary.describe())
        return 0 if summary.ok else 1
    baselines = Baselines.from_config(config, region, profile=args.profile, endpoint_url=args.endpoint_url)
    try:
        recorded = {args.kind: baselines.of_kind(args.kind)} if args.kind else baselines.all()
    except Exception as exc:
        print(f"trailguard baseline: cannot read the state table: {exc}", file=sys.stderr)
        return 1
    if args.output == "json":
        json.dump(recorded, sys.stdout, indent=2, sort_keys=True, default=str)
        print()
        return 0
    print(_table(recorded))
    return 0


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return f"{len(value)} item(s)" if value and isinstance(value[0], dict) else ",".join(map(str, value))
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items()) or "-"
    text = str(value)
    return text if len(text) <= 48 else text[:45] + "..."


def _table(recorded: dict[str, dict[str, dict[str, Any]]]) -> str:
    rows = [("KIND", "ID", "CAPTURED", "DETAILS")]
    for kind, docs in recorded.items():
        for ident, doc in sorted(docs.items()):
            meta = doc.get("_meta") or {}
            details = " ".join(
                f"{field}={_cell(doc.get(field))}" for field in SUMMARY_FIELDS.get(kind, ()) if field in doc
            )
            rows.append((kind, ident, str(meta.get("captured_at", "-")), details))
    if len(rows) == 1:
        return "no baselines recorded; run: trailguard baseline record --stack-name STACK"
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip() for r in rows
    )
