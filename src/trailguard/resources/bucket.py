"""S3 buckets (a trail's log bucket): ids are bucket names; a bucket's region is its location."""

from __future__ import annotations

from typing import Any

from trailguard.aws import error_code
from trailguard.resources.base import Clients, IamScope, Kind, jsonable, meta

# Error codes that mean "this configuration is absent" (recorded as None), per S3 read.
ABSENT = {
    "GetBucketPolicy": frozenset({"NoSuchBucketPolicy"}),
    "GetBucketLifecycleConfiguration": frozenset({"NoSuchLifecycleConfiguration"}),
    "GetBucketEncryption": frozenset({"ServerSideEncryptionConfigurationNotFoundError"}),
    "GetPublicAccessBlock": frozenset({"NoSuchPublicAccessBlockConfiguration"}),
}
_METHODS = {
    "GetBucketPolicy": "get_bucket_policy",
    "GetBucketLifecycleConfiguration": "get_bucket_lifecycle_configuration",
    "GetBucketEncryption": "get_bucket_encryption",
    "GetPublicAccessBlock": "get_public_access_block",
}
PUBLIC_GROUPS = {
    "http://acs.amazonaws.com/groups/global/AllUsers": "AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers": "AuthenticatedUsers",
}
"""ACL grantees that make a bucket public: anyone, or anyone with an AWS account."""
BLOCK_FIELDS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def name_of(ref: str) -> str:
    """``b`` of ``b`` or ``arn:aws:s3:::b`` (or ``arn:aws:s3:::b/key``)."""
    if ref.startswith("arn:") and ":s3:::" in ref:
        return ref.split(":s3:::", 1)[1].split("/", 1)[0]
    return ref


def region_of_location(location: str | None) -> str:
    """GetBucketLocation's ``LocationConstraint`` as a region (None and "" are us-east-1, EU eu-west-1)."""
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location) or "us-east-1"


def public_grants(grants: Any) -> list[str]:
    """``AllUsers READ``-style descriptions of the grants in an ACL that open the bucket to the public."""
    found: list[str] = []
    for grant in grants if isinstance(grants, list) else []:
        grantee = grant.get("Grantee") if isinstance(grant, dict) else None
        uri = grantee.get("URI") if isinstance(grantee, dict) else None
        if uri in PUBLIC_GROUPS:
            found.append(f"{PUBLIC_GROUPS[uri]} {grant.get('Permission')}")
    return found


def _read(s3: Any, operation: str, bucket: str) -> dict[str, Any] | None:
    try:
        result: dict[str, Any] = getattr(s3, _METHODS[operation])(Bucket=bucket)
    except Exception as exc:
        if error_code(exc) in ABSENT.get(operation, frozenset()):
            return None
        raise
    return result


def capture(name: str, clients: Clients, source: str) -> dict[str, Any]:
    """The trail bucket's policy, lifecycle, versioning, encryption, public access block and ACL grants
    (None: not configured)."""
    s3 = clients("s3")
    region = region_of_location(s3.get_bucket_location(Bucket=name).get("LocationConstraint"))
    policy = _read(s3, "GetBucketPolicy", name)
    lifecycle = _read(s3, "GetBucketLifecycleConfiguration", name)
    versioning = s3.get_bucket_versioning(Bucket=name)
    encryption = _read(s3, "GetBucketEncryption", name)
    block = _read(s3, "GetPublicAccessBlock", name)
    acl = s3.get_bucket_acl(Bucket=name)
    return {
        "Name": name,
        "Region": region,
        "Policy": policy.get("Policy") if policy else None,
        "Lifecycle": jsonable(lifecycle.get("Rules")) if lifecycle else None,
        "Versioning": {k: versioning[k] for k in ("Status", "MFADelete") if k in versioning},
        "Encryption": (jsonable(encryption.get("ServerSideEncryptionConfiguration")) if encryption else None),
        "PublicAccessBlock": (
            {k: bool(v) for k, v in block["PublicAccessBlockConfiguration"].items() if k in BLOCK_FIELDS}
            if block
            else None
        ),
        "Grants": jsonable(acl.get("Grants") or []),
        "Owner": jsonable(acl.get("Owner")),
        "_meta": meta(source),
    }


KIND = Kind(
    name="bucket",
    noun="bucket",
    sweep_order=50,
    securityhub_type="AwsS3Bucket",
    ident=name_of,
    gone_codes=frozenset({"NoSuchBucket"}),
    summary_fields=("Region", "Versioning", "Encryption", "PublicAccessBlock", "Lifecycle", "Policy"),
    iam_actions=("s3:*",),
    iam_reason="The protected trails' log buckets and their objects (ProtectedBuckets).",
    iam_resources=("arn:${AWS::Partition}:s3:::*",),
    iam_scope=IamScope(
        parameter="ProtectedBuckets",
        condition="HasProtectedBuckets",
        fallback="any bucket (not deployed by `trailguard deploy`, or no protected trail: the log buckets "
        "are unknown, and bucket ARNs carry no account to narrow by).",
        objects=True,
    ),
    capture=capture,
    baseline_order=2,
)
