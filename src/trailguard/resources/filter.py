"""GuardDuty findings filters, kept per detector: the baseline of a detector id is every filter it has.

Filters are baselined as a set (one document per detector: ``DetectorId``, ``Region``, ``Filters`` by
name), because the backstop must find a suppression filter that was *added* while an event was missed,
which a per-filter baseline could not show. A reference is a filter ARN
(``arn:aws:guardduty:REGION:ACCOUNT:detector/DETECTOR/filter/NAME``), ``DETECTOR/NAME`` or a detector id;
the id it is kept under is the detector id.

Whether a filter archives the CloudTrailLoggingDisabled finding is pure and shared by the policy and the
repair. Fail safe: a criterion on a field not described here (:data:`GUARDDUTY_FINDING`) is assumed to
match; one on a described field is evaluated with GuardDuty's operators (both spellings).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trailguard.resources.base import Clients, Kind, any_case, arn_resource, meta

GUARDDUTY_TYPE = "Stealth:IAMUser/CloudTrailLoggingDisabled"
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


def parse_ref(ref: str) -> tuple[str, str | None]:
    """(detector id, filter name or None) of a filter ARN, ``DETECTOR/NAME``, ``detector/D/filter/N``
    or a bare detector id."""
    parts = [p for p in arn_resource(ref).split("/") if p]
    if parts and parts[0] == "detector":
        parts = parts[1:]
    if len(parts) >= 3 and parts[1] == "filter":
        return parts[0], "/".join(parts[2:])
    if len(parts) == 2:
        return parts[0], parts[1]
    return (parts[0] if parts else ref), None


def detector_of(ref: str) -> str:
    return parse_ref(ref)[0]


def short(ref: str) -> str:
    detector, name = parse_ref(ref)
    return f"{name} of detector {detector}" if name else f"of detector {detector}"


def filter_arn(region: str, account: str, detector: str, name: str) -> str:
    return f"arn:aws:guardduty:{region}:{account}:detector/{detector}/filter/{name}"


def read_filters(guardduty: Any, detector: str) -> dict[str, dict[str, Any]]:
    """Every filter of ``detector`` as ``GetFilter`` answers it (``Name``/``Action``/``Rank``/...)."""
    names: list[str] = []
    request: dict[str, Any] = {"DetectorId": detector}
    while True:
        page = guardduty.list_filters(**request)
        names.extend(str(n) for n in page.get("FilterNames") or [])
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        found = guardduty.get_filter(DetectorId=detector, FilterName=name)
        out[name] = {
            "Action": found.get("Action"),
            "Rank": found.get("Rank"),
            "Description": found.get("Description") or "",
            "FindingCriteria": found.get("FindingCriteria") or {},
        }
    return out


def capture(ident: str, clients: Clients, source: str) -> dict[str, Any]:
    """The filters of detector ``ident`` in the clients' region."""
    detector = detector_of(ident)
    guardduty = clients("guardduty")
    return {
        "DetectorId": detector,
        "Region": clients.region,
        "Filters": read_filters(guardduty, detector),
        "_meta": meta(source),
    }


def discover(clients: Clients, source: str) -> list[tuple[str, dict[str, Any]]]:
    """(detector id, its filters' baseline) for every detector of the clients' region."""
    ids = clients("guardduty").list_detectors().get("DetectorIds") or []
    return [(str(d), capture(str(d), clients, source)) for d in ids]


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
        listed = [str(v) for v in _as_list(any_case(condition, short)) + _as_list(any_case(condition, long))]
        if listed:
            checks.append((short, listed))
    for short, long in (("gt", "greaterThan"), ("gte", "greaterThanOrEqual")):
        for found in (any_case(condition, short), any_case(condition, long)):
            if found is not None:
                checks.append((short, found))
    for short, long in (("lt", "lessThan"), ("lte", "lessThanOrEqual")):
        for found in (any_case(condition, short), any_case(condition, long)):
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
    criterion = any_case(criteria, "criterion")
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


KIND = Kind(
    name="filter",
    noun="GuardDuty filter",
    sweep_order=82,
    securityhub_type="AwsGuardDutyDetector",
    ident=detector_of,
    short=short,
    gone_codes=frozenset({"BadRequestException", "InvalidInputException"}),
    summary_fields=("DetectorId", "Region"),
    iam_actions=("guardduty:*Filter*",),
    iam_reason="GuardDuty findings filters of the account's detectors (ListFilters is on the detector).",
    iam_resources=(
        "arn:${AWS::Partition}:guardduty:*:${AWS::AccountId}:detector/*",
        "arn:${AWS::Partition}:guardduty:*:${AWS::AccountId}:detector/*/filter/*",
    ),
    capture=capture,
    discover=discover,
    baseline_order=8,
)
