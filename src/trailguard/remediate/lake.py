"""CloudTrail Lake actions: restart ingestion into a protected event data store, or restore a deleted
one during its 7-day pending-deletion window, and prove it with GetEventDataStore.

Idempotent: the store's status is read first, so a repeated event finds it ENABLED and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trailguard.remediate.base import (
    Context,
    Gone,
    Outcome,
    RepairRequest,
    action,
    action_region,
    read_until,
    target,
)
from trailguard.resources.store import KIND


def _status(outcome: Outcome, ref: str, region: str) -> str:
    response: Mapping[str, Any] = outcome.call(
        "cloudtrail", region, "GetEventDataStore", gone=KIND, EventDataStore=ref
    )
    status = str(response.get("Status"))
    outcome.calls[-1].result = f"Status {status}"
    return status


def _run(
    ctx: Context,
    request: RepairRequest,
    name: str,
    operation: str,
    *,
    needs_repair: set[str],
    good: set[str],
    verb: tuple[str, str],
) -> Outcome:
    """Read the status; when it is one of ``needs_repair`` call ``operation``, then read until ``good``."""
    ref = target(request, "eventDataStore", "EventDataStore", "eventDataStoreArn")
    outcome = Outcome(name, ref)
    outcome.status, outcome.verified = "failed", False
    if ref is None:
        outcome.summary = "could not tell which event data store was hit, so nothing was restored"
        return outcome
    region = action_region(ctx, request, ref)
    label = ref.rsplit("/", 1)[-1]
    try:
        status = _status(outcome, ref, region)
        if status not in needs_repair:
            if status in good:
                outcome.unchanged(
                    f"event data store {label} in {region} is already {status}; nothing changed"
                )
            else:
                outcome.errors.append(f"Status {status}")
                outcome.summary = f"event data store {label} in {region} is {status}; trailguard did not act"
            return outcome
        outcome.call("cloudtrail", region, operation, gone=KIND, EventDataStore=ref)
        status = read_until(ctx, lambda: _status(outcome, ref, region), good.__contains__)
    except Exception as exc:
        error = outcome.last_error(exc)
        outcome.errors.append(error)
        outcome.summary = f"could not {verb[0]} event data store {label} in {region}: {error}"
        if isinstance(exc, Gone):
            outcome.summary += " (past the 7-day window a deleted store cannot be restored)"
        return outcome
    if status not in good:
        outcome.summary = f"called {operation} on event data store {label} but its Status is still {status}"
        return outcome
    outcome.repaired(
        f"{verb[1]} event data store {label} in {region}; verified that GetEventDataStore reports {status}. "
        "Events that arrived while it was not ingesting are not in the store"
    )
    if status != "ENABLED":
        outcome.summary += f"; it is {status}, not ENABLED: start ingestion if it should be ingesting"
    return outcome


@action(
    "lake.start_ingestion",
    permissions=("cloudtrail:StartEventDataStoreIngestion", "cloudtrail:GetEventDataStore"),
    restores=KIND,
)
def start_ingestion(ctx: Context, request: RepairRequest) -> Outcome:
    """``lake.stop-ingestion``: StartEventDataStoreIngestion, verified by Status ENABLED."""
    return _run(
        ctx,
        request,
        "lake.start_ingestion",
        "StartEventDataStoreIngestion",
        needs_repair={"STOPPED_INGESTION", "STOPPING_INGESTION"},
        good={"ENABLED"},
        verb=("restart ingestion into", "restarted ingestion into"),
    )


@action(
    "lake.restore",
    permissions=("cloudtrail:RestoreEventDataStore", "cloudtrail:GetEventDataStore"),
    restores=KIND,
)
def restore(ctx: Context, request: RepairRequest) -> Outcome:
    """``lake.delete``: RestoreEventDataStore during the pending-deletion window, verified by a Status
    other than PENDING_DELETION. A store already gone for good (not found) is escalated."""
    return _run(
        ctx,
        request,
        "lake.restore",
        "RestoreEventDataStore",
        needs_repair={"PENDING_DELETION"},
        good={"ENABLED", "CREATED", "STARTING_INGESTION", "STOPPED_INGESTION", "STOPPING_INGESTION"},
        verb=("restore", "restored"),
    )
