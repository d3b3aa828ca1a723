"""CloudTrail Lake: stopping ingestion into, or deleting, a protected event data store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trailguard.events import Record
from trailguard.policy.inventory import Inventory
from trailguard.policy.technique import Match, Sweep, Technique, param, unnamed
from trailguard.policy.techniques._common import CLOUDTRAIL, TAMPER_MITRE
from trailguard.remediate import lake as repair
from trailguard.resources.store import KIND


def _store(record: Record, inventory: Inventory) -> tuple[str, str] | Match:
    """(reference as the call gives it, resource to report) for a protected store, else the Match."""
    ref = param(record, "eventDataStore", "EventDataStore", "eventDataStoreArn")
    if ref is None:
        return unnamed("event data store")
    if not inventory.knows_stores:
        return ref, ref
    store = inventory.store(ref)
    if store is None:
        return Match.harmless(ref, f"event data store {ref} is not one trailguard protects")
    arn = store.get("EventDataStoreArn")
    return ref, arn if isinstance(arn, str) and arn else ref


def _stop_ingestion(record: Record, inventory: Inventory) -> Match:
    found = _store(record, inventory)
    if isinstance(found, Match):
        return found
    ref, resource = found
    return Match.tamper(resource, f"stops ingestion into protected event data store {ref}")


def _delete_store(record: Record, inventory: Inventory) -> Match:
    found = _store(record, inventory)
    if isinstance(found, Match):
        return found
    ref, resource = found
    return Match.tamper(resource, f"deletes protected event data store {ref}")


def _recorded_ingesting(baseline: Mapping[str, Any]) -> bool:
    return baseline.get("Status") == "ENABLED"


STOP_INGESTION = Technique(
    id="lake.stop-ingestion",
    tamper_when="the store is protected",
    repair_summary="`StartEventDataStoreIngestion`",
    title="CloudTrail Lake ingestion stopped",
    mitre=TAMPER_MITRE,
    kind=KIND,
    sweep=Sweep(order=2, when=_recorded_ingesting),
    event_source=CLOUDTRAIL,
    event_names=frozenset({"StopEventDataStoreIngestion"}),
    condition=_stop_ingestion,
    action=repair.start_ingestion,
    verification="GetEventDataStore reports the store's Status as ENABLED.",
)

DELETE = Technique(
    id="lake.delete",
    tamper_when="the store is protected",
    repair_summary="`RestoreEventDataStore` (possible during the 7-day pending-deletion window)",
    title="CloudTrail Lake event data store deleted",
    mitre=TAMPER_MITRE,
    kind=KIND,
    sweep=Sweep(order=1),
    event_source=CLOUDTRAIL,
    event_names=frozenset({"DeleteEventDataStore"}),
    condition=_delete_store,
    action=repair.restore,
    verification="GetEventDataStore reports the store's Status as ENABLED again (within the 7-day window).",
)

TECHNIQUES = (STOP_INGESTION, DELETE)
