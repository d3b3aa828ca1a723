"""Security Hub product integrations (``ListEnabledProductsForImport``), baselined per hub; see
:mod:`trailguard.resources.hub`."""

from __future__ import annotations

from typing import Any

from trailguard.resources import _hub as hub
from trailguard.resources.base import Clients, Kind, meta


def short(ref: str) -> str:
    """``aws/guardduty in us-east-1`` of a subscription ARN, ``in us-east-1`` of a hub ARN."""
    region, _ = hub.region_account(ref)
    product = hub.product_of(ref)
    where = f" in {region}" if region else ""
    return f"{product}{where}" if ":product" in ref else f"integrations{where}"


def capture(ident: str, clients: Clients, source: str) -> dict[str, Any]:
    region, _ = hub.region_account(ident)
    securityhub = clients("securityhub", region or None)
    return {
        "HubArn": hub.hub_of(ident),
        "Region": region or clients.region,
        "ProductSubscriptions": hub.enabled_products(securityhub),
        "_meta": meta(source),
    }


def discover(clients: Clients, source: str) -> list[tuple[str, dict[str, Any]]]:
    arn = hub.subscribed(clients)
    return [] if arn is None else [(arn, capture(arn, clients, source))]


KIND = Kind(
    name="product",
    noun="Security Hub product integration",
    sweep_order=84,
    securityhub_type="Other",
    ident=hub.hub_of,
    short=short,
    gone_codes=frozenset({"InvalidAccessException"}),
    summary_fields=("HubArn",),
    iam_actions=("securityhub:*ImportFindingsForProduct", "securityhub:ListEnabledProductsForImport"),
    iam_reason=(
        "GuardDuty's integration only: the product, its subscription, and the hub that lists them "
        "(trailguard re-enables no other product)."
    ),
    iam_resources=(
        "arn:${AWS::Partition}:securityhub:*::product/aws/guardduty",
        "arn:${AWS::Partition}:securityhub:*:${AWS::AccountId}:product-subscription/aws/guardduty",
        "arn:${AWS::Partition}:securityhub:*:${AWS::AccountId}:hub/default",
    ),
    capture=capture,
    discover=discover,
    baseline_order=9,
)
