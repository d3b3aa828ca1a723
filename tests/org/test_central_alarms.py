"""A member stack's alarm, forwarded to the organization bus, told once by the central function.

moto emits no "CloudWatch Alarm State Change" events and its CloudFormation creates no alarm, so the
events are ``tests/data/alarms`` (the documented shape; ``MANIFEST.tsv``), delivered to the central
function in process as its rule on the organization bus would, with the envelope's account rewritten as
a forwarding bus may (the message must name the alarm's account, from its ARN). That the forward rule
and the central rule match them is tests/template/test_alarm_forward.py. The topology is modelled as in
tests/org/test_central.py (moto's one account runs the central function).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from org.test_central import ENVELOPE_ACCOUNT, Calls, Org, calls, no_grace, org, sns_event
from permissions_support import iam_action
from trailguard.notify import NotificationError
from trailguard.org import central as policy
from trailguard.org.central_run import PERMISSIONS

__all__ = ["calls", "no_grace", "org"]  # the fixtures of tests/org/test_central.py

ALARMS = Path(__file__).resolve().parents[1] / "data" / "alarms"
ALARM_ACCOUNT = "111122223333"
ALARM_REGION = "eu-west-1"


def forwarded(name: str, **state: str) -> dict[str, Any]:
    """The event as the central rule delivers it: the envelope's account and region rewritten."""
    event: dict[str, Any] = json.loads((ALARMS / name).read_text(encoding="utf-8"))
    event["account"], event["region"] = ENVELOPE_ACCOUNT, "eu-central-1"
    event["detail"]["state"].update(state)
    return event


INTO_ALARM = "cloudwatch_alarm_backstop_missing_alarm_docshape.json"


def test_a_forwarded_alarm_is_an_alarm_entry() -> None:
    assert policy.entry_kind(forwarded(INTO_ALARM)) == "alarm"
    change = policy.read_alarm(forwarded(INTO_ALARM))
    assert isinstance(change, policy.AlarmChange)
    assert (change.account, change.region, change.prefix) == (ALARM_ACCOUNT, ALARM_REGION, "trailguard")
    assert change.alarm is policy.MEMBER_ALARMS["backstop-missing"] and policy.alarm_news(change) is None


def test_a_members_backstop_alarm_is_one_action_required_message(org: Org, calls: Calls) -> None:
    org.env["TRAILGUARD_STATE_TABLE"] = org.account.state_table()
    event = forwarded(INTO_ALARM)

    summary = org.invoke(event)

    (line,) = summary["alarms"]
    assert line["message_id"] and line["account"] == ALARM_ACCOUNT, line
    (message,) = org.messages()
    subject = message["_sns_subject"]
    assert subject.startswith("[ACTION REQUIRED]"), subject
    for part in ("trailguard-backstop-missing", ALARM_ACCOUNT, ALARM_REGION):
        assert part in subject and part in message["text"], (part, subject)
    assert ENVELOPE_ACCOUNT not in message["text"]
    assert event["detail"]["state"]["reason"] in message["text"]
    assert "trailguard audit --org" in message["text"]  # what to do
    assert message["schema"] == policy.SCHEMA and message["kind"] == "alarm"
    assert message["alarm"]["previous_state"] == "OK" and message["alarm"]["state"] == "ALARM"
    assert calls.named("Publish") and not [c for c in calls.made if c.startswith("cloudtrail:")]


def test_the_same_state_change_delivered_again_is_told_once(org: Org) -> None:
    """EventBridge delivers at least once and Lambda retries: the second copy (even with another event
    id, as a second forwarding would give) finds the state change claimed; a later change is news."""
    org.env["TRAILGUARD_STATE_TABLE"] = org.account.state_table()
    first = forwarded(INTO_ALARM)
    again = copy.deepcopy(first)
    again["id"] = "0f7d2c1e-3b4a-4c5d-8e9f-a0b1c2d3e4f5"

    org.invoke(first)
    (line,) = org.invoke(again)["alarms"]

    assert line["notification"]["action"] == "suppress", line
    assert len(org.messages()) == 1
    org.invoke(forwarded(INTO_ALARM, timestamp="2026-11-30T10:30:02.203+0000"))
    assert len(org.messages()) == 1


@pytest.mark.parametrize(
    "name",
    ["cloudwatch_alarm_api_call_errors_ok_docshape.json", "cloudwatch_alarm_servercputoohigh_awsdocs.json"],
)
def test_a_return_to_ok_and_an_alarm_not_trailguards_are_not_told(org: Org, calls: Calls, name: str) -> None:
    (line,) = org.invoke(forwarded(name))["alarms"]
    assert line["notification"]["action"] == "suppress", line
    assert org.messages() == [] and not calls.named("Publish")


def test_its_own_alarm_message_fed_back_by_its_subscription_is_never_escalated(org: Org) -> None:
    org.invoke(forwarded(INTO_ALARM))
    (message,) = org.messages()
    document = {k: v for k, v in message.items() if k != "_sns_subject"}

    summary = org.invoke(sns_event(document))

    assert summary["escalations"] == [] and summary["skipped"] == [] and org.messages() == []


def test_an_alarm_that_cannot_be_published_is_raised_and_told_on_the_retry(org: Org) -> None:
    org.env["TRAILGUARD_STATE_TABLE"] = org.account.state_table()
    topic = org.env["TRAILGUARD_TOPIC_ARN"]
    org.env["TRAILGUARD_TOPIC_ARN"] = topic.rsplit(":", 1)[0] + ":no-such-topic"
    with pytest.raises(NotificationError):
        org.invoke(forwarded(INTO_ALARM))

    org.env["TRAILGUARD_TOPIC_ARN"] = topic  # Lambda's retry: the claim was given back
    (line,) = org.invoke(forwarded(INTO_ALARM))["alarms"]
    assert line.get("message_id"), line
    assert len(org.messages()) == 1


def test_every_call_it_makes_is_a_permission_the_central_role_has(org: Org, calls: Calls) -> None:
    org.env["TRAILGUARD_STATE_TABLE"] = org.account.state_table()
    calls.made.clear()  # the table's creation is the test's
    org.invoke(forwarded(INTO_ALARM))
    org.invoke(forwarded(INTO_ALARM))
    made = {iam_action(*c.split(":", 1)) for c in calls.made}
    assert {"sns:Publish", "dynamodb:PutItem"} <= made
    assert made <= PERMISSIONS, made - PERMISSIONS


def test_a_ledger_that_cannot_be_written_tells_anyway(org: Org) -> None:
    """Fail open: a duplicate beats a lost message (the table does not exist)."""
    org.env["TRAILGUARD_STATE_TABLE"] = "no-such-table"
    (line,) = org.invoke(forwarded(INTO_ALARM))["alarms"]
    assert line.get("message_id"), line
    assert len(org.messages()) == 1


def test_a_long_subject_keeps_the_account_and_region() -> None:
    """SNS subjects end at 100 characters: the account and region come first, the alarm's name last."""
    event = forwarded(INTO_ALARM)
    name = "abcdefghijklmnopqrst-undelivered-events"  # NamePrefix at its 20-character limit
    event["detail"]["alarmName"] = name
    event["resources"] = [f"arn:aws:cloudwatch:ap-southeast-2:{ALARM_ACCOUNT}:alarm:{name}"]
    change = policy.read_alarm(event)
    assert isinstance(change, policy.AlarmChange) and change.prefix == "abcdefghijklmnopqrst"
    subject = policy.alarm_message(change, "us-east-1").subject
    assert len(subject) <= 100 and f"account {ALARM_ACCOUNT}, ap-southeast-2:" in subject, subject
