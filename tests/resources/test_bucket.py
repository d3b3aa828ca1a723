"""S3 buckets: names, locations and the "absent" answers of each read."""

from __future__ import annotations

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
