"""Message rendering limits and the function's configuration, without AWS."""

from __future__ import annotations

import json

import pytest

from trailguard.config import Config
from trailguard.events import Record
from trailguard.notify import (
    SUBJECT_MAX,
    Incident,
    Message,
    NotificationError,
    ascii_subject,
    publish,
    render,
)
from trailguard.policy import Verdict
from trailguard.remediate import Outcome

RECORD = Record(
    {
        "eventName": "StopLogging",
        "eventSource": "cloudtrail.amazonaws.com",
        "awsRegion": "eu-west-1",
        "recipientAccountId": "123456789012",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15 Python/3.11",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/mallory"},
        "requestParameters": {"name": "t"},
    },
    "cloudtrail",
)


def _incident(resource: str, status: str = "failed") -> Incident:
    verdict = Verdict(
        "tamper", "trail.stop-logging", resource, "arn:aws:iam::123456789012:user/mallory", "x."
    )
    outcome = Outcome("trail.start_logging", resource, status)  # type: ignore[arg-type]
    return Incident(verdict, RECORD, "api_call", "eu-west-1", outcome=outcome)


@pytest.mark.parametrize(
    "text",
    ["plain", "Trail “café” été\nsecond line\tTab", "x" * 500, "\x00\x01", ""],
)
def test_subjects_are_ascii_single_line_and_short(text: str) -> None:
    subject = ascii_subject(text)
    assert subject and len(subject) <= SUBJECT_MAX
    assert subject.isascii() and "\n" not in subject and "\t" not in subject


def test_long_unicode_trail_names_still_give_a_valid_subject() -> None:
    message = render(_incident("arn:aws:cloudtrail:eu-west-1:123456789012:trail/" + "ü" * 200))
    assert len(message.subject) <= SUBJECT_MAX and message.subject.isascii()
    assert message.subject.startswith("[ACTION REQUIRED]")


def test_a_failed_repair_tells_the_responder_what_to_run() -> None:
    message = render(_incident("arn:aws:cloudtrail:eu-west-1:123456789012:trail/t"))
    assert (
        "aws cloudtrail start-logging --name arn:aws:cloudtrail:eu-west-1:123456789012:trail/t"
        in message.text
    )
    assert "--region eu-west-1" in message.text
    assert message.document["incident"]["action_required"] is True


def test_sns_payload_has_text_for_people_and_json_for_programs() -> None:
    message = render(_incident("t", status="remediated"))
    payload = json.loads(message.sns_payload())
    assert payload["default"] == payload["email"] == message.text
    for protocol in ("sqs", "lambda"):
        assert json.loads(payload[protocol])["incident"]["status"] == "remediated"
    chat = json.loads(payload["https"])  # AWS Chatbot's custom schema; the incident rides in metadata
    assert json.loads(chat["metadata"]["additionalContext"]["incident"])["status"] == "remediated"
    assert message.subject.startswith("[trailguard] REPAIRED: ")


def test_publishing_without_a_topic_is_an_error() -> None:
    with pytest.raises(NotificationError, match="TRAILGUARD_TOPIC_ARN"):
        publish(Message("s", "t", {}), None)


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
