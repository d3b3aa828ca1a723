"""The remediation role's IAM statements: every permission trailguard needs, scoped to its resources.

``statements()`` is the one seam: the generator writes whatever it returns. Resources are Fn::Sub
strings (``"${StateTable.Arn}"`` alone is written as ``!GetAtt StateTable.Arn``), or ``"*"`` where the
API has no resource-level permissions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from trailguard.gen.yamltext import Node, Note, Tag
from trailguard.policy import required_permissions

STAR = "*"
_GETATT = re.compile(r"\$\{([A-Za-z0-9]+\.[A-Za-z0-9.]+)\}")


@dataclass(frozen=True)
class Statement:
    """One Allow statement: its Sid, actions, resources, why it is scoped so, and an optional Condition."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    reason: str
    condition: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def statements() -> list[Statement]:
    """Every statement of the role's Remediation policy, sorted by Sid, actions and resources sorted."""
    return sorted(_provisional_statements(), key=lambda s: s.sid)


def policy_statements() -> list[Node]:
    """The Remediation policy's ``Statement`` list as template nodes, each preceded by its reason."""
    nodes: list[Node] = []
    for statement in statements():
        body: dict[str, Node] = {"Sid": statement.sid, "Effect": "Allow"}
        actions = sorted(set(statement.actions))
        body["Action"] = actions[0] if len(actions) == 1 else actions
        resources = [_resource(r) for r in sorted(set(statement.resources))]
        body["Resource"] = resources[0] if len(resources) == 1 else resources
        if statement.condition:
            body["Condition"] = {op: dict(values) for op, values in statement.condition.items()}
        nodes.append(Note(_wrap(statement.reason), body))
    return nodes


def _resource(resource: str) -> Node:
    if resource == STAR:
        return STAR
    attribute = _GETATT.fullmatch(resource)
    return Tag("GetAtt", attribute.group(1)) if attribute else Tag("Sub", resource)


def _wrap(text: str, width: int = 92) -> tuple[str, ...]:
    out: list[str] = []
    for word in text.split():
        if out and len(out[-1]) + 1 + len(word) <= width:
            out[-1] += " " + word
        else:
            out.append(word)
    return tuple(out)


# ------------------------------------------------------------------------------------------------------
# provisional: replaced by trailguard.policy.iam_statements() at integration (each resource kind then
# declares its own IAM resources). Until then: which resource scope each required permission belongs to.


@dataclass(frozen=True)
class _Scope:
    sid: str
    resources: tuple[str, ...]
    reason: str
    condition: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


_ACCOUNT = "${AWS::AccountId}"
_HERE = "${AWS::Region}:${AWS::AccountId}"
_STACK = "${AWS::StackName}"
_SCOPES: Mapping[str, _Scope] = {
    "trail": _Scope(
        "Trails",
        (f"arn:${{AWS::Partition}}:cloudtrail:*:{_ACCOUNT}:trail/*",),
        "Trails in any region: trailguard protects every trail of the account (or those named).",
    ),
    "store": _Scope(
        "LakeStores",
        (f"arn:${{AWS::Partition}}:cloudtrail:*:{_ACCOUNT}:eventdatastore/*",),
        "CloudTrail Lake event data stores of the account.",
    ),
    "bucket": _Scope(
        "TrailBuckets",
        ("arn:${AWS::Partition}:s3:::*",),
        "Trail buckets: any bucket a trail names (S3 bucket ARNs carry no account).",
    ),
    "key": _Scope(
        "TrailKeys",
        (f"arn:${{AWS::Partition}}:kms:*:{_ACCOUNT}:key/*",),
        "Trail KMS keys of the account.",
    ),
    "rule": _Scope(
        "OwnRules",
        tuple(
            f"arn:${{AWS::Partition}}:events:{_HERE}:rule/{_STACK}-{name}"
            for name in ("api-calls", "findings", "guard-calls", "backstop")
        ),
        "trailguard's own EventBridge rules only.",
    ),
    "function": _Scope(
        "OwnFunctions",
        tuple(
            f"arn:${{AWS::Partition}}:lambda:{_HERE}:function:{_STACK}-{name}"
            for name in ("api-call", "finding")
        ),
        "trailguard's own functions only.",
    ),
    "topic": _Scope(
        "OwnTopic",
        (f"arn:${{AWS::Partition}}:sns:{_HERE}:{_STACK}-alerts",),
        "trailguard's own alert topic only.",
    ),
    "detector": _Scope(
        "Detectors",
        (f"arn:${{AWS::Partition}}:guardduty:*:{_ACCOUNT}:detector/*",),
        "GuardDuty detectors of the account.",
    ),
    "hub": _Scope(
        "SecurityHub",
        (f"arn:${{AWS::Partition}}:securityhub:*:{_ACCOUNT}:hub/default",),
        "The account's hub. BatchUpdateFindings is authorised on the hub (the findings it updates have "
        "no ARN of their own in IAM).",
    ),
    "product": _Scope(
        "SecurityHubFindings",
        (f"arn:${{AWS::Partition}}:securityhub:*:{_ACCOUNT}:product/{_ACCOUNT}/default",),
        "BatchImportFindings on the account's own product.",
    ),
    "table": _Scope(
        "StateTable",
        ("${StateTable.Arn}",),
        "trailguard.state: the stack's state table (baselines, incidents, counters).",
    ),
    "passed-role": _Scope(
        "PassTrailLogsRoleToCloudTrail",
        (f"arn:${{AWS::Partition}}:iam::{_ACCOUNT}:role/*",),
        "A repaired trail gets its CloudWatch Logs role back: passed to CloudTrail only.",
        {"StringEquals": {"iam:PassedToService": "cloudtrail.amazonaws.com"}},
    ),
    STAR: _Scope(
        "NoResourceLevelPermissions",
        (STAR,),
        'These APIs have no resource-level permissions: IAM accepts only Resource "*".',
    ),
}
_SCOPE_OF_SERVICE: Mapping[str, str] = {
    "cloudtrail": "trail",
    "s3": "bucket",
    "kms": "key",
    "events": "rule",
    "lambda": "function",
    "sns": "topic",
    "guardduty": "detector",
    "securityhub": "hub",
    "dynamodb": "table",
    "iam": "passed-role",
}
_SCOPE_OF_ACTION: Mapping[str, str] = {
    "cloudtrail:DescribeTrails": STAR,  # lists every trail of the account: the inventory
    "cloudtrail:ListEventDataStores": STAR,  # lists the region's event data stores for the baseline
    "guardduty:CreateDetector": STAR,  # creates a detector that has no ARN yet
    "guardduty:ListDetectors": STAR,  # lists the account's detectors
    "kms:ListAliases": STAR,  # lists aliases (filtered by KeyId) for the trail key's baseline
    "securityhub:BatchImportFindings": "product",
}


def _scope_of(action: str) -> str:
    if action in _SCOPE_OF_ACTION:
        return _SCOPE_OF_ACTION[action]
    service, _, name = action.partition(":")
    if service == "cloudtrail" and "EventDataStore" in name:
        return "store"
    if service not in _SCOPE_OF_SERVICE:
        raise KeyError(f"{action}: no IAM resource scope declared for service {service}")
    return _SCOPE_OF_SERVICE[service]


def _provisional_statements() -> list[Statement]:
    by_scope: dict[str, set[str]] = {}
    for action in required_permissions():
        by_scope.setdefault(_scope_of(action), set()).add(action)
    return [
        Statement(scope.sid, tuple(sorted(actions)), scope.resources, scope.reason, scope.condition)
        for key, actions in by_scope.items()
        for scope in (_SCOPES[key],)
    ]
