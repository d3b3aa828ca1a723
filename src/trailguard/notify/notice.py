"""The Notice: what trailguard tells people, whether an event raised it or the backstop sweep found it.

Two shapes share one interface, so the renderer, the delivery path, the ledger and the Security Hub
reporter each take a :data:`Notice` and nothing else:

- :class:`Incident`: one non-benign verdict on one record (API call or finding), and its repair;
- :class:`SweepFindings`: one backstop sweep of one account and region: each :class:`Drift` (a resource
  that did not match its baseline, with its repair outcomes) and what could not be checked, or the
  baseline the sweep recorded because there was none.

Both speak one status vocabulary (:data:`STATUS_WORDS`): the outcome statuses of ``remediate``, the two
verdict-level ones (``attempted``, ``authorised``) and the sweep-level ``action-required``.

What a kind of resource is called and its Security Hub type come from the resource model
(:mod:`trailguard.resources`); everything about the technique (title, MITRE id, kind, manual steps) from
the :class:`~trailguard.policy.Technique` the verdict carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from trailguard.policy.technique import base_event_name
from trailguard.resources import find as find_kind

if TYPE_CHECKING:
    from trailguard.baseline import Summary
    from trailguard.events import Record
    from trailguard.policy import Technique, Verdict
    from trailguard.remediate import Outcome

SECURITY_HUB_SOURCE = "securityhub.amazonaws.com"
PREFIX = "[trailguard]"
ACTION_REQUIRED = "[ACTION REQUIRED]"

STATUS_WORDS = {
    "remediated": "REPAIRED",
    "already-restored": "ALREADY RESTORED",
    "failed": "REPAIR FAILED",
    "not-implemented": "NOT REPAIRED",
    "notify-only": "NOT REPAIRABLE",
    "attempted": "ATTEMPT",
    "authorised": "AUTHORISED",
    "action-required": "NEEDS A PERSON",
    "pending": "PENDING CONFIRMATION",
    "recorded": "BASELINED",
    "routed": "REPAIR ROUTED",
}
"""The one set of status words: subjects, the sweep's per-outcome lines and Security Hub all use it."""
NEEDS_A_PERSON = frozenset({"failed", "not-implemented", "notify-only", "action-required", "routed"})
"""``routed``: another account's resource (a member's view of the organization trail) that is not
verified to be right; this stack may not change it, so its owner, told by a person, must."""


def noun(kind: str | None) -> str | None:
    """``KMS key`` for ``key``: the resource model's noun (None for a kind it does not know)."""
    found = find_kind(kind)
    return found.noun if found is not None else None


def status_word(status: str) -> str:
    """``REPAIRED`` for ``remediated``; an unknown status is shown upper-cased."""
    return STATUS_WORDS.get(status, status.upper())


def status_head(status: str) -> tuple[str, str]:
    """The subject's prefix and word: ``[ACTION REQUIRED]`` whenever a person must act."""
    return (ACTION_REQUIRED if status in NEEDS_A_PERSON else PREFIX), status_word(status)


