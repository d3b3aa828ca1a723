"""moto in-process for the baseline tests: a state table, a fully configured protected trail (bucket
with policy/versioning/encryption, KMS key with alias, prefix, CloudWatch Logs, validation, tags,
selectors) whose baseline is recorded, the alert topic read through SQS, and CloudTrail envelopes built
from the real records in tests/data/events but naming this trail."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from aws_support import (
    ACCOUNT,
    REGION,
    TABLE,
    Alerts,
    MotoAccount,
    create_state_table,
    envelope,
    function_env,
    load_event,
)
from trailguard import aws
from trailguard.baseline import Baselines, Summary, capture_all
from trailguard.config import Config
from trailguard.state import StateStore

__all__ = ["ACCOUNT", "REGION", "TABLE"]

TRAIL = "org-audit"
BUCKET = "audit-logs-bucket"
OTHER_BUCKET = "attacker-bucket"
RULES = ("trailguard-api-calls", "trailguard-findings")
BASIC_SELECTORS = [{"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": []}]
ADVANCED_SELECTORS = [
    {
        "Name": "management",
        "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}],
    }
]


@dataclass(kw_only=True)
class World(MotoAccount):
    """The moto account as a test sees it."""

    trail_arn: str
    key_id: str
    key_arn: str
    log_group_arn: str
    logs_role_arn: str

    @property
    def cloudtrail(self) -> Any:
        return boto3.client("cloudtrail", region_name=REGION)

    @property
    def config(self) -> Config:
        return Config.from_env(self.env)

    @property
    def baselines(self) -> Baselines:
        return Baselines(StateStore(TABLE, REGION))

    def record_baselines(self) -> Summary:
        with aws.using_environ({**self.env, "AWS_REGION": REGION}):
            return capture_all(self.config, REGION, source="test")

    def trail(self) -> dict[str, Any] | None:
        """The live trail by ARN (moto ignores trailNameList)."""
        for trail in self.cloudtrail.describe_trails()["trailList"]:
            if trail["TrailARN"] == self.trail_arn:
                return dict(trail)
        return None

    def is_logging(self) -> bool:
        return bool(self.cloudtrail.get_trail_status(Name=self.trail_arn)["IsLogging"])

    def selectors(self) -> dict[str, Any]:
        got = self.cloudtrail.get_event_selectors(TrailName=self.trail_arn)
        return {k: got.get(k) for k in ("EventSelectors", "AdvancedEventSelectors")}

    def invoke(self, handler: Any, event: Any, **extra: str) -> dict[str, Any]:
        env = {**self.env, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, **extra}
        with aws.using_environ(env):
            result: dict[str, Any] = handler(event, None)
        return result


def api_call_envelope(source_file: str, parameters: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    """A real tamper record (``tests/data/events/tamper/source_file``) made to name this account's trail,
    wrapped as EventBridge delivers it (``AWS API Call via CloudTrail``)."""
    raw = load_event(f"tamper/{source_file}")
    record = copy.deepcopy(raw.get("detail", raw))
    record["awsRegion"] = REGION
    record["recipientAccountId"] = ACCOUNT
    record["requestParameters"] = dict(parameters)
    record.update(changes)
    return envelope(
        "AWS API Call via CloudTrail",
        "aws.cloudtrail",
        record,
        event_id="6f1b2a8e-0000-4000-8000-000000000001",
        time=record.get("eventTime", "2024-01-01T00:00:00Z"),
    )


def finding_envelope(trail_arn: str) -> dict[str, Any]:
    """The real GuardDuty sample finding, naming ``trail_arn`` as its affected trail."""
    finding = load_event("findings/guardduty_finding_sample_cloudtrailloggingdisabled_elastic.json")
    finding["accountId"], finding["region"] = ACCOUNT, REGION
    action = finding["service"].setdefault("action", {}).setdefault("awsApiCallAction", {})
    action["affectedResources"] = {"AWS::CloudTrail::Trail": trail_arn}
    finding["service"]["archived"] = False
    return envelope(
        "GuardDuty Finding", "aws.guardduty", finding, event_id="6f1b2a8e-0000-4000-8000-000000000002"
    )


@pytest.fixture
def aws_env(moto_aws: dict[str, str]) -> dict[str, str]:
    """Fake credentials and moto (``moto_aws`` of tests/conftest.py)."""
    return moto_aws


@pytest.fixture
def store(aws_env: dict[str, str]) -> StateStore:
    create_state_table()
    return StateStore(TABLE, REGION)


@pytest.fixture
def unrecorded(aws_env: dict[str, str], alerts: Alerts) -> World:
    """The account with the trail and its resources, but no baseline recorded yet."""
    create_state_table()
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in (BUCKET, OTHER_BUCKET):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/AWSLogs/{ACCOUNT}/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(policy))
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key(Description="trail key")["KeyMetadata"]
    kms.create_alias(AliasName="alias/trail-key", TargetKeyId=key["KeyId"])
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName="trail-logs")
    group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:trail-logs:*"
    iam = boto3.client("iam", region_name=REGION)
    role_arn = iam.create_role(RoleName="trail-to-logs", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    events = boto3.client("events", region_name=REGION)
    for rule in RULES:
        events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["aws.cloudtrail"]}), State="ENABLED")
        events.put_targets(Rule=rule, Targets=[{"Id": "alerts", "Arn": alerts.topic_arn}])
    cloudtrail = boto3.client("cloudtrail", region_name=REGION)
    trail_arn = cloudtrail.create_trail(
        Name=TRAIL,
        S3BucketName=BUCKET,
        S3KeyPrefix="audit",
        IsMultiRegionTrail=True,
        IncludeGlobalServiceEvents=True,
        EnableLogFileValidation=True,
        KmsKeyId=key["Arn"],
        CloudWatchLogsLogGroupArn=group_arn,
        CloudWatchLogsRoleArn=role_arn,
        TagsList=[{"Key": "owner", "Value": "security"}, {"Key": "tier", "Value": "critical"}],
    )["TrailARN"]
    cloudtrail.put_event_selectors(TrailName=trail_arn, EventSelectors=BASIC_SELECTORS)
    cloudtrail.start_logging(Name=trail_arn)
    env = function_env(
        aws_env,
        alerts,
        TRAILGUARD_STATE_TABLE=TABLE,
        TRAILGUARD_RULE_NAMES=",".join(RULES),
        TRAILGUARD_FUNCTION_NAMES="",
    )
    return World(
        alerts=alerts,
        trail_arn=trail_arn,
        key_id=key["KeyId"],
        key_arn=key["Arn"],
        log_group_arn=group_arn,
        logs_role_arn=role_arn,
        env=env,
    )


@pytest.fixture
def world(unrecorded: World) -> World:
    """The same account with its baselines recorded (as ``trailguard deploy`` does)."""
    summary = unrecorded.record_baselines()
    assert summary.ok, summary.errors
    assert summary.recorded["trail"] == [unrecorded.trail_arn]
    return unrecorded
