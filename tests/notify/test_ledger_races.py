"""The ledger under concurrency: each race run many times with real threads through the handlers, against
the state table on in-process moto, signed with the stack's state key (a real HMAC key in moto's KMS).

moto's DynamoDB is not thread-safe the way DynamoDB is: a conditional write there is a read and a write
of a Python dict that another thread can interleave. DynamoDB serialises the writes to one item (a
condition is checked and the write made atomically), so the fixture below makes moto do the same: one
lock around each DynamoDB write or read call of moto's backend. Nothing else is changed: the handlers,
the ledger's expressions and their conditions run as they are.

What the README promises, and so what each race must give, every time:

- parallel deliveries of one StopLogging event: one email, REPAIRED (the trail was restarted);
- parallel distinct StopLogging calls on one trail: one email, then one follow-up counting every other
  call once the burst has ended (the backstop sweep sends it);
- the API-call event racing the GuardDuty / Security Hub finding about the same trail: one email;
- a forged ledger record never suppresses an alert.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto.cloudtrail import models as cloudtrail_models
from moto.dynamodb.models import DynamoDBBackend

from aws_support import ACCOUNT
from trailguard import aws, handlers
from trailguard.config import Config
from trailguard.events import records_from_object
from trailguard.integrity import DerivedMac
from trailguard.notify import delivery, ledger
from trailguard.notify.ledger import BURST_QUIET_SECONDS, BURSTS_PK

from .conftest import REGION, TABLE, Cloud, FakeClock, event, ledgers_on, records

STOP = "tamper/cloudtrail_stoplogging_stratus.json"
FINDING = "findings/securityhub_imported_guardduty_cloudtrailloggingdisabled_awssamples.json"
ROUNDS = 10
THREADS = 10


@pytest.fixture
def serialised(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB's per-item atomicity in moto: one lock around each backend call (see the docstring)."""
    lock = threading.RLock()
    for name in ("put_item", "update_item", "transact_write_items", "get_item", "query", "delete_item"):
        real = getattr(DynamoDBBackend, name)

        def locked(*args: Any, _real: Callable[..., Any] = real, **kwargs: Any) -> Any:
            with lock:
                return _real(*args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, locked)


@pytest.fixture
def racing(cloud: Cloud, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, serialised: None) -> Cloud:
    """The notification cloud with the state key, ledgers (the sweep's too) on the fake clock."""
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["Arn"]
    cloud.env["TRAILGUARD_STATE_KEY"] = str(key)
    ledgers_on(monkeypatch, clock, delivery)
    monkeypatch.setattr(ledger, "FINDING_GRACE_SECONDS", 1.0)
    DerivedMac.forget()
    ledger.forget_bursts()
    return cloud


@pytest.fixture(autouse=True)
def _fresh_process() -> Iterator[None]:
    yield
    DerivedMac.forget()
    ledger.forget_bursts()


