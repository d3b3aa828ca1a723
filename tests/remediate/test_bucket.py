"""Trail bucket repairs end to end on moto: the attacker tampers with boto3, the real handler gets the
real record re-aimed at the bucket, and the bucket must be back to its recorded baseline, verified and
reported."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from moto.s3.models import S3Backend

from permissions_support import assert_declared
from trailguard import aws, sweep
from trailguard.config import Config
from trailguard.remediate.bucket import cloudtrail_policy

from .conftest import ACCOUNT, BASELINE_RULES, BUCKET, REGION, TABLE, Stack, remediation_of, tamper_event

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


# -- versioning, public access, default encryption, deleted log files ---------------------------------
# The constructed records of MANIFEST.tsv (no public record of these calls exists), re-aimed at the
# stack's bucket, whose baseline (versioning on, SSE-KMS with the trail key) was recorded at build.

BLOCK = dict.fromkeys(
    ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
)
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def _one(stack: Stack, event: dict[str, Any], technique: str) -> dict[str, Any]:
    result = stack.invoke(event)
    assert result["skipped"] == []
    (incident,) = result["incidents"]
    assert incident["technique"] == technique, incident
    for done in stack.outcomes:
        assert_declared(done.action, done.calls)
    return dict(incident)


def _versioning(stack: Stack) -> str | None:
    return stack.s3.get_bucket_versioning(Bucket=BUCKET).get("Status")


def test_suspended_versioning_is_enabled_again(stack: Stack) -> None:
    stack.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    event = tamper_event("s3_putbucketversioning_suspended_constructed.json", {"bucketName": BUCKET})

    incident = _one(stack, event, "bucket.versioning-suspend")

    assert incident["status"] == "remediated" and _versioning(stack) == "Enabled"
    outcome = stack.outcomes[-1]
    assert [c.operation for c in outcome.calls] == [
        "GetBucketVersioning",
        "PutBucketVersioning",
        "GetBucketVersioning",
    ]
    assert "it was Suspended" in outcome.summary
    (repeat,) = stack.invoke(event)["incidents"]
    assert repeat["status"] == "already-restored"


def test_a_bucket_recorded_without_versioning_is_left_so(stack: Stack) -> None:
    stack.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    stack.forget_baseline("bucket", BUCKET)
    stack.record_baselines()  # now recorded as Suspended
    event = tamper_event("s3_putbucketversioning_suspended_constructed.json", {"bucketName": BUCKET})

    (incident,) = stack.invoke(event)["incidents"]

    assert incident["status"] == "already-restored" and _versioning(stack) == "Suspended"


def test_another_buckets_versioning_is_never_touched(stack: Stack) -> None:
    """The floor: a request naming a bucket that is no recorded or protected log bucket makes no call."""
    from trailguard.inventory import load
    from trailguard.policy import TECHNIQUES
    from trailguard.remediate import Context, RepairRequest, repair
    from trailguard.resources.bucket import KIND

    stack.s3.create_bucket(Bucket="someone-elses", CreateBucketConfiguration={"LocationConstraint": REGION})
    with aws.using_environ(stack.env):
        ctx = Context(load(Config.from_env(stack.env), REGION))
        for technique in ("bucket.versioning-suspend", "bucket.public-access", "bucket.policy-change"):
            outcome = repair(ctx, TECHNIQUES[technique], RepairRequest(KIND, "someone-elses", "test"))
            assert outcome.status == "failed" and "leaves it alone" in outcome.summary, technique
            assert outcome.calls == [], technique


@pytest.fixture
def blocked(stack: Stack) -> Stack:
    """The stack's bucket behind a full public access block, recorded as its baseline."""
    stack.s3.put_public_access_block(Bucket=BUCKET, PublicAccessBlockConfiguration=BLOCK)
    stack.forget_baseline("bucket", BUCKET)
    baselines = stack.record_baselines()
    recorded = baselines.get("bucket", BUCKET)
    assert recorded is not None and recorded["PublicAccessBlock"] == BLOCK
    assert recorded["Grants"] and not [g for g in recorded["Grants"] if g["Grantee"].get("URI")]
    return stack


