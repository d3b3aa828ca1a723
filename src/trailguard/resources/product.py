"""Security Hub product integrations (``ListEnabledProductsForImport``), and the Security Hub ARNs both
hub kinds (this one and :mod:`trailguard.resources.automation`) parse.

Security Hub settings decide whether the trail-disabled finding is seen: which products may import
findings (this kind) and the automation rules that rewrite findings on arrival. Both are baselined per
hub (the id is the region's hub ARN, ``arn:aws:securityhub:REGION:ACCOUNT:hub/default``), so the backstop
can find an integration turned off or a rule added while an event was missed. Any Security Hub ARN (a
product subscription, an automation rule) is parsed to its hub.
"""

from __future__ import annotations

from typing import Any

from trailguard.resources.base import Clients, Kind, meta

GUARDDUTY_PRODUCT = "aws/guardduty"


def region_account(ref: str) -> tuple[str, str]:
    """(region, account) of a Security Hub ARN; ("", "") when ``ref`` is not one."""
    parts = ref.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[2] == "securityhub":
        return parts[3], parts[4]
    return "", ""


def hub_arn(region: str, account: str) -> str:
    return f"arn:aws:securityhub:{region}:{account}:hub/default"


def hub_of(ref: str) -> str:
    """The hub ARN of any Security Hub ARN in an account (``ref`` itself otherwise)."""
    region, account = region_account(ref)
    return hub_arn(region, account) if region and account else ref


def product_of(ref: str) -> str:
    """``aws/guardduty`` of a product or product-subscription ARN; ``ref`` when it is neither."""
    resource = ref.split(":", 5)[-1] if ref.startswith("arn:") else ref
    for prefix in ("product-subscription/", "product/"):
        if resource.startswith(prefix):
            return resource[len(prefix) :]
    return resource


def product_arn(region: str, product: str = GUARDDUTY_PRODUCT) -> str:
    return f"arn:aws:securityhub:{region}::product/{product}"


def subscription_arn(region: str, account: str, product: str = GUARDDUTY_PRODUCT) -> str:
    return f"arn:aws:securityhub:{region}:{account}:product-subscription/{product}"


def subscribed(clients: Clients) -> str | None:
    """The region's hub ARN, or None when the account is not subscribed to Security Hub there."""
    try:
        found = clients("securityhub").describe_hub()
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code")
        if code == "InvalidAccessException":
            return None
        raise
    return str(found["HubArn"])


def enabled_products(securityhub: Any) -> list[str]:
    """Every product subscription ARN (``ListEnabledProductsForImport``, all pages)."""
    out: list[str] = []
    request: dict[str, Any] = {}
    while True:
        page = securityhub.list_enabled_products_for_import(**request)
        out.extend(str(a) for a in page.get("ProductSubscriptions") or [])
        if not page.get("NextToken"):
            return out
        request["NextToken"] = page["NextToken"]


def short(ref: str) -> str:
    """``aws/guardduty in us-east-1`` of a subscription ARN, ``in us-east-1`` of a hub ARN."""
    region, _ = region_account(ref)
    product = product_of(ref)
    where = f" in {region}" if region else ""
    return f"{product}{where}" if ":product" in ref else f"integrations{where}"


def capture(ident: str, clients: Clients, source: str) -> dict[str, Any]:
    region, _ = region_account(ident)
    securityhub = clients("securityhub", region or None)
    return {
        "HubArn": hub_of(ident),
        "Region": region or clients.region,
        "ProductSubscriptions": enabled_products(securityhub),
        "_meta": meta(source),
    }


def discover(clients: Clients, source: str) -> list[tuple[str, dict[str, Any]]]:
    arn = subscribed(clients)
    return [] if arn is None else [(arn, capture(arn, clients, source))]


KIND = Kind(
    name="product",
    noun="Security Hub product integration",
    sweep_order=84,
    securityhub_type="Other",
    ident=hub_of,
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
