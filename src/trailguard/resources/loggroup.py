"""CloudWatch Logs log groups (a trail's CloudWatch Logs delivery): ids are log group ARNs without the
``:*`` suffix a trail's ``CloudWatchLogsLogGroupArn`` carries; a group lives in its ARN's region."""

from __future__ import annotations

from typing import Any

from trailguard.aws import region_of_arn
from trailguard.resources.base import Clients, Kind, arn_resource, meta

DEFAULT_RETENTION_FLOOR = 365
"""Retention below which a change counts as a cut when no baseline retention is recorded."""


def name_of(ref: str) -> str:
    """``/x`` of ``/x`` or ``arn:aws:logs:r:a:log-group:/x:*``."""
    resource = arn_resource(ref)
    if resource.startswith("log-group:"):
        resource = resource[len("log-group:") :]
        return resource[:-2] if resource.endswith(":*") else resource
    return ref


def arn_of(ref: str) -> str:
    """The id a group is kept under: its ARN without ``:*`` (a bare name is returned as given)."""
    return ref[:-2] if ref.startswith("arn:") and ref.endswith(":*") else ref


def region_of(ref: str) -> str | None:
    return region_of_arn(ref) if ref.startswith("arn:") else None


def describe(logs: Any, name: str) -> dict[str, Any] | None:
    """The group called exactly ``name`` as DescribeLogGroups lists it (a prefix search), or None."""
    paginator = logs.get_paginator("describe_log_groups")
    for page in paginator.paginate(logGroupNamePrefix=name):
        for group in page.get("logGroups") or []:
            if group.get("logGroupName") == name:
                return dict(group)
    return None


class LogGroupNotFoundError(LookupError):
    """DescribeLogGroups lists no such group (CloudWatch Logs' own code, for the Gone mapping)."""

    response = {"Error": {"Code": "ResourceNotFoundException", "Message": "log group not listed"}}


def capture(ref: str, clients: Clients, source: str) -> dict[str, Any]:
    """The group's retention and KMS key, read in its ARN's region (``retentionInDays`` None: kept
    forever)."""
    region = region_of(ref) or clients.region
    name = name_of(ref)
    group = describe(clients("logs", region), name)
    if group is None:
        raise LogGroupNotFoundError(f"no log group {name} in {region}")
    return {
        "Name": name,
        "Arn": arn_of(str(group.get("arn") or ref)),
        "Region": region,
        "RetentionInDays": group.get("retentionInDays"),
        "KmsKeyId": group.get("kmsKeyId"),
        "LogGroupClass": group.get("logGroupClass"),
        "_meta": meta(source),
    }


KIND = Kind(
    name="loggroup",
    noun="log group",
    sweep_order=55,
    securityhub_type="AwsLogsLogGroup",
    ident=arn_of,
    short=name_of,
    gone_codes=frozenset({"ResourceNotFoundException"}),
    summary_fields=("Region", "RetentionInDays", "KmsKeyId"),
    iam_actions=("logs:*",),
    iam_reason="Trail log groups of the account (CloudWatch Logs delivery of a protected trail).",
    iam_resources=("arn:${AWS::Partition}:logs:*:${AWS::AccountId}:log-group:*",),
    capture=capture,
    baseline_order=8,
    id_field="Arn",
)
