"""The functions' configuration (``trailguard.config``) read from their environment, without AWS."""

from __future__ import annotations

import pytest

from trailguard.config import Config, queue_arn


def test_config_reads_comma_separated_lists() -> None:
    config = Config.from_env(
        {
            "TRAILGUARD_TOPIC_ARN": " arn:aws:sns:eu-west-1:210987654321:alerts ",
            "TRAILGUARD_GUARD_ROLE_ARNS": "arn:aws:iam::1:role/a, ,arn:aws:iam::1:role/b,"
            "arn:aws:iam::1:role/a",
            "TRAILGUARD_PROTECTED_TRAILS": "",
            "TRAILGUARD_ALLOWED_PRINCIPAL_ARNS": "arn:aws:iam::1:role/break-glass",
        }
    )
    assert config.topic_arn == "arn:aws:sns:eu-west-1:210987654321:alerts"
    assert config.account == "210987654321"
    assert config.guard_role_arns == ("arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b")
    assert config.protected_trails == ()
    assert config.allowed_principal_arns == ("arn:aws:iam::1:role/break-glass",)
    assert Config.from_env({}).topic_arns == ()


@pytest.mark.parametrize(
    ("url", "arn"),
    [
        (
            "https://sqs.eu-west-1.amazonaws.com/123456789012/tg-DeadLetterQueue-AB12",
            "arn:aws:sqs:eu-west-1:123456789012:tg-DeadLetterQueue-AB12",
        ),
        (
            "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q",
            "arn:aws-cn:sqs:cn-north-1:123456789012:q",
        ),
        (
            "https://sqs.us-gov-west-1.amazonaws.com/123456789012/q",
            "arn:aws-us-gov:sqs:us-gov-west-1:123456789012:q",
        ),
        ("https://us-east-1.queue.amazonaws.com/123456789012/q", "arn:aws:sqs:us-east-1:123456789012:q"),
        ("http://localhost:4566/123456789012/q", None),
        ("https://sqs.us-east-1.amazonaws.com/123456789012/q/extra", None),
        ("https://sqs.us-east-1.amazonaws.com/not-an-account/q", None),
        ("arn:aws:sqs:us-east-1:123456789012:q", None),
    ],
)
def test_a_queue_url_names_its_arn(url: str, arn: str | None) -> None:
    assert queue_arn(url) == arn


def test_the_queues_a_rule_may_target_are_the_watched_queues_as_arns() -> None:
    dead = "https://sqs.us-east-1.amazonaws.com/123456789012/tg-DeadLetterQueue-1"
    failed = "https://sqs.us-east-1.amazonaws.com/123456789012/tg-FailedInvocationQueue-2"
    config = Config.from_env({"TRAILGUARD_QUEUE_URLS": f"{dead},{failed}", "TRAILGUARD_QUEUE_ARNS": "arn:x"})
    assert config.queue_urls == (dead, failed)
    assert config.queue_arns == (
        "arn:aws:sqs:us-east-1:123456789012:tg-DeadLetterQueue-1",
        "arn:aws:sqs:us-east-1:123456789012:tg-FailedInvocationQueue-2",
    )
