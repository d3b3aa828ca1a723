"""The trail's S3 bucket: deleting it, expiring its logs early, changing who may write to it, suspending
its versioning, opening it to the public, weakening its default encryption, or deleting its log files."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from trailguard.events import Record
from trailguard.policy.inventory import Entry, Inventory
from trailguard.policy.technique import Condition, Match, Sweep, Technique, as_int, param, unnamed
from trailguard.policy.techniques._common import TAMPER_MITRE, no_inventory, trail_names
from trailguard.remediate import bucket as repair
from trailguard.resources.base import as_bool
from trailguard.resources.bucket import BLOCK_FIELDS, KIND, PUBLIC_GROUPS

S3 = "s3.amazonaws.com"


def _trail_bucket(record: Record, inventory: Inventory) -> tuple[str, tuple[Entry, ...]] | Match:
    """(bucket, the protected trails writing to it), or the Match when it is not a trail bucket."""
    bucket = param(record, "bucketName", "BucketName")
    if bucket is None:
        return unnamed("bucket")
    if not inventory.knows_trails:
        return no_inventory("bucket", bucket)
    trails = inventory.trails_for_bucket(bucket)
    if not trails:
        return Match.harmless(bucket, f"bucket {bucket} holds the logs of none of the protected trails")
    return bucket, trails


BucketCondition = Callable[[Record, Inventory, str, tuple[Entry, ...]], Match]


def _on_trail_bucket(judge: BucketCondition) -> Condition:
    """The condition that settles a call on any other bucket with :func:`_trail_bucket` and hands a call
    on a protected trail's bucket to ``judge(record, inventory, bucket, trails)``."""

    def condition(record: Record, inventory: Inventory) -> Match:
        found = _trail_bucket(record, inventory)
        return found if isinstance(found, Match) else judge(record, inventory, *found)

    return condition


def _holding(bucket: str, trails: Sequence[Entry]) -> str:
    return f"bucket {bucket}, which holds the logs of trail {trail_names(trails)}"


@_on_trail_bucket
def _delete_bucket(record: Record, inventory: Inventory, bucket: str, trails: tuple[Entry, ...]) -> Match:
    return Match.tamper(bucket, f"deletes {_holding(bucket, trails)}")


@_on_trail_bucket
def _policy_change(record: Record, inventory: Inventory, bucket: str, trails: tuple[Entry, ...]) -> Match:
    done = "deletes" if (record.event_name or "").startswith("Delete") else "replaces"
    return Match.tamper(bucket, f"{done} the policy of {_holding(bucket, trails)}")


# -- PutBucketLifecycle --------------------------------------------------------------------------------


