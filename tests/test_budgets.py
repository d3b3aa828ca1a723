"""The AWS calls each event path makes through ``trailguard.handlers.api_call``, counted against the
budget the technique declares (``Technique.budget``), on the real stack deployed to in-process moto and
run with the function's own environment (state table, state key, Security Hub on).

Every call botocore makes is counted (``BaseClient._make_api_call``, the one door every client call goes
through), so nothing trailguard does on the path escapes the count. "Warm" is a function that has handled
an event before: its clients and its derived ledger key (one KMS GenerateMac per process) are already
there. "Fresh" is a new process: no client, no derived key, no allow-list read; on Lambda its init ran
``handlers.prepare`` (the clients, and the key's one GenerateMac, before any event).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.client
import pytest

import envelopes
from aws_support import ACCOUNT, REGION
from trailguard import allowlist, aws, handlers
from trailguard.integrity import DerivedMac
from trailguard.notify.ledger import forget_bursts
from trailguard.policy import TECHNIQUES
from worlds import Deployed

STOP = TECHNIQUES["trail.stop-logging"]


class Calls:
    """Every AWS operation made while counting, as ``service:Operation``."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def clear(self) -> None:
        self.made.clear()

    def __len__(self) -> int:
        return len(self.made)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    seen = Calls()
    real = botocore.client.BaseClient._make_api_call

    def counted(client: Any, operation: str, params: Any) -> Any:
        seen.made.append(f"{client.meta.service_model.service_name}:{operation}")
        return real(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counted)
    DerivedMac.forget()
    forget_bursts()
    yield seen
    DerivedMac.forget()
    forget_bursts()


def _stop(deployed: Deployed, *, event_id: str | None = None) -> dict[str, Any]:
    record = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/mallory",
            "accountId": ACCOUNT,
            "accessKeyId": "AKIAEXAMPLEMALLORY01",
            "userName": "mallory",
        },
        "eventTime": "2026-12-01T00:00:00Z",
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": "StopLogging",
        "awsRegion": REGION,
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"name": deployed.trail_arn},
        "responseElements": None,
        "eventID": event_id or str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
    }
    return envelopes.api_call(record, event_id=str(uuid.uuid4()))


def _api_call(deployed: Deployed, event: dict[str, Any]) -> dict[str, Any]:
    with aws.using_environ(deployed.env):
        result: dict[str, Any] = handlers.api_call(event, None)
    return result


def _logging(deployed: Deployed) -> bool:
    status = deployed.client("cloudtrail").get_trail_status(Name=deployed.trail_arn)
    return bool(status["IsLogging"])


def _stopped(deployed: Deployed) -> None:
    deployed.client("cloudtrail").stop_logging(Name=deployed.trail_arn)


@pytest.fixture
def warm(deployed: Deployed, calls: Calls) -> Deployed:
    """The stack, after one StopLogging handled by this process (clients, allow-list, ledger key warm)
    on another trail's burst, so the counted events are each the first of their own burst."""
    _stopped(deployed)
    result = _api_call(deployed, _stop(deployed))
    assert result["incidents"][0]["status"] == "remediated"
    _forget_bursts(deployed)
    calls.clear()
    return deployed


def _forget_bursts(deployed: Deployed) -> None:
    """Remove the bursts (not the ledger key or clients): the next StopLogging is a first incident."""
    table = deployed.env["TRAILGUARD_STATE_TABLE"]
    dynamodb = deployed.client("dynamodb")
    for item in dynamodb.query(
        TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "bursts"}}
    )["Items"]:
        dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
    forget_bursts()


def _fresh_process() -> None:
    """What a new process has not made yet: clients, the derived key, the allow-list read, bursts seen."""
    aws.clear_cache()
    DerivedMac.forget()
    allowlist._CACHE.clear()
    forget_bursts()


HOT_PATH = [
    "cloudtrail:StartLogging",
    "cloudtrail:GetTrailStatus",
    "dynamodb:TransactWriteItems",
    "sns:Publish",
]


