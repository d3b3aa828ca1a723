"""An allow-listed principal changed a protected resource: once CloudTrail confirms it, its new state
becomes the baseline.

An invocation can carry any identity, so an allow-listed event is trusted only after CloudTrail's own
history holds it (``trailguard.history.confirm``: same event id, name, source, principal and request
parameters):

- **confirmed**: the resource's current state is recorded as its baseline. If the resource is missing,
  its baseline is removed only when the confirmed event is the resource's deletion; any other late
  allow-listed event about a missing resource keeps the baseline (so the attacker's ``DeleteTrail`` is
  still repaired) and asks a person to look.
- **pending** (not in the history yet: on AWS it lags EventBridge by minutes) or **unavailable**
  (LookupEvents failed): the event is kept as a signed ``pending#allowed`` record and reported as
  "pending confirmation"; the backstop sweep retries (:func:`retry_pending`) and, until
  :data:`HOLD_SECONDS` have passed, does not revert the resource. After that it is treated as never
  confirmed: the record is dropped, the sweep repairs the resource from the baseline and says so.
- **mismatch** (the history has that event id with another principal, name or resource: a forged
  invocation): nothing is recorded, and the message needs a person.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trailguard import history
from trailguard.aws import error_code
from trailguard.baseline.capture import Clients, capture_one
from trailguard.baseline.store import Baselines
from trailguard.log import log_event
from trailguard.policy import Technique, Verdict
from trailguard.remediate import Outcome
from trailguard.resources import Kind
from trailguard.resources import kind as kind_of

LOG = logging.getLogger("trailguard.baseline")

PENDING_PK = "pending#allowed"
HOLD_SECONDS = 20 * 60
"""How long a pending allow-listed change holds the sweep's repair of its resource (CloudTrail's event
history usually shows an event within 5 to 15 minutes)."""
PENDING_TTL_SECONDS = 24 * 3600
UNCONFIRMED = "baseline.unconfirmed"
"""The action name of an allow-listed event CloudTrail does not confirm (forged): its message needs a
person, not "authorised"."""


def kind_for(technique: Technique | None) -> Kind | None:
    """The baseline kind an authorised call of ``technique`` changes (None: no baseline is kept, as for
    a detector, or the technique judges findings rather than calls)."""
    if technique is None or technique.kind.capture is None:
        return None
    if "cloudtrail" not in technique.kinds:
        return None
    return technique.kind


@dataclass(frozen=True)
class Pending:
    """One allow-listed event waiting for CloudTrail's confirmation (a verified ``pending#allowed``
    record)."""

    event_id: str
    kind: str
    resource: str
    ident: str
    region: str
    event_name: str | None
    event_source: str | None
    principal_arn: str | None
    request_parameters: Mapping[str, Any]
    first_seen: float

    @property
    def holding(self) -> bool:
        return time.time() - self.first_seen < HOLD_SECONDS

    def to_doc(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "kind": self.kind,
            "resource": self.resource,
            "ident": self.ident,
            "region": self.region,
            "event_name": self.event_name,
            "event_source": self.event_source,
            "principal_arn": self.principal_arn,
            "request_parameters": dict(self.request_parameters),
            "first_seen": self.first_seen,
        }

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> Pending:
        params = doc.get("request_parameters")
        return cls(
            event_id=str(doc["event_id"]),
            kind=str(doc["kind"]),
            resource=str(doc["resource"]),
            ident=str(doc.get("ident") or doc["resource"]),
            region=str(doc["region"]),
            event_name=doc.get("event_name"),
            event_source=doc.get("event_source"),
            principal_arn=doc.get("principal_arn"),
            request_parameters=params if isinstance(params, Mapping) else {},
            first_seen=float(doc.get("first_seen") or 0),
        )

    def describe(self) -> str:
        return f"{self.event_name} by {self.principal_arn} (event {self.event_id})"

    def confirm(self) -> history.Confirmation:
        return history.confirm(
            self.event_id,
            self.region,
            event_name=self.event_name,
            event_source=self.event_source,
            principal_arn=self.principal_arn,
            request_parameters=self.request_parameters,
        )


def rebaseline(verdict: Verdict, baselines: Baselines, region: str) -> Outcome | None:
    """Confirm the allow-listed change, then record the resource's new state as its baseline.

    Returns what was done as an Outcome (``baseline.record``: ``remediated`` when recorded, ``pending``
    while CloudTrail has not confirmed it, ``failed`` when it cannot be trusted or recorded) so the
    alert says so; None when the resource has no baseline kind or the verdict names no resource.
    Never raises.
    """
    kind = kind_for(verdict.technique)
    resource = verdict.resource
    if kind is None or not resource:
        return None
    outcome = Outcome("baseline.record", resource)
    if not baselines.available:
        outcome.status = "failed"
        outcome.summary = (
            f"no state table is configured, so the authorised change to {kind.name} {resource} was not "
            "recorded as the new baseline"
        )
        return outcome
    record = verdict.record
    if record is None:
        outcome.status, outcome.verified = "failed", False
        outcome.summary = f"no CloudTrail record came with the change to {kind.name} {resource}: not trusted"
        return outcome
    pending = Pending(
        event_id=str(record.event_id or ""),
        kind=kind.name,
        resource=resource,
        ident=kind.ident(resource),
        region=record.region or region,
        event_name=record.event_name,
        event_source=record.event_source,
        principal_arn=record.principal_arn,
        request_parameters=dict(record.request_parameters),
        first_seen=time.time(),
    )
    try:
        _settle(pending, baselines, outcome, first=True)
    except Exception as exc:
        text = f"{error_code(exc) or type(exc).__name__}: {exc}"
        outcome.status, outcome.verified = "failed", False
        outcome.errors.append(text)
        outcome.summary = (
            f"could not record the new baseline of {kind.name} {resource}; the previous baseline still "
            "applies (run trailguard baseline record)"
        )
    log_event(LOG, logging.INFO if outcome.ok else logging.ERROR, "baseline.rebaseline", **outcome.to_dict())
    return outcome


def _settle(pending: Pending, baselines: Baselines, outcome: Outcome, *, first: bool) -> None:
    """Confirm ``pending`` and act on the answer, filling ``outcome``."""
    signed = baselines.signed
    assert signed is not None
    confirmation = pending.confirm()
    if confirmation.status in ("pending", "unavailable"):
        if pending.holding:
            if first:
                signed.put(PENDING_PK, pending.event_id, pending.to_doc(), ttl_seconds=PENDING_TTL_SECONDS)
            outcome.status, outcome.verified = "pending", None
            outcome.summary = (
                f"the allow-listed change ({pending.describe()}) becomes the baseline of {pending.kind} "
                f"{pending.ident} only once CloudTrail's event history confirms it ({confirmation.reason}); "
                f"until then it is pending: every backstop sweep retries, and holds the repair of this "
                f"{pending.kind} for {HOLD_SECONDS // 60} minutes after trailguard first saw the event"
            )
            return
        signed.delete(PENDING_PK, pending.event_id)
        outcome.action, outcome.status, outcome.verified = UNCONFIRMED, "failed", False
        outcome.summary = (
            f"the allow-listed change ({pending.describe()}) was never confirmed by CloudTrail's event "
            f"history ({confirmation.reason}) within {HOLD_SECONDS // 60} minutes: it is treated as forged, "
            f"and {pending.kind} {pending.ident} is restored from its baseline"
        )
        return
    if not first:
        signed.delete(PENDING_PK, pending.event_id)
    if confirmation.status == "mismatch":
        outcome.action, outcome.status, outcome.verified = UNCONFIRMED, "failed", False
        outcome.errors.append(confirmation.reason)
        outcome.summary = (
            f"the invocation claimed an allow-listed change ({pending.describe()}) that CloudTrail does not "
            f"confirm ({confirmation.reason}): it looks forged, so the baseline of {pending.kind} "
            f"{pending.ident} was left as it was. Find who invoked trailguard's function with this record"
        )
        return
    kind = kind_of(pending.kind)
    ident, doc = _current(kind, pending.resource, Clients(pending.region))
    if doc is None:
        if _is_deletion(pending):
            baselines.delete(kind.name, ident)
            outcome.status, outcome.verified = "remediated", True
            outcome.summary = (
                f"{kind.name} {ident} was deleted by this confirmed authorised change; its baseline was "
                "removed, so trailguard will not recreate it"
            )
        else:
            outcome.status, outcome.verified = "failed", False
            outcome.summary = (
                f"{kind.name} {ident} is missing, but this authorised change ({pending.describe()}) did not "
                "delete it: its baseline was kept, so trailguard restores it. Find who deleted it"
            )
        return
    doc = dict(doc)
    meta = dict(doc.get("_meta") or {})
    meta.update(confirmed_by=confirmation.event.describe() if confirmation.event else pending.describe())
    doc["_meta"] = meta
    baselines.put(kind.name, ident, doc)
    outcome.status, outcome.verified = "remediated", True
    outcome.summary = (
        f"CloudTrail's event history confirms the change ({pending.describe()}); recorded the new state "
        f"of {kind.name} {ident} as its baseline: trailguard will restore this configuration from now on"
    )


def _is_deletion(pending: Pending) -> bool:
    return str(pending.event_name or "").startswith("Delete")


def retry_pending(baselines: Baselines) -> tuple[list[tuple[Pending, Outcome]], set[tuple[str, str]]]:
    """The sweep's retry of every pending allow-listed change: (each pending change and what became of
    it, the (kind, id) whose repair is held while they wait). Never raises for one record."""
    signed = baselines.signed
    if signed is None:
        return [], set()
    results: list[tuple[Pending, Outcome]] = []
    held: set[tuple[str, str]] = set()
    for sk, doc in signed.query(PENDING_PK).items():
        try:
            pending = Pending.of(doc)
        except (KeyError, TypeError, ValueError) as exc:
            log_event(LOG, logging.ERROR, "baseline.pending-unreadable", sk=sk, error=str(exc))
            continue
        outcome = Outcome("baseline.record", pending.resource)
        try:
            _settle(pending, baselines, outcome, first=False)
        except Exception as exc:
            outcome.status, outcome.verified = "failed", False
            outcome.errors.append(f"{error_code(exc) or type(exc).__name__}: {exc}")
            outcome.summary = f"could not settle the pending allow-listed change {pending.describe()}"
        if outcome.status == "pending":
            held.add((pending.kind, pending.ident))
        results.append((pending, outcome))
    return results, held


def _current(kind: Kind, resource: str, clients: Clients) -> tuple[str, dict[str, Any] | None]:
    """(baseline id, current state) of the resource a verdict names; state None when it is gone (an
    error code the kind lists as "does not exist")."""
    ident = kind.ident(resource)
    try:
        doc = capture_one(kind.name, ident, clients, source="allowed-change")
    except Exception as exc:
        if kind.is_gone(error_code(exc)):
            return ident, None
        raise
    return kind.stored_id(ident, doc), doc
