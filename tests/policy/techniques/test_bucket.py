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
