"""moto in-process for the remediation actions: one region holding the stack's pieces (alert topic read
through an SQS queue, state table) and a protected trail with its log bucket and KMS key, whose
baselines are recorded with the real capture code. Attack helpers tamper the way an intruder would
(boto3 on the same account) and events are the real records of ``tests/data/events/tamper`` re-aimed at
these resources."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from aws_support import ACCOUNT, EVENTS, TABLE, Alerts, create_state_table, function_env, load_event
from aws_support import envelope as eventbridge_envelope
from trailguard import aws, remediate
from trailguard.baseline import Baselines, capture_all
from trailguard.config import Config
from trailguard.policy import Verdict
from trailguard.remediate import Context, Outcome
from trailguard.state import StateStore

__all__ = ["ACCOUNT", "EVENTS", "TABLE"]

REGION = "us-west-2"  # not us-east-1, so CreateBucket needs its LocationConstraint
TRAIL = "protected-trail"
BUCKET = "trailguard-test-trail-logs"

BASELINE_RULES = [
    {
        "ID": "keep-logs-400-days",
        "Filter": {"Prefix": "AWSLogs/"},
        "Status": "Enabled",
        "Expiration": {"Days": 400},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 400},
    }
]


def delivery_policy(bucket: str, trail_arn: str) -> dict[str, Any]:
    """The bucket policy a trail needs (as the console writes it), the baseline of the tests."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AWSCloudTrailAclCheck20150319",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": f"arn:aws:s3:::{bucket}",
                "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
            },
            {
                "Sid": "AWSCloudTrailWrite20150319",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{bucket}/AWSLogs/{ACCOUNT}/*",
                "Condition": {
                    "StringEquals": {
                        "s3:x-amz-acl": "bucket-owner-full-control",
                        "aws:SourceArn": trail_arn,
                    }
                },
            },
        ],
    }


def envelope(record: Mapping[str, Any]) -> dict[str, Any]:
    """A bare CloudTrail record wrapped as EventBridge delivers it (``AWS API Call via CloudTrail``)."""
    source = str(record.get("eventSource", "")).split(".", 1)[0]
    return eventbridge_envelope(
        "AWS API Call via CloudTrail",
        f"aws.{source}",
        record,
        event_id="6f1c2f4e-0d9a-4b7e-9a51-2b6c1f0f9e01",
        region=record.get("awsRegion", REGION),
    )


def tamper_event(
    name: str,
    params: Mapping[str, Any],
    *,
    resource_arn: str | None = None,
    folder: str = "tamper",
    event_name: str | None = None,
) -> dict[str, Any]:
    """The real record ``name`` re-aimed at this account: region, account and the named request
    parameters replaced (the rest, who called from where with what, kept as recorded)."""
    record = copy.deepcopy(load_event(f"{folder}/{name}"))
    record["awsRegion"] = REGION
    record["recipientAccountId"] = ACCOUNT
    if event_name:
        record["eventName"] = event_name
    record["requestParameters"] = {**(record.get("requestParameters") or {}), **params}
    record.pop("responseElements", None)
    if resource_arn is not None and record.get("resources"):
        record["resources"] = [{**r, "ARN": resource_arn, "arn": resource_arn} for r in record["resources"]]
    return envelope(record)


def remediation_of(message: Mapping[str, Any]) -> dict[str, Any]:
    """The action's outcome as the published JSON document carries it."""
    found = message["incident"]["remediation"]
    assert isinstance(found, dict)
    return found


@dataclass
class Stack:
    """The moto account as the tests see it."""

    alerts: Alerts
    env: dict[str, str]
    trail_arn: str
    key_id: str
    key_arn: str
    policy: dict[str, Any]
    outcomes: list[Outcome] = field(default_factory=list)
    """Every action outcome the handler produced, in order (repeats are folded out of the messages)."""

    @property
    def queue_url(self) -> str:
        return self.alerts.queue_url

    @property
    def s3(self) -> Any:
        return boto3.client("s3", region_name=REGION)

    @property
    def kms(self) -> Any:
        return boto3.client("kms", region_name=REGION)

    def record_baselines(self) -> Baselines:
        """What ``trailguard baseline record`` does: capture every protected resource into the table."""
        config = Config.from_env(self.env)
        summary = capture_all(config, REGION)
        assert summary.ok, summary.describe()
        assert BUCKET in summary.recorded["bucket"]
        return Baselines(StateStore(TABLE, REGION))

    def forget_baseline(self, kind: str, ident: str) -> None:
        boto3.client("dynamodb", region_name=REGION).delete_item(
            TableName=TABLE, Key={"pk": {"S": f"baseline#{kind}"}, "sk": {"S": ident}}
        )

    def lifecycle(self, bucket: str = BUCKET) -> list[dict[str, Any]] | None:
        try:
            rules: list[dict[str, Any]] = self.s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        except self.s3.exceptions.ClientError as exc:
            assert exc.response["Error"]["Code"] == "NoSuchLifecycleConfiguration"
            return None
        return rules

    def bucket_policy(self, bucket: str = BUCKET) -> Any:
        try:
            return json.loads(self.s3.get_bucket_policy(Bucket=bucket)["Policy"])
        except self.s3.exceptions.ClientError as exc:
            assert exc.response["Error"]["Code"] == "NoSuchBucketPolicy"
            return None

    def key_state(self) -> str:
        return str(self.kms.describe_key(KeyId=self.key_id)["KeyMetadata"]["KeyState"])

    def messages(self) -> list[dict[str, Any]]:
        """Every alert published so far: the JSON document of each SNS message, with its subject."""
        return self.alerts.documents()

    def invoke(self, event: Any) -> dict[str, Any]:
        """Run the API-call handler with the function's environment bound, as the local cloud does."""
        from trailguard import handlers

        with aws.using_environ(self.env):
            result: dict[str, Any] = handlers.api_call(event, None)
        return result


def _make_stack(creds: Mapping[str, str], alerts: Alerts) -> Stack:
    create_state_table(REGION)
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key(Description="trail key")["KeyMetadata"]
    trail_arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{TRAIL}"
    policy = delivery_policy(BUCKET, trail_arn)
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(policy))
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key["Arn"],
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    s3.put_bucket_lifecycle_configuration(Bucket=BUCKET, LifecycleConfiguration={"Rules": BASELINE_RULES})
    cloudtrail = boto3.client("cloudtrail", region_name=REGION)
    created = cloudtrail.create_trail(Name=TRAIL, S3BucketName=BUCKET, KmsKeyId=key["Arn"])
    assert created["TrailARN"] == trail_arn
    cloudtrail.start_logging(Name=TRAIL)
    env = function_env(creds, alerts, AWS_REGION=REGION, TRAILGUARD_STATE_TABLE=TABLE)
    return Stack(alerts, env, trail_arn, key["KeyId"], key["Arn"], policy)


@pytest.fixture
def aws_region() -> str:
    return REGION


@pytest.fixture
def stack(moto_aws: dict[str, str], alerts: Alerts, monkeypatch: pytest.MonkeyPatch) -> Stack:
    made = _make_stack(moto_aws, alerts)
    with aws.using_environ(made.env):
        made.record_baselines()
    real = remediate.remediate

    def recording(ctx: Context, verdict: Verdict) -> Outcome:
        outcome = real(ctx, verdict)
        made.outcomes.append(outcome)
        return outcome

    monkeypatch.setattr(remediate, "remediate", recording)
    return made
