"""trailguard's alert topic: ids are topic ARNs (subscription ARNs name their topic as a prefix)."""

from __future__ import annotations

from typing import Any

from trailguard.aws import region_of_arn as region_of
from trailguard.resources.base import Clients, Kind, meta


def name_of(arn: str) -> str:
    """``trailguard-alerts`` of ``arn:aws:sns:r:a:trailguard-alerts``."""
    return arn.rsplit(":", 1)[-1]


def capture(arn: str, clients: Clients, source: str) -> dict[str, Any]:
    """``Attributes`` and ``Subscriptions`` (every page; each confirmed one with its ``FilterPolicy``)."""
    sns = clients("sns", region_of(arn))
    attributes = sns.get_topic_attributes(TopicArn=arn).get("Attributes") or {}
    subscriptions: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TopicArn": arn}
    while True:
        page = sns.list_subscriptions_by_topic(**request)
        for s in page.get("Subscriptions") or []:
            entry = {k: s.get(k) for k in ("SubscriptionArn", "Protocol", "Endpoint")}
            sub_arn = str(s.get("SubscriptionArn") or "")
            if sub_arn.startswith(arn + ":"):  # confirmed: its filter policy is part of the baseline
                got = sns.get_subscription_attributes(SubscriptionArn=sub_arn).get("Attributes") or {}
                entry["FilterPolicy"] = got.get("FilterPolicy") or None
            subscriptions.append(entry)
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    return {
        "TopicArn": arn,
        "Attributes": dict(attributes),
        "Subscriptions": subscriptions,
        "_meta": meta(source),
    }


KIND = Kind(
    name="topic",
    noun="topic",
    sweep_order=10,
    securityhub_type="AwsSnsTopic",
    short=name_of,
    gone_codes=frozenset({"ResourceNotFoundException", "NotFound", "NotFoundException"}),
    summary_fields=("Subscriptions",),
    iam_actions=("sns:*",),
    iam_reason="trailguard's own alert topic only.",
    iam_resources=("arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}-alerts",),
    capture=capture,
    baseline_order=7,
)
