"""An allow-listed principal changed a protected resource: its new state becomes the baseline."""

from __future__ import annotations

import logging
from typing import Any

from trailguard.aws import error_code
from trailguard.baseline.capture import Clients, capture_one
from trailguard.baseline.store import Baselines
from trailguard.log import log_event
from trailguard.policy import Technique, Verdict
from trailguard.remediate import Outcome
from trailguard.resources import Kind

LOG = logging.getLogger("trailguard.baseline")


def kind_for(technique: Technique | None) -> Kind | None:
    """The baseline kind an authorised call of ``technique`` changes (None: no baseline is kept, as for
    a detector, or the technique judges findings rather than calls)."""
    if technique is None or technique.kind.capture is None:
        return None
    if "cloudtrail" not in technique.kinds:
        return None
    return technique.kind


def rebaseline(verdict: Verdict, baselines: Baselines, region: str) -> Outcome | None:
    """Record the resource's new state as its baseline.

    Returns what was done as an Outcome (``baseline.record``) so the alert says so; None when the
    resource has no baseline kind (e.g. a detector) or the verdict names no resource. Never raises.
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
    try:
        ident, doc = _current(kind, resource, Clients(region))
        if doc is None:
            baselines.delete(kind.name, ident)
            outcome.status, outcome.verified = "remediated", True
            outcome.summary = (
                f"{kind.name} {ident} no longer exists after this authorised change; its baseline was "
                "removed, so trailguard will not recreate it"
            )
        else:
            baselines.put(kind.name, ident, doc)
            outcome.status, outcome.verified = "remediated", True
            outcome.summary = (
                f"recorded the new state of {kind.name} {ident} as its baseline: trailguard will restore "
                "this configuration from now on"
            )
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
