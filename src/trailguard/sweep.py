"""The backstop sweep: every protected resource compared with its baseline, drift repaired, one message.

CloudTrail's delivery to EventBridge is best effort, a rule or function may have been off when the
tampering call happened, and a repair may not have held. So on a schedule (the stack's ``BackstopRule``,
``BackstopSchedule``) the finding function runs this sweep: each recorded baseline is handed, as a
:class:`~trailguard.remediate.RepairRequest` with no record, to the actions of the techniques that
declare they restore that kind in the sweep (``Technique.sweep``). The actions already read the live
state first and report
``already-restored`` when nothing differs, so "compare" and "repair" are the same, tested code as the
event path, and anything else they report is drift. A missed event is thus caught within one period.

One message per sweep that found drift (not one per resource), none when all is well. On a fresh stack
with no baseline yet, the sweep records one and says so. The message goes through the same pipeline as
an event's incident (``trailguard.notify``: the sweep's :class:`~trailguard.notify.SweepFindings` is
rendered, deduplicated on the ledger and published by ``notify.send``). What cannot be repaired (a
deleted function) stays drifted: the ledger keeps a sweep whose findings equal those of its last message
quiet for an hour, then sends a "still broken since HH:MM" reminder; the repairs and the log line run on
every sweep all the same. Each drifted resource is also a Security Hub finding
(``notify.securityhub.report_sweep``) unless ``TRAILGUARD_SECURITY_HUB=false``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trailguard import history, resources
from trailguard.baseline import KINDS, Baselines, Summary, capture_all
from trailguard.baseline.discover import first_seen, retry_created
from trailguard.baseline.rebaseline import retry_pending
from trailguard.config import Config
from trailguard.inventory import load
from trailguard.log import log_event
from trailguard.notify import Drift, Ledger, SweepFindings, followups, ledger_for, resend, send
from trailguard.notify.ledger import SWEEP_WINDOW_SECONDS
from trailguard.notify.securityhub import report_sweep
from trailguard.policy import TECHNIQUES, Technique
from trailguard.remediate import Context, Outcome, RepairRequest, repair
from trailguard.remediate.base import routed

LOG = logging.getLogger(__name__)

SCHEMA = "trailguard.sweep/1"
REASON = "backstop sweep: the live resource is compared with its recorded baseline"
ORDER = resources.ORDER
"""Repair order (each kind's ``sweep_order``): the topic first (so the message can go out), the
pipeline, then what a trail needs (its key and bucket) before the trail itself."""


def _swept(kind: resources.Kind) -> list[Technique]:
    """The techniques whose actions restore ``kind`` in the sweep, in their declared order."""
    found = [t for t in TECHNIQUES.values() if t.sweep is not None and t.kind is kind]
    return sorted(found, key=lambda t: t.sweep.order if t.sweep is not None else 0)


def _run(ctx: Context, technique: Technique, ident: str, baseline: Mapping[str, Any]) -> Outcome:
    assert technique.sweep is not None
    ref = technique.sweep.target(ident, baseline)
    return repair(
        ctx, technique, RepairRequest(technique.kind, ref, REASON, baseline, technique=technique.id)
    )


def reconcile(ctx: Context, kind: str, ident: str, baseline: Mapping[str, Any]) -> list[Outcome]:
    """Bring one resource back to its baseline with the actions that restore its kind; their outcomes,
    in order. One that finds the resource gone hands over to the kind's ``if_gone`` technique (a
    deleted bucket is recreated) instead of the rest. A resource the stack may only verify (a member's
    view of the organization trail: ``remediate.base.routed``) is verified once and reported, never
    repaired."""
    steps = _swept(resources.kind(kind))
    if not steps:
        raise ValueError(f"no technique restores {kind!r} in the sweep")
    verified = routed(ctx, RepairRequest(resources.kind(kind), ident, REASON, baseline))
    if verified is not None:
        return [verified]
    instead = next((t for t in steps if t.sweep is not None and t.sweep.if_gone), None)
    outcomes: list[Outcome] = []
    for technique in steps:
        assert technique.sweep is not None
        if technique.sweep.if_gone or not technique.sweep.applies(baseline):
            continue
        outcome = _run(ctx, technique, ident, baseline)
        if instead is not None and outcome.gone and not outcome.ok:
            return [_run(ctx, instead, ident, baseline)]
        outcomes.append(outcome)
    return outcomes


@dataclass
class Report:
    """What one sweep checked, found and did."""

    region: str
    checked: dict[str, int] = field(default_factory=dict)
    drift: list[Drift] = field(default_factory=list)
    recorded: Summary | None = None
    errors: list[str] = field(default_factory=list)
    message_id: str | None = None
    publish_error: str | None = None
    notification: dict[str, Any] | None = None
    security_hub: dict[str, Any] | None = None
    outbox: dict[str, Any] | None = None
    """Alerts kept because they could not be published, sent again by this sweep (``notify.outbox``)."""
    unread: bool = False
    """No baseline could be read (:func:`_without_baselines` ran): the ledger on the state table cannot
    deduplicate this sweep's message either, so the process remembers it (:func:`_repeats`)."""

    @property
    def action_required(self) -> bool:
        return bool(self.errors) or any(not d.ok for d in self.drift)

    def notice(self, account: str | None) -> SweepFindings:
        """What this sweep has to tell, as the notification pipeline's notice."""
        return SweepFindings(
            account, self.region, dict(self.checked), list(self.drift), list(self.errors), self.recorded
        )

    def findings(self) -> list[list[str]]:
        """The ledger's fingerprint input (:meth:`SweepFindings.findings`)."""
        return self.notice(None).findings()

    def to_dict(self) -> dict[str, Any]:
        return (
            {
                "region": self.region,
                "checked": dict(self.checked),
                "drift": [d.to_dict() for d in self.drift],
                "recorded_baseline": self.recorded.to_dict() if self.recorded is not None else None,
                "errors": list(self.errors),
                "message_id": self.message_id,
                "publish_error": self.publish_error,
                "notification": dict(self.notification) if self.notification is not None else None,
            }
            | ({"security_hub": dict(self.security_hub)} if self.security_hub is not None else {})
            | ({"outbox": dict(self.outbox)} if self.outbox is not None else {})
        )