def _now() -> str:
    """When trailguard saw the incident (a seam: golden tests pin it)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def short_name(ident: str) -> str:
    """``my-trail`` of ``arn:...:trail/my-trail``; a name that is no ARN is kept."""
    return ident.rsplit("/", 1)[-1] if ident.startswith("arn:") else ident


@dataclass
class Incident:
    """One non-benign verdict, what trailguard did about it, and where it was seen."""

    verdict: Verdict
    record: Record
    handler: str
    handler_region: str
    account: str | None = None
    outcome: Outcome | None = None
    detected_at: str = field(default_factory=lambda: _now())  # noqa: PLW0108 (late-bound: tests pin _now)
    baseline: Mapping[str, Any] | None = None
    """The resource's recorded baseline before the call, when there is one: what the call changed is
    shown against it (before -> after)."""

    @property
    def technique(self) -> Technique | None:
        """The technique the verdict carries: its title, MITRE id, kind and manual steps come from it."""
        return self.verdict.technique

    @property
    def technique_id(self) -> str | None:
        """The technique's id (``trail.stop-logging``)."""
        return self.verdict.technique_id

    @property
    def technique_title(self) -> str | None:
        return self.technique.title if self.technique is not None else None

    @property
    def mitre(self) -> str | None:
        return self.technique.mitre if self.technique is not None else None

    @property
    def kind(self) -> str | None:
        """The kind of resource the technique protects (``trail``, ``key``, ``rule``...)."""
        return self.technique.kind.name if self.technique is not None else None

    @property
    def action_required(self) -> bool:
        """A person must repair something: the repair failed, is not built, or cannot be automated."""
        if self.verdict.verdict != "tamper":
            return False
        return self.outcome is None or not self.outcome.ok

    @property
    def status(self) -> str:
        """``remediated``, ``already-restored``, ``failed``, ``not-implemented``, ``notify-only``,
        ``attempted`` or ``authorised``: one word for the summary."""
        if self.verdict.verdict == "attempt":
            return "attempted"
        if self.verdict.verdict == "allowed":  # unconfirmed or forged: not "authorised" (baseline.rebaseline)
            if self.outcome is not None and self.outcome.status == "pending":
                return "pending"
            if self.outcome is not None and self.outcome.action == "baseline.unconfirmed":
                return "action-required"
            return "authorised"
        return self.outcome.status if self.outcome is not None else "failed"

    @property
    def region(self) -> str:
        return self.record.region or self.handler_region

    @property
    def account_id(self) -> str | None:
        return self.record.account_id or self.account

    @property
    def resource(self) -> str | None:
        return self.verdict.resource or (self.outcome.resource if self.outcome else None)

    @property
    def resource_label(self) -> str:
        """The short name of what was hit (``my-trail`` of its ARN), for subjects."""
        resource = self.resource
        return short_name(resource) if resource else "unnamed resource"

    @property
    def resource_noun(self) -> str:
        """``trail``, ``bucket``, ``KMS key``...: what the technique's family hits (``Security Hub`` for
        a Security Hub call, which the detector kind also covers)."""
        if self.kind == "detector" and self.record.event_source == SECURITY_HUB_SOURCE:
            return "Security Hub"
        return noun(self.kind) or "resource"

    @property
    def account_wide(self) -> bool:
        """The resource is the account itself (Security Hub is enabled per account): no name to show."""
        return self.resource is not None and self.resource == self.account_id

    @property
    def target(self) -> str:
        """``trail org-trail``; ``Security Hub`` alone when the resource is the account."""
        return self.resource_noun if self.account_wide else f"{self.resource_noun} {self.resource_label}"

    @property
    def event_name(self) -> str:
        """The call's name without Lambda's API-version suffix (``PutFunctionConcurrency``)."""
        return base_event_name(self.record.event_name) if self.record.event_name else "call"

    @property
    def finding_source(self) -> str:
        return "GuardDuty" if self.record.kind == "guardduty" else "Security Hub"

    @property
    def headline(self) -> str:
        """``StopLogging on trail org-trail``: the call and its target, for the subject and the card."""
        if self.record.kind == "cloudtrail":
            return f"{self.event_name} on {self.target}"
        return f"{self.target} disabled ({self.finding_source} finding)"

    @property
    def interrupts_delivery(self) -> bool:
        """The technique stops the trail delivering logs (stopped, deleted, its bucket or key unusable):
        only then does the message say activity was not delivered."""
        return self.technique is not None and self.technique.stops_delivery

    def summary(self) -> dict[str, Any]:
        """The line of the handler's return value for this incident."""
        return {
            "event_id": self.record.event_id,
            "event_name": self.record.event_name,
            "verdict": self.verdict.verdict,
            "technique": self.technique_id,
            "resource": self.verdict.resource,
            "principal": self.verdict.principal,
            "status": self.status,
            "action_required": self.action_required,
            "verified": self.outcome.verified if self.outcome is not None else None,
        }


