"""The trail's KMS key: disabling it, scheduling its deletion, or a key policy that no longer lets
CloudTrail use it stops log delivery."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from trailguard.events import Record
from trailguard.policy.inventory import Entry, Inventory
from trailguard.policy.technique import Match, Sweep, Technique, param, resource_arn, unnamed
from trailguard.policy.techniques._common import TAMPER_MITRE, no_inventory, trail_names
from trailguard.remediate import key as repair
from trailguard.resources.key import KIND

KMS = "kms.amazonaws.com"


def _key_trails(record: Record, inventory: Inventory) -> tuple[str, tuple[Entry, ...]] | Match:
    """(the key as the call names it, the protected trails it encrypts), or the Match without any."""
    ref = param(record, "keyId", "KeyId") or resource_arn(record, "AWS::KMS::Key")
    if ref is None:
        return unnamed("KMS key")
    if not inventory.knows_trails:
        return no_inventory("KMS key", ref)
    trails = inventory.trails_for_key(ref)
    if not trails:
        return Match.harmless(ref, f"KMS key {ref} encrypts none of the protected trails")
    return ref, trails


def _trail_key(record: Record, inventory: Inventory, action: str) -> Match:
    found = _key_trails(record, inventory)
    if isinstance(found, Match):
        return found
    ref, trails = found
    resource = str(trails[0].get("KmsKeyId") or ref)
    return Match.tamper(resource, f"{action} KMS key {ref}, which encrypts trail {trail_names(trails)}")


def _disable(record: Record, inventory: Inventory) -> Match:
    return _trail_key(record, inventory, "disables")


def _schedule_deletion(record: Record, inventory: Inventory) -> Match:
    days = record.request_parameters.get("pendingWindowInDays")
    when = (
        f"schedules the deletion in {days} days of" if isinstance(days, int) else "schedules the deletion of"
    )
    return _trail_key(record, inventory, when)


def _policy_change(record: Record, inventory: Inventory) -> Match:
    """PutKeyPolicy: tamper when the new policy (``requestParameters.policy``, JSON text) no longer lets
    CloudTrail use the key for every trail it encrypts, or denies it; unknown when it cannot be read."""
    found = _key_trails(record, inventory)
    if isinstance(found, Match):
        return found
    ref, trails = found
    resource = str(trails[0].get("KmsKeyId") or ref)
    what = f"the key policy of KMS key {ref}, which encrypts trail {trail_names(trails)}"
    text = record.request_parameters.get("policy")
    if not isinstance(text, str) or not text.strip():
        return Match.unknown(resource, f"replaces {what}, but the record does not show the new policy")
    try:
        policy = json.loads(text)
    except ValueError:
        return Match.unknown(resource, f"replaces {what}, with a policy trailguard cannot parse")
    access, why = repair.cloudtrail_access(policy, [t.get("TrailARN") for t in trails])
    if access == "granted":
        return Match.harmless(resource, f"the new key policy of KMS key {ref} {why}")
    if access == "unclear":
        return Match.unknown(
            resource, f"replaces {what}, with a policy whose effect on CloudTrail is unclear ({why})"
        )
    return Match.tamper(resource, f"replaces {what}, with a policy that {why}")


def _recorded_enabled(baseline: Mapping[str, Any]) -> bool:
    """A key recorded as not enabled has nothing to keep enabled."""
    return baseline.get("KeyState") in (None, "Enabled") and baseline.get("Enabled") is not False


DISABLE = Technique(
    id="key.disable",
    stops_delivery=True,
    tamper_when="the key (id, ARN or alias) is a protected trail's `KmsKeyId`",
    repair_summary="`EnableKey`",
    title="Trail KMS key disabled",
    mitre=TAMPER_MITRE,
    kind=KIND,
    event_source=KMS,
    event_names=frozenset({"DisableKey"}),
    condition=_disable,
    action=repair.enable,
    verification="DescribeKey reports KeyState Enabled.",
)

SCHEDULE_DELETION = Technique(
    id="key.schedule-deletion",
    stops_delivery=True,
    tamper_when="trail key",
    repair_summary="`CancelKeyDeletion`, then `EnableKey`",
    title="Trail KMS key scheduled for deletion",
    mitre=TAMPER_MITRE,
    kind=KIND,
    sweep=Sweep(
        when=_recorded_enabled, ref=lambda ident, baseline: str(baseline.get("Arn") or ident)
    ),  # cancels a deletion and enables: covers both
    event_source=KMS,
    event_names=frozenset({"ScheduleKeyDeletion"}),
    condition=_schedule_deletion,
    action=repair.cancel_deletion,
    verification="DescribeKey reports KeyState Enabled after the deletion is cancelled.",
)

POLICY_CHANGE = Technique(
    id="key.policy-change",
    stops_delivery=True,
    tamper_when=(
        "trail key, and the new `policy` has no Allow for the `cloudtrail.amazonaws.com` service principal "
        "on `kms:GenerateDataKey*` whose `aws:SourceArn` / `kms:EncryptionContext:aws:cloudtrail:arn` "
        "condition still covers the trail, or a Deny of it for CloudTrail or `*`; a policy that cannot be "
        "parsed counts"
    ),
    repair_summary=(
        "`PutKeyPolicy` with the baseline key policy (never bypassing the lockout safety check); "
        "no baseline: escalate"
    ),
    title="Trail KMS key policy no longer lets CloudTrail use the key",
    mitre=TAMPER_MITRE,
    kind=KIND,
    sweep=Sweep(
        order=1,  # after the key is enabled again
        when=lambda baseline: bool(baseline.get("KeyPolicy")),  # baselines recorded before it have none
        ref=lambda ident, baseline: str(baseline.get("Arn") or ident),
    ),
    event_source=KMS,
    event_names=frozenset({"PutKeyPolicy"}),
    condition=_policy_change,
    action=repair.restore_policy,
    verification="GetKeyPolicy returns the baseline key policy (compared as parsed JSON).",
)

TECHNIQUES = (DISABLE, SCHEDULE_DELETION, POLICY_CHANGE)
