"""Issue 9 item 3 on the event path: an ``UpdateTrail`` that weakens a trail by its own parameters (a
redirect, the KMS key, CloudWatch Logs or log-file validation removed) on a trail trailguard has no
baseline for: one that appeared after deploy (none recorded), a deployment without a state table, and
one whose table was deleted. The handler must never judge it benign: it escalates as [ACTION REQUIRED]
and changes nothing on a guess. With the table readable again after a throttled baseline listing, the
same call is repaired back to the baseline (the repair reads the baseline itself)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from aws_support import TABLE
from trailguard import handlers
from trailguard.state import StateStore
from worlds import REGION
from worlds import ConfiguredTrail as World

pytestmark = pytest.mark.integration

SAMPLE = "cloudtrail_updatetrail_disable_logfilevalidation_elastic.json"
CALLS = {  # the attack on the live trail, and the call's requestParameters as CloudTrail records them
    "redirect": ({"S3BucketName": World.OTHER_BUCKET}, {"s3BucketName": World.OTHER_BUCKET}),
    "key-removed": ({"KmsKeyId": ""}, {"kmsKeyId": ""}),
    "logs-removed": (
        {"CloudWatchLogsLogGroupArn": "", "CloudWatchLogsRoleArn": ""},
        {"cloudWatchLogsLogGroupArn": "", "cloudWatchLogsRoleArn": ""},
    ),
    "validation-off": ({"EnableLogFileValidation": False}, {"enableLogFileValidation": False}),
}


@pytest.fixture
def aws_region() -> str:
    """The configured trail lives in us-east-1."""
    return REGION


def _attack(world: World, call: str, **env: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    live, params = CALLS[call]
    world.cloudtrail.update_trail(Name=world.trail_arn, **live)
    event = World.api_call_envelope(SAMPLE, {"name": world.trail_arn, **params})
    result = world.invoke(handlers.api_call, event, **env)
    (incident,) = result["incidents"]
    return incident, world.messages()


@pytest.mark.parametrize("state", ["not-recorded", "no-table", "table-deleted"])
@pytest.mark.parametrize("call", list(CALLS))
def test_a_weakening_update_of_a_trail_without_a_baseline_is_escalated_never_benign(
    unrecorded: World, state: str, call: str
) -> None:
    env: dict[str, str] = {}
    if state == "no-table":
        env["TRAILGUARD_STATE_TABLE"] = ""
    elif state == "table-deleted":
        unrecorded.record_baselines()
        boto3.client("dynamodb", region_name=REGION).delete_table(TableName=TABLE)

    incident, messages = _attack(unrecorded, call, **env)

    assert incident["verdict"] == "tamper", incident
    assert incident["status"] == "failed" and incident["action_required"] is True, incident
    (message,) = messages
    assert message["_sns_subject"].startswith("[ACTION REQUIRED]"), message["_sns_subject"]
    writes = [
        c["operation"]
        for c in message["incident"]["remediation"]["calls"]
        if not c["operation"].startswith(("Describe", "Get", "List"))
    ]
    assert writes == [], writes  # nothing restored from a guess


@pytest.mark.parametrize("call", ["redirect", "key-removed"])
def test_with_the_baseline_listing_throttled_the_repair_still_restores_the_baseline(
    world: World, call: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def throttled(self: StateStore, *args: Any, **kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "injected"}}, "Query")

    monkeypatch.setattr(StateStore, "query_items", throttled)
    incident, (message,) = _attack(world, call)

    assert incident["verdict"] == "tamper" and incident["status"] == "remediated", incident
    assert message["_sns_subject"].startswith("[trailguard] REPAIRED"), message["_sns_subject"]
    trail = world.trail()
    assert trail is not None
    assert trail["S3BucketName"] == World.BUCKET and trail["KmsKeyId"] == world.key_arn
