"""Every AWS call these actions really make is covered by the IAM actions their techniques declare (which
the template grants). API and IAM names differ (S3 above all): ``permissions_support`` maps them."""

from __future__ import annotations

import json

import boto3

from permissions_support import assert_declared

from .conftest import BUCKET, REGION, Stack, tamper_event


def test_calls_made_are_the_permissions_declared(stack: Stack) -> None:
    s3 = stack.s3
    s3.put_bucket_lifecycle_configuration(
        Bucket=BUCKET,
        LifecycleConfiguration={
            "Rules": [{"ID": "x", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 1}}]
        },
    )
    stack.invoke(
        tamper_event("s3_putbucketlifecycle_1day_expiry_trail_bucket_panther.json", {"bucketName": BUCKET})
    )
    s3.delete_bucket_lifecycle(Bucket=BUCKET)
    stack.forget_baseline("bucket", BUCKET)
    stack.record_baselines()
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(stack.policy | {"Id": "changed"}))
    stack.invoke(tamper_event("s3_putbucketpolicy_public_panther.json", {"bucketName": BUCKET}))
    s3.put_bucket_lifecycle_configuration(
        Bucket=BUCKET,
        LifecycleConfiguration={
            "Rules": [{"ID": "y", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 2}}]
        },
    )
    stack.invoke(
        tamper_event("s3_putbucketlifecycle_1day_expiry_trail_bucket_panther.json", {"bucketName": BUCKET})
    )
    for version in s3.list_object_versions(Bucket=BUCKET).get("Versions", []):
        s3.delete_object(Bucket=BUCKET, Key=version["Key"], VersionId=version["VersionId"])
    s3.delete_bucket(Bucket=BUCKET)
    stack.invoke(
        tamper_event("s3_deletebucketpolicy_awsdocs.json", {"bucketName": BUCKET}, event_name="DeleteBucket")
    )
    stack.kms.schedule_key_deletion(KeyId=stack.key_id, PendingWindowInDays=7)
    stack.invoke(tamper_event("kms_disablekey_awsdocs.json", {"keyId": stack.key_id}))
    gd = boto3.client("guardduty", region_name=REGION)
    gd.delete_detector(DetectorId=gd.create_detector(Enable=True)["DetectorId"])
    stack.invoke(tamper_event("guardduty_deletedetector_elastic.json", {"detectorId": "gone"}))

    ran = {o.action for o in stack.outcomes}
    assert ran == {
        "bucket.restore_lifecycle",
        "bucket.restore_policy",
        "bucket.recreate",
        "key.enable",
        "guard.enable_detector",
    }
    assert all(o.status == "remediated" for o in stack.outcomes), [o.summary for o in stack.outcomes]
    operations = {c.operation for o in stack.outcomes for c in o.calls}
    assert {"DeleteBucketLifecycle", "PutPublicAccessBlock", "PutBucketEncryption"} <= operations
    assert {"CancelKeyDeletion", "CreateDetector"} <= operations
    for outcome in stack.outcomes:
        assert_declared(outcome.action, outcome.calls)