def _stop(n: int, **changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(event(STOP))
    raw["eventID"] = f"00000000-0000-4000-8000-{n:012d}"
    raw.update(changes)
    return dict(raw)


def _parallel(*calls: Callable[[], Any]) -> list[Any]:
    """Run every call on its own thread, all released at once; their results (an exception re-raised)."""
    start = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        start.wait()
        try:
            results[index] = call()
        except BaseException as exc:  # re-raised below, on the test's thread
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def _invoke(cloud: Cloud, handler: Callable[..., Any], payload: Any) -> Callable[[], Any]:
    env = {**cloud.env, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION}

    def call() -> Any:
        with aws.using_environ(env):
            return handler(copy.deepcopy(payload), None)

    return call


def _new_round(cloud: Cloud, clock: FakeClock) -> None:
    """Every burst gone and the process's memory of them: each round starts as a first incident."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for item in dynamodb.query(
        TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": BURSTS_PK}}
    )["Items"]:
        dynamodb.delete_item(TableName=TABLE, Key={"pk": item["pk"], "sk": item["sk"]})
    ledger.forget_bursts()
    clock.advance(BURST_QUIET_SECONDS * 10)
    cloud.messages()  # drained


def _warm(cloud: Cloud, name: str, region: str) -> None:
    """One delivery first, so every thread finds the clients and the derived key made (as a warm
    function does) and the race is about the ledger, not about building boto3 clients concurrently."""
    _invoke(cloud, handlers.api_call, _stop(999_999))()
    cloud.cloudtrail(region).stop_logging(Name=name)


def _sweep_followups(cloud: Cloud) -> None:
    with aws.using_environ({**cloud.env, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION}):
        delivery.followups(Config.from_env(), REGION)


def test_parallel_deliveries_of_one_event_give_one_email_saying_repaired(
    racing: Cloud, clock: FakeClock
) -> None:
    (record,) = records(STOP)
    name, region = racing.trail_for(record)
    _warm(racing, name, region)
    for round_ in range(ROUNDS):
        _new_round(racing, clock)
        racing.cloudtrail(region).stop_logging(Name=name)
        one = _stop(round_)

        results = _parallel(*[_invoke(racing, handlers.api_call, one) for _ in range(THREADS)])

        assert racing.is_logging(name, region)
        actions = sorted(r["incidents"][0]["notification"]["action"] for r in results)
        assert actions == ["publish"] + ["suppress"] * (THREADS - 1), (round_, actions)
        messages = racing.messages()
        assert len(messages) == 1, (round_, [m["_sns_subject"] for m in messages])
        assert messages[0]["_sns_subject"].startswith("[trailguard] REPAIRED: StopLogging"), round_


@pytest.fixture
def noop_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """StartLogging on a trail that is logging changes nothing, not even StartLoggingTime (the reading of
    AWS under which trailguard can prove it changed nothing; moto itself moves the time)."""
    real = cloudtrail_models.TrailStatus.start_logging

    def start(status: Any) -> None:
        if not status.is_logging:
            real(status)

    monkeypatch.setattr(cloudtrail_models.TrailStatus, "start_logging", start)


def _restarted_earlier(cloud: Cloud, name: str, region: str, seconds: float) -> None:
    """Someone else stopped and restarted the trail ``seconds`` ago (moto's recorded times moved back)."""
    cloud.cloudtrail(region).stop_logging(Name=name)
    cloud.cloudtrail(region).start_logging(Name=name)
    status = cloudtrail_models.cloudtrail_backends[ACCOUNT][region].get_trail(name).status
    status.started -= timedelta(seconds=seconds)
    status.stopped -= timedelta(seconds=seconds)


def test_parallel_deliveries_under_the_noop_reading_still_say_repaired(
    racing: Cloud, clock: FakeClock, noop_start: None
) -> None:
    """Ten starts within moments of each other: none can be told from another's, so the one email says
    REPAIRED (trailguard did restart the trail)."""
    (record,) = records(STOP)
    name, region = racing.trail_for(record)
    _warm(racing, name, region)
    for round_ in range(ROUNDS // 2):
        _new_round(racing, clock)
        racing.cloudtrail(region).stop_logging(Name=name)
        one = _stop(round_)

        _parallel(*[_invoke(racing, handlers.api_call, one) for _ in range(THREADS)])

        assert racing.is_logging(name, region)
        (message,) = racing.messages()
        assert message["_sns_subject"].startswith("[trailguard] REPAIRED: StopLogging"), round_


def test_parallel_deliveries_on_a_trail_someone_else_restarted_say_already_restored(
    racing: Cloud, clock: FakeClock, noop_start: None
) -> None:
    """The trail was logging again for 20 s when the deliveries came: every run proves its StartLogging
    changed nothing, waits out the grace, and the one email says ALREADY RESTORED, which is true."""
    (record,) = records(STOP)
    name, region = racing.trail_for(record)
    _warm(racing, name, region)
    for round_ in range(ROUNDS // 2):
        _new_round(racing, clock)
        _restarted_earlier(racing, name, region, 20)
        one = _stop(round_)

        results = _parallel(*[_invoke(racing, handlers.api_call, one) for _ in range(THREADS)])

        assert {r["incidents"][0]["status"] for r in results} == {"already-restored"}, round_
        (message,) = racing.messages()
        assert message["_sns_subject"].startswith("[trailguard] ALREADY RESTORED"), round_


def test_parallel_distinct_calls_give_one_email_then_one_follow_up_counting_every_call(
    racing: Cloud, clock: FakeClock
) -> None:
    (record,) = records(STOP)
    name, region = racing.trail_for(record)
    _warm(racing, name, region)
    for round_ in range(ROUNDS):
        _new_round(racing, clock)
        racing.cloudtrail(region).stop_logging(Name=name)
        base = 1000 * (round_ + 1)

        results = _parallel(*[_invoke(racing, handlers.api_call, _stop(base + n)) for n in range(THREADS)])

        assert racing.is_logging(name, region)
        actions = sorted(r["incidents"][0]["notification"]["action"] for r in results)
        assert actions == ["publish"] + ["suppress"] * (THREADS - 1), (round_, actions)
        assert len(racing.messages()) == 1, round_
        _sweep_followups(racing)  # still going: nothing yet
        assert racing.messages() == [], round_
        clock.advance(BURST_QUIET_SECONDS)  # the burst has ended
        _sweep_followups(racing)
        _sweep_followups(racing)  # a second sweep sends nothing more
        (followup,) = racing.messages()
        assert followup["kind"] == "follow-up", round_
        assert followup["follow_up"]["more"] == THREADS - 1, (round_, followup["follow_up"])


def test_fifty_calls_in_a_row_are_counted_fifty(racing: Cloud, clock: FakeClock) -> None:
    (record,) = records(STOP)
    name, region = racing.trail_for(record, stopped=False)
    for n in range(50):
        racing.cloudtrail(region).stop_logging(Name=name)
        _invoke(racing, handlers.api_call, _stop(n))()
        clock.advance(2)
        assert racing.is_logging(name, region), n
    (first,) = racing.messages()
    assert first["kind"] == "incident"
    clock.advance(BURST_QUIET_SECONDS)
    _sweep_followups(racing)
    (followup,) = racing.messages()
    assert followup["follow_up"]["more"] == 49  # 1 + 49 = every call told
    assert followup["_sns_subject"].startswith(f"[trailguard] 49 more StopLogging calls on {name} since ")


def _finding_and_call() -> tuple[dict[str, Any], dict[str, Any]]:
    finding = event(FINDING)
    (found,) = records_from_object(finding)
    call = _stop(
        1, requestParameters={"name": found.finding_trail}, recipientAccountId=found.account_id,
        awsRegion=found.region,
    )  # fmt: skip
    return finding, call


def test_the_api_call_racing_its_finding_gives_one_email(racing: Cloud, clock: FakeClock) -> None:
    finding, call = _finding_and_call()
    (found,) = records_from_object(finding)
    name, region = racing.trail_for(found)
    _warm(racing, name, region)
    for round_ in range(ROUNDS):
        _new_round(racing, clock)
        racing.cloudtrail(region).stop_logging(Name=name)
        this_call = {**call, "eventID": f"00000000-0000-4000-8000-{round_:012d}"}
        this_finding = copy.deepcopy(finding)
        this_finding["detail"]["findings"][0]["Id"] += f"-{round_}"

        results = _parallel(
            _invoke(racing, handlers.api_call, this_call), _invoke(racing, handlers.finding, this_finding)
        )

        assert racing.is_logging(name, region)
        messages = racing.messages()
        subjects = [m["_sns_subject"] for m in messages]
        assert len(messages) == 1, (round_, subjects, [r["incidents"] for r in results])
        assert not subjects[0].startswith("[trailguard] ALREADY RESTORED"), (round_, subjects)


def test_a_forged_burst_never_suppresses_the_alert(racing: Cloud, clock: FakeClock) -> None:
    """The attacker writes the burst item the next StopLogging would count into (no MAC, or one copied
    from another burst), and a stamp for the very event: each time the alert goes out all the same."""
    (record,) = records(STOP)
    name, region = racing.trail_for(record)
    _invoke(racing, handlers.api_call, _stop(1))()
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    (item,) = dynamodb.query(
        TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": BURSTS_PK}}
    )["Items"]
    assert len(racing.messages()) == 1
    clock.advance(BURST_QUIET_SECONDS * 10)  # the burst has long ended: the next call is news

    forged = dict(item)
    forged.pop("mac", None)
    forged["last_at"] = {"N": f"{clock() + 10_000:.3f}"}  # "still going"
    forged["closed"] = {"N": "0"}
    dynamodb.put_item(TableName=TABLE, Item=forged)
    racing.cloudtrail(region).stop_logging(Name=name)
    result = _invoke(racing, handlers.api_call, _stop(2))()
    assert result["incidents"][0]["notification"]["action"] == "publish"
    assert "tampered" in result["incidents"][0]["notification"]["reason"]

    # a genuine stamp moved onto the next event's attribute: its MAC names another event
    (item,) = dynamodb.query(
        TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": BURSTS_PK}}
    )["Items"]
    stamp = item["last"]["S"]
    clock.advance(BURST_QUIET_SECONDS * 10)
    racing.messages()
    nxt = _stop(3)
    attr = ledger.event_attribute(nxt["eventID"])
    dynamodb.update_item(
        TableName=TABLE, Key={"pk": item["pk"], "sk": item["sk"]}, UpdateExpression="SET #e = :s",
        ExpressionAttributeNames={"#e": attr}, ExpressionAttributeValues={":s": {"S": stamp}},
    )  # fmt: skip
    racing.cloudtrail(region).stop_logging(Name=name)
    result = _invoke(racing, handlers.api_call, nxt)()
    assert result["incidents"][0]["notification"]["action"] == "publish"
    assert len(racing.messages()) == 1
