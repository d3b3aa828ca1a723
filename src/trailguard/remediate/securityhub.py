"""Security Hub repairs that keep the trail-disabled finding visible: GuardDuty's product integration
is enabled again (``securityhub.import-disabled``), and an automation rule that suppresses or resolves
the finding, or trailguard's own findings, is disabled (``securityhub.suppression``). Each reads the live
state first (nothing to do -> ``already-restored``) and reads it back after the change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trailguard.remediate.base import (
    Context,
    Outcome,
    RepairRequest,
    action,
    action_region,
    request_param,
    verify_until,
)
from trailguard.resources import automation as automation_kind
from trailguard.resources import product as product_kind
from trailguard.resources.automation import rule_suppresses

IMPORT_MANUAL = (
    "enable Security Hub's GuardDuty integration in {region} again (aws securityhub "
    "enable-import-findings-for-product --product-arn arn:aws:securityhub:{region}::product/aws/guardduty)."
)
IMPORT_FOLLOW_UP = (
    "GuardDuty findings raised while it was off were not imported into Security Hub: review them in "
    "GuardDuty itself, Stealth:IAMUser/CloudTrailLoggingDisabled above all"
)
RULE_MANUAL = (
    "disable the Security Hub automation rule {resource} in {region} (aws securityhub "
    "batch-update-automation-rules, RuleStatus DISABLED), or delete it if nobody owns it."
)
RULE_FOLLOW_UP = (
    "Findings the rule suppressed or resolved while it was enabled stay so: review and reopen "
    "CloudTrailLoggingDisabled and trailguard findings in {region} since it was created or changed"
)


def _region(ctx: Context, request: RepairRequest, ref: str) -> str:
    recorded = request.baseline.get("Region") if request.baseline else None
    region, _ = product_kind.region_account(ref)
    return action_region(ctx, request, None, recorded=str(recorded) if recorded else (region or None))


def _guardduty_enabled(outcome: Outcome, region: str) -> bool:
    subscriptions = outcome.pages(
        "securityhub", region, "ListEnabledProductsForImport", "ProductSubscriptions"
    )
    enabled = any(product_kind.product_of(str(s)) == product_kind.GUARDDUTY_PRODUCT for s in subscriptions)
    outcome.calls[-1].result = f"GuardDuty {'enabled' if enabled else 'not enabled'}"
    return enabled


@action(
    "securityhub.enable_import",
    permissions=("securityhub:EnableImportFindingsForProduct", "securityhub:ListEnabledProductsForImport"),
    restores=product_kind.KIND,
    manual_steps=IMPORT_MANUAL,
)
def enable_import(ctx: Context, request: RepairRequest) -> Outcome:
    """``securityhub.import-disabled``: EnableImportFindingsForProduct for GuardDuty, verified with
    ListEnabledProductsForImport."""
    ref = request.ident or request_param(request, "ProductSubscriptionArn") or ""
    outcome = Outcome("securityhub.enable_import", ref)
    region = _region(ctx, request, ref)
    label = f"Security Hub's GuardDuty integration in {region}"
    try:
        if _guardduty_enabled(outcome, region):
            return outcome.unchanged(f"{label} is enabled; nothing changed")
        outcome.call(
            "securityhub",
            region,
            "EnableImportFindingsForProduct",
            ProductArn=product_kind.product_arn(region),
        )
        enabled = verify_until(ctx, lambda: _guardduty_enabled(outcome, region))
    except Exception as exc:
        error = outcome.last_error(exc)
        return outcome.fail(f"could not enable {label}: {error}", error)
    if not enabled:
        return outcome.fail(
            f"called EnableImportFindingsForProduct, but {label} is still not listed as enabled"
        )
    return outcome.repaired(
        f"enabled {label} again (disabled -> enabled); verified with ListEnabledProductsForImport. "
        + IMPORT_FOLLOW_UP
    )


def _rules(outcome: Outcome, region: str, arns: list[str] | None) -> list[Mapping[str, Any]]:
    """The named rules (all of them when ``arns`` is None), with criteria and actions."""
    if arns is None:
        listed = outcome.pages("securityhub", region, "ListAutomationRules", "AutomationRulesMetadata")
        arns = [str(r["RuleArn"]) for r in listed]
        outcome.calls[-1].result = f"{len(arns)} rule(s)"
    found: list[Mapping[str, Any]] = []
    for start in range(0, len(arns), 100):
        page = outcome.call(
            "securityhub", region, "BatchGetAutomationRules", AutomationRulesArns=arns[start : start + 100]
        )
        found.extend(page.get("Rules") or [])
    return found


def _suppressing(outcome: Outcome, region: str, arns: list[str] | None) -> list[Mapping[str, Any]]:
    found = [r for r in _rules(outcome, region, arns) if rule_suppresses(r)]
    if outcome.calls:
        outcome.calls[-1].result = f"{len(found)} suppressing rule(s)"
    return found


def _rule_arns(request: RepairRequest) -> list[str] | None:
    """The rules the call names: its response's RuleArn (CreateAutomationRule) or its update items;
    None (every rule) when it names none, as from the backstop."""
    if request.ident and ":automation-rule/" in request.ident:
        return [request.ident]
    record = request.record
    if record is None:
        return None
    arns: list[str] = []
    response = record.raw.get("responseElements")
    created = response.get("RuleArn") if isinstance(response, Mapping) else None
    if isinstance(created, str) and created:
        arns.append(created)
    items = record.request_parameters.get("UpdateAutomationRulesRequestItems")
    for item in items if isinstance(items, list) else []:
        arn = item.get("RuleArn") if isinstance(item, Mapping) else None
        if isinstance(arn, str) and arn:
            arns.append(arn)
    return arns or None


@action(
    "securityhub.disable_rule",
    permissions=(
        "securityhub:ListAutomationRules",
        "securityhub:BatchGetAutomationRules",
        "securityhub:BatchUpdateAutomationRules",
    ),
    restores=automation_kind.KIND,
    manual_steps=RULE_MANUAL,
)
def disable_rule(ctx: Context, request: RepairRequest) -> Outcome:
    """``securityhub.suppression``: BatchUpdateAutomationRules RuleStatus DISABLED for every enabled
    rule that hides the trail-disabled finding or trailguard's own, verified with BatchGetAutomationRules."""
    ref = request.ident or ""
    outcome = Outcome("securityhub.disable_rule", ref)
    region = _region(ctx, request, ref)
    arns = _rule_arns(request)
    done: list[str] = []
    try:
        hiding = _suppressing(outcome, region, arns)
        if hiding:
            outcome.call(
                "securityhub",
                region,
                "BatchUpdateAutomationRules",
                UpdateAutomationRulesRequestItems=[
                    {"RuleArn": str(r["RuleArn"]), "RuleStatus": "DISABLED"} for r in hiding
                ],
            )
            done = [
                f"disabled Security Hub automation rule {r.get('RuleName')} ({r['RuleArn']}), which "
                "suppressed or resolved the trail-disabled finding (ENABLED -> DISABLED)"
                for r in hiding
            ]
            hidden = [str(r["RuleArn"]) for r in hiding]
            verified = verify_until(ctx, lambda: not _suppressing(outcome, region, hidden))
        else:
            verified = True
    except Exception as exc:
        error = outcome.last_error(exc)
        return outcome.fail(
            "; ".join([*done, f"could not disable the automation rules in {region}: {error}"])
        )
    off = [] if verified else [f"an automation rule in {region} still suppresses the trail-disabled finding"]
    label = f"Security Hub automation rules in {region}"
    return outcome.finish(
        label,
        done,
        off,
        "BatchGetAutomationRules reports each rule DISABLED",
        follow_up=RULE_FOLLOW_UP.format(region=region),
        unchanged=f"no enabled automation rule in {region} hides the trail-disabled finding; nothing changed",
    )
