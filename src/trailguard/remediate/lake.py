"""CloudTrail Lake actions: restart ingestion into a protected event data store, restore a deleted
one during its 7-day pending-deletion window, or put back the settings an UpdateEventDataStore weakened,
and prove it with GetEventDataStore.

Idempotent: the store's status is read first, so a repeated event finds it ENABLED and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trailguard.remediate.base import (
    NO_BASELINE,
    Context,
    Gone,
    Outcome,
    RepairRequest,
    action,
    action_region,
    read_baseline,
    read_until,
    squash,
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
    if ref is None:
        return outcome.fail("could not tell which event data store was hit, so nothing was restored")
    region = action_region(ctx, request, ref)
    label = ref.rsplit("/", 1)[-1]
    try:
        status = _status(outcome, ref, region)
        if status not in needs_repair and status in good:
            return outcome.unchanged(
                f"event data store {label} in {region} is already {status}; nothing changed"
            )
        if status not in needs_repair:
            return outcome.fail(
                f"event data store {label} in {region} is {status}; trailguard did not act",
                f"Status {status}",
            )
        outcome.call("cloudtrail", region, operation, gone=KIND, EventDataStore=ref)
        status = read_until(ctx, lambda: _status(outcome, ref, region), good.__contains__)
    except Exception as exc:
        error = outcome.last_error(exc)
        window = (
            " (past the 7-day window a deleted store cannot be restored)" if isinstance(exc, Gone) else ""
        )
        return outcome.fail(
            f"could not {verb[0]} event data store {label} in {region}: {error}{window}", error
        )
    if status not in good:
        return outcome.fail(
            f"called {operation} on event data store {label} but its Status is still {status}"
        )
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


SETTINGS = ("RetentionPeriod", "TerminationProtectionEnabled", "MultiRegionEnabled", "AdvancedEventSelectors")
"""What ``lake.update-degrade`` restores and compares: every setting UpdateEventDataStore can weaken."""


def _settings(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: squash(doc.get(k)) for k in SETTINGS if doc.get(k) is not None}


@action(
    "lake.restore_settings",
    permissions=("cloudtrail:UpdateEventDataStore", "cloudtrail:GetEventDataStore"),
    restores=KIND,
    manual_steps=(
        "set event data store {resource} in {region} back to its recorded retention, termination "
        "protection, regions and selectors (aws cloudtrail update-event-data-store)."
    ),
)
def restore_settings(ctx: Context, request: RepairRequest) -> Outcome:
    """``lake.update-degrade``: UpdateEventDataStore with the baseline's retention, termination
    protection, multi-region setting and advanced selectors; verified by comparing each with
    GetEventDataStore. Without a baseline nothing can be restored and the outcome says so."""
    ref = target(request, "eventDataStore", "EventDataStore", "eventDataStoreArn")
    outcome = Outcome("lake.restore_settings", ref)
    if ref is None:
        return outcome.fail("could not tell which event data store was changed, so nothing was restored")
    region = action_region(ctx, request, ref)
    label = f"event data store {ref.rsplit('/', 1)[-1]} in {region}"
    baseline = request.baseline or read_baseline(ctx, outcome, KIND.name, ref)
    if baseline is None:
        return outcome.fail(f"no baseline is recorded for {label}: {NO_BASELINE}")
    wanted = _settings(baseline)

    def read() -> dict[str, Any]:
        found: Mapping[str, Any] = outcome.call(
            "cloudtrail", region, "GetEventDataStore", gone=KIND, EventDataStore=ref
        )
        return _settings(found)

    try:
        live = read()
        changed = {k: v for k, v in wanted.items() if live.get(k) != v}
        if not changed:
            return outcome.unchanged(f"{label} already matches its baseline; nothing changed")
        outcome.call(
            "cloudtrail",
            region,
            "UpdateEventDataStore",
            gone=KIND,
            EventDataStore=ref,
            **{k: baseline[k] for k in changed},
        )
        after = read_until(ctx, read, lambda now: all(now.get(k) == v for k, v in wanted.items()))
    except Exception as exc:
        error = outcome.last_error(exc)
        return outcome.fail(f"could not restore {label}: {error}", error)
    done = [f"restored {k} of {label} ({_show(live.get(k))} -> {_show(v)})" for k, v in changed.items()]
    off = [
        f"{k} is {_show(after.get(k))}, baseline {_show(v)}" for k, v in wanted.items() if after.get(k) != v
    ]
    return outcome.finish(
        label,
        done,
        off,
        "GetEventDataStore reports every baseline setting",
        follow_up="Events the store dropped or expired while it was weakened are not recoverable from it: "
        "review CloudTrail event history for that window",
    )


def _show(value: Any) -> str:
    if isinstance(value, list):
        return f"{len(value)} selector(s)"
    return "none" if value is None else str(value)
