"""A trail that appears after deploy (``baseline/discover.py``), on the real stack deployed on moto: its
CreateTrail, by any principal, becomes its baseline ("first seen at T") only once CloudTrail's event
history confirms it; until then it is pending (the sweep retries), and a change to where it delivers is
escalated, never judged benign against its live state.

moto has no ``LookupEvents``: CloudTrail's history is answered with botocore's Stubber on the client
``trailguard.history`` uses (``history_support.holds``); the local cloud answers it from its recorder
(``tests/e2e``)."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

import envelopes
from aws_support import ACCOUNT, REGION, Account
from history_support import holds
from trailguard import aws, history
from trailguard.baseline import Baselines
from trailguard.baseline.discover import CREATED_PK, pending_creates
from trailguard.integrity import Mac
from trailguard.state import StateStore
from worlds import Deployed, delivery_policy

NEW_TRAIL = "late-trail"
NEW_BUCKET = "late-trail-logs"
LOOT = "attacker-loot"
ATTACKER = f"arn:aws:iam::{ACCOUNT}:user/attacker"
ADMIN = f"arn:aws:iam::{ACCOUNT}:user/alice"
CREATED_AT = "2026-12-01T10:00:00Z"


@pytest.fixture
def aws_region() -> str:
    return REGION


def _record(name: str, params: dict[str, Any], *, who: str, event_id: str, **extra: Any) -> dict[str, Any]:
    user = who.rsplit("/", 1)[-1]
    return {
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "arn": who, "accountId": ACCOUNT, "userName": user},
        "eventTime": CREATED_AT,
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": "203.0.113.9",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": params,
        "eventID": event_id,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
        **extra,
    }


def _create(account: Account) -> tuple[str, dict[str, Any]]:
    """A new trail made after deploy (by alice), and its CreateTrail record."""
    account.bucket(NEW_BUCKET, policy=delivery_policy(NEW_BUCKET))
    account.bucket(LOOT, policy=delivery_policy(LOOT))
    arn = account.trail(NEW_TRAIL, NEW_BUCKET)
    record = _record(
        "CreateTrail",
        {"name": NEW_TRAIL, "s3BucketName": NEW_BUCKET},
        who=ADMIN,
        event_id="11111111-0000-4000-8000-00000000c001",
        responseElements={"name": NEW_TRAIL, "s3BucketName": NEW_BUCKET, "trailARN": arn},
    )
    return arn, record


def _redirect(event_id: str = "11111111-0000-4000-8000-00000000d001") -> dict[str, Any]:
    return _record("UpdateTrail", {"name": NEW_TRAIL, "s3BucketName": LOOT}, who=ATTACKER, event_id=event_id)


def _api_call(deployed: Deployed, record: dict[str, Any]) -> dict[str, Any]:
    from trailguard import handlers

    function = deployed.client("lambda").get_function_configuration(
        FunctionName=deployed.outputs["ApiCallFunctionName"]
    )
    env = {**deployed.env, **function["Environment"]["Variables"]}
    with aws.using_environ(env):
        result: dict[str, Any] = handlers.api_call(
            envelopes.api_call(record, event_id=str(record["eventID"])), None
        )
    return result


def _baselines(deployed: Deployed) -> Baselines:
    return Baselines(
        StateStore(deployed.outputs["StateTableName"], REGION), Mac(deployed.outputs["StateKeyArn"], REGION)
    )


def _bucket_of(arn: str) -> str:
    (trail,) = [
        t
        for t in boto3.client("cloudtrail", region_name=REGION).describe_trails()["trailList"]
        if t["TrailARN"] == arn
    ]
    return str(trail["S3BucketName"])


def _history_lacks(monkeypatch: pytest.MonkeyPatch, *event_ids: str) -> Stubber:
    """CloudTrail's history does not show these events yet (one lookup each)."""
    client = boto3.client("cloudtrail", region_name=REGION)
    stub = Stubber(client)
    for event_id in event_ids:
        stub.add_response(
            "lookup_events",
            {"Events": []},
            {"LookupAttributes": [{"AttributeKey": "EventId", "AttributeValue": event_id}], "MaxResults": 1},
        )
    stub.activate()
    monkeypatch.setattr(history, "_client", lambda region: client)
    return stub


