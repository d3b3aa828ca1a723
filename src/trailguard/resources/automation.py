"""Security Hub automation rules, baselined per hub (every rule, its criteria and actions); see
:mod:`trailguard.resources.hub`."""

from __future__ import annotations

from typing import Any

from trailguard.resources import _hub as hub
from trailguard.resources.base import Clients, Kind, meta


def short(ref: str) -> str:
    """The rule's id of an automation-rule ARN, ``rules in REGION`` of a hub ARN."""
    region, _ = hub.region_account(ref)
    if ":automation-rule/" in ref:
        return ref.rsplit("/", 1)[-1]
    return f"rules in {region}" if region else ref


def capture(ident: str, clients: Clients, source: str) -> dict[str, Any]:
    region, _ = hub.region_account(ident)
    securityhub = clients("securityhub", region or None)
    return {
        "HubArn": hub.hub_of(ident),
        "Region": region or clients.region,
        "Rules": hub.automation_rules(securityhub),
        "_meta": meta(source),
    }


def discover(clients: Clients, source: str) -> list[tuple[str, dict[str, Any]]]:
    arn = hub.subscribed(clients)
    return [] if arn is None else [(arn, capture(arn, clients, source))]


KIND = Kind(
    name="automation",
    noun="Security Hub automation rule",
    sweep_order=86,
    securityhub_type="Other",
    ident=hub.hub_of,
    short=short,
    gone_codes=frozenset({"InvalidAccessException"}),
    summary_fields=("HubArn",),
    iam_actions=("securityhub:*AutomationRule*",),
    iam_reason="The account's automation rules (listing them is authorised on the hub).",
    iam_resources=(
        "arn:${AWS::Partition}:securityhub:*:${AWS::AccountId}:automation-rule/*",
        "arn:${AWS::Partition}:securityhub:*:${AWS::AccountId}:hub/default",
    ),
    capture=capture,
    discover=discover,
    baseline_order=10,
)
