"""``notify.renderer`` without AWS: subjects per verdict, per-protocol bodies, links, the storm follow-up,
and the sweep's message in the same vocabulary."""

from __future__ import annotations

import json

import pytest

from trailguard.events import Record
from trailguard.notify import (
    STATUS_WORDS,
    SUBJECT_MAX,
    Cause,
    Decision,
    Drift,
    Incident,
    SweepDecision,
    SweepFindings,
    ascii_subject,
    render,
    render_followup,
)
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


def test_a_follow_up_decision_renders_the_follow_up() -> None:
    incident = _incident("tamper", "remediated")
    decision = Decision("follow-up", "5 repeats", more=5, since="2024-05-01T03:00:07+00:00")
    assert render(incident, decision) == render_followup(incident, 5, "2024-05-01T03:00:07+00:00")
    assert render(incident, Decision("publish", "first")) == render(incident)


SWEPT = "2024-05-01T03:05:00+00:00"


def _sweep(*drift: Drift, errors: tuple[str, ...] = ()) -> SweepFindings:
    return SweepFindings(
        "123456789012", "us-east-1", {"trail": 1, "bucket": 1}, list(drift), list(errors), swept_at=SWEPT
    )


def _outcome(action: str, status: str, summary: str, verified: bool | None = True) -> Outcome:
    return Outcome(action, "x", status, summary, verified)  # type: ignore[arg-type]


BUCKET = Drift(
    "bucket",
    "audit-logs",
    [
        _outcome(
            "bucket.restore_policy", "already-restored", "bucket audit-logs already has the baseline policy"
        ),
        _outcome("bucket.restore_lifecycle", "remediated", "removed the lifecycle configuration"),
    ],
)
GONE = Drift(
    "function", "tg-api-call", [_outcome("guard.restore_function", "failed", "STILL OFF: deleted", False)]
)


def test_a_clean_sweep_has_nothing_to_tell() -> None:
    assert render(_sweep()) is None


def test_the_sweep_lists_each_repair_in_the_one_vocabulary() -> None:
    message = render(_sweep(BUCKET))
    assert message is not None
    assert message.subject == (
        "[trailguard] REPAIRED: backstop found drift on 1 resource(s) (account 123456789012, us-east-1)"
    )
    lines = message.text.splitlines()
    assert lines[4:7] == [
        "- bucket audit-logs:",
        f"    {STATUS_WORDS['already-restored']}: bucket audit-logs already has the baseline policy",
        f"    {STATUS_WORDS['remediated']}: removed the lifecycle configuration",
    ]
    assert lines[-1] == f"Checked: 1 trail, 1 bucket. Swept at {SWEPT}."
    assert "ACTION REQUIRED" not in message.text


def test_what_needs_a_person_is_action_required() -> None:
    message = render(_sweep(BUCKET, GONE, errors=("rule r: AccessDenied",)))
    assert message is not None
    assert message.subject.startswith(
        "[ACTION REQUIRED] NEEDS A PERSON: backstop found drift on 2 resource(s)"
    )
    assert "    REPAIR FAILED: STILL OFF: deleted" in message.text
    assert "Could not be checked:\n- rule r: AccessDenied" in message.text
    assert "ACTION REQUIRED: repair what is marked REPAIR FAILED by hand (or redeploy)." in message.text


def test_the_reminder_says_since_when_and_how_many_sweeps_were_quiet() -> None:
    decision = SweepDecision(
        "reminder", "same", "sha256:x", first_at=1_714_532_700.0, alerted_at=0.0, repeats=12
    )
    message = render(_sweep(GONE), decision)
    assert message is not None
    assert message.subject.startswith(
        "[ACTION REQUIRED] STILL BROKEN since 03:05 UTC 2024-05-01: backstop found"
    )
    assert message.text.startswith(
        "REMINDER: every backstop sweep since 03:05 UTC 2024-05-01 has found exactly"
    )
    assert "(12 sweep(s) since the last message, which were not mailed)" in message.text
    assert message.document["notification"] == decision.to_dict()


def test_the_sweep_document_keeps_its_schema_and_fields() -> None:
    decision = SweepDecision("publish", "first", "sha256:x", first_at=1_714_532_700.0)
    message = render(_sweep(BUCKET), decision)
    assert message is not None
    doc = message.document
    assert list(doc) == [
        "schema",
        "account",
        "swept_at",
        "region",
        "checked",
        "drift",
        "recorded_baseline",
        "errors",
        "message_id",
        "publish_error",
        "notification",
        "subject",
        "text",
    ]
    assert doc["schema"] == "trailguard.sweep/1" and doc["swept_at"] == SWEPT
    assert doc["drift"] == [BUCKET.to_dict()] and doc["text"] == message.text


