"""``deploy.parameters``: the template's parameters read from its text, and ``role_scope``, the parameters
that narrow the role to what the deploy protects."""

from __future__ import annotations

from trailguard.deploy.package import template_source
from trailguard.deploy.parameters import partition_of, role_scope, template_parameters

HOME = "arn:aws:cloudtrail:us-east-1:123456789012:trail/org"
ROLE = "arn:aws:iam::123456789012:role/trail-to-logs"


def _trail(arn: str, bucket: str, role: str | None = None) -> dict[str, str]:
    trail = {"TrailARN": arn, "Name": arn.rsplit("/", 1)[-1], "S3BucketName": bucket}
    if role:
        trail["CloudWatchLogsRoleArn"] = role
    return trail


def test_named_trails_their_buckets_and_roles_once_each() -> None:
    # a multi-region trail is listed once per region (its shadow trails carry the same ARN)
    trails = [
        _trail(HOME, "org-logs", ROLE),
        _trail(HOME, "org-logs", ROLE),
        _trail(HOME[:-3] + "b", "b-logs"),
    ]
    assert role_scope(trails, named=True) == {
        "ProtectedTrailArns": f"{HOME[:-3]}b,{HOME}",
        "ProtectedBuckets": "arn:aws:s3:::b-logs,arn:aws:s3:::org-logs",
        "TrailLogsRoleArns": ROLE,
    }


def test_every_trail_protected_leaves_the_trails_unnamed() -> None:
    scope = role_scope([_trail(HOME, "org-logs")], named=False)
    assert scope == {
        "ProtectedTrailArns": "",
        "ProtectedBuckets": "arn:aws:s3:::org-logs",
        "TrailLogsRoleArns": "",
    }


def test_no_trail_names_nothing_so_the_template_falls_back() -> None:
    assert role_scope([], named=True) == {
        "ProtectedTrailArns": "",
        "ProtectedBuckets": "",
        "TrailLogsRoleArns": "",
    }


def test_bucket_arns_are_in_the_deployers_partition() -> None:
    assert partition_of("arn:aws-us-gov:sts::123456789012:assumed-role/r/s") == "aws-us-gov"
    assert partition_of("") == "aws"
    scope = role_scope([_trail(HOME, "org-logs")], named=False, partition="aws-cn")
    assert scope["ProtectedBuckets"] == "arn:aws-cn:s3:::org-logs"


def test_the_template_s_parameters_are_read_from_its_text() -> None:
    names = template_parameters(template_source().read_text())
    assert {"SecurityContactEmail", "AllowedPrincipalArns", "CodeS3Bucket", "CodeS3Key"} <= set(names)
    text = (
        "Parameters:\n  A:\n    Type: String  # Default: x\n# a comment: at the margin\n  B: # why\n"
        "    Type: String\nResources:\n  C:\n    Type: AWS::SNS::Topic\n"
    )
    assert template_parameters(text) == ["A", "B"]
