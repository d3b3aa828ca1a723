"""The shape of a technique: one self-describing declaration per way of switching CloudTrail off.

Each declaration says which calls it covers, when such a call is tampering (its ``condition``), and what
repairs it: the remediation action's stable name, the IAM actions that action and its verification need
(the template's policy is their union), and how the repair is verified. The classifier only walks them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from trailguard.events import Record, RecordKind
from trailguard.policy.inventory import Inventory

Outcome = Literal["tamper", "harmless", "unknown"]


@dataclass(frozen=True)
class Match:
    """What a condition concluded about one call.

    ``tamper``: the call hits something protected. ``harmless``: it does not (not protected, or the
    change does not weaken anything). ``unknown``: the record does not say enough to tell (CloudTrail
    writes ``requestParameters: null`` for denied calls); the classifier treats it as protected.

    For ``tamper`` and ``unknown`` the reason is a predicate completing "The StopLogging call ..."
    (e.g. "stops logging on protected trail x"), so the classifier can phrase a success, a failed
    attempt or an allowed change alike; for ``harmless`` it is a whole sentence.
    """

    outcome: Outcome
    resource: str | None
    reason: str

    @classmethod
    def tamper(cls, resource: str | None, reason: str) -> Match:
        return cls("tamper", resource, reason)

    @classmethod
    def harmless(cls, resource: str | None, reason: str) -> Match:
        return cls("harmless", resource, reason)

    @classmethod
    def unknown(cls, resource: str | None, reason: str) -> Match:
        return cls("unknown", resource, reason)


Condition = Callable[[Record, Inventory], Match]


@dataclass(frozen=True)
class Technique:
    """One technique of detection-policy.md's table.

    ``event_names`` are matched without Lambda's API-version suffix (``PutFunctionConcurrency20171031``
    matches ``PutFunctionConcurrency``). ``extra_events`` adds (event source, name) pairs from another
    service (``guard.detector`` also covers Security Hub's ``DisableSecurityHub``). ``kinds`` says which
    record kinds it judges: CloudTrail calls, or GuardDuty / Security Hub findings.
    """

    id: str
    title: str
    mitre: str
    event_source: str
    event_names: frozenset[str]
    condition: Condition
    remediation: str
    permissions: tuple[str, ...]
    verification: str
    extra_events: frozenset[tuple[str, str]] = frozenset()
    kinds: frozenset[RecordKind] = frozenset({"cloudtrail"})
    finding_types: frozenset[str] = frozenset()

    @property
    def triggers(self) -> frozenset[tuple[str, str]]:
        """Every (eventSource, eventName) pair this technique judges."""
        return frozenset((self.event_source, name) for name in self.event_names) | self.extra_events

    def judge(self, record: Record, inventory: Inventory) -> Match:
        return self.condition(record, inventory)


# -- helpers shared by the technique modules -----------------------------------------------------------


def param(record: Record, *names: str) -> str | None:
    """The first of ``names`` in ``requestParameters`` that holds a non-empty string."""
    params = record.request_parameters
    for name in names:
        value = params.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def resource_arn(record: Record, resource_type: str | None = None) -> str | None:
    """An ARN from the record's ``resources`` list (CloudTrail names the target there, e.g. KMS keys)."""
    resources = record.raw.get("resources")
    if not isinstance(resources, list):
        return None
    for item in resources:
        if not isinstance(item, dict):
            continue
        arn = item.get("ARN") or item.get("arn")
        kind = item.get("type") or item.get("resourceType")
        if isinstance(arn, str) and arn and (resource_type is None or kind == resource_type):
            return arn
    return None


def as_bool(value: Any) -> bool | None:
    """``True``/``False`` from a JSON bool or the strings CloudTrail sometimes writes instead."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def as_int(value: Any) -> int | None:
    """An integer from a JSON number or a numeric string (S3's XML-born parameters are strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def unnamed(what: str) -> Match:
    """The call does not name its target: a denied call with ``requestParameters: null``."""
    return Match.unknown(None, f"does not say which {what} it targets")