@dataclass(frozen=True)
class Cause:
    """The call CloudTrail's event history names as the change a sweep found: who, what, when."""

    event_name: str | None
    event_id: str | None = None
    event_time: str | None = None
    principal: str | None = None
    source_ip: str | None = None

    @classmethod
    def of(cls, record: Record) -> Cause:
        """The cause a CloudTrail record (from LookupEvents) names."""
        name = record.event_name
        return cls(
            base_event_name(name) if name else None,
            record.event_id,
            record.event_time,
            record.principal_arn or record.principal_name,
            record.source_ip,
        )

    def describe(self) -> str:
        """``UpdateTrail by arn:aws:iam::1:user/mallory from 198.51.100.7 at T (event id e-1)``."""
        text = self.event_name or "a call"
        text += f" by {self.principal}" if self.principal else " (the event names no caller)"
        if self.source_ip:
            text += f" from {self.source_ip}"
        if self.event_time:
            text += f" at {self.event_time}"
        return text + (f" (event id {self.event_id})" if self.event_id else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_name": self.event_name,
            "event_id": self.event_id,
            "event_time": self.event_time,
            "principal": self.principal,
            "source_ip": self.source_ip,
        }


@dataclass
class Drift:
    """One resource that did not match its baseline, and what the actions did about it.

    ``cause``: the change as CloudTrail's event history names it, when the sweep could look it up;
    ``seen``: whether trailguard's event path had that event (its ledger says), None when unknown.
    """

    kind: str
    ident: str
    outcomes: list[Outcome]
    cause: Cause | None = None
    seen: bool | None = None

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)

    @property
    def verified(self) -> bool:
        """Every repair that changed something proved it (nothing left to check)."""
        return self.ok and all(o.verified is not False for o in self.outcomes if o.status == "remediated")

    @property
    def status(self) -> str:
        """``remediated`` when every repair held, else the first status that needs a person."""
        return next((o.status for o in self.outcomes if not o.ok), "remediated")

    @property
    def label(self) -> str:
        """``trail audit-trail``, ``topic tg-alerts``: the noun and the short name."""
        short = self.ident.rsplit(":", 1)[-1] if self.kind == "topic" else short_name(self.ident)
        return f"{noun(self.kind) or self.kind} {short}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "id": self.ident,
            "ok": self.ok,
            "outcomes": [o.to_dict() for o in self.outcomes],
        }
        if self.cause is not None:
            out["cause"] = self.cause.to_dict()
            out["event_seen"] = self.seen
        return out


@dataclass
class SweepFindings:
    """What one backstop sweep of an account and region has to tell: drift, what it could not check,
    or the baseline it recorded because there was none."""

    account: str | None
    region: str
    checked: dict[str, int] = field(default_factory=dict)
    drift: list[Drift] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    recorded: Summary | None = None
    swept_at: str = field(default_factory=lambda: _now())  # noqa: PLW0108 (late-bound, as above)

    @property
    def account_id(self) -> str | None:
        return self.account

    @property
    def action_required(self) -> bool:
        if self.recorded is not None:
            return not self.recorded.ok
        return bool(self.errors) or any(not d.ok for d in self.drift)

    @property
    def status(self) -> str:
        """``remediated`` when every drift was repaired, ``action-required`` otherwise."""
        return "action-required" if self.action_required else "remediated"

    @property
    def newsworthy(self) -> bool:
        """A baseline was recorded, something drifted, or something could not be checked."""
        return self.recorded is not None or bool(self.drift or self.errors)

    def findings(self) -> list[list[str]]:
        """What this sweep has to tell, for deduplication: each drifted resource with its repair
        statuses, and each thing that could not be checked; sorted, empty when all is well."""
        found = [[d.kind, d.ident, ",".join(o.status for o in d.outcomes)] for d in self.drift]
        found += [["error", e, ""] for e in self.errors]
        return sorted(found)


Notice = Incident | SweepFindings
"""What the pipeline carries: an event's incident or a sweep's findings."""
