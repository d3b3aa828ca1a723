"""The bucket family's conditions (``policy/techniques/bucket.py``: the lifecycle retention floor), on
real records modified by hand."""

from __future__ import annotations

import copy

import pytest
from policy_support import PROTECTING, raw_copy, rebuild

from trailguard.policy import Inventory, classify

LIFECYCLE = "tamper/s3_putbucketlifecycle_1day_expiry_trail_bucket_panther.json"

# -- PutBucketLifecycle --------------------------------------------------------------------------------


def lifecycle(rule, bucket="sample-cloudtrail-bucket-name"):
    raw = raw_copy(LIFECYCLE)
    raw["requestParameters"]["bucketName"] = bucket
    raw["requestParameters"]["LifecycleConfiguration"]["Rule"] = rule
    return rebuild(raw)


def rule(**fields):
    base = {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 30}}
    base.update(fields)
    return base


@pytest.mark.parametrize(
    ("lifecycle_rule", "expected"),
    [
        (rule(), "tamper"),
        (rule(Expiration={"Days": 365}), "benign"),
        (rule(Expiration={"Days": 364}), "tamper"),
        (rule(Expiration={"Days": "7"}), "tamper"),
        (rule(Status="Disabled"), "benign"),
        (rule(Filter={"Prefix": "AWSLogs/"}), "tamper"),
        (rule(Filter={"Prefix": "AWSLogs/111122223333/CloudTrail/"}), "tamper"),
        (rule(Filter={"Prefix": "tmp/"}), "benign"),
        (rule(Filter={"Tag": {"Key": "k", "Value": "v"}}), "benign"),
        (rule(Filter={"And": {"Prefix": "", "Tags": [{"Key": "k", "Value": "v"}]}}), "benign"),
        (rule(Filter={"And": {"Prefix": "AWSLogs"}}), "tamper"),
        (rule(Filter=None, Prefix="AWSLogs/"), "tamper"),
        (rule(Expiration={"Date": "2030-01-01T00:00:00Z"}), "tamper"),
        (rule(Expiration={"Days": 400}, NoncurrentVersionExpiration={"NoncurrentDays": 1}), "tamper"),
        (rule(Expiration={"ExpiredObjectDeleteMarker": True}), "benign"),
        ([rule(Filter={"Prefix": "tmp/"}), rule(ID="second")], "tamper"),
    ],
)
def test_lifecycle_retention_floor(lifecycle_rule, expected):
    verdict = classify(lifecycle(lifecycle_rule), Inventory.from_dict(PROTECTING))
    assert verdict.verdict == expected, verdict.reason


def test_lifecycle_respects_the_trail_key_prefix():
    data = copy.deepcopy(PROTECTING)
    for trail in data["trails"]:
        if trail["Name"] == "sample-cloudtrail-name":
            trail["S3KeyPrefix"] = "trails/main"
    inv = Inventory.from_dict(data)
    assert classify(lifecycle(rule(Filter={"Prefix": "AWSLogs/"})), inv).verdict == "benign"
    assert classify(lifecycle(rule(Filter={"Prefix": "trails/"})), inv).verdict == "tamper"


def test_lifecycle_floor_is_configurable():
    inv = Inventory.from_dict({**PROTECTING, "retention_days": 20})
    assert classify(lifecycle(rule()), inv).verdict == "benign"
    assert classify(lifecycle(rule(Expiration={"Days": 10})), inv).verdict == "tamper"


def test_lifecycle_on_another_bucket_is_benign():
    verdict = classify(lifecycle(rule(), bucket="scratch"), Inventory.from_dict(PROTECTING))
    assert verdict.verdict == "benign"
    assert verdict.resource == "scratch"


# -- versioning, public access, encryption, log objects (the constructed records of MANIFEST.tsv, and
# the panther look-alikes, modified by hand) -----------------------------------------------------------

PROTECTED = Inventory.from_dict(PROTECTING)
TRAIL_BUCKET = "myawsbucket"  # docs-trail's bucket in PROTECTING (no S3 key prefix: logs under AWSLogs/)


def judged(relpath, params=None, **fields):
    raw = raw_copy(relpath)
    if params is not None:
        raw["requestParameters"] = {**raw["requestParameters"], **params}
    raw.update(fields)
    return classify(rebuild(raw), PROTECTED)


def test_suspending_versioning_on_a_trail_bucket_is_tamper():
    verdict = judged("tamper/s3_putbucketversioning_suspended_constructed.json")
    assert verdict.verdict == "tamper" and verdict.technique_id == "bucket.versioning-suspend"
    assert verdict.resource == TRAIL_BUCKET and "docs-trail" in verdict.reason


def test_enabling_versioning_is_harmless_even_on_a_trail_bucket():
    verdict = judged("benign/s3_putbucketversioning_enabled_panther.json", {"bucketName": TRAIL_BUCKET})
    assert verdict.verdict == "benign" and "set to Enabled" in verdict.reason


def test_versioning_on_another_bucket_is_harmless():
    verdict = judged("tamper/s3_putbucketversioning_suspended_constructed.json", {"bucketName": "other"})
    assert verdict.verdict == "benign"