def test_a_confirmed_create_event_baselines_the_new_trail_first_seen_with_its_bucket(
    account: Account, deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn, record = _create(account)
    holds(monkeypatch, record)

    result = _api_call(deployed, record)

    assert result["incidents"] == [] and not result["skipped"]
    baseline = _baselines(deployed).get("trail", arn)
    assert baseline is not None and baseline["S3BucketName"] == NEW_BUCKET
    assert baseline["_meta"]["first_seen_at"] == CREATED_AT
    assert "CreateTrail by " + ADMIN in baseline["_meta"]["confirmed_by"]
    assert _baselines(deployed).get("bucket", NEW_BUCKET) is not None
    assert deployed.messages() == []


def test_a_redirect_after_the_confirmed_create_is_repaired_from_the_first_seen_baseline(
    account: Account, deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn, record = _create(account)
    holds(monkeypatch, record)
    _api_call(deployed, record)
    boto3.client("cloudtrail", region_name=REGION).update_trail(Name=NEW_TRAIL, S3BucketName=LOOT)

    (incident,) = _api_call(deployed, _redirect())["incidents"]

    assert incident["verdict"] == "tamper" and incident["status"] == "remediated"
    assert _bucket_of(arn) == NEW_BUCKET


def test_a_redirect_of_a_trail_with_no_baseline_yet_is_escalated_never_benign(
    account: Account, deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trail appeared minutes ago, no sweep since, its CreateTrail not (yet) confirmed: the live
    trail (after the call) cannot say where it delivered before, so the redirect is [ACTION REQUIRED].
    Without the fix it was judged against the live trail: benign, no email."""
    arn, _ = _create(account)
    boto3.client("cloudtrail", region_name=REGION).update_trail(Name=NEW_TRAIL, S3BucketName=LOOT)

    (incident,) = _api_call(deployed, _redirect())["incidents"]

    assert incident["verdict"] == "tamper" and incident["status"] == "failed"
    (message,) = deployed.messages()
    assert (
        message["subject"].startswith("[trailguard] [ACTION REQUIRED]")
        or "ACTION REQUIRED" in message["subject"]
    )
    assert "REPAIRED" not in message["subject"]
    assert "no recorded baseline yet" in message["text"]
    assert _bucket_of(arn) == LOOT  # nothing was restored from a guess


def test_a_kms_key_removal_on_a_trail_with_no_baseline_yet_is_escalated(
    account: Account, deployed: Deployed
) -> None:
    key = account.key()
    account.bucket(NEW_BUCKET, policy=delivery_policy(NEW_BUCKET))
    account.trail(NEW_TRAIL, NEW_BUCKET, KmsKeyId=key["Arn"])
    boto3.client("cloudtrail", region_name=REGION).update_trail(Name=NEW_TRAIL, KmsKeyId="")
    removal = _record(
        "UpdateTrail",
        {"name": NEW_TRAIL, "kmsKeyId": ""},
        who=ATTACKER,
        event_id="11111111-0000-4000-8000-00000000d002",
    )

    (incident,) = _api_call(deployed, removal)["incidents"]

    assert incident["verdict"] == "tamper" and incident["status"] == "failed"


def test_until_confirmed_the_create_is_pending_and_the_sweep_records_it_first_seen(
    account: Account, deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn, record = _create(account)
    _history_lacks(monkeypatch, str(record["eventID"]))

    assert _api_call(deployed, record)["incidents"] == []

    baselines = _baselines(deployed)
    assert baselines.get("trail", arn) is None
    assert baselines.signed is not None and list(baselines.signed.query(CREATED_PK)) == [record["eventID"]]
    assert [(p.arn, p.principal_arn) for p in pending_creates(baselines)] == [(arn, ADMIN)]
    holds(monkeypatch, record)
    report = deployed.sweep()["sweep"]
    (line,) = [d for d in report["drift"] if d["kind"] == "trail" and d["id"] == arn]
    (outcome,) = line["outcomes"]
    assert outcome["status"] == "recorded" and outcome["summary"].startswith(f"first seen at {CREATED_AT}")
    assert _baselines(deployed).get("trail", arn) is not None
    assert list(_baselines(deployed).signed.query(CREATED_PK)) == []  # type: ignore[union-attr]
    (message,) = deployed.messages()
    assert f"first seen at {CREATED_AT}" in message["text"]


def test_a_create_event_the_history_does_not_confirm_is_not_used(
    account: Account, deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A forged invocation: the history holds that event id with another principal."""
    arn, record = _create(account)
    holds(monkeypatch, {**copy.deepcopy(record), "userIdentity": {"type": "IAMUser", "arn": ATTACKER}})

    assert _api_call(deployed, record)["incidents"] == []

    assert _baselines(deployed).get("trail", arn) is None


def test_a_trail_changed_between_its_creation_and_the_confirmation_is_not_baselined(
    account: Account, deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn, record = _create(account)
    boto3.client("cloudtrail", region_name=REGION).update_trail(Name=NEW_TRAIL, S3BucketName=LOOT)
    holds(monkeypatch, record)

    assert _api_call(deployed, record)["incidents"] == []

    assert _baselines(deployed).get("trail", arn) is None


def test_while_the_create_is_pending_the_sweep_does_not_baseline_the_trail_from_its_live_state(
    account: Account, deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep's discovery would record the live trail ``first-seen``; a pending CreateTrail decides
    instead (so a redirect in the meantime does not become the baseline)."""
    arn, record = _create(account)
    _history_lacks(monkeypatch, str(record["eventID"]), str(record["eventID"]))
    _api_call(deployed, record)

    report = deployed.sweep()["sweep"]

    assert [d for d in report["drift"] if d["id"] == arn] == []
    assert _baselines(deployed).get("trail", arn) is None
    assert [p.event_id for p in pending_creates(_baselines(deployed))] == [record["eventID"]]
