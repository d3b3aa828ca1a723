"""GuardDuty detectors and the Security Hub subscription: the detection trailguard also answers."""

from __future__ import annotations

from trailguard.resources.base import Kind

KIND = Kind(
    name="detector",
    noun="detector",
    sweep_order=80,
    securityhub_type="AwsGuardDutyDetector",
    gone_codes=frozenset({"BadRequestException", "InvalidAccessException"}),
    iam_actions=("guardduty:*",),
    iam_reason="GuardDuty detectors of the account.",
    iam_resources=("arn:${AWS::Partition}:guardduty:*:${AWS::AccountId}:detector/*",),
)