def _rules(params: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    config = params.get("LifecycleConfiguration", params.get("lifecycleConfiguration"))
    if not isinstance(config, Mapping):
        return None
    rules = config.get("Rule", config.get("Rules", config.get("rules")))
    if isinstance(rules, Mapping):
        return [rules]
    if isinstance(rules, list):
        return [r for r in rules if isinstance(r, Mapping)]
    return []


def _rule_prefix(rule: Mapping[str, Any]) -> str | None:
    """The key prefix a rule applies to ("" for all); None when a tag filter excludes CloudTrail's
    untagged log objects."""
    filt = rule.get("Filter")
    if isinstance(filt, Mapping):
        if "Tag" in filt:
            return None
        inner = filt.get("And")
        if isinstance(inner, Mapping):
            tags = inner.get("Tag", inner.get("Tags"))
            if tags:
                return None
            prefix = inner.get("Prefix")
            return prefix if isinstance(prefix, str) else ""
        prefix = filt.get("Prefix")
        return prefix if isinstance(prefix, str) else ""
    legacy = rule.get("Prefix")
    return legacy if isinstance(legacy, str) else ""


def _covers(rule_prefix: str, log_prefix: str) -> bool:
    """Whether a rule's prefix reaches any of the trail's log objects (either prefix contains the other).

    S3 prefixes are literal, but people (and attack tools) write ``*`` meaning "everything": the part
    before the first ``*`` is taken as the prefix, so such a rule is judged by what it was meant to do.
    """
    rule_prefix = rule_prefix.split("*", 1)[0]
    return log_prefix.startswith(rule_prefix) or rule_prefix.startswith(log_prefix)


def _log_prefix(trail: Entry) -> str:
    prefix = trail.get("S3KeyPrefix")
    prefix = prefix.strip("/") if isinstance(prefix, str) else ""
    return f"{prefix}/AWSLogs/" if prefix else "AWSLogs/"


def _expiry_days(rule: Mapping[str, Any]) -> list[tuple[str, int | None]]:
    """(what, days) for every expiry the rule sets; days None for a fixed-date expiry (which deletes
    logs of any age on that date)."""
    found: list[tuple[str, int | None]] = []
    expiration = rule.get("Expiration")
    if isinstance(expiration, Mapping):
        days = as_int(expiration.get("Days"))
        if days is not None:
            found.append(("current objects", days))
        elif expiration.get("Date"):
            found.append(("current objects", None))
    noncurrent = rule.get("NoncurrentVersionExpiration")
    if isinstance(noncurrent, Mapping):
        days = as_int(noncurrent.get("NoncurrentDays"))
        if days is not None:
            found.append(("noncurrent versions", days))
    return found


def short_expiries(rules: Sequence[Mapping[str, Any]], trail: Entry, floor: int) -> list[str]:
    """Why these lifecycle rules delete the trail's logs before ``floor`` days; empty when they do not."""
    problems: list[str] = []
    log_prefix = _log_prefix(trail)
    for rule in rules:
        if str(rule.get("Status", "")).strip().lower() != "enabled":
            continue
        prefix = _rule_prefix(rule)
        if prefix is None or not _covers(prefix, log_prefix):
            continue
        name = rule.get("ID") or "unnamed"
        for what, days in _expiry_days(rule):
            if days is None:
                problems.append(f"rule {name} expires {what} on a fixed date")
            elif days < floor:
                problems.append(f"rule {name} expires {what} after {days} days")
    return problems


@_on_trail_bucket
def _lifecycle(record: Record, inventory: Inventory, bucket: str, trails: tuple[Entry, ...]) -> Match:
    rules = _rules(record.request_parameters)
    if rules is None:
        if record.failed:
            return Match.unknown(bucket, f"does not show the lifecycle rules it puts on bucket {bucket}")
        return Match.harmless(bucket, f"the call carries no lifecycle rules for bucket {bucket}")
    floor = inventory.retention_days
    for trail in trails:
        problems = short_expiries(rules, trail, floor)
        if problems:
            return Match.tamper(
                bucket,
                f"expires the logs of trail {trail_names([trail])} in bucket {bucket} "
                f"before the {floor}-day floor ({'; '.join(problems)})",
            )
    return Match.harmless(bucket, f"no enabled rule expires the logs in bucket {bucket} before {floor} days")


# -- versioning, public access, encryption ------------------------------------------------------------


def _config(params: Mapping[str, Any], *names: str) -> Mapping[str, Any] | None:
    """The first of ``names`` that holds a mapping (CloudTrail keeps S3's XML element names)."""
    for name in names:
        value = params.get(name)
        if isinstance(value, Mapping):
            return value
    return None


@_on_trail_bucket
def _versioning(record: Record, inventory: Inventory, bucket: str, trails: tuple[Entry, ...]) -> Match:
    config = _config(record.request_parameters, "VersioningConfiguration", "versioningConfiguration")
    status = config.get("Status", config.get("status")) if config is not None else None
    if not isinstance(status, str):
        return Match.unknown(
            bucket, f"changes the versioning of bucket {bucket}, but the record does not say how"
        )
    if status.strip().lower() == "suspended":
        return Match.tamper(
            bucket,
            f"suspends versioning on {_holding(bucket, trails)}, so "
            "deleted or overwritten log files can no longer be recovered",
        )
    return Match.harmless(bucket, f"versioning of bucket {bucket} is set to {status}")


def _acl_grants(params: Mapping[str, Any]) -> list[str]:
    """Public grants a PutBucketAcl record shows: a canned ACL (``x-amz-acl``), ``x-amz-grant-*`` headers
    naming the AllUsers / AuthenticatedUsers groups, or an ``AccessControlPolicy`` granting them."""
    found: list[str] = []
    canned = params.get("x-amz-acl")
    for value in canned if isinstance(canned, list) else [canned]:
        if isinstance(value, str) and value.strip() in (
            "public-read",
            "public-read-write",
            "authenticated-read",
        ):
            found.append(f"canned ACL {value.strip()}")
    for name, value in params.items():
        if str(name).lower().startswith("x-amz-grant-"):
            for text in value if isinstance(value, list) else [value]:
                for uri, group in PUBLIC_GROUPS.items():
                    if isinstance(text, str) and uri in text:
                        found.append(f"{group} {str(name)[len('x-amz-grant-') :]}")
    policy = _config(params, "AccessControlPolicy", "accessControlPolicy")
    acl = _config(policy, "AccessControlList", "accessControlList") if policy is not None else None
    grants = acl.get("Grant", acl.get("Grants")) if acl is not None else None
    for grant in grants if isinstance(grants, list) else [grants] if isinstance(grants, Mapping) else []:
        grantee = grant.get("Grantee") if isinstance(grant, Mapping) else None
        public = PUBLIC_GROUPS.get(str(grantee.get("URI"))) if isinstance(grantee, Mapping) else None
        if public is not None:
            found.append(f"{public} {grant.get('Permission')}")
    return found


@_on_trail_bucket
def _public_access(record: Record, inventory: Inventory, bucket: str, trails: tuple[Entry, ...]) -> Match:
    which = _holding(bucket, trails)
    name = record.event_name or ""
    params = record.request_parameters
    if name == "DeleteBucketPublicAccessBlock":
        return Match.tamper(bucket, f"removes the public access block of {which}")
    if name == "PutBucketPublicAccessBlock":
        config = _config(params, "PublicAccessBlockConfiguration", "publicAccessBlockConfiguration")
        if config is None:
            return Match.unknown(
                bucket, f"replaces the public access block of {which}, but the record does not show it"
            )
        off = [f for f in BLOCK_FIELDS if as_bool(config.get(f)) is not True]
        if off:
            return Match.tamper(bucket, f"weakens the public access block of {which} ({', '.join(off)} off)")
        return Match.harmless(bucket, f"the public access block of bucket {bucket} blocks everything")
    grants = _acl_grants(params)
    if grants:
        return Match.tamper(bucket, f"makes {which} public with its ACL ({'; '.join(grants)})")
    if record.failed and not params.get("x-amz-acl") and not _config(params, "AccessControlPolicy"):
        return Match.unknown(bucket, f"replaces the ACL of {which}, but the record does not show it")
    return Match.harmless(
        bucket, f"the new ACL of bucket {bucket} grants nothing to AllUsers or AuthenticatedUsers"
    )


_KMS_ALGORITHMS = frozenset({"aws:kms", "aws:kms:dsse"})


def _encryption_rules(params: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    config = _config(params, "ServerSideEncryptionConfiguration", "serverSideEncryptionConfiguration")
    if config is None:
        return None
    rules = config.get("Rule", config.get("Rules"))
    if isinstance(rules, Mapping):
        return [rules]
    return [r for r in rules if isinstance(r, Mapping)] if isinstance(rules, list) else []


@_on_trail_bucket
def _encryption(record: Record, inventory: Inventory, bucket: str, trails: tuple[Entry, ...]) -> Match:
    """DeleteBucketEncryption is tamper; PutBucketEncryption is tamper unless it keeps SSE-KMS with a key
    of the account (a default of SSE-S3 is weaker than a KMS key's; a key of another account can lock the
    owner out of new objects). The repair compares with the bucket's baseline, so a put that matches it
    ends as already restored."""
    which = _holding(bucket, trails)
    if (record.event_name or "") == "DeleteBucketEncryption":
        return Match.tamper(bucket, f"removes the default encryption of {which}")
    rules = _encryption_rules(record.request_parameters)
    if not rules:
        return Match.unknown(
            bucket, f"replaces the default encryption of {which}, but the record does not show it"
        )
    account = record.account_id
    for rule in rules:
        default = (
            _config(rule, "ApplyServerSideEncryptionByDefault", "applyServerSideEncryptionByDefault") or {}
        )
        algorithm = str(default.get("SSEAlgorithm", "")).strip()
        key = str(default.get("KMSMasterKeyID", "") or "").strip()
        if algorithm not in _KMS_ALGORITHMS:
            return Match.tamper(bucket, f"sets the default encryption of {which} to {algorithm or 'none'}")
        key_account = key.split(":")[4] if key.startswith("arn:") and key.count(":") >= 5 else None
        if key_account and account and key_account != account:
            return Match.tamper(
                bucket, f"sets the default encryption of {which} to a KMS key of account {key_account}"
            )
    return Match.harmless(
        bucket, f"bucket {bucket} keeps SSE-KMS default encryption with a key of the account"
    )


# -- log objects deleted -------------------------------------------------------------------------------


def _deleted_keys(params: Mapping[str, Any]) -> list[str] | None:
    """The object keys a DeleteObject / DeleteObjects record names (None: it does not list them)."""
    key = params.get("key")
    if isinstance(key, str) and key:
        return [key]
    delete = _config(params, "Delete", "delete")
    objects = delete.get("Object", delete.get("Objects")) if delete is not None else None
    if isinstance(objects, Mapping):
        objects = [objects]
    if isinstance(objects, list):
        keys = [str(o.get("Key")) for o in objects if isinstance(o, Mapping) and o.get("Key")]
        return keys or None
    return None


@_on_trail_bucket
def _objects_delete(record: Record, inventory: Inventory, bucket: str, trails: tuple[Entry, ...]) -> Match:
    keys = _deleted_keys(record.request_parameters)
    prefixes = {_log_prefix(t) for t in trails}
    if keys is None:
        return Match.tamper(
            bucket,
            f"deletes objects in {_holding(bucket, trails)} (the record does not list which)",
        )
    logs = [k for k in keys if any(k.startswith(p) for p in prefixes)]
    if not logs:
        return Match.harmless(
            bucket, f"no deleted object of bucket {bucket} is under {', '.join(sorted(prefixes))}"
        )
    version = param(record, "versionId")
    how = f" (version {version}: permanently)" if version else ""
    more = f" and {len(logs) - 1} more" if len(logs) > 1 else ""
    return Match.tamper(
        bucket, f"deletes log file {logs[0]}{more}{how} of trail {trail_names(trails)} from bucket {bucket}"
    )


DELETE = Technique(
    id="bucket.delete",
    stops_delivery=True,
    tamper_when="the bucket is a protected trail's bucket",
    repair_summary=(
        "recreate the bucket with the baseline policy, encryption and versioning; alert that logs were lost"
    ),
    title="Trail log bucket deleted",
    mitre=TAMPER_MITRE,
    kind=KIND,
    sweep=Sweep(if_gone=True),  # the sweep recreates a bucket the policy check found gone
    event_source=S3,
    event_names=frozenset({"DeleteBucket"}),
    condition=_delete_bucket,
    action=repair.recreate,
    verification="GetTrailStatus shows no LatestDeliveryError after the next delivery.",
)

LIFECYCLE_EXPIRE = Technique(
    id="bucket.lifecycle-expire",
    tamper_when=(
        "trail bucket, and an enabled rule expires current or noncurrent objects sooner than the "
        "retention floor (default 365 days) in a prefix that covers the trail's logs"
    ),
    repair_summary="restore the baseline lifecycle configuration (delete it if there was none)",
    title="Trail logs expired early by a lifecycle rule",
    mitre=TAMPER_MITRE,
    kind=KIND,
    sweep=Sweep(order=2),
    event_source=S3,
    event_names=frozenset({"PutBucketLifecycle"}),
    condition=_lifecycle,
    action=repair.restore_lifecycle,
    verification="GetBucketLifecycleConfiguration returns the baseline configuration (or none).",
)

POLICY_CHANGE = Technique(
    id="bucket.policy-change",
    tamper_when="trail bucket",
    repair_summary="restore the baseline bucket policy",
    title="Trail log bucket policy changed",
    mitre=TAMPER_MITRE,
    kind=KIND,
    sweep=Sweep(order=1),
    event_source=S3,
    event_names=frozenset({"PutBucketPolicy", "DeleteBucketPolicy"}),
    condition=_policy_change,
    action=repair.restore_policy,
    verification="GetBucketPolicy returns the baseline policy.",
)


def _versioned(baseline: Mapping[str, Any]) -> bool:
    versioning = baseline.get("Versioning")
    return isinstance(versioning, Mapping) and versioning.get("Status") == "Enabled"


VERSIONING_SUSPEND = Technique(
    id="bucket.versioning-suspend",
    tamper_when="trail bucket, and the new `VersioningConfiguration.Status` is `Suspended`",
    repair_summary=(
        "`PutBucketVersioning` `Enabled` unless the baseline recorded it off (enabled without a baseline)"
    ),
    title="Trail log bucket versioning suspended",
    mitre=TAMPER_MITRE,
    kind=KIND,
    sweep=Sweep(order=3, when=_versioned),
    event_source=S3,
    event_names=frozenset({"PutBucketVersioning"}),
    condition=_versioning,
    action=repair.enable_versioning,
    verification="GetBucketVersioning reports Status Enabled.",
)

PUBLIC_ACCESS = Technique(
    id="bucket.public-access",
    tamper_when=(
        "trail bucket, and its public access block is deleted or put with any of its four settings off, "
        "or its ACL grants `AllUsers` / `AuthenticatedUsers` (canned `public-read`, `public-read-write`, "
        "`authenticated-read`, a grant header or an `AccessControlPolicy`)"
    ),
    repair_summary=(
        "`PutPublicAccessBlock` with the baseline block (all four on without one) and `PutBucketAcl` "
        "with the baseline grants (the live ones less the public grants without one)"
    ),
    title="Trail log bucket opened to the public",
    mitre=TAMPER_MITRE,
    kind=KIND,
    # baselines recorded before the block and ACL were captured have neither: nothing to compare with
    sweep=Sweep(order=4, when=lambda baseline: "PublicAccessBlock" in baseline),
    event_source=S3,
    event_names=frozenset({"DeleteBucketPublicAccessBlock", "PutBucketPublicAccessBlock", "PutBucketAcl"}),
    condition=_public_access,
    action=repair.restore_public_access,
    verification="GetPublicAccessBlock returns the baseline block and GetBucketAcl has no public grant.",
)

ENCRYPTION_CHANGE = Technique(
    id="bucket.encryption-change",
    tamper_when=(
        "trail bucket, and its default encryption is deleted, or put to anything but SSE-KMS with a key "
        "of the account"
    ),
    repair_summary="`PutBucketEncryption` with the baseline default encryption (SSE-S3 without one)",
    title="Trail log bucket default encryption removed or weakened",
    mitre=TAMPER_MITRE,
    kind=KIND,
    sweep=Sweep(order=5),
    event_source=S3,
    event_names=frozenset({"DeleteBucketEncryption", "PutBucketEncryption"}),
    condition=_encryption,
    action=repair.restore_encryption,
    verification="GetBucketEncryption returns the baseline configuration.",
)

OBJECTS_DELETE = Technique(
    id="bucket.objects-delete",
    tamper_when=(
        "trail bucket, and a deleted key is under the trail's log prefix (`PREFIX/AWSLogs/`), or the "
        "record does not list the keys; S3 data events, so only seen when a trail records them"
    ),
    repair_summary=(
        "with versioning on, delete the delete markers that hide the trail's log files (only markers "
        "ListObjectVersions lists, only under the log prefix) so they return; versions deleted for good "
        "and unversioned buckets: escalate"
    ),
    title="Trail log files deleted",
    mitre="T1070",  # Indicator Removal
    kind=KIND,
    sweep=Sweep(order=6, when=_versioned),
    event_source=S3,
    event_names=frozenset({"DeleteObject", "DeleteObjects"}),
    condition=_objects_delete,
    action=repair.restore_deleted_logs,
    verification="ListObjectVersions shows no delete marker as the latest version of a log file.",
)

TECHNIQUES = (
    DELETE,
    LIFECYCLE_EXPIRE,
    POLICY_CHANGE,
    VERSIONING_SUSPEND,
    PUBLIC_ACCESS,
    ENCRYPTION_CHANGE,
    OBJECTS_DELETE,
)
