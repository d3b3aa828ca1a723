"""Trail key actions: get a disabled or deletion-scheduled KMS key back to Enabled, and prove it.

Both actions converge on one state, whatever order the events arrive in: a key pending deletion has its
deletion cancelled (which leaves it Disabled) and is then enabled. The key is always addressed by its id
in its own region, resolved with DescribeKey from whatever the event used (id, ARN, alias): AWS accepts
ARNs for the state-changing calls, but the local cloud's KMS does not, and the id works on both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trailguard.remediate.base import (
    Context,
    Outcome,
    RepairRequest,
    action,
    action_region,
    read_until,
    target,
)
from trailguard.resources.key import KIND

# States no API call of ours can leave: a person has to act (import material, reconnect the key store).
_STUCK = {
    "PendingImport": "its key material must be imported again",
    "Unavailable": "its custom key store is disconnected; reconnect it",
    "Creating": "it is still being created",
    "Updating": "it is being updated",
}


def _describe(outcome: Outcome, ref: str, region: str) -> Mapping[str, Any]:
    metadata: Mapping[str, Any] = outcome.call("kms", region, "DescribeKey", KeyId=ref)["KeyMetadata"]
    outcome.calls[-1].result = f"KeyState {metadata.get('KeyState')}"
    return metadata


def _restore(ctx: Context, request: RepairRequest, name: str) -> Outcome:
    ref = target(request, "keyId", "KeyId")  # the trail's KmsKeyId, else as the call named it
    outcome = Outcome(name, ref)
    outcome.status, outcome.verified = "failed", False
    if ref is None:
        outcome.summary = "could not tell which KMS key was changed, so none was enabled"
        return outcome
    region = action_region(ctx, request, ref)  # a key lives in one region
    try:
        metadata = _describe(outcome, ref, region)
        key_id = str(metadata["KeyId"])
        state = str(metadata.get("KeyState"))
        if state == "Enabled":
            outcome.status, outcome.verified = "already-restored", True
            outcome.summary = f"KMS key {key_id} in {region} was already enabled; nothing changed"
            return outcome
        if state in _STUCK:
            outcome.summary = f"KMS key {key_id} in {region} is {state}: {_STUCK[state]}; trailguard cannot"
            outcome.errors.append(f"KeyState {state}")
            return outcome
        done = []
        if state in ("PendingDeletion", "PendingReplicaDeletion"):
            outcome.call("kms", region, "CancelKeyDeletion", KeyId=key_id)
            done.append("cancelled the scheduled deletion of")
        outcome.call("kms", region, "EnableKey", KeyId=key_id)
        done.append("enabled")
        state = read_until(
            ctx, lambda: str(_describe(outcome, key_id, region).get("KeyState")), lambda s: s == "Enabled"
        )
    except Exception as exc:
        error = outcome.last_error(exc)
        outcome.errors.append(error)
        outcome.summary = f"could not enable KMS key {ref} in {region}: {error}"
        return outcome
    if state != "Enabled":
        outcome.summary = f"{' and '.join(done)} KMS key {key_id} in {region}, but DescribeKey shows {state}"
        return outcome
    outcome.status, outcome.verified = "remediated", True
    outcome.summary = (
        f"{' and '.join(done)} KMS key {key_id} in {region}; verified that DescribeKey reports KeyState "
        "Enabled. Log files CloudTrail could not encrypt while the key was unusable were not delivered"
    )
    return outcome


# CancelKeyDeletion too: a key also scheduled for deletion meanwhile must be cancelled to enable it.
_PERMISSIONS = ("kms:EnableKey", "kms:DescribeKey", "kms:CancelKeyDeletion")


@action("key.enable", permissions=_PERMISSIONS, restores=KIND)
def enable(ctx: Context, request: RepairRequest) -> Outcome:
    """``key.disable``: EnableKey (cancelling a deletion first if one was scheduled meanwhile)."""
    return _restore(ctx, request, "key.enable")


@action("key.cancel_deletion", permissions=_PERMISSIONS, restores=KIND)
def cancel_deletion(ctx: Context, request: RepairRequest) -> Outcome:
    """``key.schedule-deletion``: CancelKeyDeletion, then EnableKey (a cancelled key is Disabled)."""
    return _restore(ctx, request, "key.cancel_deletion")
