"""moto in-process for the baseline tests: a state table, a fully configured protected trail (bucket
with policy/versioning/encryption, KMS key with alias, prefix, CloudWatch Logs, validation, tags,
selectors) whose baseline is recorded, the alert topic read through SQS, and CloudTrail envelopes built
from the real records in tests/data/events but naming this trail."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from trailguard import aws, remediate
from trailguard.baseline import Baselines, Summary, capture_all
from trailguard.config import Config
from trailguard.state import StateStore

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
TABLE = "trailguard-state"
TRAIL = "org-audit"
BUCKET = "audit-logs-bucket"
OTHER_BUCKET = "attacker-bucket"
GUARD_ROLE = f"arn:aws:iam::{ACCOUNT}:role/trailguard-remediation"
RULES = ("trailguard-api-calls", "trailguard-findings")
TAMPER = Path(__file__).resolve().parents[1] / "data" / "events" / "tamper"
FINDINGS = Path(__file__).resolve().parents[1] / "data" / "events" / "findings"
BASIC_SELECTORS = [{"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": []}]
ADVANCED_SELECTORS = [
    {
        "Name": "management",
        "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}],
    }
]


@dataclass
class World:
    """The moto account as a test sees it."""

    topic_arn: str
    queue_url: str
    trail_arn: str
    key_id: str
    key_arn: str
    log_group_arn: str
    logs_role_arn: str
    env: dict[str, str] = field(default_factory=dict)

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

    def messages(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name=REGION)
        out: list[dict[str, Any]] = []
        while True:
            got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            batch = got.get("Messages", [])
            if not batch:
                return out
            for message in batch:
                envelope = json.loads(message["Body"])
                document = json.loads(envelope["Message"])
                document["_sns_subject"] = envelope.get("Subject")
                out.append(document)
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


def api_call_envelope(source_file: str, parameters: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    """A real tamper record (``tests/data/events/tamper/source_file``) made to name this account's trail,
    wrapped as EventBridge delivers it (``AWS API Call via CloudTrail``)."""
    raw = json.loads((TAMPER / source_file).read_text())
    record = copy.deepcopy(raw.get("detail", raw))
    record["awsRegion"] = REGION
    record["recipientAccountId"] = ACCOUNT
    record["requestParameters"] = dict(parameters)
    record.update(changes)
    return {
        "version": "0",
        "id": "6f1b2a8e-0000-4000-8000-000000000001",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.cloudtrail",
        "account": ACCOUNT,
        "time": record.get("eventTime", "2024-01-01T00:00:00Z"),
        "region": REGION,
        "resources": [],
        "detail": record,
    }


def finding_envelope(trail_arn: str) -> dict[str, Any]:
    """The real GuardDuty sample finding, naming ``trail_arn`` as its affected trail."""
    finding = json.loads(
        (FINDINGS / "guardduty_finding_sample_cloudtrailloggingdisabled_elastic.json").read_text()
    )
    finding["accountId"], finding["region"] = ACCOUNT, REGION
    action = finding["service"].setdefault("action", {}).setdefault("awsApiCallAction", {})
    action["affectedResources"] = {"AWS::CloudTrail::Trail": trail_arn}
    finding["service"]["archived"] = False
    return {
        "version": "0",
        "id": "6f1b2a8e-0000-4000-8000-000000000002",
        "detail-type": "GuardDuty Finding",
        "source": "aws.guardduty",
        "account": ACCOUNT,
        "time": "2024-01-01T00:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": finding,
    }


def _create_state_table() -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName=TABLE,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=TABLE, TimeToLiveSpecification={"AttributeName": "expires_at", "Enabled": True}
    )


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Fake credentials and moto; no cached clients on either side."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}
    for key, value in creds.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(remediate, "VERIFY_DELAY", 0.0)
    aws.clear_cache()
    with mock_aws():
        yield creds
    aws.clear_cache()


@pytest.fixture
def store(aws_env: dict[str, str]) -> StateStore:
    _create_state_table()
    return StateStore(TABLE, REGION)


@pytest.fixture
def unrecorded(aws_env: dict[str, str]) -> World:
    """The account with the trail and its resources, but no baseline recorded yet."""
    _create_state_table()
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
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic_arn = sns.create_topic(Name="trailguard-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alerts-reader")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    events = boto3.client("events", region_name=REGION)
    for rule in RULES:
        events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["aws.cloudtrail"]}), State="ENABLED")
        events.put_targets(Rule=rule, Targets=[{"Id": "alerts", "Arn": topic_arn}])
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
    env = {
        **aws_env,
        "TRAILGUARD_TOPIC_ARN": topic_arn,
        "TRAILGUARD_STATE_TABLE": TABLE,
        "TRAILGUARD_GUARD_ROLE_ARNS": GUARD_ROLE,
        "TRAILGUARD_RULE_NAMES": ",".join(RULES),
        "TRAILGUARD_FUNCTION_NAMES": "",
    }
    return World(
        topic_arn=topic_arn,
        queue_url=queue_url,
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
