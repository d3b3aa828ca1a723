"""Security Hub settings that decide whether the trail-disabled finding is seen: which products may
import findings (``product``) and the automation rules that rewrite findings on arrival (``automation``).

Both are baselined per hub (the id is the region's hub ARN, ``arn:aws:securityhub:REGION:ACCOUNT:hub/
default``), so the backstop can find an integration turned off or a rule added while an event was missed.
Any Security Hub ARN (a product subscription, an automation rule) is parsed to its hub.
"""

from __future__ import annotations

from typing import Any

from trailguard.resources.base import Clients

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


def automation_rules(securityhub: Any) -> list[dict[str, Any]]:
    """Every automation rule with its criteria and actions (``ListAutomationRules`` then
    ``BatchGetAutomationRules``), as the API spells them, datetimes as text."""
    arns: list[str] = []
    request: dict[str, Any] = {}
    while True:
        page = securityhub.list_automation_rules(**request)
        arns.extend(str(r["RuleArn"]) for r in page.get("AutomationRulesMetadata") or [])
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    rules: list[dict[str, Any]] = []
    for start in range(0, len(arns), 100):
        found = securityhub.batch_get_automation_rules(AutomationRulesArns=arns[start : start + 100])
        for rule in found.get("Rules") or []:
            rules.append({k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in rule.items()})
    return rules
