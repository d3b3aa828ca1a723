"""GuardDuty detectors (and the Security Hub subscription)."""

from __future__ import annotations

from trailguard.resources import account, detector


def test_kind_facts() -> None:
    assert detector.KIND.noun == "detector" and detector.KIND.securityhub_type == "AwsGuardDutyDetector"
    assert detector.KIND.capture is None  # no baseline: a replacement runs with GuardDuty's defaults
    assert account.KIND.noun == "account" and account.KIND.capture is None
