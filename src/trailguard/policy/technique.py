"""The shape of a technique: one self-describing declaration per way of switching CloudTrail off.

Each declaration says which calls it covers, when such a call is tampering (its ``condition``), the
resource kind it protects (a :class:`trailguard.resources.Kind`), the :class:`~trailguard.remediate.Action`
that repairs it (which declares its own IAM permissions beside its calls), how the repair is verified,
and whether the backstop sweep runs that action for the kind's baselines. The classifier only walks them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from trailguard.events import Record, RecordKind
from trailguard.policy.inventory import Inventory
from trailguard.remediate.base import Action
from trailguard.resources import Kind

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
class Sweep:
    """How the backstop sweep uses a technique's action on the baselines of its kind.

    ``order`` places it among the kind's other swept techniques; ``when`` (given the baseline document)
    says whether it applies; ``if_gone``: run only when an earlier one found the resource gone, instead
    of the rest (a deleted bucket is recreated, not re-policied).
    """

    order: int = 0
    when: Callable[[Mapping[str, Any]], bool] | None = None
    if_gone: bool = False
    ref: Callable[[str, Mapping[str, Any]], str] | None = None
    """The reference to hand the action, from the baseline id and document (default: the id)."""

    def applies(self, baseline: Mapping[str, Any]) -> bool:
        return self.when is None or self.when(baseline)

    def target(self, ident: str, baseline: Mapping[str, Any]) -> str:
        return self.ref(ident, baseline) if self.ref is not None else ident


@dataclass(frozen=True, eq=False)
class Technique:
    """One technique of detection-policy.md's table: the unit the classifier, the repair, the sweep, the
    message and the generated template and docs all read.

    Compared by identity (``eq=False``): there is one object per technique in the registry; code that
    keys or serialises by id reads ``id``.

    ``event_names`` are matched without Lambda's API-version suffix (``PutFunctionConcurrency20171031``
    matches ``PutFunctionConcurrency``). ``extra_events`` adds (event source, name) pairs from another
    service (``guard.detector`` also covers Security Hub's ``DisableSecurityHub``). ``kinds`` says which
    record kinds it judges: CloudTrail calls, or GuardDuty / Security Hub findings. ``guard``: its calls
    are on trailguard's own resources, so the guard-calls rule delivers them too (to the other function).
    """

    id: str
    title: str
    mitre: str
    kind: Kind
    event_source: str
    event_names: frozenset[str]
    condition: Condition
    action: Action
    verification: str
    extra_events: frozenset[tuple[str, str]] = frozenset()
    kinds: frozenset[RecordKind] = frozenset({"cloudtrail"})
    finding_types: frozenset[str] = frozenset()
    sweep: Sweep | None = None
    guard: bool = False
    shares_calls: bool = False
    """Its calls are also another technique's (the guard role and a trail's CloudWatch Logs role are
    changed by the same IAM calls): the classifier asks every technique that shares the call, in registry
    order, and the first whose condition is not harmless judges it. Both sides must say so."""
    tamper_when: str = ""
    """When a call counts as tampering, as detection-policy.md's table says it (generated from here)."""
    repair_summary: str = ""
    """What the repair does, in a phrase, for the same table."""
    stops_delivery: bool = False
    """The call stops the trail delivering logs (stopped, deleted, its bucket or key made unusable): the
    message then says activity in the meantime was not delivered (and never says so otherwise)."""
    needs_baseline: bool = True
    """False: neither its condition, nor its repair, nor its message reads a baseline or the trail list,
    so the API-call handler judges and repairs it from the configuration alone (no DescribeTrails, no
    baseline read: the hot path of ``trail.stop-logging``)."""
    budget: int | None = None
    """The most AWS calls its warm event path makes through ``handlers.api_call`` (repair, verification,
    alert and the ledger's one conditional write); ``tests/test_budgets.py`` counts them."""

    def __repr__(self) -> str:
        return f"Technique({self.id!r})"

    @property
    def triggers(self) -> frozenset[tuple[str, str]]:
        """Every (eventSource, eventName) pair this technique judges."""
        return frozenset((self.event_source, name) for name in self.event_names) | self.extra_events

    @property
    def remediation(self) -> str:
        """The action's stable name (``trail.start_logging``), as messages and docs print it."""
        return self.action.name

    @property
    def permissions(self) -> frozenset[str]:
        """The IAM actions its repair needs: the action's own declaration."""
        return self.action.permissions

    @property
    def manual_steps(self) -> str:
        """What a person does by hand when the repair is not built or failed (``{resource}``,
        ``{region}`` are filled in by the message)."""
        return self.action.manual_steps

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


# Lambda writes the API version into the event name: PutFunctionConcurrency20171031,
# UpdateFunctionConfiguration20150331v2.
_API_VERSION = re.compile(r"^(?P<name>[A-Za-z]+?)\d{8}(?:v\d+)?$")


def base_event_name(name: str) -> str:
    """The event name without Lambda's API-version suffix."""
    found = _API_VERSION.match(name)
    return found.group("name") if found else name
