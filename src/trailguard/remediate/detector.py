"""The second detection path: a deleted or disabled GuardDuty detector, or Security Hub switched off, is
switched back on in the call's region and read back (GetDetector Status ENABLED / DescribeHub answers).

Idempotent: the current state is read first. A deleted detector's settings (features, publishing
frequency, filters, member accounts) are not recorded in a baseline: the new detector runs with
GuardDuty's defaults and the message says so; likewise Security Hub comes back without re-subscribing
standards, which a person must check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trailguard.aws import error_code
from trailguard.remediate.base import (
    Context,
    Outcome,
    RepairRequest,
    action,
    action_region,
    read_until,
    request_param,
    verify_until,
)
from trailguard.resources.detector import KIND


def _detector_status(outcome: Outcome, region: str, detector_id: str) -> str | None:
    """The detector's Status, or None when it does not exist (GuardDuty answers BadRequest / NotFound)."""
    try:
        response: Mapping[str, Any] = outcome.call("guardduty", region, "GetDetector", DetectorId=detector_id)
    except Exception as exc:
        if error_code(exc) in ("BadRequestException", "ResourceNotFoundException"):
            outcome.calls[-1].error, outcome.calls[-1].result = None, "no such detector"
            return None
        raise
    status = str(response.get("Status"))
    outcome.calls[-1].result = f"Status {status}"
    return status


def _existing(outcome: Outcome, region: str, named: str | None) -> tuple[str | None, str | None]:
    """(detector id, status) of the region's detector: the one the call named if it still exists, else
    the one ListDetectors returns (a region has at most one)."""
    if named:
        status = _detector_status(outcome, region, named)
        if status is not None:
            return named, status
    ids = outcome.call("guardduty", region, "ListDetectors").get("DetectorIds") or []
    outcome.calls[-1].result = f"{len(ids)} detector(s)"
    for detector_id in ids:
        status = _detector_status(outcome, region, str(detector_id))
        if status is not None:
            return str(detector_id), status
    return None, None


def _guardduty(ctx: Context, request: RepairRequest, outcome: Outcome, region: str) -> Outcome:
    named = request_param(request, "detectorId", "DetectorId")
    try:
        detector_id, status = _existing(outcome, region, named)
        if status == "ENABLED":
            return outcome.unchanged(
                f"GuardDuty detector {detector_id} in {region} is already enabled; nothing changed"
            )
        if detector_id is None:
            created = outcome.call("guardduty", region, "CreateDetector", Enable=True)
            detector_id = str(created["DetectorId"])
            outcome.calls[-1].result = f"DetectorId {detector_id}"
            done = (
                f"created GuardDuty detector {detector_id} in {region} to replace deleted detector "
                f"{named or '(unnamed)'}; its previous settings, filters and member accounts are not "
                "restored (it runs with GuardDuty's defaults)"
            )
        else:
            outcome.call("guardduty", region, "UpdateDetector", DetectorId=detector_id, Enable=True)
            done = f"re-enabled GuardDuty detector {detector_id} in {region}"
        outcome.resource = detector_id
        status = read_until(
            ctx, lambda: _detector_status(outcome, region, detector_id), lambda s: s == "ENABLED"
        )
    except Exception as exc:
        error = outcome.last_error(exc)
        return outcome.fail(f"could not re-enable GuardDuty in {region}: {error}", error)
    if status != "ENABLED":
        return outcome.fail(f"{done}, but GetDetector reports Status {status}")
    return outcome.repaired(f"{done}; verified that GetDetector reports Status ENABLED")


def _hub_enabled(outcome: Outcome, region: str) -> bool:
    try:
        outcome.call("securityhub", region, "DescribeHub")
    except Exception as exc:
        if error_code(exc) == "InvalidAccessException":  # "Account is not subscribed to AWS Security Hub"
            outcome.calls[-1].error, outcome.calls[-1].result = None, "not subscribed"
            return False
        raise
    outcome.calls[-1].result = "subscribed"
    return True


def _security_hub(ctx: Context, outcome: Outcome, region: str) -> Outcome:
    try:
        if _hub_enabled(outcome, region):
            return outcome.unchanged(f"Security Hub in {region} is already enabled; nothing changed")
        outcome.call("securityhub", region, "EnableSecurityHub", EnableDefaultStandards=False)
        enabled = verify_until(ctx, lambda: _hub_enabled(outcome, region))
    except Exception as exc:
        error = outcome.last_error(exc)
        return outcome.fail(f"could not re-enable Security Hub in {region}: {error}", error)
    if not enabled:
        return outcome.fail(
            f"called EnableSecurityHub in {region}, but DescribeHub still says not subscribed"
        )
    return outcome.repaired(
        f"re-enabled Security Hub in {region}; verified with DescribeHub. Its findings were discarded and "
        "its standards subscriptions are not restored: re-enable the standards you use"
    )


@action(
    "guard.enable_detector",
    permissions=(
        "guardduty:CreateDetector",
        "guardduty:UpdateDetector",
        "guardduty:GetDetector",
        "guardduty:ListDetectors",
        "securityhub:EnableSecurityHub",
        "securityhub:DescribeHub",
    ),
    restores=KIND,
)
def enable_detector(ctx: Context, request: RepairRequest) -> Outcome:
    """``guard.detector``: DeleteDetector -> CreateDetector, UpdateDetector(false) -> UpdateDetector(true),
    DisableSecurityHub -> EnableSecurityHub; each verified by reading the state back."""
    outcome = Outcome("guard.enable_detector", request.ident)
    region = action_region(ctx, request)
    if request.record is not None and request.record.event_name == "DisableSecurityHub":
        return _security_hub(ctx, outcome, region)
    return _guardduty(ctx, request, outcome, region)