def test_the_sweep_gets_every_protocol_body_and_a_chat_card() -> None:
    message = render(_sweep(GONE))
    assert message is not None
    payload = json.loads(message.sns_payload())
    assert payload["email"] == payload["default"] == message.text
    assert payload["sms"] == message.subject
    assert json.loads(payload["sqs"]) == json.loads(payload["email-json"]) == message.document
    card = json.loads(payload["https"])
    assert card["version"] == "1.0" and card["source"] == "custom"
    assert card["content"]["title"] == message.subject
    assert card["content"]["nextSteps"] == ["Repair what is marked REPAIR FAILED by hand (or redeploy)."]
    assert card["metadata"]["eventType"] == "trailguard.action-required"
    assert card["metadata"]["relatedResources"] == ["tg-api-call"]
    context = card["metadata"]["additionalContext"]
    assert all(isinstance(v, str) for v in context.values())
    assert json.loads(context["drift"]) == [GONE.to_dict()]


# Limits: an ASCII one-line subject whatever the trail is called; what a failed repair tells the responder.


LIMITS_RECORD = Record(
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


def _failed_incident(resource: str, status: str = "failed") -> Incident:
    verdict = Verdict(
        "tamper", "trail.stop-logging", resource, "arn:aws:iam::123456789012:user/mallory", "x."
    )
    outcome = Outcome("trail.start_logging", resource, status)  # type: ignore[arg-type]
    return Incident(verdict, LIMITS_RECORD, "api_call", "eu-west-1", outcome=outcome)


@pytest.mark.parametrize(
    "text",
    ["plain", "Trail “café” été\nsecond line\tTab", "x" * 500, "\x00\x01", ""],
)
def test_subjects_are_ascii_single_line_and_short(text: str) -> None:
    subject = ascii_subject(text)
    assert subject and len(subject) <= SUBJECT_MAX
    assert subject.isascii() and "\n" not in subject and "\t" not in subject


def test_long_unicode_trail_names_still_give_a_valid_subject() -> None:
    message = render(_failed_incident("arn:aws:cloudtrail:eu-west-1:123456789012:trail/" + "ü" * 200))
    assert len(message.subject) <= SUBJECT_MAX and message.subject.isascii()
    assert message.subject.startswith("[ACTION REQUIRED]")


def test_a_failed_repair_tells_the_responder_what_to_run() -> None:
    message = render(_failed_incident("arn:aws:cloudtrail:eu-west-1:123456789012:trail/t"))
    assert (
        "aws cloudtrail start-logging --name arn:aws:cloudtrail:eu-west-1:123456789012:trail/t"
        in message.text
    )
    assert "--region eu-west-1" in message.text
    assert message.document["incident"]["action_required"] is True


def test_sns_payload_has_text_for_people_and_json_for_programs() -> None:
    message = render(_failed_incident("t", status="remediated"))
    payload = json.loads(message.sns_payload())
    assert payload["default"] == payload["email"] == message.text
    for protocol in ("sqs", "lambda"):
        assert json.loads(payload[protocol])["incident"]["status"] == "remediated"
    chat = json.loads(payload["https"])  # AWS Chatbot's custom schema; the incident rides in metadata
    assert json.loads(chat["metadata"]["additionalContext"]["incident"])["status"] == "remediated"
    assert message.subject.startswith("[trailguard] REPAIRED: ")


# What the red team found misleading (issue 10): each message says what changed and claims nothing else.


def _call(technique: str, resource: str, name: str, params: dict[str, object], **kw: object) -> Incident:
    raw = {**RECORD, "eventName": name, "requestParameters": params}
    verdict = Verdict("tamper", technique, resource, None, "x.")
    outcome = Outcome("a", resource, "remediated", "put back", True)
    return Incident(verdict, Record(raw, "cloudtrail"), "api_call", "us-east-1", outcome=outcome, **kw)  # type: ignore[arg-type]


def test_event_names_lose_their_api_version_suffix_and_the_resource_name_is_kept() -> None:
    name = "trailguard-production-eu-api-call"
    incident = _call(
        "guard.function",
        name,
        "PutFunctionConcurrency20171031",
        {"functionName": name, "reservedConcurrentExecutions": 0},
    )
    message = render(incident)
    assert message.subject == f"[trailguard] REPAIRED: PutFunctionConcurrency on {name} in 123456789012"
    assert message.text.startswith(f"REPAIRED: PutFunctionConcurrency on function {name} in account")
    assert "Event:      PutFunctionConcurrency20171031 from" in message.text  # Details: as recorded


def test_a_long_trail_name_is_kept_whole_and_the_region_gives_way() -> None:
    trail = "org-audit-trail-for-every-account-in-production"
    subject = render(_call("trail.stop-logging", trail, "StopLogging", {"name": trail})).subject
    assert trail in subject and len(subject) <= SUBJECT_MAX and "..." not in subject
    assert subject == f"[trailguard] REPAIRED: StopLogging on {trail}"  # noun, account, region gave way


def test_only_a_call_that_stops_delivery_says_activity_was_not_delivered() -> None:
    stopped = render(_call("trail.stop-logging", TRAIL, "StopLogging", {"name": TRAIL})).text
    assert "was not delivered by this trail" in stopped
    for technique, name in (
        ("guard.function", "UpdateFunctionConfiguration20150331v2"),
        ("trail.update-degrade", "UpdateTrail"),
    ):
        text = render(_call(technique, "tg-api-call", name, {"functionName": "tg-api-call"})).text
        assert "not delivered" not in text, technique


def test_an_environment_change_says_what_changed() -> None:
    baseline = {
        "FunctionName": "tg-api-call",
        "Environment": {
            "Variables": {"TRAILGUARD_PROTECTED_TRAILS": "org-trail", "TRAILGUARD_TOPIC_ARN": "arn:t"}
        },
    }
    params = {
        "functionName": "tg-api-call",
        "environment": {
            "variables": {"TRAILGUARD_PROTECTED_TRAILS": "decoy", "TRAILGUARD_TOPIC_ARN": "arn:t"}
        },
    }
    incident = _call(
        "guard.function", "tg-api-call", "UpdateFunctionConfiguration20150331v2", params, baseline=baseline
    )
    message = render(incident)
    assert "What the call changed (baseline -> requested):\n" in message.text
    assert "  environment.variables.TRAILGUARD_PROTECTED_TRAILS: org-trail -> decoy\n" in message.text
    assert "TRAILGUARD_TOPIC_ARN" not in message.text.split("What you must still do")[0]
    assert message.document["incident"]["changes"] == [
        "environment.variables.TRAILGUARD_PROTECTED_TRAILS: org-trail -> decoy"
    ]


def test_an_update_trail_lists_every_property_it_changed() -> None:
    baseline = {
        "Name": "org-trail",
        "S3BucketName": "logs",
        "KmsKeyId": "arn:k",
        "LogFileValidationEnabled": True,
    }
    params = {
        "name": TRAIL,
        "s3BucketName": "attacker",
        "s3KeyPrefix": "x",
        "kmsKeyId": "",
        "enableLogFileValidation": False,
    }
    text = render(_call("trail.update-degrade", TRAIL, "UpdateTrail", params, baseline=baseline)).text
    for line in (
        "s3BucketName: logs -> attacker",
        "s3KeyPrefix: (not in the baseline) -> x",
        "kmsKeyId: arn:k -> (none)",
        "enableLogFileValidation: true -> false",
    ):
        assert f"  {line}\n" in text


def test_the_sweep_blames_a_missed_event_only_when_one_was_missed() -> None:
    unknown = render(_sweep(BUCKET))
    assert unknown is not None and "missed" not in unknown.text and "never reached" not in unknown.text
    assert "look the change up in CloudTrail event history" in unknown.text

    cause = Cause(
        "PutBucketLifecycle",
        "e-9",
        "2024-05-01T03:01:00Z",
        "arn:aws:iam::123456789012:user/mallory",
        "198.51.100.7",
    )
    missed = render(_sweep(Drift(BUCKET.kind, BUCKET.ident, BUCKET.outcomes, cause, seen=False)))
    assert missed is not None
    assert (
        "    Changed by: PutBucketLifecycle by arn:aws:iam::123456789012:user/mallory from 198.51.100.7 at "
        "2024-05-01T03:01:00Z (event id e-9); this event never reached trailguard's event path"
    ) in missed.text
    seen = render(_sweep(Drift(BUCKET.kind, BUCKET.ident, BUCKET.outcomes, cause, seen=True)))
    assert (
        seen is not None and "never reached" not in seen.text and "trailguard handled this event" in seen.text
    )
    assert "arn:aws:iam::123456789012:user/mallory" in seen.chat["metadata"]["relatedResources"]  # type: ignore[index]
