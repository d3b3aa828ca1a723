"""Blinding the detection that would reveal a disabled trail, without touching the trail: a GuardDuty
filter that archives the CloudTrailLoggingDisabled finding, Security Hub no longer importing GuardDuty's
findings, or an automation rule that suppresses or resolves them (or trailguard's own findings).

These calls are judged on their parameters alone (no inventory is needed: the finding they hide is the
one that protects every trail), so ``trailguard classify`` names them offline as the handler does.
Parameters are read as CloudTrail writes them: GuardDuty's camelCase (``detectorId``), Security Hub's
as sent (``RuleName``, ``Criteria``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trailguard.events import Record
from trailguard.policy.inventory import Inventory
from trailguard.policy.technique import Match, Sweep, Technique, param
from trailguard.policy.techniques._common import TOOLS_MITRE
from trailguard.remediate import guardduty as guardduty_repair
from trailguard.remediate import securityhub as securityhub_repair
from trailguard.resources import automation as automation_kind
from trailguard.resources import filter as filter_kind
from trailguard.resources import product as product_kind
from trailguard.resources.automation import actions_hide, rule_criteria_match
from trailguard.resources.filter import filter_matches_finding, filter_suppresses

GUARDDUTY = "guardduty.amazonaws.com"
SECURITYHUB = "securityhub.amazonaws.com"


def _filter(record: Record, inventory: Inventory) -> Match:
    detector = param(record, "detectorId")
    name = param(record, "name", "filterName")  # CreateFilter's, UpdateFilter's
    if detector is None or name is None:
        return Match.unknown(None, "does not say which GuardDuty filter it creates or changes")
    account = record.account_id or inventory.account or ""
    resource = filter_kind.filter_arn(record.region or "", account, detector, name)
    params = record.request_parameters
    action = params.get("action")
    criteria = params.get("findingCriteria")
    if action is None:
        if criteria is not None and not filter_matches_finding(criteria):
            return Match.harmless(
                resource,
                f"GuardDuty filter {name}'s new criteria cannot match the CloudTrailLoggingDisabled finding",
            )
        return Match.unknown(
            resource,
            f"changes GuardDuty filter {name} without saying its action, so it may archive the "
            "CloudTrailLoggingDisabled finding",
        )
    if criteria is None and record.event_name == "UpdateFilter":
        if str(action).upper() != "ARCHIVE":
            return Match.harmless(
                resource, f"GuardDuty filter {name} is set to {action}, which archives nothing"
            )
        return Match.unknown(
            resource,
            f"sets GuardDuty filter {name} to ARCHIVE; its criteria may match the "
            "CloudTrailLoggingDisabled finding",
        )
    if not filter_suppresses(action, criteria):
        return Match.harmless(
            resource, f"GuardDuty filter {name} does not archive the CloudTrailLoggingDisabled finding"
        )
    return Match.tamper(
        resource,
        f"makes GuardDuty filter {name} archive the Stealth:IAMUser/CloudTrailLoggingDisabled finding "
        "on arrival",
    )


def _import_disabled(record: Record, inventory: Inventory) -> Match:
    arn = param(record, "ProductSubscriptionArn")
    if arn is None:
        return Match.unknown(None, "does not say which Security Hub product integration it disables")
    product = product_kind.product_of(arn)
    if product != product_kind.GUARDDUTY_PRODUCT:
        return Match.harmless(arn, f"the {product} integration does not carry the trail-disabled finding")
    return Match.tamper(
        arn, "stops Security Hub importing GuardDuty's findings, the trail-disabled one included"
    )


def _rules_of(record: Record) -> list[Mapping[str, Any]]:
    params = record.request_parameters
    items = params.get("UpdateAutomationRulesRequestItems")
    if isinstance(items, list):
        return [i for i in items if isinstance(i, Mapping)]
    return [params] if params else []


def _rule_arn(record: Record, rule: Mapping[str, Any]) -> str | None:
    response = record.raw.get("responseElements")
    arn = rule.get("RuleArn") or (response.get("RuleArn") if isinstance(response, Mapping) else None)
    return str(arn) if isinstance(arn, str) and arn else None


def _automation(record: Record, inventory: Inventory) -> Match:
    rules = _rules_of(record)
    if not rules:
        return Match.unknown(None, "does not say which Security Hub automation rule it creates or changes")
    creating = record.event_name == "CreateAutomationRule"
    unsure: Match | None = None
    for rule in rules:
        arn = _rule_arn(record, rule)
        resource = arn or (
            product_kind.hub_arn(record.region or "", record.account_id or "") if record.region else None
        )
        name = rule.get("RuleName") or (arn.rsplit("/", 1)[-1] if arn else "(unnamed)")
        status = str(rule.get("RuleStatus") or ("ENABLED" if creating else "")).upper()
        if status == "DISABLED":
            continue
        actions, criteria = rule.get("Actions"), rule.get("Criteria")
        if actions is not None and not actions_hide(actions):
            continue
        if criteria is not None and not rule_criteria_match(criteria):
            continue
        if actions is not None and (criteria is not None or creating):
            return Match.tamper(
                resource,
                f"makes Security Hub automation rule {name} suppress or resolve the trail-disabled finding "
                "or trailguard's own findings",
            )
        unsure = unsure or Match.unknown(
            resource,
            f"changes Security Hub automation rule {name} without saying all of its criteria, actions and "
            "status, so it may suppress the trail-disabled finding",
        )
    if unsure is not None:
        return unsure
    return Match.harmless(
        None, "no rule the call creates or changes suppresses the trail-disabled finding or trailguard's own"
    )


def _recorded_guardduty(baseline: Mapping[str, Any]) -> bool:
    listed = baseline.get("ProductSubscriptions") or []
    return any(product_kind.product_of(str(s)) == product_kind.GUARDDUTY_PRODUCT for s in listed)


SUPPRESSION = Technique(
    id="guardduty.suppression",
    tamper_when=(
        "the filter's action is `ARCHIVE` and its criteria can match "
        "`Stealth:IAMUser/CloudTrailLoggingDisabled` (criteria on fields not modelled count as matching)"
    ),
    repair_summary="restore the filter's baseline when that did not suppress, else `DeleteFilter`",
    title="GuardDuty filter archives the trail-disabled finding",
    mitre=TOOLS_MITRE,
    kind=filter_kind.KIND,
    sweep=Sweep(),
    event_source=GUARDDUTY,
    event_names=frozenset({"CreateFilter", "UpdateFilter"}),
    condition=_filter,
    action=guardduty_repair.remove_suppression,
    verification="GetFilter: the filter is gone or no longer archives the CloudTrailLoggingDisabled finding.",
)

IMPORT_DISABLED = Technique(
    id="securityhub.import-disabled",
    tamper_when="the product subscription is GuardDuty's (`product-subscription/aws/guardduty`)",
    repair_summary="`EnableImportFindingsForProduct` for `product/aws/guardduty`",
    title="Security Hub stops importing GuardDuty findings",
    mitre=TOOLS_MITRE,
    kind=product_kind.KIND,
    sweep=Sweep(when=_recorded_guardduty),
    event_source=SECURITYHUB,
    event_names=frozenset({"DisableImportFindingsForProduct"}),
    condition=_import_disabled,
    action=securityhub_repair.enable_import,
    verification="ListEnabledProductsForImport lists GuardDuty's product subscription.",
)

AUTOMATION = Technique(
    id="securityhub.suppression",
    tamper_when=(
        "an enabled rule sets the workflow to SUPPRESSED or RESOLVED and its criteria can match the "
        "trail-disabled finding or trailguard's own findings"
    ),
    repair_summary="`BatchUpdateAutomationRules` with `RuleStatus` DISABLED",
    title="Security Hub automation rule hides the trail-disabled finding",
    mitre=TOOLS_MITRE,
    kind=automation_kind.KIND,
    sweep=Sweep(),
    event_source=SECURITYHUB,
    # UpdateAutomationRules is the name for the batch call; CloudTrail records BatchUpdate...
    event_names=frozenset({"CreateAutomationRule", "BatchUpdateAutomationRules", "UpdateAutomationRules"}),
    condition=_automation,
    action=securityhub_repair.disable_rule,
    verification="BatchGetAutomationRules reports every such rule DISABLED.",
)

TECHNIQUES = (SUPPRESSION, IMPORT_DISABLED, AUTOMATION)
