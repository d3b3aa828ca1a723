"""The member stack set ``trailguard-member``: service-managed, auto-deployed to the targeted OUs.

CloudFormation StackSets does the fan-out to every account and region; this module only makes the
requests and reads the outcome (ListStackInstances, ListStackSetOperationResults). Every value is a
stack-set parameter; the one instance override is the security account's ``OrgTrailRole``, and it lists
every parameter (an override replaces the instance's value; sending all of them keeps the result the
same whether the service merges or replaces).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trailguard import aws
from trailguard.deploy.errors import DeployError, call

STACK_SET = "trailguard-member"
CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
AUTO_DEPLOYMENT = {"Enabled": True, "RetainStacksOnAccountRemoval": False}
# One account's failure must not stop the others: the table reports each one.
OPERATION_PREFERENCES = {
    "RegionConcurrencyType": "PARALLEL",
    "FailureTolerancePercentage": 100,
    "MaxConcurrentPercentage": 100,
}
DONE = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})
# IAM permissions of these calls (the deploying principal's policy):
ACTIONS = (
    "cloudformation:DescribeStackSet",
    "cloudformation:CreateStackSet",
    "cloudformation:UpdateStackSet",
    "cloudformation:CreateStackInstances",
    "cloudformation:UpdateStackInstances",
    "cloudformation:DescribeStackSetOperation",
    "cloudformation:ListStackSetOperationResults",
    "cloudformation:ListStackInstances",
)


@dataclass(frozen=True)
class Instance:
    account: str
    region: str
    status: str  # deployed | failed
    reason: str = ""
    unit: str = ""  # the OU it was deployed through (service-managed instances)


def parameters(values: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def describe(cfn: Any, name: str = STACK_SET) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        found: dict[str, Any] = cfn.describe_stack_set(StackSetName=name, CallAs="SELF")["StackSet"]
    except ClientError as exc:
        if aws.error_code(exc) == "StackSetNotFoundException":
            return None
        raise DeployError(f"describing stack set {name}: {exc}") from exc
    return found if found.get("Status") != "DELETED" else None


def template_source(body: str, url: str | None) -> dict[str, str]:
    return {"TemplateURL": url} if url else {"TemplateBody": body}


def ensure(
    cfn: Any,
    *,
    body: str,
    url: str | None,
    values: Mapping[str, str],
    progress: Callable[[str], object],
    name: str = STACK_SET,
) -> str | None:
    """Create the stack set, or update its template and parameters; the update's operation id (None
    on a create, which deploys nothing until instances are added)."""
    existing = describe(cfn, name)
    common: dict[str, Any] = {
        "StackSetName": name,
        **template_source(body, url),
        "Parameters": parameters(values),
        "Capabilities": CAPABILITIES,
        "PermissionModel": "SERVICE_MANAGED",
        "AutoDeployment": AUTO_DEPLOYMENT,
        "ManagedExecution": {"Active": True},
        "CallAs": "SELF",
        "Description": "trailguard member stacks: keep CloudTrail on in every account and region",
    }
    if existing is None:
        progress(f"creating stack set {name} (SERVICE_MANAGED, auto-deployment on)")
        call(
            f"creating stack set {name}",
            cfn.create_stack_set,
            **common,
            Tags=[{"Key": "trailguard", "Value": "true"}],
        )
        return None
    model = str(existing.get("PermissionModel") or "")
    if model and model != "SERVICE_MANAGED":
        raise DeployError(
            f"stack set {name} exists with permission model {model}: delete it (its instances first) "
            "or rename it, then deploy again"
        )
    progress(f"updating stack set {name} (template and parameters)")
    done = call(
        f"updating stack set {name}",
        cfn.update_stack_set,
        **common,
        OperationPreferences=OPERATION_PREFERENCES,
    )
    return str(done.get("OperationId") or "") or None


def add_instances(cfn: Any, targets: Sequence[str], regions: Sequence[str], name: str = STACK_SET) -> str:
    """Instances for every account under ``targets`` (OU or root ids) in ``regions``; the operation id.
    StackSets skips the management account and any instance that already exists."""
    done = call(
        f"creating the instances of {name}",
        cfn.create_stack_instances,
        StackSetName=name,
        DeploymentTargets={"OrganizationalUnitIds": list(targets)},
        Regions=list(regions),
        OperationPreferences=OPERATION_PREFERENCES,
        CallAs="SELF",
    )
    return str(done["OperationId"])


def override(
    cfn: Any,
    *,
    account: str,
    unit: str,
    regions: Sequence[str],
    values: Mapping[str, str],
    name: str = STACK_SET,
) -> str:
    """Give one account's instances their own values (every parameter listed); the operation id.
    Service-managed stack sets take accounts only as a filter on an OU (``INTERSECTION``)."""
    done = call(
        f"overriding the parameters of {account}'s instances",
        cfn.update_stack_instances,
        StackSetName=name,
        DeploymentTargets={
            "OrganizationalUnitIds": [unit],
            "Accounts": [account],
            "AccountFilterType": "INTERSECTION",
        },
        Regions=list(regions),
        ParameterOverrides=parameters(values),
        OperationPreferences=OPERATION_PREFERENCES,
        CallAs="SELF",
    )
    return str(done["OperationId"])


def wait(
    cfn: Any,
    operation: str,
    *,
    name: str = STACK_SET,
    poll_seconds: float = 10.0,
    timeout_seconds: float = 3600.0,
    progress: Callable[[str], object],
) -> str:
    """The operation's final status (SUCCEEDED, FAILED or STOPPED)."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        found = call(
            f"describing operation {operation} of {name}",
            cfn.describe_stack_set_operation,
            StackSetName=name,
            OperationId=operation,
            CallAs="SELF",
        )["StackSetOperation"]
        status = str(found.get("Status") or "")
        if status in DONE:
            progress(f"stack set {name}: operation {operation} {status}")
            return status
        if time.monotonic() > deadline:
            raise DeployError(
                f"stack set {name}: operation {operation} still {status} after {timeout_seconds:.0f}s"
            )
        time.sleep(poll_seconds)