def sweep(config: Config, region: str, baselines: Baselines | None = None) -> Report:
    """Compare and repair everything recorded; record a baseline first when there is none. Never raises
    for one resource: a failure is part of the report (and of the message)."""
    report = Report(region)
    if baselines is None:
        baselines = Baselines.from_config(config, region)
    if not baselines.available:
        report.errors.append("no state table is configured (TRAILGUARD_STATE_TABLE), so nothing is recorded")
        _without_baselines(config, region, baselines, report)
        return report
    try:
        recorded = {kind: baselines.of_kind(kind) for kind in KINDS}
    except Exception as exc:
        report.errors.append(f"the baselines could not be read: {type(exc).__name__}: {exc}")
        _without_baselines(config, region, baselines, report)
        return report
    # Allow-listed changes waiting for CloudTrail's confirmation: settled now, or their resource held.
    settled, held = retry_pending(baselines)
    for pending, outcome in settled:
        report.drift.append(Drift(pending.kind, pending.ident, [outcome]))
    if settled:
        recorded = {kind: baselines.of_kind(kind) for kind in KINDS}
    # A baseline that fails verification is never applied (it reads as absent); each is named here.
    report.errors.extend(t.text() for t in baselines.tampered)
    if not any(recorded.values()) and not baselines.tampered:
        report.recorded = capture_all(config, region, source="backstop", baselines=baselines)
        log_event(LOG, logging.INFO, "sweep.baseline-recorded", **report.recorded.to_dict())
        return report

    ctx = Context(load(config, region, baselines), baselines, config=config)
    for kind in sorted(recorded, key=lambda k: ORDER.index(k) if k in ORDER else len(ORDER)):
        report.checked[kind] = len(recorded[kind])
        for ident, doc in recorded[kind].items():
            if (kind, ident) in held:  # the pending change's own line says why it is not reverted yet
                continue
            try:
                outcomes = reconcile(ctx, kind, ident, doc)
            except Exception as exc:  # a bug on one resource must not hide the others
                report.errors.append(f"{kind} {ident}: {type(exc).__name__}: {exc}")
                continue
            if any(o.status != "already-restored" for o in outcomes):
                if len(report.drift) < NAMED_MAX:  # LookupEvents allows 2 calls a second
                    _name_who(config, region, kind, ident, outcomes)
                report.drift.append(Drift(kind, ident, outcomes))
    # trails whose CreateTrail waits for CloudTrail's history: baselined "first seen" once it confirms
    report.drift.extend(
        Drift(kind, ident, [outcome])
        for kind, ident, outcome in retry_created(config, region, baselines)
        if outcome.status != "pending"  # still waiting: nothing to tell yet, and its repair is not held
    )
    found, missing = first_seen(config, region, baselines)  # trails (buckets, keys) new since deploy
    report.drift.extend(Drift(kind, ident, [outcome]) for kind, ident, outcome in found)
    report.errors.extend(missing)
    log_event(
        LOG,
        logging.ERROR if report.action_required else logging.INFO,
        "sweep.done",
        checked=report.checked,
        drift=[d.label for d in report.drift],
        errors=report.errors,
    )
    return report


UNREAD = "backstop sweep: no baseline could be read, so only what needs none is checked"
WITHOUT_BASELINES = ("finding.trail-disabled", "guard.table")
"""What the sweep still does when no baseline can be read (no state table, or it is gone or unreadable):
each protected trail is started if it is not logging (``trail.reconcile`` checks only logging for a
trail without a baseline), and the configured state table is checked (a deleted one is named and
escalated). Before, such a sweep checked nothing and mailed "drift on 0 resource(s)"."""