def _public(stack: Stack) -> list[str]:
    grants = stack.s3.get_bucket_acl(Bucket=BUCKET)["Grants"]
    return [g["Permission"] for g in grants if g["Grantee"].get("URI") == ALL_USERS]


def test_a_deleted_public_access_block_is_put_back(blocked: Stack) -> None:
    blocked.s3.delete_public_access_block(Bucket=BUCKET)
    event = tamper_event("s3_deletebucketpublicaccessblock_constructed.json", {"bucketName": BUCKET})

    incident = _one(blocked, event, "bucket.public-access")

    assert incident["status"] == "remediated"
    assert blocked.s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"] == BLOCK
    assert "it was removed" in blocked.outcomes[-1].summary


def test_a_public_read_acl_is_removed(blocked: Stack) -> None:
    blocked.s3.delete_public_access_block(Bucket=BUCKET)
    blocked.s3.put_bucket_acl(Bucket=BUCKET, ACL="public-read")
    assert _public(blocked) == ["READ"]
    event = tamper_event("s3_putbucketacl_publicread_constructed.json", {"bucketName": BUCKET})

    incident = _one(blocked, event, "bucket.public-access")

    assert incident["status"] == "remediated"
    assert _public(blocked) == []
    assert blocked.s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"] == BLOCK
    outcome = blocked.outcomes[-1]
    assert "AllUsers READ" in outcome.summary and "anyone could read" in outcome.summary
    owner = [
        g for g in blocked.s3.get_bucket_acl(Bucket=BUCKET)["Grants"] if g["Permission"] == "FULL_CONTROL"
    ]
    assert owner, "the owner keeps its grant"


def test_a_weakened_block_is_restored_by_the_sweep(blocked: Stack) -> None:
    off = {**BLOCK, "RestrictPublicBuckets": False}
    blocked.s3.put_public_access_block(Bucket=BUCKET, PublicAccessBlockConfiguration=off)

    report = _sweep(blocked)

    (drift,) = report.drift
    assert drift.kind == "bucket"
    assert [(o.action, o.status) for o in drift.outcomes if o.status != "already-restored"] == [
        ("bucket.restore_public_access", "remediated")
    ]
    assert blocked.s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"] == BLOCK
    assert _sweep(blocked).drift == []


def _encryption(stack: Stack) -> Any:
    try:
        return stack.s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]
    except stack.s3.exceptions.ClientError:
        return None


