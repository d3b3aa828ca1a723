"""trailguard's EventBridge rules."""

from __future__ import annotations

from trailguard.resources import rule


def test_name_of() -> None:
    assert rule.name_of("tg-api-calls") == "tg-api-calls"
    assert rule.name_of("arn:aws:events:us-east-1:1:rule/tg-api-calls") == "tg-api-calls"
    assert rule.name_of("arn:aws:events:us-east-1:1:rule/bus/tg-api-calls") == "tg-api-calls"


def test_kind_facts() -> None:
    assert rule.KIND.is_gone("ResourceNotFoundException")
    assert rule.KIND.securityhub_type == "AwsEventsEventbus"
    assert all("${AWS::StackName}-" in r for r in rule.KIND.iam_resources)
