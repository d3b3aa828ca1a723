"""CloudTrail Lake: stopping ingestion into, deleting, or weakening a protected event data store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trailguard.events import Record
from trailguard.policy.inventory import Inventory
from trailguard.policy.technique import Match, Sweep, Technique, as_int, param, unnamed
from trailguard.policy.techniques._common import CLOUDTRAIL, TAMPER_MITRE
from trailguard.remediate import lake as repair
from trailguard.resources.base import any_case as get
from trailguard.resources.base import as_bool
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
        return Match.harmless(
            ref, f"event data store {ref} is not one of the event data stores trailguard protects"
        )
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


def _keeps_management_events(selectors: Any) -> bool:
    """Whether advanced event selectors keep every management event: one selector whose only field
    selector is ``eventCategory`` equal to ``Management`` (anything more, such as ``readOnly`` or an
    ``eventSource`` exclusion, drops some)."""
    for selector in selectors if isinstance(selectors, list) else []:
        fields = get(selector, "FieldSelectors") if isinstance(selector, Mapping) else None
        if not isinstance(fields, list):
            continue
        only = fields[0] if len(fields) == 1 else {}
        narrowed = any(
            get(only, k) for k in ("NotEquals", "StartsWith", "NotStartsWith", "EndsWith", "NotEndsWith")
        )
        if get(only, "Field") == "eventCategory" and get(only, "Equals") == ["Management"] and not narrowed:
            return True
    return False


# (request parameter, baseline field, what switching it off does) for the store's on/off settings.
_SWITCHES = (
    ("terminationProtectionEnabled", "TerminationProtectionEnabled", "turns termination protection off"),
    ("multiRegionEnabled", "MultiRegionEnabled", "makes the store single-region"),
)


def _update_degrade(record: Record, inventory: Inventory) -> Match:
    found = _store(record, inventory)
    if isinstance(found, Match):
        return found
    ref, resource = found
    baseline = inventory.store(ref) if inventory.knows_stores else None
    params = record.request_parameters  # as CloudTrail writes them: camelCase; the baseline is the API's
    weakened: list[str] = []
    retention = as_int(params.get("retentionPeriod"))
    recorded = as_int(baseline.get("RetentionPeriod")) if baseline else None
    floor = recorded if recorded is not None else inventory.retention_days
    if retention is not None and retention < floor:
        weakened.append(f"cuts retention to {retention} days (baseline {floor})")
    for name, field, what in _SWITCHES:
        if as_bool(params.get(name)) is False and (baseline is None or baseline.get(field) is not False):
            weakened.append(what)
    selectors = params.get("advancedEventSelectors")
    if (
        selectors is not None
        and not _keeps_management_events(selectors)
        and (baseline is None or _keeps_management_events(baseline.get("AdvancedEventSelectors")))
    ):
        weakened.append("sets selectors that drop management events")
    if not weakened:
        return Match.harmless(resource, f"the update of event data store {ref} weakens none of its settings")
    return Match.tamper(resource, f"{', '.join(weakened)} on protected event data store {ref}")


UPDATE_DEGRADE = Technique(
    id="lake.update-degrade",
    tamper_when=(
        "retention below the baseline (below the inventory's floor with none), termination protection "
        "or multi-region off, or advanced selectors that no longer keep every management event"
    ),
    repair_summary=(
        "`UpdateEventDataStore` back to the baseline's retention, protection, regions and selectors"
    ),
    title="CloudTrail Lake event data store weakened",
    mitre=TAMPER_MITRE,
    kind=KIND,
    sweep=Sweep(order=3),
    event_source=CLOUDTRAIL,
    event_names=frozenset({"UpdateEventDataStore"}),
    condition=_update_degrade,
    action=repair.restore_settings,
    verification=(
        "GetEventDataStore reports the baseline's retention, termination protection, regions and selectors."
    ),
)

TECHNIQUES = (STOP_INGESTION, DELETE, UPDATE_DEGRADE)