def test_deleted_default_encryption_is_put_back(stack: Stack) -> None:
    before = _encryption(stack)
    assert before["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    stack.s3.delete_bucket_encryption(Bucket=BUCKET)
    event = tamper_event("s3_deletebucketencryption_constructed.json", {"bucketName": BUCKET})

    incident = _one(stack, event, "bucket.encryption-change")

    assert incident["status"] == "remediated" and _encryption(stack) == before


def test_weakened_default_encryption_is_put_back(stack: Stack) -> None:
    """SSE-KMS with the trail key recorded; the attacker sets SSE-S3."""
    before = _encryption(stack)
    stack.s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    params = {
        "bucketName": BUCKET,
        "ServerSideEncryptionConfiguration": {
            "Rule": {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
        },
    }
    event = tamper_event(
        "s3_deletebucketencryption_constructed.json", params, event_name="PutBucketEncryption"
    )

    incident = _one(stack, event, "bucket.encryption-change")

    assert incident["status"] == "remediated" and _encryption(stack) == before
    assert "it was: SSEAlgorithm AES256" in stack.outcomes[-1].summary


def test_encryption_without_a_baseline_is_escalated_when_one_is_set(stack: Stack) -> None:
    stack.forget_baseline("bucket", BUCKET)
    event = tamper_event("s3_deletebucketencryption_constructed.json", {"bucketName": BUCKET})

    (incident,) = stack.invoke(event)["incidents"]

    assert incident["status"] == "failed"
    assert "PutBucketEncryption" not in [c.operation for c in stack.outcomes[-1].calls]


LOG_KEY = (
    f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2026/11/30/{ACCOUNT}_CloudTrail_{REGION}_20261130T1010Z_a.json.gz"
)
OTHER_KEY = (
    f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2026/11/30/{ACCOUNT}_CloudTrail_{REGION}_20261130T1015Z_b.json.gz"
)


def _exists(stack: Stack, key: str) -> bool:
    try:
        stack.s3.head_object(Bucket=BUCKET, Key=key)
    except stack.s3.exceptions.ClientError:
        return False
    return True


def test_deleted_log_files_come_back_from_their_versions(stack: Stack) -> None:
    for key in (LOG_KEY, OTHER_KEY):
        stack.s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}")
        stack.s3.delete_object(Bucket=BUCKET, Key=key)
    assert not _exists(stack, LOG_KEY)
    event = tamper_event("s3_deleteobject_trail_log_constructed.json", {"bucketName": BUCKET, "key": LOG_KEY})

    incident = _one(stack, event, "bucket.objects-delete")

    assert incident["status"] == "remediated"
    assert _exists(stack, LOG_KEY)
    assert not _exists(stack, OTHER_KEY)  # the event named one key; the sweep finds the rest
    versions = stack.s3.list_object_versions(Bucket=BUCKET, Prefix=LOG_KEY)
    assert len(versions["Versions"]) == 1 and not versions.get("DeleteMarkers")  # no version was removed

    (drift,) = _sweep(stack).drift
    assert [(o.action, o.status) for o in drift.outcomes if o.status != "already-restored"] == [
        ("bucket.restore_deleted_logs", "remediated")
    ]
    assert _exists(stack, OTHER_KEY)


def test_a_version_deleted_for_good_is_escalated(stack: Stack) -> None:
    version = stack.s3.put_object(Bucket=BUCKET, Key=LOG_KEY, Body=b"{}")["VersionId"]
    stack.s3.delete_object(Bucket=BUCKET, Key=LOG_KEY, VersionId=version)
    params = {"bucketName": BUCKET, "key": LOG_KEY, "versionId": version}
    event = tamper_event("s3_deleteobject_trail_log_constructed.json", params)

    incident = _one(stack, event, "bucket.objects-delete")

    assert incident["status"] == "failed"
    assert "deleted for good" in stack.outcomes[-1].summary
    (message,) = stack.messages()
    assert "ACTION REQUIRED" in message["subject"]


def test_objects_outside_the_log_prefix_are_not_judged(stack: Stack) -> None:
    stack.s3.put_object(Bucket=BUCKET, Key="notes/readme.txt", Body=b"x")
    stack.s3.delete_object(Bucket=BUCKET, Key="notes/readme.txt")
    event = tamper_event(
        "s3_deleteobject_trail_log_constructed.json", {"bucketName": BUCKET, "key": "notes/readme.txt"}
    )

    assert stack.invoke(event)["incidents"] == []
    assert not _exists(stack, "notes/readme.txt")  # never restored: it is not a log file


def _sweep(stack: Stack) -> sweep.Report:
    with aws.using_environ(stack.env):
        return sweep.sweep(Config.from_env(stack.env), REGION)


def test_the_sweep_leaves_the_public_access_of_a_baseline_recorded_without_it(stack: Stack) -> None:
    """A bucket baseline recorded before the block and ACL were captured has no ``PublicAccessBlock``:
    the sweep does not invent one (the stack's bucket has none)."""
    from trailguard.baseline import Baselines
    from trailguard.state import StateStore

    baselines = Baselines(StateStore(TABLE, REGION))
    doc = baselines.get("bucket", BUCKET)
    assert doc is not None
    baselines.put(
        "bucket", BUCKET, {k: v for k, v in doc.items() if k not in ("PublicAccessBlock", "Grants")}
    )

    assert _sweep(stack).drift == []
    with pytest.raises(stack.s3.exceptions.ClientError):
        stack.s3.get_public_access_block(Bucket=BUCKET)
