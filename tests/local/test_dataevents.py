"""S3 data events on the local cloud (``local/dataevents.py``, the recorder's data-event branch, and the
REST operation matching that tells ``DeleteObject`` from ``AbortMultipartUpload``): an object write a
logging trail selects is recorded as CloudTrail records it, one no trail selects is not."""

from __future__ import annotations

from typing import Any

import pytest
from localcloud_support import unique

from trailguard.local import dataevents
from trailguard.local.server import LocalCloud

pytestmark = pytest.mark.integration

ARN = "arn:aws:s3:::logs/AWSLogs/1/x.json.gz"


def test_classic_selectors() -> None:
    def selector(values: list[str], rw: str = "All") -> list[dict[str, Any]]:
        return [{"ReadWriteType": rw, "DataResources": [{"Type": "AWS::S3::Object", "Values": values}]}]

    assert dataevents._classic_selects(selector(["arn:aws:s3:::logs/"]), ARN)
    assert dataevents._classic_selects(selector(["arn:aws:s3"]), ARN)  # every bucket
    assert not dataevents._classic_selects(selector(["arn:aws:s3:::other/"]), ARN)
    assert not dataevents._classic_selects(selector(["arn:aws:s3:::logs/"], "ReadOnly"), ARN)
    assert not dataevents._classic_selects([{"ReadWriteType": "All", "IncludeManagementEvents": True}], ARN)


def test_advanced_selectors() -> None:
    def selector(*fields: dict[str, Any]) -> list[dict[str, Any]]:
        base = [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
        ]
        return [{"FieldSelectors": [*base, *fields]}]

    assert dataevents._advanced_selects(selector(), ARN)
    assert dataevents._advanced_selects(
        selector({"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::logs/"]}), ARN
    )
    assert not dataevents._advanced_selects(
        selector({"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::x/"]}), ARN
    )
    assert not dataevents._advanced_selects(selector({"Field": "readOnly", "Equals": ["true"]}), ARN)
    management = [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}]
    assert not dataevents._advanced_selects(management, ARN)


def _names(cloud: LocalCloud, since: int) -> list[str]:
    return [str(r["eventName"]) for r in cloud.recorder.records[since:]]


def test_object_writes_a_trail_selects_are_data_events(cloud: LocalCloud) -> None:
    s3, ct = cloud.client("s3"), cloud.client("cloudtrail")
    watched, other = unique("watched"), unique("other")
    for bucket in (watched, other):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=watched, VersioningConfiguration={"Status": "Enabled"})
    trail = unique("data-trail")
    ct.create_trail(Name=trail, S3BucketName=watched)
    ct.put_event_selectors(
        TrailName=trail,
        EventSelectors=[
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "DataResources": [{"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::{watched}/"]}],
            }
        ],
    )
    since = len(cloud.recorder.records)
    s3.put_object(Bucket=watched, Key="a/b.json.gz", Body=b"x")
    s3.put_object(Bucket=other, Key="a/b.json.gz", Body=b"x")
    assert _names(cloud, since) == []  # the trail is not logging yet: nothing is selected
    ct.start_logging(Name=trail)
    since = len(cloud.recorder.records)

    version = s3.put_object(Bucket=watched, Key="a/b.json.gz", Body=b"y")["VersionId"]
    s3.put_object(Bucket=other, Key="a/b.json.gz", Body=b"y")
    s3.delete_object(Bucket=watched, Key="a/b.json.gz")
    s3.delete_object(Bucket=watched, Key="a/b.json.gz", VersionId=version)
    s3.delete_objects(Bucket=watched, Delete={"Objects": [{"Key": "a/c"}]})
    s3.delete_objects(Bucket=other, Delete={"Objects": [{"Key": "a/c"}]})

    records = cloud.recorder.records[since:]
    assert [r["eventName"] for r in records] == ["PutObject", "DeleteObject", "DeleteObject", "DeleteObjects"]
    delete = records[1]
    assert delete["eventCategory"] == "Data" and delete["managementEvent"] is False
    assert (
        delete["requestParameters"]["key"] == "a/b.json.gz" and "versionId" not in delete["requestParameters"]
    )
    assert {r["type"] for r in delete["resources"]} == {"AWS::S3::Object", "AWS::S3::Bucket"}
    assert records[2]["requestParameters"]["versionId"] == version
    assert records[3]["requestParameters"]["Delete"]["Object"]["Key"] == "a/c"
    ct.stop_logging(Name=trail)


def test_acl_headers_are_listed_as_cloudtrail_lists_them(cloud: LocalCloud) -> None:
    s3 = cloud.client("s3")
    bucket = unique("acl")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    (record,) = [r for r in cloud.recorder.records if r["eventName"] == "PutBucketAcl"][-1:]
    assert record["requestParameters"]["x-amz-acl"] == ["public-read"]
