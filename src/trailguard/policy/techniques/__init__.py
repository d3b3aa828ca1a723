"""The registry: every technique of detection-policy.md, by id, and the index the classifier walks."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from trailguard.policy.technique import Technique
from trailguard.policy.techniques import bucket, finding, guard, key, lake, org, trail

_ALL: tuple[Technique, ...] = (
    *trail.TECHNIQUES,
    *lake.TECHNIQUES,
    *bucket.TECHNIQUES,
    *key.TECHNIQUES,
    *guard.TECHNIQUES,
    *org.TECHNIQUES,
    *finding.TECHNIQUES,
)


def _registry(techniques: tuple[Technique, ...]) -> Mapping[str, Technique]:
    by_id: dict[str, Technique] = {}
    for technique in techniques:
        if technique.id in by_id:
            raise ValueError(f"technique id {technique.id} declared twice")
        by_id[technique.id] = technique
    return MappingProxyType(by_id)


def _event_index(techniques: tuple[Technique, ...]) -> Mapping[tuple[str, str], Technique]:
    index: dict[tuple[str, str], Technique] = {}
    for technique in techniques:
        for trigger in technique.triggers:
            if trigger in index:
                raise ValueError(f"{trigger} maps to both {index[trigger].id} and {technique.id}")
            index[trigger] = technique
    return MappingProxyType(index)


TECHNIQUES: Mapping[str, Technique] = _registry(_ALL)
BY_EVENT: Mapping[tuple[str, str], Technique] = _event_index(_ALL)
FINDING_TECHNIQUES: tuple[Technique, ...] = tuple(t for t in _ALL if t.kinds - {"cloudtrail"})

# Lambda writes the API version into the event name: PutFunctionConcurrency20171031,
# UpdateFunctionConfiguration20150331v2.
_API_VERSION = re.compile(r"^(?P<name>[A-Za-z]+?)\d{8}(?:v\d+)?$")


def base_event_name(name: str) -> str:
    """The event name without Lambda's API-version suffix."""
    found = _API_VERSION.match(name)
    return found.group("name") if found else name


def technique_for_call(event_source: str | None, event_name: str | None) -> Technique | None:
    """The one technique that judges this CloudTrail call, if any."""
    if not event_source or not event_name:
        return None
    return BY_EVENT.get((event_source, base_event_name(event_name)))
