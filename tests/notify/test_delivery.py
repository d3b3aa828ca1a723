"""``notify.delivery``: one incident, one message. Duplicate deliveries, storms, the finding after the API
call, publish failures and retries, all through the real handler on moto with the stack's state table,
the ledger on a fake clock (``clock``) so every count is exact."""

from __future__ import annotations

import copy
import json
import logging
import time
from typing import Any

import pytest
from moto.cloudtrail.models import CloudTrailBackend
from moto.core.exceptions import JsonRESTError
from moto.sns.models import SNSBackend

from trailguard import aws, handlers
from trailguard.config import Config
from trailguard.events import records_from_object
from trailguard.notify import (
    Decision,
    Drift,
    Incident,
    Message,
    NotificationError,
    SweepDecision,
    SweepFindings,
    deliver,
    delivery,
    publish,
    send,
)
from trailguard.notify.delivery import followups
from trailguard.notify.ledger import BURST_QUIET_SECONDS, FOLLOWUP_THRESHOLD
from trailguard.policy import Verdict
from trailguard.remediate import Outcome

from .conftest import Cloud, FakeClock, event, ledgers_on, records

STOP = "tamper/cloudtrail_stoplogging_stratus.json"
FINDING = "findings/securityhub_imported_guardduty_cloudtrailloggingdisabled_awssamples.json"


def _stop_event(n: int, **changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(event(STOP))
    raw["eventID"] = f"00000000-0000-4000-8000-{n:012d}"
    raw.update(changes)
    return dict(raw)


def _logs(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, Any]]:
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name.startswith("trailguard")]
    return [line for line in lines if line["event"] == name]


def test_a_duplicate_delivery_is_repaired_again_but_emailed_once(cloud: Cloud, clock: FakeClock) -> None:
    (record,) = records(STOP)
    name, region = cloud.trail_for(record)
    first = cloud.invoke(handlers.api_call, event(STOP))
    cloud.cloudtrail(region).stop_logging(Name=name)  # stopped again before the duplicate arrives

    second = cloud.invoke(handlers.api_call, event(STOP))

    assert cloud.is_logging(name, region)
    assert first["incidents"][0]["status"] == second["incidents"][0]["status"] == "remediated"
    assert second["incidents"][0]["notification"]["action"] == "suppress"
    assert len(cloud.messages()) == 1


def _sweep_followups(cloud: Cloud) -> None:
    """What the backstop sweep does for bursts: their follow-ups (``notify.delivery.followups``)."""
    with aws.using_environ({**cloud.env, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}):
        followups(Config.from_env(), "us-east-1")


