"""trailguard's alert topic."""

from __future__ import annotations

from trailguard.resources import topic

ARN = "arn:aws:sns:us-east-1:1:tg-alerts"


def test_name_and_label() -> None:
    assert topic.name_of(ARN) == "tg-alerts"
    assert topic.KIND.label(ARN) == "topic tg-alerts"
    assert topic.KIND.is_gone("NotFound") and topic.KIND.is_gone("NotFoundException")
    assert topic.KIND.securityhub_type == "AwsSnsTopic"
