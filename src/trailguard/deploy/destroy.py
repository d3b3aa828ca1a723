"""``destroy``: delete the stack, and say what stays behind and how to remove it.

What stays: every resource the template keeps (``DeletionPolicy: Retain``: the state table with its
baselines and incident records, and any retained log group), and the artifact bucket holding the Lambda
zip (shared by every trailguard stack of the account and region, so never deleted here).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import trailguard.deploy.stack as stacks
from trailguard.deploy.errors import DeployError, call
from trailguard.deploy.parameters import section_lines

_RETAIN = re.compile(r"^\s+DeletionPolicy:\s*[\"']?(Retain|RetainExceptOnCreate)[\"']?\s*(#.*)?$")


@dataclass(frozen=True)
class Kept:
    """A resource that outlives the stack, and the command that removes it."""

    kind: str  # CloudFormation type, or "artifact bucket"
    name: str
    remove: str  # how to remove it (an AWS CLI command, with what to do first)

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "remove": self.remove}


@dataclass
class Destroyed:
    stack_name: str
    stack_id: str
    region: str
    kept: list[Kept] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack_name": self.stack_name,
            "stack_id": self.stack_id,
            "region": self.region,
            "status": "DELETE_COMPLETE",
            "kept": [k.to_dict() for k in self.kept],
        }


def retained_logical_ids(template: str | Mapping[str, Any]) -> set[str]:
    """The logical ids under ``Resources`` whose ``DeletionPolicy`` keeps them (YAML text or, as boto3
    returns a JSON template, a mapping)."""
    if isinstance(template, Mapping):
        resources = template.get("Resources") or {}
        return {
            str(k)
            for k, v in resources.items()
            if isinstance(v, Mapping) and v.get("DeletionPolicy") in {"Retain", "RetainExceptOnCreate"}
        }
    return {entry for entry, line in section_lines(template, "Resources") if _RETAIN.match(line)}


def removal(kind: str, name: str, region: str) -> str:
    """The AWS CLI command that removes a kept resource, with what must come first."""
    where = f"--region {region}"
    if kind == "AWS::DynamoDB::Table":
        return (
            f"export what you want to keep (baselines, incidents), then: aws dynamodb update-table "
            f"--table-name {name} --no-deletion-protection-enabled {where} (if enabled); "
            f"aws dynamodb delete-table --table-name {name} {where}"
        )
    if kind == "AWS::Logs::LogGroup":
        return f"aws logs delete-log-group --log-group-name {name} {where}"
    if kind in {"AWS::S3::Bucket", "artifact bucket"}:
        return (
            f"only once no trailguard stack in {region} uses it: delete every object version (the bucket "
            f"is versioned; the console's Empty does it), then "
            f"aws s3api delete-bucket --bucket {name} {where}"
        )
    if kind == "AWS::KMS::Key":
        return f"aws kms schedule-key-deletion --key-id {name} --pending-window-in-days 30 {where}"
    return f"delete {name} in the console ({kind})"


def plan(cfn: Any, info: stacks.StackInfo) -> list[Kept]:
    """What deleting the stack would leave behind."""
    template = call("reading the stack's template", cfn.get_template, StackName=info.stack_id).get(
        "TemplateBody", ""
    )
    retained = retained_logical_ids(template)
    resources = call(
        f"listing resources of {info.name}", cfn.describe_stack_resources, StackName=info.stack_id
    )["StackResources"]
    kept = [
        Kept(str(r["ResourceType"]), str(r["PhysicalResourceId"]), "")
        for r in resources
        if r.get("LogicalResourceId") in retained and r.get("PhysicalResourceId")
    ]
    bucket = info.parameters.get("CodeS3Bucket")
    if bucket:
        kept.append(Kept("artifact bucket", bucket, ""))
    return [Kept(k.kind, k.name, removal(k.kind, k.name, info.region)) for k in kept]


def destroy(
    cfn: Any,
    info: stacks.StackInfo,
    kept: list[Kept] | None = None,
    *,
    progress: Callable[[str], object],
    poll_seconds: float = 5.0,
    timeout_seconds: float = 1800.0,
) -> Destroyed:
    """Delete the stack and wait until DELETE_COMPLETE; raises DeployError with the cause otherwise.
    ``kept``: what :func:`plan` said it leaves behind (read here when the caller has not)."""
    kept = plan(cfn, info) if kept is None else kept
    events = stacks.EventPrinter(cfn, info.stack_id, progress)
    events.mark_seen()
    progress(f"deleting stack {info.name} ({info.stack_id})")
    call(f"deleting stack {info.name}", cfn.delete_stack, StackName=info.stack_id)
    deadline = time.monotonic() + timeout_seconds
    while True:
        events.poll()
        current = stacks.describe(cfn, info.stack_id)  # by id: a deleted stack is still described
        status = str((current or {}).get("StackStatus", "DELETE_COMPLETE"))
        if status == "DELETE_COMPLETE":
            progress(f"stack {info.name}: DELETE_COMPLETE")
            return Destroyed(info.name, info.stack_id, info.region, kept)
        if status == "DELETE_FAILED":
            raise DeployError(
                stacks.failure_message(cfn, info.stack_id, status).replace(
                    "fix the cause and deploy again (the previous version is still in place)",
                    "fix the cause and run trailguard destroy again",
                )
            )
        if time.monotonic() > deadline:
            raise DeployError(
                f"stack {info.name} still {status} after {timeout_seconds:.0f}s; "
                "follow it in the CloudFormation console"
            )
        time.sleep(poll_seconds)