def test_twenty_identical_calls_within_a_minute_are_all_repaired_with_two_emails(
    cloud: Cloud, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledgers_on(monkeypatch, clock, delivery)
    (record,) = records(STOP)
    name, region = cloud.trail_for(record, stopped=False)
    statuses, actions = [], []
    for n in range(20):
        cloud.cloudtrail(region).stop_logging(Name=name)
        result = cloud.invoke(handlers.api_call, _stop_event(n))
        assert cloud.is_logging(name, region), f"call {n} was not repaired"
        statuses.append(result["incidents"][0]["status"])
        actions.append(result["incidents"][0]["notification"]["action"])
        clock.advance(3)

    assert statuses == ["remediated"] * 20
    assert actions == ["publish"] + ["suppress"] * 19  # the first is told; every repeat is counted
    _sweep_followups(cloud)  # still going (the last call 3 s ago): no count yet
    clock.advance(BURST_QUIET_SECONDS)  # quiet: the burst has ended, and the sweep tells its count
    _sweep_followups(cloud)
    messages = cloud.messages()
    assert [m["kind"] for m in messages] == ["incident", "follow-up"]
    assert messages[0]["_sns_subject"].startswith("[trailguard] REPAIRED")
    followup = messages[1]
    # the trail's long name is kept whole: the noun and the region give way first
    assert followup["_sns_subject"].startswith(f"[trailguard] 19 more StopLogging calls on {name} since ")
    assert "repaired every one" in followup["text"]
    assert record.principal_arn and record.principal_arn in followup["text"]
    assert followup["follow_up"] == {"more": 19, "since": followup["follow_up"]["since"], "unverified": 0}
    _sweep_followups(cloud)
    assert cloud.messages() == []  # told once


def test_a_storm_that_goes_on_gets_its_next_follow_up_one_interval_later(
    cloud: Cloud, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledgers_on(monkeypatch, clock, delivery)
    (record,) = records(STOP)
    name, region = cloud.trail_for(record, stopped=False)
    for n in range(FOLLOWUP_THRESHOLD + 1):
        cloud.cloudtrail(region).stop_logging(Name=name)
        cloud.invoke(handlers.api_call, _stop_event(n))
    assert len(cloud.messages()) == 1
    for n in range(100, 103):  # one call every 200 s: never quiet for 300 s
        clock.advance(200)
        cloud.invoke(handlers.api_call, _stop_event(n))
        _sweep_followups(cloud)
    (message,) = cloud.messages()  # slot 1 opened at 600 s
    assert message["kind"] == "follow-up" and message["follow_up"]["more"] == FOLLOWUP_THRESHOLD + 3


def test_without_a_state_table_every_incident_is_published(cloud: Cloud, clock: FakeClock) -> None:
    (record,) = records(STOP)
    name, region = cloud.trail_for(record, stopped=False)
    for n in range(3):
        cloud.cloudtrail(region).stop_logging(Name=name)
        cloud.invoke(handlers.api_call, _stop_event(n), TRAILGUARD_STATE_TABLE="")
    assert [m["kind"] for m in cloud.messages()] == ["incident"] * 3


def test_an_unreadable_state_table_fails_open(
    cloud: Cloud, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="trailguard")
    (record,) = records(STOP)
    name, region = cloud.trail_for(record)
    cloud.invoke(handlers.api_call, event(STOP), TRAILGUARD_STATE_TABLE="no-such-table")
    assert cloud.is_logging(name, region)
    assert len(cloud.messages()) == 1
    (line,) = _logs(caplog, "incidents.state-unavailable")
    assert line["level"] == "ERROR" and "ResourceNotFound" in line["error"]


def _finding_with_its_api_call() -> tuple[dict[str, Any], dict[str, Any]]:
    """The Security Hub finding, and the StopLogging call on the same trail and account it reports."""
    finding = event(FINDING)
    (record,) = records_from_object(finding)
    call = _stop_event(
        1,
        requestParameters={"name": record.finding_trail},
        recipientAccountId=record.account_id,
        awsRegion=record.region,
    )
    return finding, call


def test_the_finding_after_the_api_call_incident_sends_no_second_email(
    cloud: Cloud, clock: FakeClock
) -> None:
    finding, call = _finding_with_its_api_call()
    (record,) = records_from_object(finding)
    name, region = cloud.trail_for(record)
    cloud.invoke(handlers.api_call, call)
    cloud.cloudtrail(region).stop_logging(Name=name)  # stopped again: the finding's repair still runs
    clock.advance(20 * 60)  # GuardDuty reports it minutes later

    result = cloud.invoke(handlers.finding, finding)

    assert cloud.is_logging(name, region)
    (incident,) = result["incidents"]
    assert incident["status"] == "remediated"
    assert incident["notification"]["action"] == "suppress"
    assert "already reported from the call" in incident["notification"]["reason"]
    (message,) = cloud.messages()
    assert message["incident"]["event"]["name"] == "StopLogging"


def test_a_finding_whose_repair_fails_is_still_emailed(
    cloud: Cloud, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    finding, call = _finding_with_its_api_call()
    (record,) = records_from_object(finding)
    cloud.trail_for(record)
    cloud.invoke(handlers.api_call, call)
    cloud.trail_for(record)
    monkeypatch.setattr(CloudTrailBackend, "start_logging", lambda self, name: None)

    cloud.invoke(handlers.finding, finding)

    subjects = [m["_sns_subject"] for m in cloud.messages()]
    assert len(subjects) == 2 and subjects[1].startswith("[ACTION REQUIRED]")


def test_a_failing_repair_inside_a_storm_is_escalated(
    cloud: Cloud, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    (record,) = records(STOP)
    name, region = cloud.trail_for(record, stopped=False)
    for n in range(2):
        cloud.cloudtrail(region).stop_logging(Name=name)
        cloud.invoke(handlers.api_call, _stop_event(n))
    monkeypatch.setattr(CloudTrailBackend, "start_logging", lambda self, name: None)
    cloud.cloudtrail(region).stop_logging(Name=name)

    cloud.invoke(handlers.api_call, _stop_event(2))

    subjects = [m["_sns_subject"] for m in cloud.messages()]
    assert len(subjects) == 2
    assert subjects[1].startswith("[ACTION REQUIRED] REPAIR FAILED: StopLogging")


def test_a_publish_failure_keeps_the_repair_and_the_retry_sends_the_email_once(
    cloud: Cloud, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="trailguard")
    (record,) = records(STOP)
    name, region = cloud.trail_for(record)

    def broken(self: Any, *args: Any, **kwargs: Any) -> None:
        raise JsonRESTError("InternalError", "SNS is having a bad day")

    with monkeypatch.context() as patch:
        patch.setattr(SNSBackend, "publish", broken)
        with pytest.raises(NotificationError, match="not published"):
            cloud.invoke(handlers.api_call, event(STOP))
    assert cloud.is_logging(name, region)
    (failed,) = _logs(caplog, "notify.publish-failed")
    assert failed["level"] == "CRITICAL" and failed["incident"]["status"] == "remediated"
    assert cloud.messages() == []

    retry = cloud.invoke(handlers.api_call, event(STOP))  # Lambda's asynchronous retry
    again = cloud.invoke(handlers.api_call, event(STOP))  # and a late duplicate after it

    assert retry["incidents"][0]["published"] is True
    assert again["incidents"][0]["published"] is False
    (message,) = cloud.messages()
    assert message["kind"] == "incident"


# ---------------------------------------------------------- the one path, without AWS: either notice


class _Ledger:
    """A ledger double: answers ``decide`` with ``answer`` (or raises it) and records ``finished``; it
    has no state table (``store`` None), so nothing can be kept in the outbox."""

    store: Any = None
    mac: Any = None

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.finished_with: list[tuple[Any, str | None, str | None]] = []
        self.clock = time.time

    def decide(self, notice: Any) -> Any:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def finished(
        self, notice: Any, decision: Any, message_id: str | None, error: str | None, *, kept: bool = False
    ) -> None:
        assert not kept  # there is no table to keep it in
        self.finished_with.append((decision, message_id, error))


GONE = Drift("function", "tg-api-call", [Outcome("guard.restore_function", "tg-api-call", "failed", "gone")])


def _published(monkeypatch: pytest.MonkeyPatch, error: Exception | None = None) -> list[Message]:
    sent: list[Message] = []

    def fake(message: Message, topic_arn: str | None) -> str:
        if error is not None:
            raise error
        sent.append(message)
        return f"msg-{len(sent)}"

    monkeypatch.setattr(delivery, "publish", fake)
    return sent


def test_a_sweep_whose_ledger_fails_is_told_anyway(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="trailguard")
    sent = _published(monkeypatch)
    book = _Ledger(RuntimeError("table gone"))
    result = send(SweepFindings("1", "us-east-1", drift=[GONE]), "arn:aws:sns:us-east-1:1:t", book)  # type: ignore[arg-type]
    assert (result.published, result.message_id, result.decision) == (True, "msg-1", None)
    assert [m.document["schema"] for m in sent] == ["trailguard.sweep/1"]
    (line,) = _logs(caplog, "sweep.ledger-unavailable")
    assert line["step"] == "decide" and line["logger"] == "trailguard.sweep" and "table gone" in line["error"]
    assert book.finished_with == []


def test_a_suppressed_sweep_sends_nothing_and_a_clean_one_has_nothing_to_send(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="trailguard")
    sent = _published(monkeypatch)
    quiet = SweepDecision("suppress", "same", "sha256:x", 0.0, 0.0, repeats=2)
    result = send(SweepFindings("1", "us-east-1", drift=[GONE]), "arn:t", _Ledger(quiet))  # type: ignore[arg-type]
    assert not result.published and result.notification == quiet.to_dict()
    (line,) = _logs(caplog, "sweep.notification-suppressed")
    assert line["level"] == "ERROR" and line["drift"] == ["function tg-api-call"] and line["repeats"] == 2

    clean = send(SweepFindings("1", "us-east-1"), "arn:t", _Ledger(None))  # type: ignore[arg-type]
    assert not clean.published and clean.notification is None
    assert sent == []


def test_a_failed_sweep_publish_is_reported_and_handed_to_the_ledger(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="trailguard")
    _published(monkeypatch, RuntimeError("topic unreachable"))
    decision = SweepDecision("publish", "first", "sha256:x", 0.0)
    book = _Ledger(decision)
    result = send(SweepFindings("1", "us-east-1", drift=[GONE]), "arn:t", book)  # type: ignore[arg-type]
    assert result.error == "RuntimeError: topic unreachable" and not result.published
    assert book.finished_with == [(decision, None, "RuntimeError: topic unreachable")]
    (line,) = _logs(caplog, "sweep.publish-failed")
    assert line["level"] == "ERROR" and line["subject"].startswith("[ACTION REQUIRED] NEEDS A PERSON")


def test_deliver_fills_the_incident_line_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = _published(monkeypatch)
    (record,) = records(STOP)
    verdict = Verdict("tamper", "trail.stop-logging", "t", None, "x.", record)
    incident = Incident(
        verdict, record, "api_call", "us-east-1", outcome=Outcome("a", "t", "remediated", "ok")
    )
    line = incident.summary()
    book = _Ledger(Decision("publish", "first"))
    assert deliver(incident, "arn:t", book, line) is None  # type: ignore[arg-type]
    assert list(line)[-4:] == ["notification", "subject", "message_id", "published"]
    assert line["message_id"] == "msg-1" and line["subject"] == sent[0].subject
    assert book.finished_with == [(book.answer, "msg-1", None)]


def test_publishing_without_a_topic_is_an_error() -> None:
    with pytest.raises(NotificationError, match="TRAILGUARD_TOPIC_ARN"):
        publish(Message("s", "t", {}), None)


def test_a_stop_logging_event_is_repaired_by_whichever_function_gets_it_and_told_once(
    cloud: Cloud, clock: FakeClock
) -> None:
    """Both functions may get a call: each StartLogging is verified, and the event is told once, saying
    REPAIRED (a StopLogging that succeeded means the trail was stopped; trailguard started it)."""
    (record,) = records(STOP)
    name, region = cloud.trail_for(record, stopped=False)
    first = cloud.invoke(handlers.finding, event(STOP))
    cloud.cloudtrail(region).stop_logging(Name=name)
    second = cloud.invoke(handlers.api_call, event(STOP))  # the same event
    third = cloud.invoke(handlers.api_call, event(STOP))  # a real duplicate after that

    assert [r["incidents"][0]["status"] for r in (first, second, third)] == ["remediated"] * 3
    assert cloud.is_logging(name, region)
    assert [r["incidents"][0]["notification"]["action"] for r in (first, second, third)] == [
        "publish",
        "suppress",
        "suppress",
    ]
    subjects = [m["_sns_subject"] for m in cloud.messages()]
    assert [s.split(":")[0] for s in subjects] == ["[trailguard] REPAIRED"]


def test_a_repeat_that_repaired_after_an_already_restored_message_is_told(
    cloud: Cloud, clock: FakeClock
) -> None:
    """A finding found the trail logging (ALREADY RESTORED opened the burst); a call that then had to
    start it again is news, told once."""
    finding, call = _finding_with_its_api_call()
    (found,) = records_from_object(finding)
    name, region = cloud.trail_for(found, stopped=False)
    assert cloud.invoke(handlers.finding, finding)["incidents"][0]["status"] == "already-restored"
    cloud.cloudtrail(region).stop_logging(Name=name)
    repeat = cloud.invoke(handlers.api_call, call)
    assert repeat["incidents"][0]["notification"]["action"] == "publish"
    same = {k: call[k] for k in ("requestParameters", "recipientAccountId", "awsRegion")}
    cloud.cloudtrail(region).stop_logging(Name=name)
    again = cloud.invoke(handlers.api_call, _stop_event(2, **same))
    assert again["incidents"][0]["notification"]["action"] == "suppress"
    assert [m["_sns_subject"].split(":")[0] for m in cloud.messages()] == [
        "[trailguard] ALREADY RESTORED",
        "[trailguard] REPAIRED",
    ]
