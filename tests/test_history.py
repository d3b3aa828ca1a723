"""``trailguard.history``: CloudTrail's event history names who made a change the backstop sweep
found, leaving out trailguard's own role.

moto has no ``LookupEvents``: answered here with botocore's Stubber on the CloudTrail client the module
uses (the local cloud answers it from its recorder: tests/local/test_lookup.py). The sweep runs on the
real stack deployed to in-process moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from aws_support import REGION
from trailguard import history
from worlds import Deployed

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]

ATTACKER = "arn:aws:iam::123456789012:user/attacker"


def _event(name: str, arn: str, *, issuer: str | None = None, read_only: bool = False) -> dict[str, Any]:
    identity: dict[str, Any] = {"type": "IAMUser", "arn": arn}
    if issuer:
        identity = {"type": "AssumedRole", "arn": arn, "sessionContext": {"sessionIssuer": {"arn": issuer}}}
    record = {
        "eventID": f"id-{name}-{len(arn)}",
        "eventName": name,
        "userIdentity": identity,
        "readOnly": read_only,
    }
    return {
        "EventId": record["eventID"],
        "EventName": name,
        "EventSource": "cloudtrail.amazonaws.com",
        "EventTime": datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
        "CloudTrailEvent": json.dumps(record),
    }


def _stubbed(monkeypatch: pytest.MonkeyPatch, answers: list[tuple[str, list[dict[str, Any]]]]) -> Stubber:
    client = boto3.client("cloudtrail", region_name=REGION)
    stub = Stubber(client)
    for resource, events in answers:
        stub.add_response(
            "lookup_events",
            {"Events": events},
            {
                "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": resource}],
                "MaxResults": 50,
            },
        )
    stub.activate()
    monkeypatch.setattr(history, "_client", lambda region: client)
    return stub


def test_last_change_skips_trailguards_own_calls_and_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    role = "arn:aws:iam::123456789012:role/tg-guard"
    _stubbed(
        monkeypatch,
        [
            ("audit-trail", []),
            (
                "arn:t",
                [
                    _event("UpdateTrail", "arn:aws:sts::123456789012:assumed-role/tg-guard/fn", issuer=role),
                    _event("GetTrailStatus", ATTACKER, read_only=True),
                    _event("UpdateTrail", ATTACKER),
                ],
            ),
        ],
    )
    found = history.last_change(("audit-trail", "arn:t"), REGION, exclude=(role,))
    assert found is not None and found.principal_arn == ATTACKER and found.event_name == "UpdateTrail"
    assert found.describe().startswith(f"UpdateTrail by {ATTACKER} at 2026-12-01T10:00:00Z")


def test_an_unreadable_history_is_no_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    client = boto3.client("cloudtrail", region_name=REGION)
    stub = Stubber(client)
    stub.add_client_error("lookup_events", "ThrottlingException")
    stub.activate()
    monkeypatch.setattr(history, "_client", lambda region: client)
    assert history.who_changed("audit-trail", REGION) == []


def test_the_sweep_names_who_redirected_the_trail(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="attacker-loot")
    boto3.client("cloudtrail", region_name=REGION).update_trail(
        Name=Deployed.TRAIL, S3BucketName="attacker-loot"
    )
    _stubbed(monkeypatch, [(Deployed.TRAIL, [_event("UpdateTrail", ATTACKER)])])
    deployed.messages()

    sweep = deployed.sweep()["sweep"]

    (drift,) = [d for d in sweep["drift"] if d["kind"] == "trail"]
    assert (
        f"Last change in CloudTrail's history: UpdateTrail by {ATTACKER}" in drift["outcomes"][0]["summary"]
    )
    (message,) = deployed.messages()
    assert f"UpdateTrail by {ATTACKER}" in message["text"]
