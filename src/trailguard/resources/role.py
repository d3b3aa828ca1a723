"""IAM roles: trailguard's own (its calls are never tampering) and a trail's CloudWatch Logs role.

A trail's CloudWatch Logs delivery role has a baseline (kept under its ARN): its trust policy, its inline
policies (name -> document), its attached managed policies and its permissions boundary, read with
GetRole, ListRolePolicies / GetRolePolicy and ListAttachedRolePolicies.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from trailguard.resources.base import Clients, IamScope, Kind, last_segment, meta

IAM_REGION = "us-east-1"
"""IAM is global; its endpoint lives in us-east-1."""


def identity(arn: str) -> tuple[str, str] | None:
    """(account, role name) of a role ARN or an assumed-role session ARN, so the two forms compare equal.

    Role ARNs carry a path (``role/service-role/x``) that session ARNs drop, so only the name is kept.
    """
    if not arn.startswith("arn:"):
        return None
    parts = arn.split(":", 5)
    if len(parts) != 6:
        return None
    service, account, resource = parts[2], parts[4], parts[5]
    if service == "iam" and resource.startswith("role/"):
        return account, resource.rsplit("/", 1)[-1]
    if service == "sts" and resource.startswith("assumed-role/"):
        pieces = resource.split("/")
        return (account, pieces[1]) if len(pieces) >= 2 and pieces[1] else None
    return None


def session_name(arn: str) -> str | None:
    """The session of an assumed-role ARN (``x`` of ``arn:aws:sts::1:assumed-role/r/x``): Lambda names
    it after the function; None for any other ARN."""
    if not arn.startswith("arn:"):
        return None
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "sts" or not parts[5].startswith("assumed-role/"):
        return None
    pieces = parts[5].split("/", 2)
    return pieces[2] if len(pieces) == 3 and pieces[2] else None


def name_of(ref: str) -> str:
    """The role name of a role ARN (path dropped) or a name."""
    return last_segment(ref)


def document(value: Any) -> Any:
    """A policy document as a dict: IAM returns URL-encoded JSON text (boto3 decodes it; a CloudTrail
    record or an older client may not)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("%7B") or text.startswith("%7b"):
            text = unquote(text)
        try:
            return json.loads(text)
        except ValueError:
            return value
    return value


def canonical(value: Any) -> str:
    """One text per policy document, whatever its spelling (so two reads compare equal)."""
    return json.dumps(document(value), sort_keys=True, separators=(",", ":"))


def read(iam: Any, name: str) -> dict[str, Any]:
    """The delivery role as its baseline records it (raises NoSuchEntity when the role is gone)."""
    role = iam.get_role(RoleName=name)["Role"]
    inline: dict[str, Any] = {}
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
        for policy in page.get("PolicyNames") or []:
            found = iam.get_role_policy(RoleName=name, PolicyName=policy)
            inline[str(policy)] = document(found.get("PolicyDocument"))
    attached: list[str] = []
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
        attached.extend(str(p.get("PolicyArn")) for p in page.get("AttachedPolicies") or [])
    boundary = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    return {
        "Arn": str(role.get("Arn")),
        "RoleName": str(role.get("RoleName") or name),
        "AssumeRolePolicyDocument": document(role.get("AssumeRolePolicyDocument")),
        "InlinePolicies": inline,
        "AttachedPolicies": sorted(attached),
        "PermissionsBoundary": boundary,
    }


def capture(ref: str, clients: Clients, source: str) -> dict[str, Any]:
    """The baseline of a trail's CloudWatch Logs delivery role ``ref`` (its ARN or name)."""
    return read(clients("iam", IAM_REGION), name_of(ref)) | {"_meta": meta(source)}


KIND = Kind(
    name="role",
    noun="role",
    sweep_order=35,
    securityhub_type="AwsIamRole",
    gone_codes=frozenset({"NoSuchEntity"}),
    summary_fields=("RoleName", "AttachedPolicies"),
    iam_actions=(
        "iam:PassRole",
        "iam:GetRole",
        "iam:ListRolePolicies",
        "iam:GetRolePolicy",
        "iam:ListAttachedRolePolicies",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:DetachRolePolicy",
        "iam:UpdateAssumeRolePolicy",
        "iam:DeleteRolePermissionsBoundary",
    ),
    iam_reason="The protected trails' CloudWatch Logs delivery roles (TrailLogsRoleArns) only: restored "
    "from their baseline, and passed to CloudTrail only.",
    iam_resources=("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${AWS::StackName}-no-role",),
    iam_scope=IamScope(
        parameter="TrailLogsRoleArns",
        condition="HasTrailLogsRoleArns",
        fallback="no role (a placeholder name): no protected trail used CloudWatch Logs at deploy.",
    ),
    iam_condition={"StringEqualsIfExists": {"iam:PassedToService": "cloudtrail.amazonaws.com"}},
    capture=capture,
    baseline_order=11,
    id_field="Arn",
)
