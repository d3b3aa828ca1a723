"""S3 buckets: names, locations and the "absent" answers of each read."""

from __future__ import annotations

from typing import Any

from trailguard.resources import bucket


def test_name_of() -> None:
    assert bucket.name_of("logs") == "logs"
    assert bucket.name_of("arn:aws:s3:::logs") == "logs"
    assert bucket.name_of("arn:aws:s3:::logs/AWSLogs/1/x.gz") == "logs"


def test_region_of_location() -> None:
    assert bucket.region_of_location(None) == "us-east-1"
    assert bucket.region_of_location("") == "us-east-1"
    assert bucket.region_of_location("EU") == "eu-west-1"
    assert bucket.region_of_location("ap-south-1") == "ap-south-1"


def test_kind_facts() -> None:
    assert bucket.KIND.is_gone("NoSuchBucket") and not bucket.KIND.is_gone("NoSuchBucketPolicy")
    assert bucket.ABSENT["GetBucketPolicy"] == {"NoSuchBucketPolicy"}
    assert bucket.KIND.securityhub_type == "AwsS3Bucket"
    assert bucket.KIND.iam_resources == ("arn:${AWS::Partition}:s3:::*",)


def test_public_grants_names_the_public_groups_only() -> None:
    grants = [
        {"Grantee": {"Type": "CanonicalUser", "ID": "owner"}, "Permission": "FULL_CONTROL"},
        {
            "Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
            "Permission": "READ",
        },
        {
            "Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"},
            "Permission": "WRITE",
        },
        {
            "Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/s3/LogDelivery"},
            "Permission": "WRITE",
        },
    ]
    assert bucket.public_grants(grants) == ["AllUsers READ", "AuthenticatedUsers WRITE"]
    assert bucket.public_grants(None) == []


def test_capture_records_the_public_access_block_and_the_acl(world: Any) -> None:
    """The configured trail's bucket has no block: recorded as absent; its ACL grants the owner only."""
    doc = world.baselines.get("bucket", world.BUCKET)
    assert doc is not None
    assert doc["PublicAccessBlock"] is None
    assert [g["Permission"] for g in doc["Grants"]] == ["FULL_CONTROL"] and doc["Owner"]["ID"]