def test_deleting_the_public_access_block_is_tamper():
    verdict = judged("tamper/s3_deletebucketpublicaccessblock_constructed.json")
    assert verdict.verdict == "tamper" and verdict.technique_id == "bucket.public-access"
    assert "removes the public access block" in verdict.reason


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            dict.fromkeys(
                ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
            ),
            "benign",
        ),
        (
            {
                "BlockPublicAcls": True,
                "IgnorePublicAcls": "false",
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
            "tamper",
        ),
        ({"BlockPublicAcls": True}, "tamper"),  # what is left out is off
    ],
)
def test_a_public_access_block_with_any_setting_off_is_tamper(config, expected):
    verdict = judged(
        "tamper/s3_deletebucketpublicaccessblock_constructed.json",
        {"PublicAccessBlockConfiguration": config},
        eventName="PutBucketPublicAccessBlock",
    )
    assert verdict.verdict == expected, verdict.reason
    assert verdict.technique_id == ("bucket.public-access" if expected == "tamper" else None)


def test_a_public_canned_acl_is_tamper_and_private_is_not():
    verdict = judged("tamper/s3_putbucketacl_publicread_constructed.json")
    assert verdict.verdict == "tamper" and "canned ACL public-read" in verdict.reason
    private = judged("benign/s3_putbucketacl_private_panther.json", {"bucketName": TRAIL_BUCKET})
    assert private.verdict == "benign" and "grants nothing to AllUsers" in private.reason


def test_an_acl_document_granting_all_users_is_tamper():
    grant = {
        "Grantee": {"xsi:type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
        "Permission": "READ",
    }
    body = {"AccessControlPolicy": {"AccessControlList": {"Grant": [grant]}, "Owner": {"ID": "x"}}}
    params = {"x-amz-acl": None, **body}
    verdict = judged("tamper/s3_putbucketacl_publicread_constructed.json", params)
    assert verdict.verdict == "tamper" and "AllUsers READ" in verdict.reason
    header = {
        "x-amz-acl": None,
        "x-amz-grant-read": ['uri="http://acs.amazonaws.com/groups/global/AuthenticatedUsers"'],
    }
    verdict = judged("tamper/s3_putbucketacl_publicread_constructed.json", header)
    assert verdict.verdict == "tamper" and "AuthenticatedUsers read" in verdict.reason


def test_deleting_default_encryption_is_tamper():
    verdict = judged("tamper/s3_deletebucketencryption_constructed.json")
    assert verdict.verdict == "tamper" and verdict.technique_id == "bucket.encryption-change"


def _encryption(default):
    return {"ServerSideEncryptionConfiguration": {"Rule": {"ApplyServerSideEncryptionByDefault": default}}}


@pytest.mark.parametrize(
    ("default", "expected"),
    [
        ({"SSEAlgorithm": "AES256"}, "tamper"),
        ({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "arn:aws:kms:us-west-2:111122223333:key/k"}, "benign"),
        ({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "arn:aws:kms:us-west-2:999999999999:key/k"}, "tamper"),
        ({"SSEAlgorithm": "aws:kms"}, "benign"),  # the account's AWS managed key
    ],
)
def test_put_encryption_is_tamper_unless_it_keeps_kms_of_the_account(default, expected):
    verdict = judged(
        "tamper/s3_deletebucketencryption_constructed.json",
        _encryption(default),
        eventName="PutBucketEncryption",
    )
    assert verdict.verdict == expected, verdict.reason


def test_deleting_a_log_file_is_tamper():
    verdict = judged("tamper/s3_deleteobject_trail_log_constructed.json")
    assert verdict.verdict == "tamper" and verdict.technique_id == "bucket.objects-delete"
    assert "AWSLogs/111122223333/CloudTrail/" in verdict.reason


def test_deleting_an_object_outside_the_log_prefix_is_harmless():
    verdict = judged("tamper/s3_deleteobject_trail_log_constructed.json", {"key": "reports/q3.csv"})
    assert verdict.verdict == "benign" and "AWSLogs/" in verdict.reason


def test_a_version_deleted_for_good_is_named():
    verdict = judged(
        "tamper/s3_deleteobject_trail_log_constructed.json", {"versionId": "3HL4kqtJlcpXroDTDmJ"}
    )
    assert verdict.verdict == "tamper" and "permanently" in verdict.reason


def test_delete_objects_is_tamper_with_or_without_the_keys_listed():
    listed = {
        "key": None,
        "Delete": {"Object": [{"Key": "reports/a"}, {"Key": "AWSLogs/1/CloudTrail/x.json.gz"}]},
    }
    verdict = judged("tamper/s3_deleteobject_trail_log_constructed.json", listed, eventName="DeleteObjects")
    assert verdict.verdict == "tamper" and verdict.technique_id == "bucket.objects-delete"
    unlisted = judged(
        "tamper/s3_deleteobject_trail_log_constructed.json", {"key": None}, eventName="DeleteObjects"
    )
    assert unlisted.verdict == "tamper" and "does not list which" in unlisted.reason


def test_a_log_prefix_is_the_trails_key_prefix():
    doc = copy.deepcopy(PROTECTING)
    for trail in doc["trails"]:
        if trail["Name"] == "docs-trail":
            trail["S3KeyPrefix"] = "audit"
    raw = raw_copy("tamper/s3_deleteobject_trail_log_constructed.json")
    assert classify(rebuild(raw), Inventory.from_dict(doc)).verdict == "benign"  # not under audit/AWSLogs/
    raw["requestParameters"]["key"] = "audit/AWSLogs/111122223333/CloudTrail/x.json.gz"
    assert classify(rebuild(raw), Inventory.from_dict(doc)).verdict == "tamper"
