"""One message per incident across the organization: the central function is the fallback, not a second
voice. On a forwarded call it waits a grace, re-reads the trail and looks in the central ledger for the
account's own message (recorded when the central topic delivers it to the function); it tells only when
nobody did, or when the trail is still broken.

In-process moto, with real threads where the order matters: the grace is replaced by a wait on the
thread that delivers the account's own message (or on nothing), so each interleaving is made, not hoped
for. moto's DynamoDB is made atomic per call, as DynamoDB is per item (tests/notify/test_ledger_races.py
explains why).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from moto.dynamodb.models import DynamoDBBackend

from aws_support import ACCOUNT
from trailguard.org import central as policy
from trailguard.org import central_run

from .test_central import MEMBER, Org, call, member_message, no_grace, org, sns_event  # noqa: F401

ROUNDS = 5


@pytest.fixture
def ledgered(org: Org, monkeypatch: pytest.MonkeyPatch) -> Org:  # noqa: F811
    """The central stack with its state table; DynamoDB's per-item atomicity in moto."""
    lock = threading.RLock()
    for name in ("put_item", "update_item", "transact_write_items", "get_item", "query", "delete_item"):
        real = getattr(DynamoDBBackend, name)

        def locked(*args: Any, _real: Callable[..., Any] = real, **kwargs: Any) -> Any:
            with lock:
                return _real(*args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, locked)
    org.env["TRAILGUARD_STATE_TABLE"] = org.account.state_table()
    return org


def event_id(event: dict[str, Any]) -> str:
    return str(event["detail"]["eventID"])


def during_grace(monkeypatch: pytest.MonkeyPatch, arrives: Callable[[], Any]) -> list[BaseException]:
    """The grace: ``arrives`` runs on another thread and the wait ends when it has (its errors kept)."""
    errors: list[BaseException] = []

    def wait(seconds: float) -> None:
        assert seconds == policy.TOLD_GRACE_SECONDS

        def run() -> None:
            try:
                arrives()
            except BaseException as exc:
                errors.append(exc)

        other = threading.Thread(target=run)
        other.start()
        other.join(timeout=60)

    monkeypatch.setattr(central_run, "pause", wait)
    return errors


