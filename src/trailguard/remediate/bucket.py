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
    delivery_errors,
    policy_json,
    read_baseline,
    read_until,
    squash,
    target,
    verify_until,
)
from trailguard.resources.base import jsonable
from trailguard.resources.bucket import BLOCK_FIELDS, KIND, public_grants

NO_BASELINE = "no baseline recorded for bucket {bucket}; run trailguard baseline record"
_MISSING = object()


def _bucket(request: RepairRequest) -> str | None:
    return target(request, "bucketName", "BucketName")


def _no_baseline(outcome: Outcome, bucket: str, left: str) -> Outcome:
    """Fail without a baseline: ``left`` says what was left in place and how to check it by hand."""
    if outcome.errors:  # the state table could not be read: say that, not "never recorded"
        message = f"the baseline of bucket {bucket} could not be read"
    else:
        message = NO_BASELINE.format(bucket=bucket)
    return outcome.fail(f"{message}. {left}", message)


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


_ABSENT = {
    "GetBucketPolicy": ("NoSuchBucketPolicy", "no policy"),
    "GetBucketLifecycleConfiguration": ("NoSuchLifecycleConfiguration", "no lifecycle configuration"),
    "GetPublicAccessBlock": ("NoSuchPublicAccessBlockConfiguration", "no public access block"),
    "GetBucketEncryption": ("ServerSideEncryptionConfigurationNotFoundError", "no default encryption"),
}
"""Read operation -> (the error code that means the bucket has none of that setting, what the call shows)."""


def _read_optional(outcome: Outcome, bucket: str, region: str, operation: str) -> Mapping[str, Any] | None:
    """One read of a bucket setting (:data:`_ABSENT`); None when the bucket has none (the call is recorded
    as such, not as failed). A deleted bucket raises :class:`Gone`, anything else is raised as it is."""
    absent, result = _ABSENT[operation]
    try:
        found: Mapping[str, Any] = outcome.call("s3", region, operation, gone=KIND, Bucket=bucket)
    except Exception as exc:
        if error_code(exc) == absent:
            outcome.calls[-1].error, outcome.calls[-1].result = None, result
            return None
        raise
    return found


def _read_policy(outcome: Outcome, bucket: str, region: str) -> Any:
    """The bucket's policy as parsed JSON, ``None`` when it has none (raises for anything else)."""
    response = _read_optional(outcome, bucket, region, "GetBucketPolicy")
    if response is None:
        return None
    outcome.calls[-1].result = "policy present"
    return json.loads(response["Policy"])