def _without_baselines(config: Config, region: str, baselines: Baselines, report: Report) -> None:
    """The baseline-free part of the sweep (:data:`WITHOUT_BASELINES`), into ``report``. Never raises."""
    report.unread = True
    try:
        ctx = Context(load(config, region, baselines), baselines, config=config)
    except Exception as exc:
        report.errors.append(f"the live inventory could not be read: {type(exc).__name__}: {exc}")
        return
    trails, table = (TECHNIQUES[t] for t in WITHOUT_BASELINES)
    checks = [(trails, str(t.get("TrailARN") or t.get("Name"))) for t in ctx.live.protected]
    if config.state_table:
        checks.append((table, config.state_table))
    for technique, ident in checks:
        kind = technique.kind.name
        report.checked[kind] = report.checked.get(kind, 0) + 1
        outcome = repair(ctx, technique, RepairRequest(technique.kind, ident, UNREAD, technique=technique.id))
        if outcome.status != "already-restored":
            report.drift.append(Drift(kind, ident, [outcome]))


NAMED_MAX = 5
"""Drifted resources per sweep whose last change is looked up in CloudTrail's history."""


def _name_who(config: Config, region: str, kind: str, ident: str, outcomes: list[Outcome]) -> None:
    """Name who last changed a drifted resource, from CloudTrail's history (not trailguard's own role),
    in the first outcome that changed something. Never raises."""
    changed = next((o for o in outcomes if o.status != "already-restored"), None)
    if changed is None:
        return
    try:
        short = resources.kind(kind).short(ident)
        event = history.last_change((short, ident), region, exclude=config.guard_role_arns)
    except Exception as exc:
        log_event(LOG, logging.WARNING, "sweep.history-unavailable", kind=kind, id=ident, error=str(exc))
        return
    if event is not None:
        changed.summary = (
            f"{changed.summary.rstrip('.')}. Last change in CloudTrail's history: {event.describe()}"
        )


def run(config: Config, region: str, ledger: Ledger | None = None) -> Report:
    """Sweep, then tell: the findings go through the notification pipeline (the publish error is kept in
    the report, not raised) and each drifted resource to Security Hub.

    Drift is repaired on every sweep; only the message is gated by the ledger on the state table
    (``ledger`` defaults to the configured one; none without a table): the same findings as the last
    message within the window send nothing, after it a reminder. A recorded baseline is always told."""
    report = sweep(config, region)
    if ledger is None and config.state_table:
        ledger = _open_ledger(config, region)
    # The topic has been put back by now; the alerts kept while it (or SNS) was down go out first.
    report.outbox = resend(config, region)
    followups(config, region)  # bursts that ended (or reached a slot) get their count, once
    # A kept alert that failed verification was not sent: it is tampered state, told like a baseline.
    report.errors.extend(str(t) for t in (report.outbox or {}).get("tampered") or [])
    notice = report.notice(config.account)
    told = (region, config.topic_arn or "", config.state_table or "")
    if report.unread and _repeats(told, report.findings(), remember=False):
        report.notification = {
            "action": "suppress",
            "reason": "the same findings as this process's last sweep message, within the window "
            "(no state table to keep a ledger on)",
        }
    else:
        delivery = send(notice, config.topic_arn, ledger, security_hub=config.security_hub)
        report.notification = delivery.notification
        report.message_id = delivery.message_id if delivery.published else None
        report.publish_error = delivery.error
        if report.unread and delivery.published:
            _repeats(told, report.findings(), remember=True)
    if config.security_hub:
        report.security_hub = report_sweep(notice)  # logs its own failures; never blocks the sweep
    return report


_TOLD: dict[tuple[str, str, str], tuple[str, float]] = {}
"""Per region, topic and table: the findings of the last sweep message sent while no baseline could be
read, and when."""


def _repeats(told: tuple[str, str, str], findings: list[list[str]], *, remember: bool) -> bool:
    """Whether ``findings`` equal those of this process's last such message within
    ``SWEEP_WINDOW_SECONDS`` (then the message would repeat it: after the window it goes out again, as
    the ledger's reminder does); with ``remember``, record them as told now. The fallback for a sweep
    whose state table is gone: a warm function keeps it between scheduled runs, a cold one tells again."""
    text, now = json.dumps(findings, sort_keys=True), time.time()
    if remember:
        _TOLD[told] = (text, now)
        return False
    last = _TOLD.get(told)
    return last is not None and last[0] == text and now - last[1] < SWEEP_WINDOW_SECONDS


def _open_ledger(config: Config, region: str) -> Ledger | None:
    """The configured ledger; one that cannot be opened fails open (the message goes out)."""
    try:
        return ledger_for(config, region)
    except Exception as exc:
        log_event(
            LOG, logging.ERROR, "sweep.ledger-unavailable", step="open", error=f"{type(exc).__name__}: {exc}"
        )
        return None
