"""The artifact bucket deploy uploads the Lambda zip to: private, encrypted, versioned, one per account
and region, with the zip stored under its content hash so an unchanged build uploads nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trailguard import aws
from trailguard.deploy.errors import DeployError, InputError, call, explain
from trailguard.deploy.package import Package

HARDENING_UNSUPPORTED = frozenset({"NotImplemented", "501"})


def artifact_bucket_name(account: str, region: str) -> str:
    return f"trailguard-artifacts-{account}-{region}"


DEFAULT_PREFIX = "trailguard"


def _under(prefix: str, name: str) -> str:
    """The S3 key of ``name`` under ``prefix`` (``--s3-prefix``; empty: at the bucket's top)."""
    prefix = prefix.strip("/")
    return f"{prefix}/{name}" if prefix else name


def code_key(pkg: Package, prefix: str = DEFAULT_PREFIX) -> str:
    """The zip's S3 key under ``prefix``: its content hash, so a new build never overwrites what a stack
    runs."""
    return _under(prefix, f"lambda-{pkg.code_sha256}.zip")


def check_bucket(s3: Any, name: str) -> None:
    """A bucket the caller named (``--s3-bucket``) must exist and be usable: deploy never creates it."""
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=name)
    except ClientError as exc:
        code = aws.error_code(exc)
        if code in {"404", "NoSuchBucket", "NotFound"}:
            raise InputError(
                f"--s3-bucket {name} does not exist; create it in the stack's region first "
                f"(aws s3 mb s3://{name}) or leave --s3-bucket out to use trailguard's artifact bucket"
            ) from exc
        raise explain(exc, f"checking --s3-bucket {name}") from exc


def ensure_artifact_bucket(s3: Any, name: str, region: str, progress: Callable[[str], object]) -> None:
    """Create the private, encrypted, versioned artifact bucket unless it is already ours."""
    from botocore.exceptions import ClientError  # only once AWS is called: never at import

    try:
        s3.head_bucket(Bucket=name)
        return
    except ClientError as exc:
        code = aws.error_code(exc)
        if code in {"403", "AccessDenied", "Forbidden"}:
            raise DeployError(
                f"bucket {name} exists but this account cannot use it; delete it or deploy to another "
                "region/account"
            ) from exc
        if code not in {"404", "NoSuchBucket", "NotFound"}:
            raise explain(exc, f"checking artifact bucket {name}") from exc
    progress(f"creating artifact bucket {name}")
    kwargs: dict[str, Any] = {"Bucket": name}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    call(f"creating bucket {name}", s3.create_bucket, **kwargs)
    hardening: list[tuple[str, Callable[..., Any], dict[str, Any]]] = [
        (
            "blocking public access",
            s3.put_public_access_block,
            {
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                }
            },
        ),
        (
            "enabling default encryption",
            s3.put_bucket_encryption,
            {
                "ServerSideEncryptionConfiguration": {
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                }
            },
        ),
        (
            "enabling versioning",
            s3.put_bucket_versioning,
            {"VersioningConfiguration": {"Status": "Enabled"}},
        ),
    ]
    for doing, fn, extra in hardening:
        try:
            fn(Bucket=name, **extra)
        except ClientError as exc:
            # An emulator may not implement every bucket setting; AWS does, so report, don't stop.
            if aws.error_code(exc) in HARDENING_UNSUPPORTED:
                progress(f"warning: {doing} on {name} is not supported by this endpoint")
                continue
            raise explain(exc, f"{doing} on {name}") from exc


def upload_code(
    s3: Any, bucket: str, pkg: Package, progress: Callable[[str], object], prefix: str = DEFAULT_PREFIX
) -> str:
    """Upload the zip under its content hash (skipped when that key is already there)."""
    from botocore.exceptions import ClientError

    key = code_key(pkg, prefix)
    try:
        s3.head_object(Bucket=bucket, Key=key)
        progress(f"code s3://{bucket}/{key} already uploaded")
        return key
    except ClientError as exc:
        if aws.error_code(exc) not in {"404", "NoSuchKey", "NotFound"}:
            raise explain(exc, f"checking s3://{bucket}/{key}") from exc
    progress(f"uploading code to s3://{bucket}/{key}")
    call(
        f"uploading s3://{bucket}/{key}",
        s3.put_object,
        Bucket=bucket,
        Key=key,
        Body=pkg.zip_path.read_bytes(),
        ServerSideEncryption="AES256",
    )
    return key


def upload_template(
    s3: Any, bucket: str, body: str, *, prefix: str, region: str, progress: Callable[[str], object]
) -> str:
    """Upload a template too large to send inline (over 51,200 bytes) under its content hash; its URL."""
    import hashlib

    digest = hashlib.sha256(body.encode()).hexdigest()
    key = _under(prefix, f"template-{digest}.yaml")
    progress(f"uploading the template to s3://{bucket}/{key} (too large to send inline)")
    call(
        f"uploading s3://{bucket}/{key}",
        s3.put_object,
        Bucket=bucket,
        Key=key,
        Body=body.encode(),
        ServerSideEncryption="AES256",
    )
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://{bucket}.s3.{region}.{suffix}/{key}"
