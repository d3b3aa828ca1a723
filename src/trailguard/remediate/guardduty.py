"""``guardduty.suppression``: a findings filter that archives the CloudTrailLoggingDisabled finding on
arrival is restored to its baseline (when its recorded version did not suppress) or deleted, and read back.

Idempotent: the live filter is read first; a filter that no longer suppresses is left as it is. From the
backstop (a detector's filter-set baseline, no record) every filter of the detector is checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trailguard.remediate.base import (
    Context,
    Gone,
    Outcome,
    RepairRequest,
    action,
    action_region,
    read_baseline,
    request_param,
    verify_until,
)
from trailguard.resources import filter as filter_kind
from trailguard.resources.filter import KIND, filter_suppresses

MANUAL = (
    "delete the GuardDuty filter {resource} in {region} (aws guardduty delete-filter), or set its action "
    "to NOOP, so the Stealth:IAMUser/CloudTrailLoggingDisabled finding is no longer archived on arrival."
)
FOLLOW_UP = (
    "Findings the filter archived stay archived: review GuardDuty's archived "
    "Stealth:IAMUser/CloudTrailLoggingDisabled findings in {region} since it was changed"
)


def _live(outcome: Outcome, region: str, detector: str, name: str) -> Mapping[str, Any] | None:
    """The filter as GetFilter answers it, or None when it does not exist."""
    try:
        found: Mapping[str, Any] = outcome.call(
            "guardduty", region, "GetFilter", gone=KIND, DetectorId=detector, FilterName=name
        )
    except Gone:
        outcome.calls[-1].error, outcome.calls[-1].result = None, "no such filter"
        return None
    outcome.calls[-1].result = f"Action {found.get('Action')}"
    return found


def _suppresses(found: Mapping[str, Any] | None) -> bool:
    return found is not None and filter_suppresses(found.get("Action"), found.get("FindingCriteria"))


def _restore_one(
    ctx: Context,
    outcome: Outcome,
    region: str,
    detector: str,
    name: str,
    *,
    recorded: Mapping[str, Any] | None,
) -> tuple[str | None, str | None]:
    """(what was done, what is still off) for one filter; (None, None) when it does not suppress."""
    label = f"GuardDuty filter {name} of detector {detector} in {region}"
    found = _live(outcome, region, detector, name)
    if not _suppresses(found):
        return None, None
    assert found is not None
    before = f"action {found.get('Action')}"
    if recorded is not None and not filter_suppresses(
        recorded.get("Action"), recorded.get("FindingCriteria")
    ):
        params: dict[str, Any] = {
            "DetectorId": detector,
            "FilterName": name,
            "Action": recorded.get("Action") or "NOOP",
            "FindingCriteria": recorded.get("FindingCriteria") or {},
        }
        if recorded.get("Description"):
            params["Description"] = recorded["Description"]
        if recorded.get("Rank"):
            params["Rank"] = recorded["Rank"]
        outcome.call("guardduty", region, "UpdateFilter", gone=KIND, **params)
        done = f"restored {label} to its baseline ({before} -> action {params['Action']})"
    else:
        outcome.call("guardduty", region, "DeleteFilter", gone=KIND, DetectorId=detector, FilterName=name)
        done = f"deleted {label}, which archived the CloudTrailLoggingDisabled finding ({before} -> deleted)"
    if verify_until(ctx, lambda: not _suppresses(_live(outcome, region, detector, name))):
        return done, None
    return done, f"{label} still archives the CloudTrailLoggingDisabled finding"


def _names(outcome: Outcome, region: str, detector: str) -> list[str]:
    names = [
        str(n)
        for n in outcome.pages(
            "guardduty", region, "ListFilters", "FilterNames", gone=KIND, DetectorId=detector
        )
    ]
    outcome.calls[-1].result = f"{len(names)} filter(s)"
    return names


@action(
    "guardduty.remove_suppression",
    permissions=(
        "guardduty:GetFilter",
        "guardduty:ListFilters",
        "guardduty:UpdateFilter",
        "guardduty:DeleteFilter",
    ),
    restores=KIND,
    manual_steps=MANUAL,
)
def remove_suppression(ctx: Context, request: RepairRequest) -> Outcome:
    """``guardduty.suppression``: UpdateFilter back to a non-suppressing baseline, else DeleteFilter;
    verified with GetFilter (gone, or no longer archiving the finding)."""
    ref = request.ident or ""
    detector, name = filter_kind.parse_ref(ref)
    detector = request_param(request, "detectorId", "DetectorId") or detector
    name = request_param(request, "name", "filterName", "FilterName", "Name") or name
    outcome = Outcome("guardduty.remove_suppression", ref or detector)
    recorded = request.baseline
    region_recorded = str(recorded.get("Region")) if recorded and recorded.get("Region") else None
    region = action_region(ctx, request, ref if ref.startswith("arn:") else None, recorded=region_recorded)
    if not detector:
        return outcome.fail("could not tell which GuardDuty detector the filter belongs to; nothing changed")
    if recorded is None:
        recorded = read_baseline(ctx, outcome, KIND.name, detector)
    filters = recorded.get("Filters") if isinstance(recorded, Mapping) else None
    filters = filters if isinstance(filters, Mapping) else {}
    done: list[str] = []
    off: list[str] = []
    try:
        for one in [name] if name else _names(outcome, region, detector):
            step, still = _restore_one(ctx, outcome, region, detector, one, recorded=filters.get(one))
            done.extend([step] if step else [])
            off.extend([still] if still else [])
    except Exception as exc:
        error = outcome.last_error(exc)
        outcome.errors.append(error)
        return outcome.fail(
            "; ".join([*done, f"could not restore the filters of GuardDuty detector {detector}: {error}"])
        )
    label = (
        f"GuardDuty filter {name} of detector {detector}" if name else f"the filters of detector {detector}"
    )
    return outcome.finish(
        label,
        done,
        off,
        "GetFilter shows no filter archiving the CloudTrailLoggingDisabled finding",
        follow_up=FOLLOW_UP.format(region=region),
        unchanged=f"{label} in {region} does not archive the CloudTrailLoggingDisabled finding; "
        "nothing changed",
    )