def test_a_fresh_processs_first_stop_logging_makes_four_calls_after_its_init(
    deployed: Deployed, calls: Calls
) -> None:
    """The function's init (``handlers.prepare``, what Lambda runs at import) makes the clients and
    derives the ledger key (its one GenerateMac); the first event then makes exactly the hot path's four
    calls: no KMS, no DescribeStacks (the environment's allow-list does not name the caller), and no
    Security Hub import (the sweep imports the burst the ledger recorded)."""
    _stopped(deployed)
    _fresh_process()
    calls.clear()
    with aws.using_environ(deployed.env):
        handlers.prepare(background=False)
    assert calls.made == ["kms:GenerateMac"]
    calls.clear()

    result = _api_call(deployed, _stop(deployed))
    counted = list(calls.made)

    (incident,) = result["incidents"]
    assert incident["status"] == "remediated" and incident["published"] is True
    assert _logging(deployed)
    assert STOP.budget is not None
    assert counted == HOT_PATH and len(HOT_PATH) <= STOP.budget
    assert "deferred" in incident["security_hub"]


def test_a_fresh_process_without_the_init_derives_the_key_on_its_path(
    deployed: Deployed, calls: Calls
) -> None:
    """Without ``prepare`` (the CLI, the local cloud) the first signature derives the key itself: one
    GenerateMac more on the path, never an unsigned record."""
    _stopped(deployed)
    _fresh_process()
    calls.clear()

    _api_call(deployed, _stop(deployed))

    assert calls.made == [
        "cloudtrail:StartLogging",
        "cloudtrail:GetTrailStatus",
        "kms:GenerateMac",
        "dynamodb:TransactWriteItems",
        "sns:Publish",
    ]


