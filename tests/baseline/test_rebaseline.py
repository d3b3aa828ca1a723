"""Allow-listed changes become baseline only once CloudTrail's history confirms them, on the real stack
deployed to in-process moto with signed baselines.

moto has no ``LookupEvents``: here it is answered with botocore's Stubber on the CloudTrail client
``trailguard.history`` uses (the local cloud answers it from its recorder: tests/local/test_lookup.py
and the e2e test). Everything else is real moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from aws_support import REGION
from trailguard import aws, history
from trailguard.baseline import Baselines
from trailguard.baseline.rebaseline import PENDING_PK, UNCONFIRMED, rebaseline
from trailguard.config import Config
from trailguard.events import Record
from trailguard.notify import Incident
from trailguard.policy import TECHNIQUES, Verdict
from worlds import Deployed

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]

BREAK_GLASS = "arn:aws:iam::123456789012:user/break-glass"
EVENT_ID = "11111111-2222-4333-8444-555555555555"


class History:
    """CloudTrail's event history as the test says it is (botocore Stubber, see the module docstring)."""

    def __init__(self) -> None:
        self.client = boto3.client("cloudtrail", region_name=REGION)
        self.stub = Stubber(self.client)
        self.stub.activate()

    def holds(self, record: dict[str, Any] | None) -> None:
        events = []
        if record is not None:
            events.append(
                {
                    "EventId": record["eventID"],
                    "EventName": record["eventName"],
                    "EventSource": record["eventSource"],
                    "EventTime": datetime.now(UTC),
                    "CloudTrailEvent": json.dumps(record),
                }
            )
        self.stub.add_response(
            "lookup_events",
            {"Events": events},
            {"LookupAttributes": [{"AttributeKey": "EventId", "AttributeValue": EVENT_ID}], "MaxResults": 1},
        )


@pytest.fixture
def cloudtrail_history(monkeypatch: pytest.MonkeyPatch) -> Iterator[History]:
    found = History()
    monkeypatch.setattr(history, "_client", lambda region: found.client)
    yield found
    found.stub.deactivate()


def _record(trail_arn: str, event_name: str = "UpdateTrail", **params: Any) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "arn": BREAK_GLASS,
            "accountId": "123456789012",
            "userName": "break-glass",
        },
        "eventTime": "2026-12-01T10:00:00Z",
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": event_name,
        "awsRegion": REGION,
        "requestParameters": {"name": trail_arn, **params},
        "eventID": EVENT_ID,
        "recipientAccountId": "123456789012",
    }


def _verdict(raw: dict[str, Any], trail_arn: str) -> Verdict:
    technique = TECHNIQUES["trail.delete" if raw["eventName"] == "DeleteTrail" else "trail.update-degrade"]
    record = Record.of(raw, "cloudtrail")
    return Verdict("allowed", technique, trail_arn, BREAK_GLASS, "allow-listed", record)


def _baselines(deployed: Deployed) -> Baselines:
    return Baselines.from_config(Config.from_env(deployed.env), REGION)


def _rebaseline(deployed: Deployed, raw: dict[str, Any]) -> Any:
    with aws.using_environ(deployed.env):
        return rebaseline(_verdict(raw, deployed.trail_arn), _baselines(deployed), REGION)


def _live(deployed: Deployed) -> dict[str, Any]:
    trails = boto3.client("cloudtrail", region_name=REGION).describe_trails()["trailList"]
    return next(t for t in trails if t["TrailARN"] == deployed.trail_arn)


def _baseline(deployed: Deployed) -> dict[str, Any] | None:
    with aws.using_environ(deployed.env):
        return _baselines(deployed).get("trail", deployed.trail_arn)


def _change_bucket(deployed: Deployed, bucket: str = "break-glass-logs") -> dict[str, Any]:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=bucket)
    boto3.client("cloudtrail", region_name=REGION).update_trail(Name=deployed.trail_arn, S3BucketName=bucket)
    return _record(deployed.trail_arn, s3BucketName=bucket)


