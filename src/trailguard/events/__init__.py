"""Every input shape trailguard accepts, read into read-only views behind one interface, :class:`Record`.

- :mod:`.record`: the interface (``Record``, ``RecordKind``); properties a shape lacks answer neutrally;
- :mod:`.cloudtrail`: :class:`CloudTrailRecord`, one CloudTrail record;
- :mod:`.guardduty`: :class:`GuardDutyFinding`, either spelling of a GuardDuty finding;
- :mod:`.securityhub`: :class:`SecurityHubFinding`, one ASFF finding;
- :mod:`.readers`: :func:`entries_from_object`, :func:`records_from_object`, :func:`iter_path`,
  :class:`MalformedEvent`.

Pure: no boto3, no I/O at import.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from trailguard.events.cloudtrail import DETAIL_TYPE as CLOUDTRAIL_DETAIL_TYPE
from trailguard.events.cloudtrail import CloudTrailRecord
from trailguard.events.readers import (
    Entry,
    MalformedEvent,
    entries_from_object,
    iter_path,
    records_from_object,
)
from trailguard.events.record import (
    GUARDDUTY_DETAIL_TYPE,
    SECURITYHUB_DETAIL_TYPES,
    FindingRecord,
    Record,
    RecordKind,
)

if TYPE_CHECKING:
    from trailguard.events.guardduty import TRAIL_DISABLED_FINDING, GuardDutyFinding
    from trailguard.events.securityhub import TRAIL_DISABLED_ASFF_TYPE, SecurityHubFinding

# The finding shapes load on first use (a CloudTrail event never needs them): name -> module.
_ON_FIRST_USE = {
    "GuardDutyFinding": "guardduty",
    "TRAIL_DISABLED_FINDING": "guardduty",
    "SecurityHubFinding": "securityhub",
    "TRAIL_DISABLED_ASFF_TYPE": "securityhub",
}

__all__ = [
    "CLOUDTRAIL_DETAIL_TYPE",
    "GUARDDUTY_DETAIL_TYPE",
    "SECURITYHUB_DETAIL_TYPES",
    "TRAIL_DISABLED_ASFF_TYPE",
    "TRAIL_DISABLED_FINDING",
    "CloudTrailRecord",
    "Entry",
    "FindingRecord",
    "GuardDutyFinding",
    "MalformedEvent",
    "Record",
    "RecordKind",
    "SecurityHubFinding",
    "entries_from_object",
    "is_schedule",
    "iter_path",
    "records_from_object",
]


def is_schedule(event: Any) -> bool:
    """An EventBridge schedule firing (the backstop rule), which carries no record to classify. Here,
    not in ``trailguard.sweep``, so a handler tells it apart without importing the sweep."""
    return (
        isinstance(event, Mapping)
        and event.get("detail-type") == "Scheduled Event"
        and event.get("source") == "aws.events"
    )


def __getattr__(name: str) -> Any:
    """The finding shapes' names, imported from their module on first use."""
    module = _ON_FIRST_USE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
