"""Security Hub automation rules, baselined per hub (every rule, its criteria and actions; the hub ARN
parsing is :mod:`trailguard.resources.product`'s), and which rules hide the trail-disabled finding.

Whether a rule hides it is pure and shared by the policy (judging the call) and the repair (judging the
live rule). Fail safe: a criterion on a field not described here is assumed to match (a rule that might
suppress the finding is treated as one that does); a criterion on a described field is evaluated. Rules
are read as Security Hub spells them, in its API and in CloudTrail's records of its calls alike
(``Criteria``, ``Actions``, ``RuleStatus``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from trailguard.resources import product
from trailguard.resources.base import Clients, Kind, meta

GUARDDUTY_TYPE = "Stealth:IAMUser/CloudTrailLoggingDisabled"
ASFF_TYPE = "TTPs/Defense Evasion/Stealth:IAMUser-CloudTrailLoggingDisabled"
TRAILGUARD_PREFIX = "trailguard"
HIDING_STATUSES = frozenset({"SUPPRESSED", "RESOLVED"})

# The findings an automation rule could hide, as ASFF string filters see them: GuardDuty's imported
# finding, and trailguard's own (``GeneratorId`` ``trailguard/...``, types ``.../trailguard-...``).
ASFF_FINDINGS: tuple[Mapping[str, tuple[str, ...]], ...] = (
    {
        "Type": (ASFF_TYPE,),
        "ProductName": ("GuardDuty",),
        "CompanyName": ("Amazon",),
        "GeneratorId": (GUARDDUTY_TYPE,),
        "Title": (),
        "ResourceType": ("AwsCloudTrailTrail", "AwsIamAccessKey"),
    },
    {
        "Type": ("TTPs/Defense Evasion/trailguard-",),
        "ProductName": ("Default",),
        "GeneratorId": ("trailguard/",),
        "Title": ("[trailguard]",),
    },
)
PREFIX_FIELDS = {"Type", "GeneratorId", "Title"}
"""trailguard's own values are families (``trailguard/<technique>``): compared as prefixes."""


def short(ref: str) -> str:
    """The rule's id of an automation-rule ARN, ``rules in REGION`` of a hub ARN."""
    region, _ = product.region_account(ref)
    if ":automation-rule/" in ref:
        return ref.rsplit("/", 1)[-1]
    return f"rules in {region}" if region else ref


def capture(ident: str, clients: Clients, source: str) -> dict[str, Any]:
    region, _ = product.region_account(ident)
    securityhub = clients("securityhub", region or None)
    return {
        "HubArn": product.hub_of(ident),
        "Region": region or clients.region,
        "Rules": automation_rules(securityhub),
        "_meta": meta(source),
    }


def discover(clients: Clients, source: str) -> list[tuple[str, dict[str, Any]]]:
    arn = product.subscribed(clients)
    return [] if arn is None else [(arn, capture(arn, clients, source))]


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


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _string_filter_holds(field: str, values: tuple[str, ...], condition: Mapping[str, Any]) -> bool:
    wanted = str(condition.get("Value") or "")
    comparison = str(condition.get("Comparison") or "EQUALS").upper()
    if not values:
        return True  # a field whose value varies (a title): assume it can match
    prefix = field in PREFIX_FIELDS and any(v.endswith(("/", "-", "]")) for v in values)

    def equal(v: str) -> bool:
        return wanted.startswith(v) if prefix else wanted == v

    tests: dict[str, Callable[[str], bool]] = {
        "EQUALS": equal,
        "PREFIX": lambda v: v.startswith(wanted) or (prefix and wanted.startswith(v)),
        "CONTAINS": lambda v: wanted in v or (prefix and wanted.startswith(v)),
        "NOT_EQUALS": lambda v: not equal(v),
        "PREFIX_NOT_EQUALS": lambda v: not v.startswith(wanted),
        "NOT_CONTAINS": lambda v: wanted not in v,
    }
    test = tests.get(comparison)
    return True if test is None else any(test(v) for v in values)


def rule_criteria_match(criteria: Any) -> bool:
    """Whether automation-rule ``Criteria`` can match GuardDuty's trail-disabled finding or one of
    trailguard's own findings. Positive filters of one field are OR-ed, negative ones AND-ed."""
    if not isinstance(criteria, Mapping):
        return True
    for finding in ASFF_FINDINGS:
        matched = True
        for name, listed in criteria.items():
            if name not in finding or not isinstance(listed, list) or not listed:
                continue
            values = finding[name]
            conditions = [c for c in listed if isinstance(c, Mapping)]
            positive = [c for c in conditions if not str(c.get("Comparison") or "").upper().startswith("NOT")]
            negative = [c for c in conditions if c not in positive]
            if positive and not any(_string_filter_holds(name, values, c) for c in positive):
                matched = False
            if negative and not all(_string_filter_holds(name, values, c) for c in negative):
                matched = False
            if not matched:
                break
        if matched:
            return True
    return False


def actions_hide(actions: Any) -> bool:
    """Automation-rule ``Actions`` that set the workflow to SUPPRESSED or RESOLVED."""
    for act in _as_list(actions):
        update = act.get("FindingFieldsUpdate") if isinstance(act, Mapping) else None
        workflow = update.get("Workflow") if isinstance(update, Mapping) else None
        status = workflow.get("Status") if isinstance(workflow, Mapping) else None
        if str(status or "").upper() in HIDING_STATUSES:
            return True
    return False


def rule_suppresses(rule: Mapping[str, Any]) -> bool:
    """An enabled automation rule that hides the trail-disabled finding or trailguard's own."""
    status = str(rule.get("RuleStatus") or "ENABLED").upper()
    hides = actions_hide(rule.get("Actions")) and rule_criteria_match(rule.get("Criteria"))
    return status == "ENABLED" and hides


KIND = Kind(
    name="automation",
    noun="Security Hub automation rule",
    sweep_order=86,
    securityhub_type="Other",
    ident=product.hub_of,
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
