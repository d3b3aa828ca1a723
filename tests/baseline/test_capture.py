"""capture_all snapshots a real (moto) trail with its bucket, key, selectors and tags, and trailguard's
own rules and topic. moto lacks CloudTrail Lake: the summary says so instead of failing."""

from __future__ import annotations

import json

import boto3
import pytest

from trailguard.baseline import Baselines
from worlds import REGION
from worlds import ConfiguredTrail as World

BASIC_SELECTORS, BUCKET, RULES, TRAIL = World.BASIC_SELECTORS, World.BUCKET, World.RULES, World.TRAIL

pytestmark = pytest.mark.integration


def test_capture_records_the_full_trail(world: World) -> None:
    doc = world.baselines.get("trail", world.trail_arn)
    assert doc is not None
    assert doc["Name"] == TRAIL and doc["HomeRegion"] == REGION
    assert doc["S3BucketName"] == BUCKET and doc["S3KeyPrefix"] == "audit"
    assert doc["KmsKeyId"] == world.key_arn
    assert doc["IsMultiRegionTrail"] is True and doc["LogFileValidationEnabled"] is True
    assert doc["CloudWatchLogsLogGroupArn"] == world.log_group_arn
    assert doc["CloudWatchLogsRoleArn"] == world.logs_role_arn
    assert doc["EventSelectors"] == BASIC_SELECTORS
    assert "AdvancedEventSelectors" not in doc
    assert doc["InsightSelectors"] == []
    assert sorted((t["Key"], t["Value"]) for t in doc["TagsList"]) == [
        ("owner", "security"),
        ("tier", "critical"),
    ]
    assert doc["IsLogging"] is True
    assert doc["_meta"]["source"] == "deploy" and doc["_meta"]["captured_at"]


def test_capture_records_bucket_key_rules_and_topic(world: World) -> None:
    baselines = world.baselines
    bucket = baselines.get("bucket", BUCKET)
    assert bucket is not None
    assert json.loads(bucket["Policy"])["Statement"][0]["Sid"] == "CloudTrailWrite"
    assert bucket["Lifecycle"] is None  # absent is recorded as absent
    assert bucket["Versioning"]["Status"] == "Enabled"
    assert bucket["Encryption"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert bucket["Region"] == REGION
    key = baselines.get("key", world.key_arn)  # an ARN resolves to the key id it is stored under
    assert key is not None and key["KeyId"] == world.key_id and key["KeyState"] == "Enabled"
    assert key["Aliases"] == ["alias/trail-key"]
    for rule in RULES:
        doc = baselines.get("rule", rule)
        assert doc is not None and doc["State"] == "ENABLED"
        assert json.loads(doc["EventPattern"]) == {"source": ["aws.cloudtrail"]}
        assert [t["Arn"] for t in doc["Targets"]] == [world.topic_arn]
    topic = baselines.get("topic", world.topic_arn)
    assert topic is not None and [s["Protocol"] for s in topic["Subscriptions"]] == ["sqs"]
    assert set(world.baselines.all()) == {
        *("trail", "bucket", "key", "store", "rule", "function", "topic"),
        *("filter", "product", "automation"),  # none here: no GuardDuty detector or Security Hub
        "organization",  # none here: the account is in no organization
        "role",  # none here: the trail has no CloudWatch Logs delivery role
        "trail",
        "bucket",
        "key",
        "store",
        "rule",
        "function",
        "topic",
        "loggroup",
    }


def test_lake_unavailable_in_moto_is_reported_not_fatal(unrecorded: World) -> None:
    summary = unrecorded.record_baselines()
    lake_recorded = bool(summary.recorded["store"])
    assert lake_recorded or any("CloudTrail Lake" in u for u in summary.unavailable)
    assert summary.ok


def test_only_configured_trails_are_captured(unrecorded: World) -> None:
    boto3.client("cloudtrail", region_name=REGION).create_trail(Name="scratch", S3BucketName=BUCKET)
    unrecorded.env["TRAILGUARD_PROTECTED_TRAILS"] = TRAIL
    summary = unrecorded.record_baselines()
    assert summary.recorded["trail"] == [unrecorded.trail_arn]
    del unrecorded.env["TRAILGUARD_PROTECTED_TRAILS"]
    assert len(unrecorded.record_baselines().recorded["trail"]) == 2


def test_without_a_table_nothing_is_recorded_and_reads_are_empty(unrecorded: World) -> None:
    unrecorded.env["TRAILGUARD_STATE_TABLE"] = ""
    summary = unrecorded.record_baselines()
    assert not summary.ok and "no state table" in summary.errors[0]
    empty = Baselines(None)
    assert empty.get("trail", unrecorded.trail_arn) is None
    assert not any(empty.all().values())