def _pages(cfn: Any, operation: str, key: str, doing: str, **kwargs: Any) -> list[dict[str, Any]]:
    paginator = cfn.get_paginator(operation)
    pages = call(doing, lambda: list(paginator.paginate(**kwargs)))
    return [item for page in pages for item in page.get(key) or []]


def operation_failures(cfn: Any, operation: str, name: str = STACK_SET) -> dict[tuple[str, str], str]:
    """{(account, region): reason} of every instance the operation failed."""
    return {
        pair: reason for pair, (status, reason) in operation_results(cfn, operation, name).items() if status
    }


def latest_failures(cfn: Any, operations: Sequence[str], name: str = STACK_SET) -> dict[tuple[str, str], str]:
    """The instances whose latest result among ``operations`` (oldest first) is a failure, and why: an
    instance an update failed and a later operation deployed is not failed."""
    latest: dict[tuple[str, str], tuple[bool, str]] = {}
    for operation in operations:
        latest.update(operation_results(cfn, operation, name))
    return {pair: reason for pair, (failed, reason) in latest.items() if failed}


def operation_results(
    cfn: Any, operation: str, name: str = STACK_SET
) -> dict[tuple[str, str], tuple[bool, str]]:
    """{(account, region): (failed, reason)} of every instance the operation reports."""
    results = _pages(
        cfn,
        "list_stack_set_operation_results",
        "Summaries",
        f"listing the results of operation {operation}",
        StackSetName=name,
        OperationId=operation,
        CallAs="SELF",
    )
    return {
        (str(r.get("Account") or ""), str(r.get("Region") or "")): (
            str(r.get("Status") or "") in {"FAILED", "CANCELLED"},
            str(r.get("StatusReason") or r.get("Status") or "failed"),
        )
        for r in results
    }


def instances(cfn: Any, name: str = STACK_SET) -> list[Instance]:
    """Every instance of the stack set as CloudFormation reports it."""
    out: list[Instance] = []
    for summary in _pages(
        cfn,
        "list_stack_instances",
        "Summaries",
        f"listing the instances of {name}",
        StackSetName=name,
        CallAs="SELF",
    ):
        detailed = str((summary.get("StackInstanceStatus") or {}).get("DetailedStatus") or "")
        status = str(summary.get("Status") or "")
        ok = status == "CURRENT" and detailed in {"", "SUCCEEDED"}
        reason = "" if ok else str(summary.get("StatusReason") or detailed or status)
        out.append(
            Instance(
                str(summary.get("Account") or ""),
                str(summary.get("Region") or ""),
                "deployed" if ok else "failed",
                reason,
                str(summary.get("OrganizationalUnitId") or ""),
            )
        )
    return out
