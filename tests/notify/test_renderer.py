"""Rendering without AWS: subjects per verdict, per-protocol bodies, links, the storm follow-up."""

from __future__ import annotations

import json

import pytest

from trailguard.events import Record
from trailguard.notify import SUBJECT_MAX, Incident, render, render_followup
from trailguard.policy import Verdict
from trailguard.remediate import Outcome

TRAIL = "arn:aws:cloudtrail:us-east-1:123456789012:trail/org-trail"
RECORD = {
    "eventID": "e-1",
    "eventName": "StopLogging",
    "eventSource": "cloudtrail.amazonaws.com",
    "awsRegion": "us-east-1",
    "eventTime": "2024-05-01T02:59:58Z",
    "recipientAccountId": "123456789012",
    "sourceIPAddress": "198.51.100.7",
    "userAgent": "aws-cli/2.15.0 Python/3.11",
    "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/mallory"},
    "requestParameters": {"name": TRAIL},
}


def _incident(verdict: str, status: str | None = None, **record: object) -> Incident:
    raw = {**RECORD, **record}
    outcome = (
        Outcome("trail.start_logging", TRAIL, status, "restarted", status == "remediated") if status else None
    )  # type: ignore[arg-type]
    return Incident(
        Verdict(verdict, "trail.stop-logging", TRAIL, None, "x."),
        Record(raw, "cloudtrail"),
        "api_call",
        "us-east-1",
        outcome=outcome,
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("verdict", "status", "subject"),
    [
        (
            "tamper",
            "remediated",
            "[trailguard] REPAIRED: StopLogging on trail org-trail in 123456789012 (us-east-1)",
        ),
        (
            "tamper",
            "failed",
            "[ACTION REQUIRED] REPAIR FAILED: StopLogging on trail org-trail in 123456789012 (us-east-1)",
        ),
        ("attempt", None, "[trailguard] ATTEMPT: StopLogging on trail org-trail in 123456789012 (us-east-1)"),
        (
            "allowed",
            None,
            "[trailguard] AUTHORISED: StopLogging on trail org-trail in 123456789012 (us-east-1)",
        ),
    ],
)
def test_the_subject_says_what_happened_to_which_trail_where(
    verdict: str, status: str | None, subject: str
) -> None:
    assert render(_incident(verdict, status)).subject == subject


def test_the_first_lines_say_who_from_where_with_what_and_the_repair() -> None:
    text = render(_incident("tamper", "remediated")).text.splitlines()
    assert text[1] == "Restarted. Verified: yes."
    assert text[2] == "Who:  arn:aws:iam::123456789012:user/mallory (IAMUser, MFA unknown)"
    assert text[3] == "From: 198.51.100.7 using aws-cli/2.15.0 Python/3.11"
    links = [line.strip() for line in text if "console.aws.amazon.com" in line]
    assert links == [
        f"Trail: https://us-east-1.console.aws.amazon.com/cloudtrailv2/home?region=us-east-1#/trails/{TRAIL}",
        "Event: https://us-east-1.console.aws.amazon.com/cloudtrailv2/home?region=us-east-1#/events/e-1",
    ]


def test_each_protocol_gets_its_body() -> None:
    message = render(_incident("tamper", "remediated"))
    payload = json.loads(message.sns_payload())
    assert payload["email"] == payload["default"] == message.text
    assert payload["sms"] == message.subject
    assert json.loads(payload["sqs"]) == json.loads(payload["lambda"]) == message.document
    card = json.loads(payload["https"])
    assert card["version"] == "1.0" and card["source"] == "custom"
    assert card["content"]["textType"] == "client-markdown" and card["content"]["title"] == message.subject
    assert card["content"]["nextSteps"] and json.loads(payload["http"]) == card
    assert (
        json.loads(card["metadata"]["additionalContext"]["incident"])["origin"]["source_ip"] == "198.51.100.7"
    )


def test_a_long_name_is_shortened_in_the_middle_keeping_account_and_region() -> None:
    name = "trail-" + "x" * 150 + "-end"
    subject = render(_incident("tamper", "remediated", requestParameters={"name": name})).subject
    assert len(subject) <= SUBJECT_MAX and subject.endswith("in 123456789012 (us-east-1)")


def test_the_follow_up_counts_and_escalates_unverified_repairs() -> None:
    calm = render_followup(_incident("tamper", "remediated"), 5, "2024-05-01T03:00:07+00:00")
    assert (
        calm.subject
        == "[trailguard] 5 more StopLogging calls on trail org-trail since 03:00Z in 123456789012 (us-east-1)"
    )
    bad = render_followup(_incident("tamper", "remediated"), 9, "2024-05-01T03:00:07+00:00", unverified=2)
    assert bad.subject.startswith("[ACTION REQUIRED] 9 more")
    assert "2 of these repairs could NOT be verified" in bad.text
