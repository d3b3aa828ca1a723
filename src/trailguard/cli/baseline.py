"""``trailguard baseline record|show``: snapshot what trailguard restores, and look at it.

``record`` reads the deployed stack (outputs and parameters) so it snapshots exactly what the functions
protect, with the caller's credentials; ``show`` prints what is recorded, as a table or as JSON.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from trailguard import resources
from trailguard.baseline import Baselines, capture_all
from trailguard.baseline.deployed import record_stack
from trailguard.baseline.discover import pending_creates
from trailguard.cli._common import add_aws_options, add_stack_name, failure, stack, write_document
from trailguard.cli.exit import Exit
from trailguard.deploy.config import config_from_stack

SCHEMA = "trailguard.baseline/1"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "baseline",
        help="record or show the baselines trailguard restores",
        description="Baselines are the known-good configuration of every protected trail, its bucket "
        "and key, and trailguard's own rules, functions and topic. Tamper repairs restore them. "
        "Exit status: 0 done, 1 not every baseline recorded or AWS not reachable, 2 bad usage, "
        "no such stack or unreadable state table.",
    )
    actions = parser.add_subparsers(dest="baseline_command", metavar="ACTION", required=True)
    record = actions.add_parser("record", help="snapshot the current configuration as the baseline")
    show = actions.add_parser("show", help="print the recorded baselines")
    for sub in (record, show):
        add_stack_name(sub)
        add_aws_options(sub)
        sub.set_defaults(run=run)
    show.add_argument("--kind", choices=resources.BASELINE_KINDS, help="only this kind of resource")
    show.add_argument("--output", choices=("table", "json"), default="table")


def run(args: argparse.Namespace) -> Exit:
    deployed = stack(args)
    config = config_from_stack(
        deployed.outputs,
        deployed.parameters,
        region=deployed.region,
        profile=args.profile,
        endpoint_url=args.endpoint_url,
    )
    if args.baseline_command == "record":
        summary = capture_all(
            config, deployed.region, profile=args.profile, endpoint_url=args.endpoint_url, source="cli"
        )
        print(summary.describe())
        try:  # the signed config item the functions trust (allow-list, endpoints, own resources)
            print(
                record_stack(
                    config,
                    deployed.parameters,
                    summary.recorded,
                    region=deployed.region,
                    profile=args.profile,
                    endpoint_url=args.endpoint_url,
                    source="cli",
                )
            )
        except Exception as exc:
            print(f"FAILED to record the stack's configuration: {type(exc).__name__}: {exc}")
            return Exit.FAILED
        return Exit.OK if summary.ok else Exit.FAILED
    baselines = Baselines.from_config(
        config, deployed.region, profile=args.profile, endpoint_url=args.endpoint_url
    )
    try:
        recorded = {args.kind: baselines.of_kind(args.kind)} if args.kind else baselines.all()
    except Exception as exc:
        raise failure(exc, "cannot read the state table") from exc
    tampered = baselines.tampered
    status = Exit.FAILED if tampered else Exit.OK  # a record that fails verification is not applied
    if args.output == "json":
        body = {
            "stack": deployed.name,
            "region": deployed.region,
            "authenticated": baselines.authenticated,
            "baselines": recorded,
            "tampered": [t.to_dict() for t in tampered],
        }
        write_document(SCHEMA, json.loads(json.dumps(body, sort_keys=True, default=str)))
        return status
    print(_table(recorded, [(t.pk.removeprefix("baseline#"), t.sk, t.text()) for t in tampered]))
    for waiting in pending_creates(baselines):  # new trails whose CreateTrail CloudTrail has not confirmed
        trail = waiting.arn or waiting.name
        print(f"pending: trail {trail}: {waiting.describe()} waits for CloudTrail's history")
    if not baselines.authenticated:
        print("note: the stack has no state key (StateKeyArn), so these baselines are not authenticated")
    return status


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return f"{len(value)} item(s)" if value and isinstance(value[0], dict) else ",".join(map(str, value))
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items()) or "-"
    text = str(value)
    return text if len(text) <= 48 else text[:45] + "..."


def _captured(meta: dict[str, Any]) -> str:
    """When it was captured; ``first seen at T`` for a resource the sweep found after deploy."""
    if meta.get("first_seen_at"):
        return f"first seen at {meta['first_seen_at']}"
    return str(meta.get("captured_at", "-"))


def _table(
    recorded: dict[str, dict[str, dict[str, Any]]], tampered: list[tuple[str, str, str]] | None = None
) -> str:
    rows = [("KIND", "ID", "CAPTURED", "DETAILS")]
    for kind, docs in recorded.items():
        for ident, doc in sorted(docs.items()):
            meta = doc.get("_meta") or {}
            details = " ".join(
                f"{field}={_cell(doc.get(field))}"
                for field in resources.kind(kind).summary_fields
                if field in doc
            )
            rows.append((kind, ident, _captured(meta), details))
    for kind, ident, text in tampered or []:
        rows.append((kind, ident, "TAMPERED", text))
    if len(rows) == 1:
        return "no baselines recorded; run: trailguard baseline record --stack-name STACK"
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip() for r in rows
    )