def test_a_confirmed_change_becomes_the_signed_baseline(
    deployed: Deployed, cloudtrail_history: History
) -> None:
    raw = _change_bucket(deployed)
    cloudtrail_history.holds(raw)
    outcome = _rebaseline(deployed, raw)
    assert outcome.status == "remediated", outcome.summary
    assert "confirms" in outcome.summary
    doc = _baseline(deployed)  # read back through verification
    assert doc is not None and doc["S3BucketName"] == "break-glass-logs"
    assert "break-glass" in doc["_meta"]["confirmed_by"]


def test_an_unconfirmed_change_is_pending_held_by_the_sweep_then_confirmed(
    deployed: Deployed, cloudtrail_history: History
) -> None:
    raw = _change_bucket(deployed)
    cloudtrail_history.holds(None)  # not in the history yet
    outcome = _rebaseline(deployed, raw)
    assert outcome.status == "pending" and "until then it is pending" in outcome.summary
    assert _baseline(deployed)["S3BucketName"] == Deployed.BUCKET  # type: ignore[index]
    incident = Incident(
        _verdict(raw, deployed.trail_arn), Record.of(raw, "cloudtrail"), "api_call", REGION, outcome=outcome
    )
    assert incident.status == "pending"

    cloudtrail_history.holds(None)  # the sweep retries: still not there
    deployed.messages()
    sweep = deployed.sweep()["sweep"]
    assert _live(deployed)["S3BucketName"] == "break-glass-logs"  # held, not reverted
    (line,) = [d for d in sweep["drift"] if d["id"] == deployed.trail_arn]
    assert line["outcomes"][0]["status"] == "pending"
    assert "PENDING CONFIRMATION" in deployed.messages()[0]["text"]

    cloudtrail_history.holds(raw)  # now CloudTrail has it
    deployed.sweep()
    assert _baseline(deployed)["S3BucketName"] == "break-glass-logs"  # type: ignore[index]
    assert _live(deployed)["S3BucketName"] == "break-glass-logs"
    with aws.using_environ(deployed.env):
        assert _baselines(deployed).signed.query(PENDING_PK) == {}  # type: ignore[union-attr]


def test_a_forged_allow_listed_event_changes_no_baseline(
    deployed: Deployed, cloudtrail_history: History
) -> None:
    raw = _change_bucket(deployed, "attacker-loot")
    real = {**raw, "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/attacker"}}
    cloudtrail_history.holds(real)  # CloudTrail has that event id, by the attacker
    outcome = _rebaseline(deployed, raw)
    assert outcome.status == "failed" and outcome.action == UNCONFIRMED
    assert "principal" in outcome.summary and "forged" in outcome.summary
    assert _baseline(deployed)["S3BucketName"] == Deployed.BUCKET  # type: ignore[index]
    incident = Incident(
        _verdict(raw, deployed.trail_arn), Record.of(raw, "cloudtrail"), "api_call", REGION, outcome=outcome
    )
    assert incident.status == "action-required"
    deployed.sweep()  # the redirect is repaired from the untouched baseline
    assert _live(deployed)["S3BucketName"] == Deployed.BUCKET


def test_a_late_allow_listed_event_keeps_the_baseline_of_a_missing_trail(
    deployed: Deployed, cloudtrail_history: History
) -> None:
    """Item 6: the attacker deleted the trail; a late allow-listed UpdateTrail keeps its baseline."""
    raw = _record(deployed.trail_arn, enableLogFileValidation=True)
    boto3.client("cloudtrail", region_name=REGION).delete_trail(Name=Deployed.TRAIL)
    cloudtrail_history.holds(raw)
    outcome = _rebaseline(deployed, raw)
    assert outcome.status == "failed" and "baseline was kept" in outcome.summary
    assert _baseline(deployed) is not None


def test_a_confirmed_allow_listed_deletion_retires_the_baseline(
    deployed: Deployed, cloudtrail_history: History
) -> None:
    raw = _record(deployed.trail_arn, "DeleteTrail")
    boto3.client("cloudtrail", region_name=REGION).delete_trail(Name=Deployed.TRAIL)
    cloudtrail_history.holds(raw)
    outcome = _rebaseline(deployed, raw)
    assert outcome.status == "remediated" and "baseline was removed" in outcome.summary
    assert _baseline(deployed) is None