def _read_lifecycle(outcome: Outcome, bucket: str, region: str) -> list[Any] | None:
    response = _read_optional(outcome, bucket, region, "GetBucketLifecycleConfiguration")
    if response is None:
        return None
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
    found = _guarded(ctx, request, "bucket.restore_lifecycle", "lifecycle")
    if isinstance(found, Outcome):
        return found
    outcome, bucket, baseline, region = found
    recorded = _field(baseline, "Lifecycle")
    if recorded is _MISSING:
        return _no_baseline(
            outcome,
            bucket,
            "The new lifecycle rules were left in place: check them by hand "
            "(aws s3api get-bucket-lifecycle-configuration) before they expire the trail's logs",
        )
    expected = _lifecycle_rules(recorded)
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
        return _failed(outcome, exc, f"the lifecycle of bucket {bucket}")
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
    found = _guarded(ctx, request, "bucket.restore_policy", "policy")
    if isinstance(found, Outcome):
        return found
    outcome, bucket, baseline, region = found
    recorded = _field(baseline, "Policy")
    try:
        current = _read_policy(outcome, bucket, region)
        if recorded is _MISSING:
            if current is not None:
                return _no_baseline(
                    outcome,
                    bucket,
                    "The bucket's current policy was left in place: check who it lets in "
                    "(aws s3api get-bucket-policy) and put the right one back",
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
        return _failed(outcome, exc, f"the policy of bucket {bucket}")
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
    errors = delivery_errors(ctx, outcome, trails, "LatestDeliveryError")
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
    found = _guarded(
        ctx,
        request,
        "bucket.recreate",
        unnamed="could not tell which bucket was deleted, so none was re-created",
    )
    if isinstance(found, Outcome):
        return found
    outcome, bucket, baseline, region = found
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


# -- the floor: trailguard only configures recorded log buckets ---------------------------------------


def floor(ctx: Context, bucket: str, baseline: Mapping[str, Any] | None) -> str | None:
    """Why trailguard must not change ``bucket`` (None: it is a recorded log bucket, or the bucket of a
    protected trail as recorded). Checked before every call that changes a bucket's configuration or
    objects, whatever the request says."""
    if baseline is not None or ctx.live.inventory.trails_for_bucket(bucket):
        return None
    return (
        f"bucket {bucket} is neither recorded in a baseline nor the log bucket of a protected trail, so "
        "trailguard leaves it alone"
    )


def _guarded(
    ctx: Context, request: RepairRequest, name: str, what: str = "", *, unnamed: str | None = None
) -> tuple[Outcome, str, Mapping[str, Any] | None, str] | Outcome:
    """(outcome, bucket, baseline, region) for an action on a log bucket, or the failed outcome when the
    bucket is not named (``unnamed`` says so, else "which bucket's ``what``") or the floor refuses it.
    The baseline is the sweep's (the request's) or, for an event, the state table's."""
    bucket = _bucket(request)
    outcome = Outcome(name, bucket)
    if bucket is None:
        return outcome.fail(
            unnamed or f"could not tell which bucket's {what} was changed, so nothing was restored"
        )
    baseline = (
        request.baseline if request.baseline is not None else read_baseline(ctx, outcome, "bucket", bucket)
    )
    refused = floor(ctx, bucket, baseline)
    if refused:
        return outcome.fail(refused, "not a recorded log bucket")
    return outcome, bucket, baseline, _region(ctx, request, baseline)


def _failed(outcome: Outcome, exc: BaseException, what: str) -> Outcome:
    error = outcome.last_error(exc)
    outcome.gone = isinstance(exc, Gone)
    return outcome.fail(f"could not restore {what}: {error}", error)


# -- versioning ---------------------------------------------------------------------------------------


def _read_versioning(outcome: Outcome, bucket: str, region: str) -> str | None:
    status = outcome.call("s3", region, "GetBucketVersioning", gone=KIND, Bucket=bucket).get("Status")
    outcome.calls[-1].result = f"Status {status or 'never enabled'}"
    return str(status) if status else None


@action(
    "bucket.enable_versioning",
    permissions=("s3:GetBucketVersioning", "s3:PutBucketVersioning"),
    restores=KIND,
    manual_steps="Enable versioning on the trail bucket {resource} again (aws s3api put-bucket-versioning "
    "--bucket {resource} --versioning-configuration Status=Enabled).",
)
def enable_versioning(ctx: Context, request: RepairRequest) -> Outcome:
    """``bucket.versioning-suspend``: PutBucketVersioning Enabled, verified by GetBucketVersioning. Only
    when the baseline had it enabled, or without a baseline (enabling removes nothing); a bucket recorded
    without versioning is left as recorded."""
    found = _guarded(ctx, request, "bucket.enable_versioning", "versioning")
    if isinstance(found, Outcome):
        return found
    outcome, bucket, baseline, region = found
    recorded = _field(baseline, "Versioning")
    wanted = (
        recorded.get("Status")
        if isinstance(recorded, Mapping)
        else None
        if recorded is not _MISSING
        else "Enabled"
    )
    label = f"the versioning of bucket {bucket}"
    try:
        current = _read_versioning(outcome, bucket, region)
        if wanted != "Enabled" or current == "Enabled":
            return outcome.finish(label, [], [], "")
        outcome.call(
            "s3", region, "PutBucketVersioning", Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
        )
        status = read_until(ctx, lambda: _read_versioning(outcome, bucket, region), lambda s: s == "Enabled")
    except Exception as exc:
        return _failed(outcome, exc, label)
    note = "" if recorded is not _MISSING else " (no baseline was recorded; enabling removes nothing)"
    return outcome.finish(
        label,
        [
            f"enabled versioning on bucket {bucket} again (it was {current}){note}; log files deleted or "
            "overwritten while it was suspended have no earlier version to recover"
        ],
        [] if status == "Enabled" else [f"GetBucketVersioning reports {status}"],
        "GetBucketVersioning reports Status Enabled",
    )


# -- public access block and ACL ----------------------------------------------------------------------


def _read_block(outcome: Outcome, bucket: str, region: str) -> dict[str, bool] | None:
    found = _read_optional(outcome, bucket, region, "GetPublicAccessBlock")
    if found is None:
        return None
    config = found.get("PublicAccessBlockConfiguration") or {}
    block = {k: bool(config.get(k)) for k in BLOCK_FIELDS}
    outcome.calls[-1].result = ", ".join(f"{k} {v}" for k, v in block.items())
    return block


def _read_acl(outcome: Outcome, bucket: str, region: str) -> dict[str, Any]:
    acl: dict[str, Any] = outcome.call("s3", region, "GetBucketAcl", gone=KIND, Bucket=bucket)
    outcome.calls[
        -1
    ].result = (
        f"{len(acl.get('Grants') or [])} grant(s), public: {public_grants(acl.get('Grants')) or 'none'}"
    )
    return acl


def _grant_key(grant: Mapping[str, Any]) -> tuple[str, str]:
    grantee = grant.get("Grantee") or {}
    who = grantee.get("ID") or grantee.get("URI") or grantee.get("EmailAddress") or ""
    return str(who), str(grant.get("Permission"))


def _grantee(grantee: Mapping[str, Any]) -> dict[str, Any]:
    """A grantee as PutBucketAcl takes it (GetBucketAcl adds a DisplayName it does not accept back)."""
    return {k: v for k, v in grantee.items() if k in ("ID", "Type", "URI", "EmailAddress")}


@action(
    "bucket.restore_public_access",
    permissions=(
        "s3:GetBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        "s3:GetBucketAcl",
        "s3:PutBucketAcl",
    ),
    restores=KIND,
    manual_steps="Block public access to the trail bucket {resource} again (aws s3api "
    "put-public-access-block --bucket {resource} --public-access-block-configuration "
    "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true) and "
    "remove AllUsers / AuthenticatedUsers grants from its ACL; check who read the logs meanwhile (S3 "
    "server access logs or data events).",
)
def restore_public_access(ctx: Context, request: RepairRequest) -> Outcome:
    """``bucket.public-access``: PutPublicAccessBlock with the baseline block (all four settings on
    without a baseline: a log bucket is never public), then PutBucketAcl with the baseline grants when
    the live ACL grants the public anything (without a baseline: the live grants less the public ones);
    verified by reading both back. A baseline that itself had no block is left without one."""
    found = _guarded(ctx, request, "bucket.restore_public_access", "public access")
    if isinstance(found, Outcome):
        return found
    outcome, bucket, baseline, region = found
    recorded_block = _field(baseline, "PublicAccessBlock")
    block = dict.fromkeys(BLOCK_FIELDS, True) if recorded_block is _MISSING else recorded_block
    recorded_grants = _field(baseline, "Grants")
    done: list[str] = []
    off: list[str] = []
    try:
        current = _read_block(outcome, bucket, region)
        if isinstance(block, Mapping) and current != {k: bool(block.get(k)) for k in BLOCK_FIELDS}:
            wanted = {k: bool(block.get(k)) for k in BLOCK_FIELDS}
            outcome.call(
                "s3", region, "PutPublicAccessBlock", Bucket=bucket, PublicAccessBlockConfiguration=wanted
            )
            after = read_until(ctx, lambda: _read_block(outcome, bucket, region), lambda b: b == wanted)
            was = "removed" if current is None else ", ".join(k for k, v in current.items() if not v) + " off"
            done.append(f"put the public access block of bucket {bucket} back (it was {was})")
            if after != wanted:
                off.append(f"GetPublicAccessBlock reports {after}")
        acl = _read_acl(outcome, bucket, region)
        public = public_grants(acl.get("Grants"))
        if public:
            if isinstance(recorded_grants, list) and not public_grants(recorded_grants):
                grants = [g for g in recorded_grants if isinstance(g, Mapping)]
            else:
                grants = [g for g in acl.get("Grants") or [] if not public_grants([g])]
            policy = {
                "Grants": [
                    {"Grantee": _grantee(g.get("Grantee") or {}), "Permission": g["Permission"]}
                    for g in grants
                ],
                "Owner": {k: v for k, v in (acl.get("Owner") or {}).items() if k == "ID"},
            }
            outcome.call("s3", region, "PutBucketAcl", Bucket=bucket, AccessControlPolicy=policy)
            after_acl = read_until(
                ctx, lambda: _read_acl(outcome, bucket, region), lambda a: not public_grants(a.get("Grants"))
            )
            done.append(f"removed the public grants from the ACL of bucket {bucket} ({'; '.join(public)})")
            still = public_grants(after_acl.get("Grants"))
            if still:
                off.append(f"GetBucketAcl still grants {'; '.join(still)}")
    except Exception as exc:
        return _failed(outcome, exc, f"the public access settings of bucket {bucket}")
    if done:
        done.append(
            "anyone could read the trail's logs meanwhile: check the bucket's access logs or data events"
        )
    if done and recorded_block is _MISSING and not outcome.errors:
        done.append("no baseline was recorded: every public access setting was turned on")
    return outcome.finish(
        f"the public access settings of bucket {bucket}",
        done,
        off,
        "GetPublicAccessBlock returns the baseline block and GetBucketAcl grants the public nothing",
    )


# -- default encryption -------------------------------------------------------------------------------

SSE_S3 = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


def _read_encryption(outcome: Outcome, bucket: str, region: str) -> Any:
    found = _read_optional(outcome, bucket, region, "GetBucketEncryption")
    if found is None:
        return None
    config = jsonable(found.get("ServerSideEncryptionConfiguration"))
    algorithms = [
        str((r.get("ApplyServerSideEncryptionByDefault") or {}).get("SSEAlgorithm"))
        for r in config.get("Rules") or []
    ]
    outcome.calls[-1].result = f"SSEAlgorithm {', '.join(algorithms) or 'none'}"
    return config


def _same_encryption(live: Any, expected: Any) -> bool:
    return bool(squash(live) == squash(expected))


@action(
    "bucket.restore_encryption",
    permissions=("s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration"),
    restores=KIND,
    manual_steps="Put the default encryption of the trail bucket {resource} back (aws s3api "
    "put-bucket-encryption --bucket {resource} --server-side-encryption-configuration ...).",
)
def restore_encryption(ctx: Context, request: RepairRequest) -> Outcome:
    """``bucket.encryption-change``: PutBucketEncryption with the baseline configuration, verified by
    GetBucketEncryption. Without a baseline, a bucket left with none gets SSE-S3 (it removes nothing);
    a replaced configuration is escalated. A baseline without default encryption is left as recorded."""
    found = _guarded(ctx, request, "bucket.restore_encryption", "default encryption")
    if isinstance(found, Outcome):
        return found
    outcome, bucket, baseline, region = found
    recorded = _field(baseline, "Encryption")
    label = f"the default encryption of bucket {bucket}"
    try:
        current = _read_encryption(outcome, bucket, region)
        if recorded is _MISSING:
            if current is not None:
                return _no_baseline(
                    outcome,
                    bucket,
                    "The bucket's new default encryption was left in place: check it "
                    "(aws s3api get-bucket-encryption)",
                )
            expected: Any = SSE_S3
        elif not isinstance(recorded, Mapping) or not recorded.get("Rules"):
            return outcome.finish(label, [], [], "")
        else:
            expected = {"Rules": list(recorded["Rules"])}
        if _same_encryption(current, expected):
            return outcome.finish(label, [], [], "")
        outcome.call(
            "s3", region, "PutBucketEncryption", Bucket=bucket, ServerSideEncryptionConfiguration=expected
        )
        after = read_until(
            ctx, lambda: _read_encryption(outcome, bucket, region), lambda c: _same_encryption(c, expected)
        )
    except Exception as exc:
        return _failed(outcome, exc, label)
    was = outcome.calls[0].result or "unknown"
    why = " (SSE-S3: no baseline was recorded)" if recorded is _MISSING else ""
    return outcome.finish(
        label,
        [
            f"put the baseline default encryption back on bucket {bucket}{why} (it was: {was}); objects "
            "written meanwhile keep the encryption they were written with"
        ],
        [] if _same_encryption(after, expected) else ["GetBucketEncryption does not return the baseline"],
        "GetBucketEncryption returns the baseline configuration",
    )


# -- deleted log files --------------------------------------------------------------------------------

MAX_PAGES = 10
"""ListObjectVersions pages (1,000 entries each) one repair reads: the sweep checks the newest part
of a large bucket only within this bound, and says when it stopped short."""


def log_prefixes(trails: Sequence[Mapping[str, Any]]) -> list[str]:
    """Where the trails write their log files in the bucket: ``PREFIX/AWSLogs/`` (``AWSLogs/``)."""
    found = set()
    for trail in trails:
        prefix = str(trail.get("S3KeyPrefix") or "").strip("/")
        found.add(f"{prefix}/AWSLogs/" if prefix else "AWSLogs/")
    return sorted(found)


def _markers(outcome: Outcome, bucket: str, region: str, prefix: str) -> tuple[list[dict[str, str]], bool]:
    """(the delete markers that are the latest version of a key under ``prefix``, whether the listing
    was complete within :data:`MAX_PAGES`)."""
    found: list[dict[str, str]] = []
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    for _ in range(MAX_PAGES):
        page = outcome.call("s3", region, "ListObjectVersions", gone=KIND, **params)
        markers = [
            {"Key": str(m["Key"]), "VersionId": str(m["VersionId"])}
            for m in page.get("DeleteMarkers") or []
            if m.get("IsLatest") and str(m.get("Key", "")).startswith(prefix)
        ]
        found.extend(markers)
        outcome.calls[-1].result = f"{len(markers)} latest delete marker(s)"
        if not page.get("IsTruncated"):
            return found, True
        params["KeyMarker"] = page.get("NextKeyMarker")
        params["VersionIdMarker"] = page.get("NextVersionIdMarker")
    return found, False


def _request_keys(request: RepairRequest) -> tuple[list[str], str | None]:
    """(the keys the call deleted, the version id it deleted for good, if any)."""
    record = request.record
    if record is None:
        return [], None
    params = record.request_parameters
    version = params.get("versionId")
    key = params.get("key")
    if isinstance(key, str) and key:
        return [key], str(version) if version else None
    delete = params.get("Delete")
    objects = delete.get("Object") if isinstance(delete, Mapping) else None
    if isinstance(objects, Mapping):
        objects = [objects]
    keys, permanent = [], None
    for obj in objects if isinstance(objects, list) else []:
        if isinstance(obj, Mapping) and obj.get("Key"):
            keys.append(str(obj["Key"]))
            if obj.get("VersionId"):
                permanent = str(obj["VersionId"])
    return keys, permanent


@action(
    "bucket.restore_deleted_logs",
    permissions=("s3:GetBucketVersioning", "s3:ListBucketVersions", "s3:DeleteObjectVersion"),
    restores=KIND,
    manual_steps="List what was deleted from the trail bucket {resource} (aws s3api list-object-versions "
    "--bucket {resource} --prefix AWSLogs/) and restore what versioning kept; log files deleted for good "
    "are lost: the trail's digest files show which are missing, and CloudTrail event history still "
    "holds the last 90 days of management events.",
)
def restore_deleted_logs(ctx: Context, request: RepairRequest) -> Outcome:
    """``bucket.objects-delete``: with versioning on, delete the delete markers that are the latest
    version of the trail's log files, so the files return; verified by listing again. Only markers
    ListObjectVersions lists, only under the trail's log prefix, only on a recorded log bucket: no
    object version is ever removed. A version deleted for good, or a bucket without versioning, cannot
    be undone and is escalated."""
    found = _guarded(ctx, request, "bucket.restore_deleted_logs", "log files")
    if isinstance(found, Outcome):
        return found
    outcome, bucket, _baseline, region = found
    trails = ctx.live.inventory.trails_for_bucket(bucket) or _trails_using(ctx, bucket)
    prefixes = log_prefixes(trails) if trails else ["AWSLogs/"]
    keys, permanent = _request_keys(request)
    logs = [k for k in keys if any(k.startswith(p) for p in prefixes)]
    label = f"the log files of bucket {bucket}"
    off: list[str] = []
    done: list[str] = []
    try:
        status = _read_versioning(outcome, bucket, region)
        if permanent is not None:
            off.append(
                f"version {permanent} of {logs[0] if logs else 'a log file'} was deleted for good: it "
                "cannot be restored"
            )
        if status is None:
            if keys or request.record is not None:
                off.append(f"bucket {bucket} has no versioning, so deleted log files cannot be restored")
            return outcome.finish(label, done, off, "")
        scopes = sorted(set(logs)) if logs else prefixes
        restored: list[str] = []
        complete = True
        for scope in scopes:
            markers, whole = _markers(outcome, bucket, region, scope)
            complete = complete and whole
            for marker in markers:
                if logs and marker["Key"] != scope:
                    continue  # a key that merely starts with the deleted one
                outcome.call(
                    "s3",
                    region,
                    "DeleteObject",
                    Bucket=bucket,
                    Key=marker["Key"],
                    VersionId=marker["VersionId"],
                )
                outcome.calls[-1].result = "delete marker removed"
                restored.append(marker["Key"])
        remaining: list[str] = []
        if restored:

            def left() -> list[str]:
                still: list[str] = []
                for scope in scopes:
                    still.extend(
                        m["Key"] for m in _markers(outcome, bucket, region, scope)[0] if m["Key"] in restored
                    )
                return still

            remaining = read_until(ctx, left, lambda s: not s)
            first = restored[0]
            more = f" and {len(restored) - 1} more" if len(restored) > 1 else ""
            done.append(
                f"removed the delete markers of {first}{more} in bucket {bucket}, so the log files are back"
            )
        if remaining:
            off.append(f"ListObjectVersions still shows {len(remaining)} deleted log file(s)")
        if not complete:
            done.append(f"only the first {MAX_PAGES * 1000} versions under the log prefix were checked")
    except Exception as exc:
        return _failed(outcome, exc, label)
    return outcome.finish(label, done, off, "ListObjectVersions shows them as current again")