def test_the_init_derives_in_the_background_and_the_first_signature_waits_for_it(
    deployed: Deployed, calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The init's derivation runs in a thread; a signature that needs the key meanwhile (the thread's
    KMS answer is held back until the signature has started) waits for that one GenerateMac instead of
    making its own."""
    _fresh_process()
    signing = threading.Event()
    real = DerivedMac._derive

    def slow(self: DerivedMac, slot: tuple[str, str], nonce: str) -> bytes:
        if threading.current_thread().name == "trailguard-prepare":
            signing.wait(5)
        return real(self, slot, nonce)

    monkeypatch.setattr(DerivedMac, "_derive", slow)
    real_nonce = DerivedMac.nonce

    def nonce(self: DerivedMac) -> str:
        if threading.current_thread().name != "trailguard-prepare":
            signing.set()
        return real_nonce(self)

    monkeypatch.setattr(DerivedMac, "nonce", nonce)
    with aws.using_environ(deployed.env):
        aws.client("kms")  # made first, so the thread's only call is the derivation
        calls.clear()
        thread = handlers.prepare()
        assert thread is not None
        mac = DerivedMac(deployed.env["TRAILGUARD_STATE_KEY"], deployed.env["AWS_REGION"])
        signed = mac.sign("bursts", "x", "{}")
        thread.join(10)
    assert calls.made == ["kms:GenerateMac"]
    assert mac.verify("bursts", "x", "{}", signed)


def test_a_caller_the_environment_may_allow_is_checked_against_the_stack(
    deployed: Deployed, calls: Calls
) -> None:
    """An environment that names the caller costs the stack's read that decides (DescribeStacks), and the
    stack, which does not name it, decides: repaired as tamper."""
    _stopped(deployed)
    _fresh_process()
    env = {**deployed.env, "TRAILGUARD_ALLOWED_PRINCIPAL_ARNS": f"arn:aws:iam::{ACCOUNT}:user/mallory"}
    with aws.using_environ(env):
        handlers.prepare(background=False)
        calls.clear()
        result: dict[str, Any] = handlers.api_call(_stop(deployed), None)

    (incident,) = result["incidents"]
    assert incident["verdict"] == "tamper" and incident["status"] == "remediated"
    assert "cloudformation:DescribeStacks" in calls.made
    assert _logging(deployed)


def test_stop_logging_declares_the_four_call_budget() -> None:
    assert STOP.budget == 4 and not STOP.needs_baseline


def test_a_warm_first_stop_logging_repair_makes_at_most_its_budget_of_calls(
    warm: Deployed, calls: Calls
) -> None:
    """The repair (StartLogging), its verification (GetTrailStatus), the ledger's one conditional
    write and the alert: no DescribeTrails, no baseline read, no KMS call, no read of the ledger, and
    no Security Hub import (the sweep's)."""
    _stopped(warm)
    calls.clear()

    result = _api_call(warm, _stop(warm))
    counted = list(calls.made)

    (incident,) = result["incidents"]
    assert incident["status"] == "remediated" and incident["published"] is True
    assert _logging(warm)
    assert STOP.budget is not None
    assert counted == HOT_PATH and len(counted) <= STOP.budget


def test_a_warm_repeat_in_a_burst_makes_three_calls_and_no_import(warm: Deployed, calls: Calls) -> None:
    """A repeat is repaired and counted, not mailed and not imported again: three calls."""
    _stopped(warm)
    _api_call(warm, _stop(warm))
    _stopped(warm)
    calls.clear()

    result = _api_call(warm, _stop(warm))
    counted = list(calls.made)

    (incident,) = result["incidents"]
    assert incident["status"] == "remediated" and incident["notification"]["action"] == "suppress"
    assert _logging(warm)
    assert counted == ["cloudtrail:StartLogging", "cloudtrail:GetTrailStatus", "dynamodb:UpdateItem"]


def test_a_redelivered_event_stays_within_the_budget_and_sends_no_message(
    warm: Deployed, calls: Calls
) -> None:
    _stopped(warm)
    event = _stop(warm, event_id="7d0c56b4-1111-4000-8000-00000000abcd")
    _api_call(warm, event)
    calls.clear()

    result = _api_call(warm, event)
    counted = list(calls.made)

    (incident,) = result["incidents"]
    assert incident["notification"]["action"] == "suppress"
    assert "duplicate" in incident["notification"]["reason"]
    # the repair, its verification, the failed condition that named the duplicate, and one look in the
    # outbox (a Lambda retry after a refused publish sends the kept message): within the budget
    assert counted == [
        "cloudtrail:StartLogging",
        "cloudtrail:GetTrailStatus",
        "dynamodb:UpdateItem",
        "dynamodb:GetItem",
    ]
    assert STOP.budget is not None and len(counted) <= STOP.budget


def test_a_storm_of_fifty_makes_at_most_three_calls_each_after_the_first(
    warm: Deployed, calls: Calls
) -> None:
    _stopped(warm)
    _api_call(warm, _stop(warm))
    counts = []
    for _ in range(50):
        _stopped(warm)
        calls.clear()
        result = _api_call(warm, _stop(warm))
        assert result["incidents"][0]["status"] == "remediated"
        counts.append(len(calls))
    assert max(counts) <= 3, counts
    assert _logging(warm)


def test_the_sweep_imports_each_burst_once_with_its_count_and_again_when_it_grows(
    warm: Deployed, calls: Calls
) -> None:
    """Security Hub's import, off the event path: the backstop sweep imports the burst's finding with its
    count of calls, imports nothing more while the count stands, and updates the same finding when the
    burst has grown."""
    hub = warm.client("securityhub")

    def stop_logging_findings() -> dict[str, Any]:
        found = hub.get_findings()["Findings"]
        return {f["Id"]: f for f in found if f["GeneratorId"] == "trailguard/trail.stop-logging"}

    for _ in range(3):
        _stopped(warm)
        _api_call(warm, _stop(warm))

    assert stop_logging_findings() == {}  # nothing imported on the event path
    warm.sweep()
    (ours,) = stop_logging_findings().values()
    assert ours["ProductFields"]["trailguard/calls"] == "3"
    assert ours["Title"].startswith("[trailguard] REPAIRED: StopLogging on trail")

    calls.clear()
    warm.sweep()
    assert "securityhub:BatchImportFindings" not in calls.made  # nothing changed: nothing imported

    _stopped(warm)
    _api_call(warm, _stop(warm))
    warm.sweep()
    (updated,) = stop_logging_findings().values()  # the same finding, not a second one
    assert updated["Id"] == ours["Id"] and updated["ProductFields"]["trailguard/calls"] == "4"
