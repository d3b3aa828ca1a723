"""moto in-process for the notification tests: the alert topic with an SQS reader, the stack's state
table (keys ``pk``/``sk``, TTL ``expires_at``, as the template makes it) and Security Hub enabled."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from trailguard import aws, notify, remediate
from trailguard.events import Record, records_from_object
from trailguard.inventory import parse_trail_ref

ACCOUNT = "123456789012"
REGION = "us-east-1"
TABLE = "trailguard-state"
EVENTS = Path(__file__).resolve().parents[1] / "data" / "events"
GUARD_ROLE = f"arn:aws:iam::{ACCOUNT}:role/trailguard-remediation"
KNOWN_REGIONS = frozenset(boto3.session.Session().get_available_regions("cloudtrail"))
DETECTED_AT = "2024-05-01T03:00:07+00:00"


def moto_region(*candidates: str | None) -> str:
    """The first candidate moto serves: real records carry made-up regions (``apiso-centralnorth-2r``)."""
    return next((r for r in candidates if r and r in KNOWN_REGIONS), REGION)


def event(path: str) -> Any:
    return json.loads((EVENTS / path).read_text())


def records(path: str) -> list[Record]:
    return records_from_object(event(path))


@dataclass
class Cloud:
    topic_arn: str
    queue_url: str
    env: dict[str, str] = field(default_factory=dict)
    buckets: set[str] = field(default_factory=set)

    def cloudtrail(self, region: str) -> Any:
        return boto3.client("cloudtrail", region_name=region)

    def trail_for(self, record: Record, *, stopped: bool = True) -> tuple[str, str]:
        """Create (and stop) the trail a record names; returns (name, region)."""
        ref = record.request_parameters.get("name") if record.kind == "cloudtrail" else record.finding_trail
        assert isinstance(ref, str) and ref
        name, arn_region = parse_trail_ref(ref)
        region = moto_region(arn_region, record.region)
        bucket = f"trail-logs-{region}"
        if bucket not in self.buckets:
            boto3.client("s3", region_name=REGION).create_bucket(Bucket=bucket)
            self.buckets.add(bucket)
        existing = {t["Name"] for t in self.cloudtrail(region).describe_trails()["trailList"]}
        if name not in existing:
            self.cloudtrail(region).create_trail(Name=name, S3BucketName=bucket)
        self.cloudtrail(region).start_logging(Name=name)
        if stopped:
            self.cloudtrail(region).stop_logging(Name=name)
        return name, region

    def is_logging(self, name: str, region: str) -> bool:
        return bool(self.cloudtrail(region).get_trail_status(Name=name)["IsLogging"])

    def messages(self) -> list[dict[str, Any]]:
        """Every alert delivered so far (the ``sqs`` body), oldest first, with the SNS subject."""
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

    def invoke(self, handler: Any, payload: Any, region: str = REGION, **extra: str) -> dict[str, Any]:
        env = {**self.env, "AWS_REGION": region, "AWS_DEFAULT_REGION": region, **extra}
        with aws.using_environ(env):
            result: dict[str, Any] = handler(payload, None)
        return result


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    creds = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }
    for key, value in creds.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(remediate, "VERIFY_DELAY", 0.0)
    monkeypatch.setattr(notify, "_now", lambda: DETECTED_AT)
    aws.clear_cache()
    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic_arn = sns.create_topic(Name="trailguard-alerts")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="alerts-reader")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.update_time_to_live(
            TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
        )
        boto3.client("securityhub", region_name=REGION).enable_security_hub()
        env = {
            **creds,
            "TRAILGUARD_TOPIC_ARN": topic_arn,
            "TRAILGUARD_STATE_TABLE": TABLE,
            "TRAILGUARD_GUARD_ROLE_ARNS": GUARD_ROLE,
            "TRAILGUARD_RULE_NAMES": "trailguard-api-calls,trailguard-findings",
            "TRAILGUARD_FUNCTION_NAMES": "trailguard-api-call,trailguard-finding",
        }
        yield Cloud(topic_arn=topic_arn, queue_url=queue_url, env=env)
    aws.clear_cache()
