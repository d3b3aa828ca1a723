"""Trail bucket repairs end to end on moto: the attacker tampers with boto3, the real handler gets the
real record re-aimed at the bucket, and the bucket must be back to its recorded baseline, verified and
reported."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from moto.s3.models import S3Backend

from trailguard import aws
from trailguard.remediate.bucket import cloudtrail_policy

from .conftest import BASELINE_RULES, BUCKET, REGION, Stack, remediation_of, tamper_event

LIFECYCLE_FILE = "s3_putbucketlifecycle_1day_expiry_trail_bucket_panther.json"
NUKE_RULES = [
    {
        "ID": "nuke-cloudtrail-logs-after-1-day",
        "Filter": {"Prefix": ""},
        "Status": "Enabled",
        "Expiration": {"Days": 1},
    }
]
PUBLIC_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
        }
    ],
}


def _lifecycle_event() -> dict[str, Any]:
    return tamper_event(LIFECYCLE_FILE, {"bucketName": BUCKET, "Host": f"{BUCKET}.s3.{REGION}.amazonaws.com"})


def _operations(message: dict[str, Any]) -> list[str]:
    return [c["operation"] for c in remediation_of(message)["calls"]]


def _only_incident(result: dict[str, Any]) -> dict[str, Any]:
    assert result["skipped"] == []
    (incident,) = result["incidents"]
    assert isinstance(incident, dict)
    return incident


# -- lifecycle ------------------------------------------------------------------------------------------


def test_lifecycle_expiry_is_reverted_to_the_baseline(stack: Stack) -> None:
    stack.s3.put_bucket_lifecycle_configuration(Bucket=BUCKET, LifecycleConfiguration={"Rules": NUKE_RULES})

    incident = _only_incident(stack.invoke(_lifecycle_event()))

    assert incident["technique"] == "bucket.lifecycle-expire"
    assert incident["status"] == "remediated" and incident["verified"] is True
    assert stack.lifecycle() == BASELINE_RULES
    (message,) = stack.messages()
    assert BUCKET in message["text"]
    assert _operations(message) == [
        "GetBucketLifecycleConfiguration",
        "PutBucketLifecycleConfiguration",
        "GetBucketLifecycleConfiguration",
    ]
    assert {c["region"] for c in remediation_of(message)["calls"]} == {REGION}


def test_lifecycle_repeated_event_changes_nothing(stack: Stack) -> None:
    stack.s3.put_bucket_lifecycle_configuration(Bucket=BUCKET, LifecycleConfiguration={"Rules": NUKE_RULES})
    stack.invoke(_lifecycle_event())
    stack.messages()

    incident = _only_incident(stack.invoke(_lifecycle_event()))

    assert incident["status"] == "already-restored"
    assert [c.operation for c in stack.outcomes[-1].calls] == ["GetBucketLifecycleConfiguration"]
    assert stack.lifecycle() == BASELINE_RULES


def test_lifecycle_is_deleted_when_the_baseline_had_none(stack: Stack) -> None:
    stack.s3.delete_bucket_lifecycle(Bucket=BUCKET)
    stack.record_baselines()  # the good state: no lifecycle configuration at all
    stack.s3.put_bucket_lifecycle_configuration(Bucket=BUCKET, LifecycleConfiguration={"Rules": NUKE_RULES})

    incident = _only_incident(stack.invoke(_lifecycle_event()))

    assert incident["status"] == "remediated"
    assert stack.lifecycle() is None
    (message,) = stack.messages()
    assert "DeleteBucketLifecycle" in _operations(message)


def test_lifecycle_without_a_baseline_is_escalated_not_guessed(stack: Stack) -> None:
    stack.forget_baseline("bucket", BUCKET)
    stack.s3.put_bucket_lifecycle_configuration(Bucket=BUCKET, LifecycleConfiguration={"Rules": NUKE_RULES})

    incident = _only_incident(stack.invoke(_lifecycle_event()))

    assert incident["status"] == "failed" and incident["action_required"] is True
    assert stack.lifecycle() == NUKE_RULES  # left for a person, not replaced by a guess
    (message,) = stack.messages()
    outcome = remediation_of(message)
    assert outcome["calls"] == []
    assert f"no baseline recorded for bucket {BUCKET}; run trailguard baseline record" in outcome["errors"]
    assert "trailguard baseline record" in message["text"]


def test_lifecycle_refused_call_fails_with_the_error(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.s3.exceptions import BucketAccessDeniedError

    def refuse(*_: Any, **__: Any) -> None:
        raise BucketAccessDeniedError(BUCKET)

    stack.s3.put_bucket_lifecycle_configuration(Bucket=BUCKET, LifecycleConfiguration={"Rules": NUKE_RULES})
    monkeypatch.setattr(S3Backend, "put_bucket_lifecycle", refuse)

    incident = _only_incident(stack.invoke(_lifecycle_event()))

    assert incident["status"] == "failed" and incident["verified"] is False
    (message,) = stack.messages()
    outcome = remediation_of(message)
    assert any(e.startswith("AccessDenied") for e in outcome["errors"])
    assert outcome["calls"][-1]["operation"] == "PutBucketLifecycleConfiguration"
    assert outcome["calls"][-1]["error"].startswith("AccessDenied")
    assert "AccessDenied" in outcome["summary"] and BUCKET in outcome["summary"]


# -- policy ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "attack"),
    [
        ("s3_deletebucketpolicy_awsdocs.json", "delete"),
        ("s3_putbucketpolicy_public_panther.json", "public"),
    ],
)
def test_policy_change_is_reverted_to_the_baseline(stack: Stack, file: str, attack: str) -> None:
    if attack == "delete":
        stack.s3.delete_bucket_policy(Bucket=BUCKET)
    else:
        stack.s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(PUBLIC_POLICY))
    event = tamper_event(file, {"bucketName": BUCKET}, resource_arn=f"arn:aws:s3:::{BUCKET}")

    incident = _only_incident(stack.invoke(event))

    assert incident["technique"] == "bucket.policy-change"
    assert incident["status"] == "remediated" and incident["verified"] is True
    assert stack.bucket_policy() == stack.policy
    (message,) = stack.messages()
    assert BUCKET in message["text"]
    assert _operations(message) == ["GetBucketPolicy", "PutBucketPolicy", "GetBucketPolicy"]

    again = _only_incident(stack.invoke(event))
    assert again["status"] == "already-restored"
    assert [c.operation for c in stack.outcomes[-1].calls] == ["GetBucketPolicy"]
    assert stack.bucket_policy() == stack.policy


def test_policy_without_a_baseline_gets_cloudtrails_delivery_policy_only_when_none_is_left(
    stack: Stack,
) -> None:
    stack.forget_baseline("bucket", BUCKET)
    stack.s3.delete_bucket_policy(Bucket=BUCKET)
    event = tamper_event("s3_deletebucketpolicy_awsdocs.json", {"bucketName": BUCKET})

    incident = _only_incident(stack.invoke(event))

    assert incident["status"] == "remediated"
    restored = stack.bucket_policy()
    trail = {"TrailARN": stack.trail_arn, "S3BucketName": BUCKET}
    assert restored == cloudtrail_policy(BUCKET, [trail])
    write = restored["Statement"][1]
    assert write["Resource"] == [f"arn:aws:s3:::{BUCKET}/AWSLogs/123456789012/*"]
    assert write["Condition"]["StringEquals"]["aws:SourceArn"] == [stack.trail_arn]


def test_replaced_policy_without_a_baseline_is_escalated(stack: Stack) -> None:
    stack.forget_baseline("bucket", BUCKET)
    stack.s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(PUBLIC_POLICY))
    event = tamper_event("s3_putbucketpolicy_public_panther.json", {"bucketName": BUCKET})

    incident = _only_incident(stack.invoke(event))

    assert incident["status"] == "failed"
    assert stack.bucket_policy() == PUBLIC_POLICY
    (message,) = stack.messages()
    assert "no baseline recorded for bucket" in remediation_of(message)["summary"]


# -- deleted bucket -------------------------------------------------------------------------------------


def _delete_bucket(stack: Stack) -> None:
    """What an attacker does: empty every version, then delete the bucket."""
    versions = stack.s3.list_object_versions(Bucket=BUCKET)
    for item in versions.get("Versions", []) + versions.get("DeleteMarkers", []):
        stack.s3.delete_object(Bucket=BUCKET, Key=item["Key"], VersionId=item["VersionId"])
    stack.s3.delete_bucket(Bucket=BUCKET)


def _delete_event() -> dict[str, Any]:
    """No public DeleteBucket record is stored; the DeleteBucketPolicy one has the same S3 shape."""
    return tamper_event(
        "s3_deletebucketpolicy_awsdocs.json", {"bucketName": BUCKET}, event_name="DeleteBucket"
    )


def test_deleted_bucket_is_recreated_with_its_baseline(stack: Stack) -> None:
    stack.s3.put_object(Bucket=BUCKET, Key=f"AWSLogs/123456789012/CloudTrail/{REGION}/log.json.gz", Body=b"x")
    _delete_bucket(stack)

    incident = _only_incident(stack.invoke(_delete_event()))

    assert incident["technique"] == "bucket.delete"
    assert incident["status"] == "remediated" and incident["verified"] is True
    location = stack.s3.get_bucket_location(Bucket=BUCKET)["LocationConstraint"]
    assert location == REGION
    assert stack.bucket_policy() == stack.policy
    assert stack.s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    rules = stack.s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == stack.key_arn
    assert stack.lifecycle() == BASELINE_RULES
    block = stack.s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    (message,) = stack.messages()
    summary = remediation_of(message)["summary"]
    assert "lost" in summary and "next sweep" in summary and BUCKET in summary
    assert BUCKET in message["text"]
    operations = _operations(message)
    assert operations[:2] == ["GetBucketPolicy", "CreateBucket"]
    assert "GetTrailStatus" in operations

    again = _only_incident(stack.invoke(_delete_event()))
    assert again["status"] == "already-restored"
    assert [c.operation for c in stack.outcomes[-1].calls] == ["GetBucketPolicy"]
    assert "lost" in stack.outcomes[-1].summary


def test_bucket_name_taken_by_someone_else_fails_loudly(stack: Stack) -> None:
    """The attacker deletes the bucket and claims its name from another account. moto keeps no global
    bucket namespace across accounts, so S3's answer to our CreateBucket (409 BucketAlreadyExists) is
    injected with a ``before-call`` hook on trailguard's own S3 client; everything else is moto."""
    _delete_bucket(stack)
    answer = {
        "Error": {"Code": "BucketAlreadyExists", "Message": "The requested bucket name is not available."},
        "ResponseMetadata": {"HTTPStatusCode": 409},
    }

    def taken(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        return AWSResponse(f"https://{BUCKET}.s3.amazonaws.com/", 409, {}, None), answer

    with aws.using_environ(stack.env):
        aws.client("s3", REGION).meta.events.register("before-call.s3.CreateBucket", taken)

    incident = _only_incident(stack.invoke(_delete_event()))

    assert incident["status"] == "failed"
    (message,) = stack.messages()
    outcome = remediation_of(message)
    assert any(e.startswith("BucketAlreadyExists") for e in outcome["errors"])
    assert "new bucket" in outcome["summary"] and "lost" in outcome["summary"]
