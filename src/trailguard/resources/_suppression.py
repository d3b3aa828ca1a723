"""Whether a GuardDuty filter or a Security Hub automation rule hides the finding that reveals a disabled
trail: pure, shared by the policy (judging the call) and the repair (judging the live filter or rule).

Fail safe: a criterion on a field these models do not describe is assumed to match (a filter that
might archive the finding is treated as one that does); a criterion on a described field is evaluated.
Keys are read whatever the case of their first letter, because CloudTrail writes Security Hub's
parameters as sent (``Criteria``) and the local cloud's recorder writes them camelCase (``criteria``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

GUARDDUTY_TYPE = "Stealth:IAMUser/CloudTrailLoggingDisabled"
ASFF_TYPE = "TTPs/Defense Evasion/Stealth:IAMUser-CloudTrailLoggingDisabled"
TRAILGUARD_PREFIX = "trailguard"
HIDING_STATUSES = frozenset({"SUPPRESSED", "RESOLVED"})

# The CloudTrailLoggingDisabled finding as GuardDuty filter criteria see it (field -> possible values).
GUARDDUTY_FINDING: Mapping[str, tuple[Any, ...]] = {
    "type": (GUARDDUTY_TYPE,),
    "severity": (2, 2.0),
    "service.archived": ("false", False),
    "service.serviceName": ("guardduty",),
    "service.action.actionType": ("AWS_API_CALL",),
    "service.action.awsApiCallAction.api": ("StopLogging", "DeleteTrail", "UpdateTrail"),
    "service.action.awsApiCallAction.serviceName": ("cloudtrail.amazonaws.com",),
    "resource.resourceType": ("AccessKey",),
}

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


def get(data: Any, name: str) -> Any:
    """``data[name]`` whatever the case of the key's first letter (``Criteria`` / ``criteria``)."""
    if not isinstance(data, Mapping):
        return None
    if name in data:
        return data[name]
    flipped = name[:1].swapcase() + name[1:]
    return data.get(flipped)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _condition_holds(values: Sequence[Any], condition: Mapping[str, Any]) -> bool:
    """A GuardDuty ``Condition`` (both spellings: ``eq``/``equals``, ``gt``/``greaterThan``...) holds for
    at least one of the finding's possible ``values``."""
    checks: list[Any] = []
    for short, long in (("eq", "equals"), ("neq", "notEquals")):
        listed = [str(v) for v in _as_list(get(condition, short)) + _as_list(get(condition, long))]
        if listed:
            checks.append((short, listed))
    for short, long in (("gt", "greaterThan"), ("gte", "greaterThanOrEqual")):
        for found in (get(condition, short), get(condition, long)):
            if found is not None:
                checks.append((short, found))
    for short, long in (("lt", "lessThan"), ("lte", "lessThanOrEqual")):
        for found in (get(condition, short), get(condition, long)):
            if found is not None:
                checks.append((short, found))

    def holds(value: Any) -> bool:
        text, number = str(value).lower() if isinstance(value, bool) else str(value), _number(value)
        for op, operand in checks:
            if op == "eq" and text not in operand:
                return False
            if op == "neq" and text in operand:
                return False
            if op in ("gt", "gte", "lt", "lte"):
                limit = _number(operand)
                if number is None or limit is None:
                    continue
                if (op == "gt" and not number > limit) or (op == "gte" and not number >= limit):
                    return False
                if (op == "lt" and not number < limit) or (op == "lte" and not number <= limit):
                    return False
        return True

    return any(holds(v) for v in values) if values else True


def filter_matches_finding(criteria: Any) -> bool:
    """Whether GuardDuty ``FindingCriteria`` (``{"criterion": {field: condition}}``) can match the
    CloudTrailLoggingDisabled finding. No criteria match everything."""
    criterion = get(criteria, "criterion")
    if not isinstance(criterion, Mapping):
        return True
    for field, condition in criterion.items():
        values = GUARDDUTY_FINDING.get(str(field))
        if values is None or not isinstance(condition, Mapping):
            continue  # a field not modelled: assume it can match
        if not _condition_holds(values, condition):
            return False
    return True


def filter_suppresses(action: Any, criteria: Any) -> bool:
    """A filter archives the CloudTrailLoggingDisabled finding on arrival."""
    return str(action or "").upper() == "ARCHIVE" and filter_matches_finding(criteria)


def _string_filter_holds(field: str, values: tuple[str, ...], condition: Mapping[str, Any]) -> bool:
    wanted = str(get(condition, "Value") or "")
    comparison = str(get(condition, "Comparison") or "EQUALS").upper()
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
        for field, conditions in criteria.items():
            name = str(field)[:1].upper() + str(field)[1:]
            if name not in finding or not isinstance(conditions, list) or not conditions:
                continue
            values = finding[name]
            positive = [
                c for c in conditions if not str(get(c, "Comparison") or "").upper().startswith("NOT")
            ]
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
        update = get(act, "FindingFieldsUpdate")
        status = get(get(update, "Workflow"), "Status")
        if str(status or "").upper() in HIDING_STATUSES:
            return True
    return False


def rule_suppresses(rule: Mapping[str, Any]) -> bool:
    """An enabled automation rule that hides the trail-disabled finding or trailguard's own."""
    status = str(get(rule, "RuleStatus") or "ENABLED").upper()
    return (
        status == "ENABLED"
        and actions_hide(get(rule, "Actions"))
        and rule_criteria_match(get(rule, "Criteria"))
    )
