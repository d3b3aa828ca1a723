"""moto in-process for the handler tests: fake credentials, a topic with an SQS queue to read alerts,
and helpers to create, stop and inspect trails the way the real records name them."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from trailguard import aws, remediate
from trailguard.events import Record, records_from_object

ACCOUNT = "123456789012"  # moto's default account
HANDLER_REGION = "us-east-1"
TOPIC_NAME = "trailguard-alerts"
GUARD_ROLE = f"arn:aws:iam::{ACCOUNT}:role/trailguard-remediation"
KNOWN_REGIONS = frozenset(boto3.session.Session().get_available_regions("cloudtrail"))


def moto_region(*candidates: str | None) -> str:
    """The first candidate region moto serves; real records carry made-up ones (``apiso-centralnorth-2r``)."""
    for region in candidates:
        if region and region in KNOWN_REGIONS:
            return region
    return HANDLER_REGION


def load_records(path: Path) -> list[Record]:
    return records_from_object(json.loads(path.read_text()))


def guardduty_envelope(finding: Mapping[str, Any]) -> dict[str, Any]:
    """Wrap a bare GuardDuty finding the way EventBridge delivers it (``GuardDuty Finding``)."""
    region = finding.get("Region") or finding.get("region") or HANDLER_REGION
    account = finding.get("AccountId") or finding.get("accountId") or ACCOUNT
    return {
        "version": "0",
        "id": "3b1f6bd2-5e4b-4a41-9a2c-0c6f1d1d2f00",
        "detail-type": "GuardDuty Finding",
        "source": "aws.guardduty",
        "account": account,
        "time": "2024-01-01T00:00:00Z",
        "region": region,
        "resources": [],
        "detail": dict(finding),
    }


@dataclass
class Cloud:
    """The moto account as a test sees it: trails per region, the alert topic and its SQS reader."""

    topic_arn: str
    queue_url: str
    env: dict[str, str] = field(default_factory=dict)
    buckets: set[str] = field(default_factory=set)

    def cloudtrail(self, region: str) -> Any:
        return boto3.client("cloudtrail", region_name=region)

    def create_trail(
        self,
        name: str,
        region: str,
        *,
        multi_region: bool = False,
        logging: bool = True,
        validation: bool = False,
    ) -> str:
        bucket = f"trail-logs-{region}"
        if bucket not in self.buckets:
            s3 = boto3.client("s3", region_name="us-east-1")
            s3.create_bucket(Bucket=bucket)
            self.buckets.add(bucket)
        arn = self.cloudtrail(region).create_trail(
            Name=name,
            S3BucketName=bucket,
            IsMultiRegionTrail=multi_region,
            EnableLogFileValidation=validation,
        )["TrailARN"]
        if logging:
            self.cloudtrail(region).start_logging(Name=name)
        return str(arn)

    def stop(self, name: str, region: str) -> None:
        self.cloudtrail(region).stop_logging(Name=name)
        assert not self.is_logging(name, region)

    def is_logging(self, name: str, region: str) -> bool:
        return bool(self.cloudtrail(region).get_trail_status(Name=name)["IsLogging"])

    def messages(self) -> list[dict[str, Any]]:
        """Every alert delivered so far: the ``sqs`` JSON document of each SNS message."""
        sqs = boto3.client("sqs", region_name=HANDLER_REGION)
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

    def invoke(self, handler: Any, event: Any, region: str = HANDLER_REGION, **extra: str) -> dict[str, Any]:
        """Run a handler with the function's environment bound, as the local cloud's runner does."""
        env = {**self.env, "AWS_REGION": region, "AWS_DEFAULT_REGION": region, **extra}
        with aws.using_environ(env):
            result: dict[str, Any] = handler(event, None)
        return result


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    creds = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": HANDLER_REGION,
    }
    for key, value in creds.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(remediate, "VERIFY_DELAY", 0.0)
    aws.clear_cache()
    with mock_aws():
        sns = boto3.client("sns", region_name=HANDLER_REGION)
        sqs = boto3.client("sqs", region_name=HANDLER_REGION)
        topic_arn = sns.create_topic(Name=TOPIC_NAME)["TopicArn"]
        queue_url = sqs.create_queue(QueueName="alerts-reader")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        env = {
            **creds,
            "TRAILGUARD_TOPIC_ARN": topic_arn,
            "TRAILGUARD_GUARD_ROLE_ARNS": GUARD_ROLE,
            "TRAILGUARD_RULE_NAMES": "trailguard-api-calls,trailguard-findings",
            "TRAILGUARD_FUNCTION_NAMES": "trailguard-api-call,trailguard-finding",
        }
        yield Cloud(topic_arn=topic_arn, queue_url=queue_url, env=env)
    aws.clear_cache()
