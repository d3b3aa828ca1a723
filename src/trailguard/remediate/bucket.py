"""Trail bucket actions: put back the lifecycle rules and policy a trail's log bucket had, or re-create a
deleted bucket, and prove it by reading the configuration back.

What "back" means comes from the recorded baseline (``ctx.baselines.get("bucket", name)``). Guessing is
worse than escalating: without a baseline, a lifecycle or a replaced policy is reported for a person to
fix, and only changes that cannot remove anything are made (a bucket with no policy at all gets the
standard CloudTrail delivery policy; a deleted bucket is re-created with it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from trailguard.aws import error_code
from trailguard.remediate.base import (
    Context,
    Gone,
    Outcome,
    RepairRequest,
    action,
    action_region,
    policy_json,
    read_baseline,
    target,
    verify_until,
)
from trailguard.resources.bucket import KIND

NO_BASELINE = "no baseline recorded for bucket {bucket}; run trailguard baseline record"
_MISSING = object()


def _bucket(request: RepairRequest) -> str | None:
    return target(request, "bucketName", "BucketName")


def _no_baseline(outcome: Outcome, bucket: str) -> str:
    if outcome.errors:  # the state table could not be read: say that, not "never recorded"
        return f"the baseline of bucket {bucket} could not be read"
    return NO_BASELINE.format(bucket=bucket)


def _field(baseline: Mapping[str, Any] | None, name: str) -> Any:
    """The baseline's ``name`` (``None`` is a value: "there was none"); ``_MISSING`` when not recorded."""
    if baseline is None or name not in baseline:
        return _MISSING
    return baseline[name]


def _lifecycle_rules(value: Any) -> list[Any] | None:
    """Lifecycle rules, whether recorded as the rule list or as the whole configuration."""
    if isinstance(value, Mapping):
        rules = value.get("Rules")
        return list(rules) if isinstance(rules, list) and rules else None
    if isinstance(value, list):
        return list(value) or None
    return None


def _region(ctx: Context, request: RepairRequest, baseline: Mapping[str, Any] | None) -> str:
    recorded = _field(baseline, "Region")
    return action_region(ctx, request, recorded=recorded if isinstance(recorded, str) else None)


def _read_policy(outcome: Outcome, bucket: str, region: str) -> Any:
    """The bucket's policy as parsed JSON, ``None`` when it has none (raises for anything else)."""
    try:
        response = outcome.call("s3", region, "GetBucketPolicy", gone=KIND, Bucket=bucket)
    except Exception as exc:
        if error_code(exc) == "NoSuchBucketPolicy":
            outcome.calls[-1].error, outcome.calls[-1].result = None, "no policy"
            return None
        raise
    outcome.calls[-1].result = "policy present"
    return json.loads(response["Policy"])


def _read_lifecycle(outcome: Outcome, bucket: str, region: str) -> list[Any] | None:
    try:
        response = outcome.call("s3", region, "GetBucketLifecycleConfiguration", Bucket=bucket)
    except Exception as exc:
        if error_code(exc) == "NoSuchLifecycleConfiguration":
            outcome.calls[-1].error, outcome.calls[-1].result = None, "no lifecycle configuration"
            return None
        raise
    rules = _lifecycle_rules(response)
    outcome.calls[-1].result = f"{len(rules or [])} rule(s)"
    return rules


def _verify(ctx: Context, read: Callable[[], Any], expected: Any) -> bool:
    """Read back until the value equals ``expected`` (a few short tries: S3 is eventually consistent)."""
    return verify_until(ctx, lambda: read() == expected)


# -- lifecycle ----------------------------------------------------------------------------------------


