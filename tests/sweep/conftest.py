"""moto in-process with the real stack deployed (``trailguard.deploy.deploy``, which records the
baselines) next to a protected trail with its bucket and KMS key; alerts are read through an SQS queue
subscribed to the alert topic. The guard actions and the backstop sweep are driven through the finding
handler, with the finding function's environment bound as the Lambda runner binds it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from aws_support import ACCOUNT, REGION, read_queue, subscribe_reader
from trailguard import aws

__all__ = ["ACCOUNT", "REGION"]

STACK = "tg"
TRAIL = "audit-trail"
BUCKET = "audit-trail-logs"
SCHEDULED = {
    "version": "0",
    "id": "5a0c7b1e-9a2f-4c1d-8e55-0f3c2b7d9e11",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": ACCOUNT,
    "time": "2024-01-01T00:00:00Z",
    "region": REGION,
    "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{STACK}-backstop"],
    "detail": {},
}


@dataclass
class Deployed:
    outputs: dict[str, str]
    env: dict[str, str]
    queue_url: str
    trail_arn: str
    key_id: str

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)

    def sweep(self) -> dict[str, Any]:
        """One firing of the backstop schedule, handled by the finding function."""
        from trailguard import handlers

        with aws.using_environ(self.env):
            result: dict[str, Any] = handlers.finding(dict(SCHEDULED), None)
        return result

    def call(self, event: Any) -> dict[str, Any]:
        """A CloudTrail API-call envelope delivered to the finding function (the guard-calls rule)."""
        from trailguard import handlers

        with aws.using_environ(self.env):
            result: dict[str, Any] = handlers.finding(event, None)
        return result

    def messages(self) -> list[dict[str, Any]]:
        """Every alert published since the last read: subject and the e-mail text."""
        return [
            {"subject": subject, "text": payload.get("text", ""), "doc": payload}
            for subject, payload in read_queue(self.queue_url, REGION)
        ]


def _trail() -> tuple[str, str]:
    s3, kms, ct = boto3.client("s3"), boto3.client("kms"), boto3.client("cloudtrail")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_policy(
        Bucket=BUCKET,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AWSCloudTrailWrite",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudtrail.amazonaws.com"},
                        "Action": "s3:PutObject",
                        "Resource": f"arn:aws:s3:::{BUCKET}/AWSLogs/{ACCOUNT}/*",
                    }
                ],
            }
        ),
    )
    key = kms.create_key(Description="trail key")["KeyMetadata"]
    arn = ct.create_trail(Name=TRAIL, S3BucketName=BUCKET, IsMultiRegionTrail=True, KmsKeyId=key["Arn"])[
        "TrailARN"
    ]
    ct.start_logging(Name=TRAIL)
    return str(arn), str(key["KeyId"])


@pytest.fixture
def moto_env(moto_aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """``moto_aws`` with ``AWS_REGION`` set too, as in a Lambda function."""
    monkeypatch.setenv("AWS_REGION", REGION)


def deploy_stack(*, baseline: bool = True) -> Deployed:
    from trailguard.deploy import deploy

    trail_arn, key_id = _trail()
    outputs = deploy(
        STACK, "security@example.com", progress=lambda _: None, poll_seconds=0.01, baseline=baseline
    )
    # Subscribed after deploy recorded the baselines, so the queue is not part of the topic's baseline.
    queue_url = subscribe_reader(outputs["TopicArn"], REGION)
    function = boto3.client("lambda").get_function_configuration(FunctionName=outputs["FindingFunctionName"])
    env = {
        **function["Environment"]["Variables"],
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    return Deployed(outputs, env, queue_url, trail_arn, key_id)


@pytest.fixture
def deployed(moto_env: None) -> Deployed:
    """The stack deployed with its baselines recorded by ``deploy``."""
    return deploy_stack()
