"""GuardDuty in the local cloud (``trailguard.local.guardduty_patch``): ``ListFilters`` (a moto gap,
docs/local-cloud.md; tested in test_securityhub_config_patch.py with the other stand-ins) and suppression
filters applied to the emulated finding: an ``ARCHIVE`` filter matching CloudTrailLoggingDisabled
silences both finding events, as GuardDuty sends an auto-archived finding nowhere."""

from __future__ import annotations

import pytest
from localcloud_support import creds

from trailguard.local import guardduty_patch
from trailguard.local.findings import findings_for
from trailguard.local.server import LocalCloud

pytestmark = pytest.mark.integration

TRAIL_DISABLED = {"Criterion": {"type": {"Eq": ["Stealth:IAMUser/CloudTrailLoggingDisabled"]}}}


def _finding() -> dict[str, object]:
    record = {
        "recipientAccountId": "123456789012",
        "awsRegion": "us-east-1",
        "eventName": "StopLogging",
        "requestParameters": {"name": "t"},
        "userIdentity": {"type": "IAMUser", "userName": "u"},
        "eventTime": "2026-01-01T00:00:00Z",
    }
    detail = findings_for(record)[0]["detail"]
    assert isinstance(detail, dict)
    return detail


@pytest.mark.parametrize(
    ("action", "criterion", "archived"),
    [
        ("ARCHIVE", {"type": {"Eq": ["Stealth:IAMUser/CloudTrailLoggingDisabled"]}}, True),
        ("ARCHIVE", {"severity": {"Lte": 4}}, True),
        ("ARCHIVE", {"type": {"Eq": ["Recon:EC2/PortProbeUnprotectedPort"]}}, False),
        ("ARCHIVE", {"resource.instanceDetails.imageId": {"Eq": ["ami-1"]}}, False),  # field absent
        ("NOOP", {"type": {"Eq": ["Stealth:IAMUser/CloudTrailLoggingDisabled"]}}, False),
    ],
)
def test_archive_filters_apply_to_the_emulated_finding(
    cloud: LocalCloud, action: str, criterion: dict[str, object], archived: bool
) -> None:
    gd = cloud.client("guardduty")
    detector = gd.create_detector(Enable=True)["DetectorId"]
    try:
        gd.create_filter(
            DetectorId=detector, Name="flt", Action=action, FindingCriteria={"Criterion": criterion}
        )
        assert (guardduty_patch.archived_by(_finding()) == "flt") is archived
    finally:
        gd.delete_detector(DetectorId=detector)


def test_a_suppression_filter_silences_both_finding_events(
    cloud: LocalCloud, trail: str, user_keys: dict[str, str]
) -> None:
    gd = cloud.client("guardduty")
    detector = gd.create_detector(Enable=True)["DetectorId"]
    try:
        gd.create_filter(DetectorId=detector, Name="quiet", Action="ARCHIVE", FindingCriteria=TRAIL_DISABLED)
        cloud.client("cloudtrail", creds(user_keys)).stop_logging(Name=trail)
        assert cloud.wait_idle(10)
        assert cloud.findings is not None
        assert [e for e in cloud.findings.emitted if trail in str(e["detail"])] == []
    finally:
        gd.delete_detector(DetectorId=detector)