@action(
    "bucket.restore_lifecycle",
    permissions=("s3:PutLifecycleConfiguration", "s3:GetLifecycleConfiguration"),
    restores=KIND,
)
def restore_lifecycle(ctx: Context, request: RepairRequest) -> Outcome:
    """``bucket.lifecycle-expire``: put the baseline lifecycle back (delete it if there was none),
    verified by GetBucketLifecycleConfiguration. No baseline: escalate, never guess which rules to drop."""
    bucket = _bucket(request)
    outcome = Outcome("bucket.restore_lifecycle", bucket)
    if bucket is None:
        return outcome.fail("could not tell which bucket's lifecycle was changed, so nothing was restored")
    baseline = read_baseline(ctx, outcome, "bucket", bucket)
    recorded = _field(baseline, "Lifecycle")
    if recorded is _MISSING:
        message = _no_baseline(outcome, bucket)
        return outcome.fail(
            f"{message}. The new lifecycle rules were left in place: check them by hand "
            "(aws s3api get-bucket-lifecycle-configuration) before they expire the trail's logs",
            message,
        )
    expected = _lifecycle_rules(recorded)
    region = _region(ctx, request, baseline)
    what = f"{len(expected)} baseline rule(s)" if expected else "no lifecycle configuration (the baseline)"
    try:
        if _read_lifecycle(outcome, bucket, region) == expected:
            return outcome.unchanged(f"bucket {bucket} already has {what}; nothing changed")
        if expected is None:
            outcome.call("s3", region, "DeleteBucketLifecycle", Bucket=bucket)
        else:
            outcome.call(
                "s3",
                region,
                "PutBucketLifecycleConfiguration",
                Bucket=bucket,
                LifecycleConfiguration={"Rules": expected},
            )
        verified = _verify(ctx, lambda: _read_lifecycle(outcome, bucket, region), expected)
    except Exception as exc:
        error = outcome.last_error(exc)
        return outcome.fail(f"could not restore the lifecycle of bucket {bucket}: {error}", error)
    if not verified:
        return outcome.fail(
            f"restored the lifecycle of bucket {bucket} but GetBucketLifecycleConfiguration does not show "
            f"{what}",
        )
    done = "removed the lifecycle configuration" if expected is None else f"restored {what}"
    return outcome.repaired(
        f"{done} on bucket {bucket} and verified it with GetBucketLifecycleConfiguration; "
        "log objects already expired by the attacker's rule (if any ran) are not recoverable"
    )


# -- policy -------------------------------------------------------------------------------------------


