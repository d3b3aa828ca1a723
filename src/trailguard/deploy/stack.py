"""The CloudFormation stack: the public lookup every ``--stack-name`` command uses, and the change-set
steps deploy takes (create, wait, execute while printing events, explain a failure).

A change set (rather than ``create_stack`` / ``update_stack``) gives one code path for create and update
and turns "nothing to change" into a clean answer instead of an error. Each step is its own function so
other flows (a dry run that only describes the change set, a destroy) can reuse them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trailguard import aws
from trailguard.deploy.errors import DeployError, InputError, StackNotFoundError, call, client, explain

CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
# Longest name the template derives from the stack's (NamePrefix empty) is "<stack>-guard-calls"
# (EventBridge rule, max 64; tests/org/test_member_template.py checks every name at this length).
MAX_STACK_NAME = 64 - len("-guard-calls")
STACK_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")

TERMINAL_OK = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE"})
TERMINAL_FAILED = frozenset(
    {
        "CREATE_FAILED",
        "ROLLBACK_COMPLETE",
        "ROLLBACK_FAILED",
        "DELETE_COMPLETE",
        "DELETE_FAILED",
        "UPDATE_ROLLBACK_COMPLETE",
        "UPDATE_ROLLBACK_FAILED",
        "UPDATE_FAILED",
        "IMPORT_ROLLBACK_COMPLETE",
        "IMPORT_ROLLBACK_FAILED",
    }
)
NO_CHANGES_MARKERS = ("didn't contain changes", "No updates are to be performed")

# Each template output and where it comes from: (logical id, "ref" | "role-arn" | "key-arn").
OUTPUT_SOURCES: dict[str, tuple[str, str]] = {
    "TopicArn": ("AlertTopic", "ref"),
    "RoleArn": ("GuardRole", "role-arn"),
    "StateTableName": ("StateTable", "ref"),
    "ApiCallRuleName": ("ApiCallRule", "ref"),
    "FindingRuleName": ("FindingRule", "ref"),
    "GuardRuleName": ("GuardCallsRule", "ref"),
    "BackstopRuleName": ("BackstopRule", "ref"),
    "ApiCallFunctionName": ("ApiCallFunction", "ref"),
    "FindingFunctionName": ("FindingFunction", "ref"),
    "DeadLetterQueueUrl": ("DeadLetterQueue", "ref"),
    "FailedInvocationQueueUrl": ("FailedInvocationQueue", "ref"),
    "GuardKeyArn": ("GuardKey", "key-arn"),
    "StateKeyArn": ("StateKey", "key-arn"),
}


def resolve(region: str | None, profile: str | None) -> str:
    """The region as the AWS CLI resolves it; none anywhere is an InputError saying how to set one."""
    from botocore.exceptions import BotoCoreError

    try:
        return aws.resolve_region(region, profile)
    except (aws.RegionNotSetError, BotoCoreError) as exc:
        raise explain(exc, "finding the region") from exc


def _quiet(_line: str) -> None:
    """Progress for a plain lookup: nothing to tell."""


@dataclass(frozen=True)
class StackInfo:
    """A deployed trailguard stack as the commands need it: where it is, its outputs and parameters."""

    name: str
    stack_id: str
    region: str
    status: str
    outputs: Mapping[str, str]
    parameters: Mapping[str, str]

    @property
    def account(self) -> str:
        return self.stack_id.split(":", 5)[4]

    def output(self, key: str) -> str:
        """The output ``key``; a stack without it was not deployed by this trailguard: redeploy."""
        value = self.outputs.get(key)
        if not value:
            raise InputError(f"stack {self.name} has no {key} output; redeploy it with trailguard deploy")
        return value


def validate_stack_name(name: str) -> None:
    if not STACK_NAME_RE.match(name) or len(name) > MAX_STACK_NAME:
        raise InputError(
            f"invalid stack name {name!r}: use letters, digits and hyphens, starting with a letter, "
            f"at most {MAX_STACK_NAME} characters (function and rule names are derived from it)"
        )


def describe(cfn: Any, stack_name: str) -> dict[str, Any] | None:
    """The stack as ``DescribeStacks`` reports it, or None when there is none of that name."""
    from botocore.exceptions import BotoCoreError, ClientError  # only once AWS is called

    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        code, message = aws.error_fields(exc)
        if code == "ValidationError" and "does not exist" in message:
            return None
        raise explain(exc, f"looking up stack {stack_name}") from exc
    except BotoCoreError as exc:
        raise explain(exc, f"looking up stack {stack_name}") from exc
    return stacks[0] if stacks else None


def outputs(cfn: Any, stack: Mapping[str, Any], progress: Callable[[str], object]) -> dict[str, str]:
    """The stack's outputs; derived from its resources when the endpoint reports none.

    moto (the local cloud) does not evaluate Outputs when it executes a change set; AWS always does,
    so on AWS this is a plain read. The derivation follows OUTPUT_SOURCES, which a test keeps equal
    to the template's Outputs.
    """
    reported = {str(o["OutputKey"]): str(o["OutputValue"]) for o in stack.get("Outputs") or []}
    if reported:
        return reported
    stack_name = str(stack["StackName"])
    resources = call(
        f"listing resources of {stack_name}", cfn.describe_stack_resources, StackName=stack_name
    )["StackResources"]
    physical = {
        str(r["LogicalResourceId"]): str(r["PhysicalResourceId"])
        for r in resources
        if r.get("LogicalResourceId") and r.get("PhysicalResourceId")
    }
    _, partition, _, stack_region, account, _ = str(stack["StackId"]).split(":", 5)
    derived: dict[str, str] = {}
    for key, (logical_id, kind) in OUTPUT_SOURCES.items():
        value = physical.get(logical_id)
        if value is None:
            raise DeployError(f"stack {stack_name} has no resource {logical_id}; redeploy it")
        if kind == "role-arn" and not value.startswith("arn:"):
            value = f"arn:{partition}:iam::{account}:role/{value}"
        if kind == "key-arn" and not value.startswith("arn:"):
            value = f"arn:{partition}:kms:{stack_region}:{account}:key/{value}"
        derived[key] = value
    progress("note: the endpoint reported no stack outputs; derived them from the stack's resources")
    return derived


def info(
    cfn: Any, stack: Mapping[str, Any], region: str, progress: Callable[[str], object] = _quiet
) -> StackInfo:
    """The described ``stack`` with its outputs (derived where the endpoint reports none)."""
    return StackInfo(
        name=str(stack["StackName"]),
        stack_id=str(stack["StackId"]),
        region=region,
        status=str(stack.get("StackStatus") or ""),
        outputs=outputs(cfn, stack, progress),
        parameters={
            str(p["ParameterKey"]): str(p.get("ParameterValue") or "") for p in stack.get("Parameters") or []
        },
    )


def lookup(
    stack_name: str,
    *,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
) -> StackInfo:
    """The deployed stack ``stack_name``: every command given ``--stack-name`` reads it here.

    ``region`` is resolved as the AWS CLI does (:func:`trailguard.aws.resolve_region`); ``endpoint_url``
    sends the calls to a local emulator. Raises :class:`StackNotFoundError` when there is no such stack,
    :class:`DeployError` (saying what to do) when it cannot be read.
    """
    region = resolve(region, profile)
    cfn = client("cloudformation", region, profile=profile, endpoint_url=endpoint_url)
    stack = describe(cfn, stack_name)
    if stack is None:
        raise StackNotFoundError(f"stack {stack_name} does not exist in {region}; deploy it first")
    return info(cfn, stack, region)


# ---------------------------------------------------------------------------------- change sets


def change_set_type(stack: Mapping[str, Any] | None, stack_name: str) -> str:
    """CREATE or UPDATE for the stack as it is; a stack that cannot take a change set says why."""
    if stack is None:
        return "CREATE"
    status = str(stack["StackStatus"])
    if status == "REVIEW_IN_PROGRESS":  # an earlier change set was never executed
        return "CREATE"
    if status in {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED"}:
        raise DeployError(
            f"stack {stack_name} is {status} (its first creation failed) and cannot be updated: "
            f"delete it (aws cloudformation delete-stack --stack-name {stack_name}) and deploy again"
        )
    if status.endswith("_IN_PROGRESS"):
        raise DeployError(f"stack {stack_name} is {status}: wait for it to finish, then deploy again")
    if status.endswith("_FAILED"):
        raise DeployError(f"stack {stack_name} is {status}: repair it in the CloudFormation console first")
    return "UPDATE"


def create_change_set(
    cfn: Any,
    stack_name: str,
    *,
    name: str,
    change_set_type: str,
    template_body: str,
    parameters: Sequence[Mapping[str, Any]],
    tags: Sequence[Mapping[str, str]] | None,
    template_url: str | None = None,
    role_arn: str | None = None,
) -> str:
    """Create the change set; returns its ARN (it is not ready until :func:`wait_change_set`), or ""
    when the endpoint refuses it as "no updates are to be performed" (nothing to change).

    ``template_url`` (an S3 URL) is sent instead of the body when given (templates over 51,200 bytes).
    ``parameters``: the API's list (``UsePreviousValue`` entries included). ``tags`` None sends none
    (an update then keeps the stack's); ``role_arn`` is the service role CloudFormation
    assumes for this and later operations on the stack (``--role-arn``).
    """
    extra: dict[str, Any] = {}
    if tags is not None:
        extra["Tags"] = [dict(t) for t in tags]
    if role_arn:
        extra["RoleARN"] = role_arn
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        created = cfn.create_change_set(
            StackName=stack_name,
            ChangeSetName=name,
            ChangeSetType=change_set_type,
            **({"TemplateURL": template_url} if template_url else {"TemplateBody": template_body}),
            Parameters=[dict(p) for p in parameters],
            Capabilities=CAPABILITIES,
            Description="trailguard deploy",
            **extra,
        )
    except ClientError as exc:
        code, message = aws.error_fields(exc)
        if code == "ValidationError" and any(marker in message for marker in NO_CHANGES_MARKERS):
            return ""  # moto refuses an unchanged update outright; AWS makes a FAILED change set
        raise explain(exc, f"creating change set for {stack_name}") from exc
    except BotoCoreError as exc:
        raise explain(exc, f"creating change set for {stack_name}") from exc
    return str(created["Id"])


def describe_change_set_pages(cfn: Any, arn: str, first: Mapping[str, Any]) -> dict[str, Any]:
    """The change set with every page of its ``Changes`` (``first`` is the first page, already read)."""
    merged = dict(first)
    changes = list(first.get("Changes") or [])
    token = first.get("NextToken")
    while token:
        page = call("describing change set", cfn.describe_change_set, ChangeSetName=arn, NextToken=token)
        changes.extend(page.get("Changes") or [])
        token = page.get("NextToken")
    merged["Changes"] = changes
    return merged


def delete_review_stack(cfn: Any, stack_name: str) -> None:
    """Delete the empty stack (REVIEW_IN_PROGRESS) a CREATE change set made, once its change set is
    gone and nothing else is pending on it: a dry run leaves no stack behind. Any other state is left."""
    current = describe(cfn, stack_name)
    if current is None or current.get("StackStatus") != "REVIEW_IN_PROGRESS":
        return
    pending = call("listing change sets", cfn.list_change_sets, StackName=stack_name).get("Summaries") or []
    mine = [s for s in pending if s.get("StackId") in (None, current.get("StackId"))]  # moto lists all
    if any(s.get("Status") not in {"DELETE_COMPLETE", "DELETE_PENDING"} for s in mine):
        return
    call(f"deleting the empty stack {stack_name}", cfn.delete_stack, StackName=stack_name)


def wait_change_set(cfn: Any, arn: str, poll_seconds: float, timeout: float) -> dict[str, Any]:
    """The change set once CloudFormation has computed it (CREATE_COMPLETE) or refused it (FAILED)."""
    deadline = time.monotonic() + timeout
    while True:
        cs: dict[str, Any] = call("describing change set", cfn.describe_change_set, ChangeSetName=arn)
        if cs["Status"] in {"CREATE_COMPLETE", "FAILED"}:
            return cs
        if time.monotonic() > deadline:
            raise DeployError(f"change set {arn} still {cs['Status']} after {timeout:.0f}s")
        time.sleep(poll_seconds)


def has_no_changes(change_set: Mapping[str, Any]) -> bool:
    """A FAILED change set that only means the stack already is what the template says."""
    reason = str(change_set.get("StatusReason", ""))
    return change_set["Status"] == "FAILED" and any(marker in reason for marker in NO_CHANGES_MARKERS)


def delete_change_set(cfn: Any, arn: str) -> None:
    call("deleting the change set", cfn.delete_change_set, ChangeSetName=arn)


class EventPrinter:
    """Prints each stack event once, oldest first, starting after what was there before."""

    def __init__(self, cfn: Any, stack_name: str, progress: Callable[[str], object]) -> None:
        self.cfn = cfn
        self.stack_name = stack_name
        self.progress = progress
        self.seen: set[str] = set()

    def _events(self) -> list[dict[str, Any]]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            events: list[dict[str, Any]] = self.cfn.describe_stack_events(StackName=self.stack_name)[
                "StackEvents"
            ]
        except (BotoCoreError, ClientError):
            return []  # progress is a courtesy; the stack status decides
        return events

    def mark_seen(self) -> None:
        self.seen.update(str(e["EventId"]) for e in self._events())

    def poll(self) -> list[dict[str, Any]]:
        new = [e for e in reversed(self._events()) if str(e["EventId"]) not in self.seen]
        for event in new:
            self.seen.add(str(event["EventId"]))
            reason = event.get("ResourceStatusReason") or ""
            self.progress(
                f"  {event['LogicalResourceId']:<24} {event.get('ResourceType', ''):<28} "
                f"{event.get('ResourceStatus', '')}{'  ' + reason if reason else ''}"
            )
        return new


def execute_change_set(
    cfn: Any,
    stack_name: str,
    arn: str,
    name: str,
    *,
    progress: Callable[[str], object],
    poll_seconds: float,
    timeout_seconds: float,
) -> dict[str, Any]:
    """Execute the change set and follow the stack's events until it settles; returns the described
    stack once CREATE_COMPLETE or UPDATE_COMPLETE, raises DeployError with the cause otherwise."""
    events = EventPrinter(cfn, stack_name, progress)
    events.mark_seen()
    call(f"executing change set {name}", cfn.execute_change_set, ChangeSetName=arn)
    deadline = time.monotonic() + timeout_seconds
    while True:
        events.poll()
        current = describe(cfn, stack_name)
        status = str((current or {}).get("StackStatus", "DELETE_COMPLETE"))
        if status in TERMINAL_OK and current is not None:
            progress(f"stack {stack_name}: {status}")
            return current
        if status in TERMINAL_FAILED:
            raise DeployError(failure_message(cfn, stack_name, status))
        if time.monotonic() > deadline:
            raise DeployError(
                f"stack {stack_name} still {status} after {timeout_seconds:.0f}s; "
                "follow it in the CloudFormation console"
            )
        time.sleep(poll_seconds)


def failure_message(cfn: Any, stack_name: str, status: str) -> str:
    """Say why: the first resource that failed, as CloudFormation reported it."""
    from botocore.exceptions import BotoCoreError, ClientError

    reasons: list[str] = []
    try:
        for event in cfn.describe_stack_events(StackName=stack_name)["StackEvents"]:
            if str(event.get("ResourceStatus", "")).endswith("_FAILED") and event.get("ResourceStatusReason"):
                reasons.append(f"{event['LogicalResourceId']}: {event['ResourceStatusReason']}")
    except (BotoCoreError, ClientError):
        pass
    cause = reasons[-1] if reasons else "see the stack events in the CloudFormation console"
    hint = (
        f"delete the stack (aws cloudformation delete-stack --stack-name {stack_name}), fix the cause, "
        "and deploy again"
        if status.startswith("ROLLBACK")
        else "fix the cause and deploy again (the previous version is still in place)"
    )
    return f"stack {stack_name} ended {status}: {cause}. {hint}"
