"""The few accessors through which the generators read a technique.

Every generator reads techniques only through these functions, so when the Technique declaration
changes shape (an Action object with its permissions, a resource kind object) only this module adapts.
"""

from __future__ import annotations

from collections.abc import Mapping

from trailguard.policy import TECHNIQUES, Technique

# Record kinds that are findings, and the ASFF type namespaces that tell a Security Hub finding type
# ("TTPs/Defense Evasion/...") from a GuardDuty one ("Stealth:IAMUser/...").
GUARDDUTY = "guardduty"
SECURITY_HUB = "securityhub"
_ASFF_NAMESPACES = (
    "Software and Configuration Checks/",
    "TTPs/",
    "Effects/",
    "Unusual Behaviors/",
    "Sensitive Data Identifications/",
)
# The resource kinds of trailguard's own pipeline: calls on them also go to the guard-calls rule.
OWN_PIPELINE_KINDS = frozenset({"rule", "function", "topic"})


def all_techniques() -> tuple[Technique, ...]:
    """Every technique, in the registry's order (the docs keep it)."""
    return tuple(TECHNIQUES.values())


def technique_id(technique: Technique) -> str:
    return technique.id


def title(technique: Technique) -> str:
    return technique.title


def mitre(technique: Technique) -> str:
    return technique.mitre


def verification(technique: Technique) -> str:
    return technique.verification


def repair_name(technique: Technique) -> str:
    """The stable name of the repair action (``trail.start_logging``)."""
    return technique.remediation


def permissions(technique: Technique) -> tuple[str, ...]:
    """The IAM actions the technique's repair and verification need, sorted."""
    return tuple(sorted(set(technique.permissions)))


def call_triggers(technique: Technique) -> frozenset[tuple[str, str]]:
    """The (eventSource, eventName) CloudTrail calls the technique judges; none for a finding technique."""
    if "cloudtrail" not in technique.kinds:
        return frozenset()
    return technique.triggers


def finding_types(technique: Technique) -> Mapping[str, frozenset[str]]:
    """The finding types the technique judges, by record kind (``guardduty`` / ``securityhub``)."""
    by_kind: dict[str, set[str]] = {}
    for finding_type in technique.finding_types:
        kind = SECURITY_HUB if finding_type.startswith(_ASFF_NAMESPACES) else GUARDDUTY
        if kind not in technique.kinds:
            raise ValueError(f"{technique.id}: finding type {finding_type} is a {kind} type")
        by_kind.setdefault(kind, set()).add(finding_type)
    return {kind: frozenset(types) for kind, types in by_kind.items()}


def is_guard(technique: Technique) -> bool:
    """Whether the technique protects trailguard's own rules, functions or topic.

    Provisional: read from the id's convention (``guard.<kind>``); at integration this is
    ``technique.kind`` (the resources kind the technique protects) in ``OWN_PIPELINE_KINDS``.
    """
    family, _, kind = technique.id.partition(".")
    return family == "guard" and kind in OWN_PIPELINE_KINDS


def tamper_when(technique: Technique) -> str:
    """When a call the technique judges counts as tampering (detection-policy.md's contract)."""
    return _provisional_prose(technique)[0]


def repair_summary(technique: Technique) -> str:
    """What the repair does, in words."""
    return _provisional_prose(technique)[1]


def _provisional_prose(technique: Technique) -> tuple[str, str]:
    # provisional: these texts move into each technique's declaration (policy/techniques/<family>.py)
    # at integration, and tamper_when / repair_summary read them from there.
    try:
        return _PROVISIONAL_PROSE[technique.id]
    except KeyError:
        raise KeyError(f"{technique.id}: no 'counts as tamper when' / repair text declared") from None