def cloudtrail_policy(bucket: str, trails: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The bucket policy CloudTrail documents for delivery, limited to the trails that write here."""
    arns = sorted(str(t["TrailARN"]) for t in trails if t.get("TrailARN"))
    partition = arns[0].split(":")[1] if arns else "aws"
    base = f"arn:{partition}:s3:::{bucket}"
    resources = set()
    for trail in trails:
        arn = str(trail.get("TrailARN") or "")
        account = arn.split(":")[4] if arn.count(":") >= 5 else "*"
        prefix = str(trail.get("S3KeyPrefix") or "").strip("/")
        resources.add(f"{base}/{prefix + '/' if prefix else ''}AWSLogs/{account}/*")
    source: dict[str, Any] = {"aws:SourceArn": arns} if arns else {}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AWSCloudTrailAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": base,
                **({"Condition": {"StringEquals": source}} if source else {}),
            },
            {
                "Sid": "AWSCloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": sorted(resources) or f"{base}/AWSLogs/*",
                "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **source}},
            },
        ],
    }


def _trails_using(ctx: Context, bucket: str) -> list[Mapping[str, Any]]:
    return [t for t in ctx.live.trails if t.get("S3BucketName") == bucket]


def _put_policy(outcome: Outcome, bucket: str, region: str, policy: Any) -> None:
    if policy is None:
        outcome.call("s3", region, "DeleteBucketPolicy", Bucket=bucket)
    else:
        outcome.call("s3", region, "PutBucketPolicy", Bucket=bucket, Policy=json.dumps(policy))


@action(
    "bucket.restore_policy",
    permissions=("s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:GetBucketPolicy"),
    restores=KIND,
)
def restore_policy(ctx: Context, request: RepairRequest) -> Outcome:
    """``bucket.policy-change``: the baseline policy back (deleted if there was none), verified by
    GetBucketPolicy compared as parsed JSON. Without a baseline, a bucket left with no policy gets
    CloudTrail's delivery policy (it removes nothing); a replaced policy is escalated."""
    bucket = _bucket(request)
    outcome = Outcome("bucket.restore_policy", bucket)
    if bucket is None:
        return outcome.fail("could not tell which bucket's policy was changed, so nothing was restored")
    baseline = read_baseline(ctx, outcome, "bucket", bucket)
    recorded = _field(baseline, "Policy")
    region = _region(ctx, request, baseline)
    try:
        current = _read_policy(outcome, bucket, region)
        if recorded is _MISSING:
            if current is not None:
                message = _no_baseline(outcome, bucket)
                return outcome.fail(
                    f"{message}. The bucket's current policy was left in place: check who it lets in "
                    "(aws s3api get-bucket-policy) and put the right one back",
                    message,
                )
            expected: Any = cloudtrail_policy(bucket, _trails_using(ctx, bucket))
            what = "CloudTrail's standard delivery policy (no baseline was recorded)"
        else:
            expected = policy_json(recorded, strict=True)
            what = "the baseline policy" if expected is not None else "no policy (the baseline)"
            if current == expected:
                return outcome.unchanged(f"bucket {bucket} already has {what}; nothing changed")
        _put_policy(outcome, bucket, region, expected)
        verified = _verify(ctx, lambda: _read_policy(outcome, bucket, region), expected)
    except Exception as exc:
        error = outcome.last_error(exc)
        outcome.gone = isinstance(exc, Gone)
        return outcome.fail(f"could not restore the policy of bucket {bucket}: {error}", error)
    if not verified:
        return outcome.fail(f"put {what} on bucket {bucket} but GetBucketPolicy does not return it")
    done = "removed the policy from" if expected is None else f"restored {what} on"
    return outcome.repaired(f"{done} bucket {bucket} and verified it with GetBucketPolicy")


# -- deleted bucket -----------------------------------------------------------------------------------


def _exists(outcome: Outcome, bucket: str, region: str) -> tuple[bool, Any]:
    """(exists, its policy) read with GetBucketPolicy, which tells a missing bucket from a bare one."""
    try:
        return True, _read_policy(outcome, bucket, region)
    except Gone:
        outcome.calls[-1].error, outcome.calls[-1].result = None, "bucket does not exist"
        return False, None


def _create(outcome: Outcome, bucket: str, region: str) -> None:
    params: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        params["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        outcome.call("s3", region, "CreateBucket", **params)
    except Exception as exc:
        if error_code(exc) != "BucketAlreadyOwnedByYou":
            raise
        outcome.calls[-1].error, outcome.calls[-1].result = None, "already owned by this account"


def _configure(outcome: Outcome, bucket: str, region: str, baseline: Mapping[str, Any] | None) -> list[str]:
    """Apply what the baseline records besides the policy; returns what was applied."""
    applied: list[str] = []
    block = _field(baseline, "PublicAccessBlock")
    if block is _MISSING or not isinstance(block, Mapping):
        block = dict.fromkeys(
            ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
        )
    outcome.call(
        "s3", region, "PutPublicAccessBlock", Bucket=bucket, PublicAccessBlockConfiguration=dict(block)
    )
    applied.append("public access block")
    encryption = _field(baseline, "Encryption")
    if isinstance(encryption, Mapping) and encryption.get("Rules"):
        outcome.call(
            "s3",
            region,
            "PutBucketEncryption",
            Bucket=bucket,
            ServerSideEncryptionConfiguration={"Rules": list(encryption["Rules"])},
        )
        applied.append("encryption")
    versioning = _field(baseline, "Versioning")
    status = versioning.get("Status") if isinstance(versioning, Mapping) else versioning
    if status == "Enabled":
        outcome.call(
            "s3", region, "PutBucketVersioning", Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
        )
        applied.append("versioning")
    rules = _lifecycle_rules(_field(baseline, "Lifecycle"))
    if rules:
        outcome.call(
            "s3",
            region,
            "PutBucketLifecycleConfiguration",
            Bucket=bucket,
            LifecycleConfiguration={"Rules": rules},
        )
        applied.append("lifecycle")
    return applied


def _delivery_note(ctx: Context, outcome: Outcome, trails: Sequence[Mapping[str, Any]]) -> str:
    """What GetTrailStatus says now; delivery itself can only be seen after the next log file."""
    errors = []
    for trail in trails:
        name = str(trail.get("TrailARN") or trail.get("Name"))
        try:
            status = outcome.call("cloudtrail", ctx.live.home_region(trail), "GetTrailStatus", Name=name)
        except Exception:
            outcome.errors.append(f"GetTrailStatus on {name}: {outcome.calls[-1].error}")
            continue
        error = status.get("LatestDeliveryError")
        outcome.calls[-1].result = f"LatestDeliveryError {error or 'none'}"
        if error:
            errors.append(f"{trail.get('Name') or name}: {error}")
    note = "delivery will be confirmed by the next sweep (GetTrailStatus.LatestDeliveryError)"
    return f"{note}; the last delivery error was {'; '.join(errors)}" if errors else note


@action(
    "bucket.recreate",
    permissions=(
        "s3:CreateBucket",
        "s3:GetBucketPolicy",
        "s3:PutBucketPolicy",
        "s3:PutBucketPublicAccessBlock",
        "s3:PutEncryptionConfiguration",
        "s3:PutBucketVersioning",
        "s3:PutLifecycleConfiguration",
        "cloudtrail:GetTrailStatus",
    ),
    restores=KIND,
)
def recreate(ctx: Context, request: RepairRequest) -> Outcome:
    """``bucket.delete``: re-create the bucket in its region with the baseline policy, public access
    block, encryption, versioning and lifecycle, verified by GetBucketPolicy. Logs delivered while the
    bucket was gone are lost whatever happens next, and the message says so."""
    bucket = _bucket(request)
    outcome = Outcome("bucket.recreate", bucket)
    if bucket is None:
        return outcome.fail("could not tell which bucket was deleted, so none was re-created")
    baseline = read_baseline(ctx, outcome, "bucket", bucket)
    region = _region(ctx, request, baseline)
    trails = _trails_using(ctx, bucket)
    recorded = _field(baseline, "Policy")
    if recorded is _MISSING or policy_json(recorded, strict=True) is None:
        expected: Any = cloudtrail_policy(bucket, trails)
        what = "CloudTrail's standard delivery policy (" + (
            "no baseline was recorded)" if baseline is None else "the baseline had no policy)"
        )
    else:
        expected, what = policy_json(recorded, strict=True), "its baseline policy"
    lost = (
        f"logs CloudTrail delivered to bucket {bucket} before it was deleted, and any it tried to deliver "
        "while it was gone, are lost"
    )
    try:
        exists, current = _exists(outcome, bucket, region)
        if exists and current == expected:
            return outcome.unchanged(
                f"bucket {bucket} already exists again with {what}; nothing changed; {lost}"
            )
        applied: list[str] = []
        if not exists:
            _create(outcome, bucket, region)
            applied = _configure(outcome, bucket, region, baseline)
        _put_policy(outcome, bucket, region, expected)
        verified = _verify(ctx, lambda: _exists(outcome, bucket, region), (True, expected))
    except Exception as exc:
        error = outcome.last_error(exc)
        hint = ""
        if error_code(exc) == "BucketAlreadyExists":
            hint = "; another account now owns the name: point the trail at a new bucket"
        return outcome.fail(f"could not re-create bucket {bucket}: {error}{hint}; {lost}", error)
    if not verified:
        return outcome.fail(f"re-created bucket {bucket} but GetBucketPolicy does not return {what}; {lost}")
    done = f"re-created bucket {bucket} in {region}" if not exists else f"bucket {bucket} existed again"
    extras = f" and {', '.join(applied)}" if applied else ""
    return outcome.repaired(
        f"{done} with {what}{extras}, verified with GetBucketPolicy; {lost}; "
        f"{_delivery_note(ctx, outcome, trails)}"
    )
