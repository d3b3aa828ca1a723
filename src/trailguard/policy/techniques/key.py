"""The trail's KMS key: disabling it or scheduling its deletion stops log delivery."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trailguard.events import Record
from trailguard.policy.inventory import Inventory
from trailguard.policy.technique import Match, Sweep, Technique, param, resource_arn, unnamed
from trailguard.policy.techniques._common import TAMPER_MITRE, no_inventory
from trailguard.remediate import key as repair
from trailguard.resources.key import KIND

KMS = "kms.amazonaws.com"


def _trail_key(record: Record, inventory: Inventory, action: str) -> Match:
    ref = param(record, "keyId", "KeyId") or resource_arn(record, "AWS::KMS::Key")
    if ref is None:
        return unnamed("KMS key")
    if not inventory.knows_trails:
        return no_inventory("KMS key", ref)
    trails = inventory.trails_for_key(ref)
    if not trails:
        return Match.harmless(ref, f"KMS key {ref} encrypts none of the protected trails")
    names = ", ".join(str(t.get("Name") or t.get("TrailARN")) for t in trails)
    resource = str(trails[0].get("KmsKeyId") or ref)
    return Match.tamper(resource, f"{action} KMS key {ref}, which encrypts trail {names}")


def _disable(record: Record, inventory: Inventory) -> Match:
    return _trail_key(record, inventory, "disables")


def _schedule_deletion(record: Record, inventory: Inventory) -> Match:
    days = record.request_parameters.get("pendingWindowInDays")
    when = (
        f"schedules the deletion in {days} days of" if isinstance(days, int) else "schedules the deletion of"
    )
    return _trail_key(record, inventory, when)


def _recorded_enabled(baseline: Mapping[str, Any]) -> bool:
    """A key recorded as not enabled has nothing to keep enabled."""
    return baseline.get("KeyState") in (None, "Enabled") and baseline.get("Enabled") is not False


DISABLE = Technique(
    id="key.disable",
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

TECHNIQUES = (DISABLE, SCHEDULE_DELETION)