def test_an_owner_stop_logging_the_owner_repaired_and_told_gets_no_central_message(
    ledgered: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The management account's StopLogging: its own stack restarts the trail and mails REPAIRED; its
    message reaches the central function during the grace, and the re-read finds the trail logging."""
    world = ledgered
    stop = call("StopLogging", world.trail_arn, account=ACCOUNT)
    world.cloudtrail().stop_logging(Name=world.trail_arn)

    def owner_repairs_and_tells() -> None:
        world.cloudtrail().start_logging(Name=world.trail_arn)
        told = world.invoke(
            sns_event(member_message("remediated", world.trail_arn, event_id=event_id(stop), account=ACCOUNT))
        )
        assert told["told"] == [{"event_id": event_id(stop), "account": ACCOUNT, "as": "told"}]

    errors = during_grace(monkeypatch, owner_repairs_and_tells)
    result = world.invoke(stop)

    assert errors == []
    (line,) = result["incidents"]
    assert line["status"] == "already-restored"
    assert line["notification"]["action"] == "suppress" and ACCOUNT in line["notification"]["reason"]
    assert world.logging() and world.messages() == []


def test_a_members_attempt_is_left_to_the_members_attempt_message(
    ledgered: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = ledgered
    attempt = call("StopLogging", world.trail_arn, account=MEMBER, error="AccessDenied")
    errors = during_grace(
        monkeypatch,
        lambda: world.invoke(
            sns_event(
                member_message("attempted", world.trail_arn, event_id=event_id(attempt), verdict="attempt")
            )
        ),
    )

    result = world.invoke(attempt)

    assert errors == []
    (line,) = result["incidents"]
    assert line["verdict"] == "attempt" and line["notification"]["action"] == "suppress"
    assert world.messages() == []


def test_when_no_message_arrives_within_the_grace_the_central_tells_once(
    ledgered: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing told: the attempt is the central function's ATTEMPT, once, however often it is delivered;
    the member's message arriving after it is recorded as late and sends nothing more."""
    world = ledgered
    attempt = call("StopLogging", world.trail_arn, account=MEMBER, error="AccessDenied")
    waited: list[float] = []
    monkeypatch.setattr(central_run, "pause", waited.append)

    first = world.invoke(attempt)
    again = world.invoke(attempt)  # EventBridge delivers at least once
    late = world.invoke(
        sns_event(member_message("attempted", world.trail_arn, event_id=event_id(attempt), verdict="attempt"))
    )

    assert waited == [policy.TOLD_GRACE_SECONDS] * 2  # waited on each delivery, before deciding
    assert first["incidents"][0].get("notification", {}).get("action") != "suppress"
    assert again["incidents"][0]["notification"]["action"] == "suppress"
    assert late["told"][0]["as"] == "late" and late["escalations"] == []
    (message,) = world.messages()
    assert "ATTEMPT" in message["_sns_subject"] and MEMBER in message["text"]


def test_a_trail_still_broken_after_the_grace_is_repaired_and_told_although_its_stack_told(
    ledgered: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The owner's message said REPAIRED, but the trail is stopped when the central function re-reads
    it (stopped again, or the repair did not hold): what the owner said is no longer true."""
    world = ledgered
    stop = call("StopLogging", world.trail_arn, account=ACCOUNT)
    world.cloudtrail().stop_logging(Name=world.trail_arn)
    errors = during_grace(
        monkeypatch,
        lambda: world.invoke(
            sns_event(member_message("remediated", world.trail_arn, event_id=event_id(stop), account=ACCOUNT))
        ),
    )

    result = world.invoke(stop)
    again = world.invoke(stop)

    assert errors == []
    assert result["incidents"][0]["status"] == "remediated" and world.logging()
    assert again["incidents"][0]["status"] == "already-restored"
    (message,) = world.messages()
    assert "REPAIRED" in message["_sns_subject"]


def one_round(world: Org, monkeypatch: pytest.MonkeyPatch, told: bool) -> list[dict[str, Any]]:
    """Two deliveries of one new forwarded call on two threads; both wait the grace together, and during
    it (when ``told``) the owner's message for that call arrives. The two incident lines."""
    stop = call("StopLogging", world.trail_arn, account=ACCOUNT)
    owner = member_message("remediated", world.trail_arn, event_id=event_id(stop), account=ACCOUNT)
    both_waiting = threading.Barrier(2, timeout=30)
    recorded = threading.Event()

    def wait(seconds: float) -> None:
        if both_waiting.wait() == 0:  # one of the two waiting deliveries: the owner's message arrives
            if told:
                world.invoke(sns_event(owner))
            recorded.set()
        recorded.wait(timeout=30)

    monkeypatch.setattr(central_run, "pause", wait)
    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda: results.append(world.invoke(stop))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return [r["incidents"][0] for r in results]


@pytest.mark.parametrize("told", [True, False], ids=["own-stack-told", "nobody-told"])
def test_parallel_deliveries_of_one_call_give_at_most_one_message(
    ledgered: Org, monkeypatch: pytest.MonkeyPatch, told: bool
) -> None:
    """Two deliveries of one forwarded call at once (real threads), the trail found in order: with the
    owner's message recorded during the grace, none; with none, exactly one."""
    world = ledgered
    sent: list[dict[str, Any]] = []
    for _ in range(ROUNDS):
        lines = one_round(world, monkeypatch, told)
        assert len(lines) == 2
        by_its_stack = ["own stack told" in str(line.get("notification")) for line in lines]
        assert by_its_stack == ([True, True] if told else [False, False]), lines
        sent += world.messages()
    # nobody told: one message for the first call, and each later round a repeat the burst counts
    assert len(sent) == (0 if told else 1)


# ------------------------------------------------------------------------ the owner's repairs


def owner_redirect_repair(world: Org, attack: dict[str, Any], bucket: str) -> dict[str, Any]:
    """The management account's stack's message about ``attack`` (a redirect it undid from its
    baseline): the verified UpdateTrail it made, as its outcome records it."""
    doc = member_message("remediated", world.trail_arn, event_id=event_id(attack), account=ACCOUNT)
    doc["incident"]["technique"] = "trail.update-degrade"
    doc["incident"]["remediation"] = {
        "action": "trail.restore",
        "status": "remediated",
        "summary": "restored trail org-trail from its baseline",
        "calls": [
            {
                "service": "cloudtrail",
                "operation": "UpdateTrail",
                "region": "us-east-1",
                "params": {"Name": world.trail_arn, "S3BucketName": bucket},
                "result": None,
                "error": None,
            }
        ],
    }
    return doc


def test_the_owners_update_that_restores_a_redirect_is_not_news(
    ledgered: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The redirect and the owner's repair are both forwarded; the owner's REPAIRED message arrives
    during the grace of each. The central function reads the live trail: as the owner restored it, so
    neither call is its news (the owner's message is the one message)."""
    world = ledgered
    world.account.bucket("attacker-bucket")
    attack = call("UpdateTrail", world.trail_arn, account=ACCOUNT, s3BucketName="attacker-bucket")
    repair = call("UpdateTrail", world.trail_arn, account=ACCOUNT, s3BucketName="org-trail-logs")
    repair["detail"]["userIdentity"]["arn"] = f"arn:aws:sts::{ACCOUNT}:assumed-role/trailguard-guard/x"
    world.cloudtrail().update_trail(Name=world.trail_arn, S3BucketName="attacker-bucket")

    def owner_repairs_and_tells() -> None:
        world.cloudtrail().update_trail(Name=world.trail_arn, S3BucketName="org-trail-logs")
        world.invoke(sns_event(owner_redirect_repair(world, attack, "org-trail-logs")))

    errors = during_grace(monkeypatch, owner_repairs_and_tells)
    first = world.invoke(attack)
    monkeypatch.setattr(central_run, "pause", lambda seconds: None)
    second = world.invoke(repair)

    assert errors == []
    for result in (first, second):
        (line,) = result["incidents"]
        assert line["status"] == "already-restored", line
        assert "as the management account's stack reported it restored" in line["notification"]["reason"]
    assert world.trail()["S3BucketName"] == "org-trail-logs" and world.messages() == []


@pytest.mark.parametrize(
    "change",
    [
        {"S3BucketName": "attacker-bucket"},  # a redirect after the repair
        {
            "S3BucketName": "org-trail-logs",
            "S3KeyPrefix": "elsewhere",
        },  # a property the report does not cover
    ],
    ids=["redirected-again", "sets-what-was-not-restored"],
)
def test_an_update_by_the_owners_role_that_leaves_the_trail_otherwise_is_news(
    ledgered: Org, monkeypatch: pytest.MonkeyPatch, change: dict[str, str]
) -> None:
    """Never exempt by who: the call below is made by the owner's own role, after the owner reported its
    restoration; the live trail is not as restored, so it needs a person."""
    world = ledgered
    world.account.bucket("attacker-bucket")
    earlier = call("UpdateTrail", world.trail_arn, account=ACCOUNT, s3BucketName="attacker-bucket")
    world.invoke(sns_event(owner_redirect_repair(world, earlier, "org-trail-logs")))
    world.cloudtrail().update_trail(Name=world.trail_arn, **change)
    params = {k[:1].lower() + k[1:]: v for k, v in change.items()}
    later = call("UpdateTrail", world.trail_arn, account=ACCOUNT, **params)
    later["detail"]["userIdentity"]["arn"] = f"arn:aws:sts::{ACCOUNT}:assumed-role/trailguard-guard/x"

    result = world.invoke(later)

    (line,) = result["incidents"]
    assert line["action_required"] is True, line
    assert (line.get("notification") or {}).get("action") != "suppress", line
    (message,) = world.messages()
    assert message["_sns_subject"].startswith("[ACTION REQUIRED]")


def test_an_update_that_drops_cloudwatch_logs_is_news_although_the_bucket_is_as_restored(
    ledgered: Org,
) -> None:
    world = ledgered
    earlier = call("UpdateTrail", world.trail_arn, account=ACCOUNT, s3BucketName="attacker-bucket")
    world.invoke(sns_event(owner_redirect_repair(world, earlier, "org-trail-logs")))
    world.cloudtrail().update_trail(
        Name=world.trail_arn, CloudWatchLogsLogGroupArn="", CloudWatchLogsRoleArn=""
    )
    later = call("UpdateTrail", world.trail_arn, account=ACCOUNT, s3BucketName="org-trail-logs")

    result = world.invoke(later)

    (line,) = result["incidents"]
    assert line["action_required"] is True, line
    (message,) = world.messages()
    assert message["_sns_subject"].startswith("[ACTION REQUIRED]") and "CloudWatch Logs" in message["text"]


def test_the_owners_message_racing_the_claim_gives_one_voice_whichever_wins(
    ledgered: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No order imposed: two deliveries of a forwarded call end their grace at the moment the owner's
    message arrives (three real threads released together). Whichever conditional write wins, the
    outcome is consistent: the owner's record first, and the central function is quiet on both
    deliveries; its claim first, and the owner's message is recorded as late and the central function
    speaks (once: the ledger's burst folds the later rounds' calls on the same trail)."""
    world = ledgered
    rounds: list[str] = []
    sent: list[dict[str, Any]] = []
    for _ in range(ROUNDS * 2):
        stop = call("StopLogging", world.trail_arn, account=ACCOUNT)
        owner = member_message("remediated", world.trail_arn, event_id=event_id(stop), account=ACCOUNT)
        go = threading.Barrier(3, timeout=30)
        monkeypatch.setattr(central_run, "pause", lambda seconds, go=go: go.wait())
        lines: list[dict[str, Any]] = []
        told: list[dict[str, Any]] = []

        def owner_tells(
            go: threading.Barrier = go, owner: dict[str, Any] = owner, told: list[dict[str, Any]] = told
        ) -> None:
            go.wait()
            told.extend(world.invoke(sns_event(owner))["told"])

        def delivered(stop: dict[str, Any] = stop, lines: list[dict[str, Any]] = lines) -> None:
            lines.extend(world.invoke(stop)["incidents"])

        threads = [
            threading.Thread(target=owner_tells),
            *(threading.Thread(target=delivered) for _ in range(2)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        (record,) = told
        assert len(lines) == 2
        quiet = ["own stack told" in str(line.get("notification")) for line in lines]
        assert quiet == ([True, True] if record["as"] == "told" else [False, False]), (record, lines)
        rounds.append(record["as"])
        sent += world.messages()
    assert len(sent) == (1 if "late" in rounds else 0), rounds
