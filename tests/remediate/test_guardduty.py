"""``guardduty.remove_suppression`` against in-process moto, from the event and from the backstop. moto
lacks GuardDuty ``ListFilters``: the local cloud's stand-in (``trailguard.local.guardduty_patch``,
docs/local-cloud.md) is installed on the in-process backend, so every call is a real moto request."""

from __future__ import annotations

import boto3

from trailguard import sweep
from trailguard.baseline.capture import Clients
from trailguard.policy import TECHNIQUES
from trailguard.remediate import RepairRequest, repair
from trailguard.resources import filter as filter_kind

from .detection_support import ARCHIVE_TRAIL_DISABLED, REGION, patched
from .detection_support import ctx as _ctx
from .detection_support import event as _event
from .detection_support import run as _run

__all__ = ["patched"]


def test_a_new_suppression_filter_is_deleted(patched: dict[str, str]) -> None:
    gd = boto3.client("guardduty", region_name=REGION)
    detector = gd.create_detector(Enable=True)["DetectorId"]
    gd.create_filter(
        DetectorId=detector, Name="quiet", Action="ARCHIVE", FindingCriteria=ARCHIVE_TRAIL_DISABLED
    )
    outcome = _run(
        _event(
            "guardduty.amazonaws.com",
            "CreateFilter",
            {
                "detectorId": detector,
                "name": "quiet",
                "action": "ARCHIVE",
                "findingCriteria": {
                    "criterion": {"type": {"eq": ["Stealth:IAMUser/CloudTrailLoggingDisabled"]}}
                },
            },
        )
    )
    assert outcome.status == "remediated" and outcome.verified, outcome.summary
    assert gd.list_filters(DetectorId=detector)["FilterNames"] == []
    assert [c.operation for c in outcome.calls] == ["GetFilter", "DeleteFilter", "GetFilter"]
    # again: nothing left to do
    again = _run(
        _event(
            "guardduty.amazonaws.com",
            "CreateFilter",
            {"detectorId": detector, "name": "quiet", "action": "ARCHIVE"},
        )
    )
    assert again.status == "already-restored"


def test_an_updated_filter_goes_back_to_its_baseline(patched: dict[str, str]) -> None:
    gd = boto3.client("guardduty", region_name=REGION)
    detector = gd.create_detector(Enable=True)["DetectorId"]
    noise = {"Criterion": {"type": {"Eq": ["Recon:EC2/PortProbeUnprotectedPort"]}}}
    gd.create_filter(DetectorId=detector, Name="noise", Action="ARCHIVE", FindingCriteria=noise, Rank=1)
    baseline = {
        "DetectorId": detector,
        "Region": REGION,
        "Filters": {"noise": {"Action": "ARCHIVE", "Rank": 1, "FindingCriteria": noise}},
    }
    gd.update_filter(DetectorId=detector, FilterName="noise", FindingCriteria=ARCHIVE_TRAIL_DISABLED)
    technique = TECHNIQUES["guardduty.suppression"]
    outcome = repair(_ctx(), technique, RepairRequest(technique.kind, detector, "sweep", baseline))
    assert outcome.status == "remediated", outcome.summary
    assert gd.get_filter(DetectorId=detector, FilterName="noise")["FindingCriteria"] == noise
    assert "UpdateFilter" in [c.operation for c in outcome.calls]


def test_the_backstop_finds_a_suppression_filter_no_event_reported(patched: dict[str, str]) -> None:
    """A filter created while the API-call path was blind: the detector's baseline (recorded before it,
    through the kind's ``discover``) is swept, and the new filter is deleted; a harmless one stays."""
    gd = boto3.client("guardduty", region_name=REGION)
    detector = gd.create_detector(Enable=True)["DetectorId"]
    noise = {"Criterion": {"type": {"Eq": ["Recon:EC2/PortProbeUnprotectedPort"]}}}
    gd.create_filter(DetectorId=detector, Name="noise", Action="ARCHIVE", FindingCriteria=noise)
    [(ident, baseline)] = filter_kind.discover(Clients(REGION), "test")
    assert ident == detector and set(baseline["Filters"]) == {"noise"}
    gd.create_filter(
        DetectorId=detector, Name="late", Action="ARCHIVE", FindingCriteria=ARCHIVE_TRAIL_DISABLED
    )

    (outcome,) = sweep.reconcile(_ctx(), "filter", ident, baseline)

    assert outcome.status == "remediated", outcome.summary
    assert gd.list_filters(DetectorId=detector)["FilterNames"] == ["noise"]
    (again,) = sweep.reconcile(_ctx(), "filter", ident, baseline)
    assert again.status == "already-restored", again.summary