_PROVISIONAL_PROSE: Mapping[str, tuple[str, str]] = {
    "trail.stop-logging": (
        "the trail (`requestParameters.name`, a name or an ARN) is protected",
        "`StartLogging` in the trail's home region",
    ),
    "trail.delete": (
        "trail protected",
        "recreate from the baseline snapshot: same name, bucket, prefix, KMS key, CloudWatch Logs, "
        "multi-region, organization, log file validation, tags, event and insight selectors; "
        "then `StartLogging`",
    ),
    "trail.update-degrade": (
        "it changes a baseline property away from the baseline: `s3BucketName`, `s3KeyPrefix`, "
        "`kmsKeyId` (removed or changed), `isMultiRegionTrail` false, `includeGlobalServiceEvents` false, "
        "`enableLogFileValidation` false, `cloudWatchLogsLogGroupArn` / `cloudWatchLogsRoleArn` removed "
        "or changed, `isOrganizationTrail` false. Without a baseline (no inventory), any of these values "
        "that weakens the trail counts",
        "`UpdateTrail` back to the baseline values",
    ),
    "trail.selectors-degrade": (
        "management events lose coverage: `includeManagementEvents` false, `readWriteType` other than "
        "`All`, non-empty `excludeManagementEventSources`, or advanced selectors that no longer select "
        "all management events (read and write)",
        "`PutEventSelectors` with the baseline selectors",
    ),
    "lake.stop-ingestion": ("the store is protected", "`StartEventDataStoreIngestion`"),
    "lake.delete": (
        "the store is protected",
        "`RestoreEventDataStore` (possible during the 7-day pending-deletion window)",
    ),
    "bucket.delete": (
        "the bucket is a protected trail's bucket",
        "recreate the bucket with the baseline policy, encryption and versioning; alert that logs were lost",
    ),
    "bucket.lifecycle-expire": (
        "trail bucket, and an enabled rule expires current or noncurrent objects sooner than the "
        "retention floor (default 365 days) in a prefix that covers the trail's logs",
        "restore the baseline lifecycle configuration (delete it if there was none)",
    ),
    "bucket.policy-change": ("trail bucket", "restore the baseline bucket policy"),
    "key.disable": (
        "the key (id, ARN or alias) is a protected trail's `KmsKeyId`",
        "`EnableKey`",
    ),
    "key.schedule-deletion": ("trail key", "`CancelKeyDeletion`, then `EnableKey`"),
    "key.policy-change": (
        "trail key, and the new `policy` has no Allow for the `cloudtrail.amazonaws.com` service principal "
        "on `kms:GenerateDataKey*` whose `aws:SourceArn` / `kms:EncryptionContext:aws:cloudtrail:arn` "
        "condition still covers the trail, or a Deny of it for CloudTrail or `*`; a policy that cannot be "
        "parsed counts",
        "`PutKeyPolicy` with the baseline key policy (never bypassing the lockout safety check); "
        "no baseline: escalate",
    ),
    "guard.rule": (
        "the rule is one of trailguard's rules",
        "`EnableRule`; re-create rule and targets from the baseline",
    ),
    "guard.function": (
        "the function is one of trailguard's functions (event names carry an API-version suffix, e.g. "
        "`PutFunctionConcurrency20171031`); `PutFunctionConcurrency` only when it sets 0",
        "`DeleteFunctionConcurrency`; restore permission; what cannot be restored in place (deleted "
        "function, new code) is escalated: the other function alerts",
    ),
    "guard.topic": (
        "trailguard's alert topic",
        "recreate or restore; if alerting is impossible, record the incident in Security Hub and the logs",
    ),
    "guard.detector": (
        "always (they blind the second detection path); `UpdateDetector` only when it sets enable false",
        "re-enable",
    ),
    "org.leave": ("always (the account leaves the organization trail)", "notify only"),
    "finding.trail-disabled": (
        "the finding is active (not archived, `RecordState` ACTIVE, workflow not RESOLVED / SUPPRESSED); "
        "the trail comes from the affected-resources product field, whose key may carry the newer "
        "`aws/guardduty/service/` prefix",
        "check the named trail (or every protected trail when none is named) against its baseline and "
        "repair what is off",
    ),
}
