"""GuardDuty findings filters, kept per detector: the baseline of a detector id is every filter it has.

Filters are baselined as a set (one document per detector: ``DetectorId``, ``Region``, ``Filters`` by
name), because the backstop must find a suppression filter that was *added* while an event was missed,
which a per-filter baseline could not show. A reference is a filter ARN
(``arn:aws:guardduty:REGION:ACCOUNT:detector/DETECTOR/filter/NAME``), ``DETECTOR/NAME`` or a detector id;
the id it is kept under is the detector id.
"""

from __future__ import annotations

from typing import Any

from trailguard.resources.base import Clients, Kind, arn_resource, meta


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
