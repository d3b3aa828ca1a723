"""The trail's S3 bucket: deleting it, expiring its logs early, or changing who may write to it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trailguard.events import Record
from trailguard.policy.inventory import Entry, Inventory
from trailguard.policy.technique import Match, Sweep, Technique, as_int, param, unnamed
from trailguard.policy.techniques._common import TAMPER_MITRE, no_inventory
from trailguard.remediate import bucket as repair
from trailguard.resources.bucket import KIND

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


def _names(trails: Sequence[Entry]) -> str:
    return ", ".join(str(t.get("Name") or t.get("TrailARN")) for t in trails)


def _delete_bucket(record: Record, inventory: Inventory) -> Match:
    found = _trail_bucket(record, inventory)
    if isinstance(found, Match):
        return found
    bucket, trails = found
    return Match.tamper(bucket, f"deletes bucket {bucket}, which holds the logs of trail {_names(trails)}")


def _policy_change(record: Record, inventory: Inventory) -> Match:
    found = _trail_bucket(record, inventory)
    if isinstance(found, Match):
        return found
    bucket, trails = found
    done = "deletes" if (record.event_name or "").startswith("Delete") else "replaces"
    return Match.tamper(
        bucket, f"{done} the policy of bucket {bucket}, which holds the logs of trail {_names(trails)}"
    )


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


def _lifecycle(record: Record, inventory: Inventory) -> Match:
    found = _trail_bucket(record, inventory)
    if isinstance(found, Match):
        return found
    bucket, trails = found
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
                f"expires the logs of trail {trail.get('Name') or trail.get('TrailARN')} in bucket {bucket} "
                f"before the {floor}-day floor ({'; '.join(problems)})",
            )
    return Match.harmless(bucket, f"no enabled rule expires the logs in bucket {bucket} before {floor} days")


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

TECHNIQUES = (DELETE, LIFECYCLE_EXPIRE, POLICY_CHANGE)
