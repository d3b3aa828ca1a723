"""trailguard's own EventBridge rules: ids are rule names (ARNs ``arn:...:rule/[bus/]name`` read too)."""

from __future__ import annotations

from typing import Any

from trailguard.resources.base import Clients, Kind, clean, jsonable, last_segment, meta


def name_of(ref: str) -> str:
    return last_segment(ref)


def capture(name: str, clients: Clients, source: str) -> dict[str, Any]:
    """The ``DescribeRule`` answer plus ``Targets``."""
    events = clients("events")
    doc = clean(events.describe_rule(Name=name))
    doc["Targets"] = jsonable(events.list_targets_by_rule(Rule=name).get("Targets") or [])
    doc["_meta"] = meta(source)
    return doc


_RULE = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/${AWS::StackName}"

KIND = Kind(
    name="rule",
    noun="rule",
    sweep_order=20,
    securityhub_type="AwsEventsEventbus",
    ident=name_of,
    gone_codes=frozenset({"ResourceNotFoundException", "NotFound", "NotFoundException"}),
    summary_fields=("State", "Targets"),
    iam_actions=("events:*",),
    iam_reason="trailguard's own EventBridge rules only.",
    iam_resources=tuple(
        f"{_RULE}-{suffix}" for suffix in ("api-calls", "findings", "guard-calls", "backstop")
    ),
    capture=capture,
    baseline_order=5,
)
