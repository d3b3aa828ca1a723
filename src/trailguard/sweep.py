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
with no baseline yet, the sweep records one and says so. What cannot be repaired (a deleted function)
stays drifted: the state table's incident ledger (``incidents.Ledger.decide_sweep``) keeps a sweep whose
findings equal those of its last message quiet for an hour, then sends a "still broken since HH:MM"
reminder; the repairs and the log line run on every sweep all the same.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from trailguard import resources
from trailguard.baseline import KINDS, Baselines, Summary, capture_all
from trailguard.config import Config
from trailguard.inventory import load
from trailguard.log import log_event
from trailguard.policy import TECHNIQUES, Technique
from trailguard.remediate import Context, Outcome, RepairRequest, repair

if TYPE_CHECKING:
    from trailguard.incidents import Ledger, SweepDecision
    from trailguard.notify import Message

LOG = logging.getLogger(__name__)

SCHEMA = "trailguard.sweep/1"
REASON = "backstop sweep: the live resource is compared with its recorded baseline"
ORDER = resources.ORDER
"""Repair order (each kind's ``sweep_order``): the topic first (so the message can go out), the
pipeline, then what a trail needs (its key and bucket) before the trail itself."""


def is_schedule(event: Any) -> bool:
    """An EventBridge schedule firing (the backstop rule), which carries no record to classify."""
    return (
        isinstance(event, Mapping)
        and event.get("detail-type") == "Scheduled Event"
        and event.get("source") == "aws.events"
    )


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
    deleted bucket is recreated) instead of the rest."""
    steps = _swept(resources.kind(kind))
    if not steps:
        raise ValueError(f"no technique restores {kind!r} in the sweep")
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
class Drift:
    """One resource that did not match its baseline, and what the actions did about it."""

    kind: str
    ident: str
    outcomes: list[Outcome]

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)

    @property
    def label(self) -> str:
        return resources.kind(self.kind).label(self.ident)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.ident,
            "ok": self.ok,
            "outcomes": [o.to_dict() for o in self.outcomes],
        }


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

    @property
    def action_required(self) -> bool:
        return bool(self.errors) or any(not d.ok for d in self.drift)

    def findings(self) -> list[list[str]]:
        """What this sweep has to tell, for deduplication: each drifted resource with its repair
        statuses, and each thing that could not be checked; sorted, empty when all is well."""
        found = [[d.kind, d.ident, ",".join(o.status for o in d.outcomes)] for d in self.drift]
        found += [["error", e, ""] for e in self.errors]
        return sorted(found)

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "checked": dict(self.checked),
            "drift": [d.to_dict() for d in self.drift],
            "recorded_baseline": self.recorded.to_dict() if self.recorded is not None else None,
            "errors": list(self.errors),
            "message_id": self.message_id,
            "publish_error": self.publish_error,
            "notification": dict(self.notification) if self.notification is not None else None,
        }


def sweep(config: Config, region: str, baselines: Baselines | None = None) -> Report:
    """Compare and repair everything recorded; record a baseline first when there is none. Never raises
    for one resource: a failure is part of the report (and of the message)."""
    report = Report(region)
    if baselines is None:
        baselines = Baselines.from_config(config, region)
    if not baselines.available:
        report.errors.append("no state table is configured (TRAILGUARD_STATE_TABLE), so nothing is recorded")
        return report
    try:
        recorded = {kind: baselines.of_kind(kind) for kind in KINDS}
    except Exception as exc:
        report.errors.append(f"the baselines could not be read: {type(exc).__name__}: {exc}")
        return report
    if not any(recorded.values()):
        report.recorded = capture_all(config, region, source="backstop", baselines=baselines)
        log_event(LOG, logging.INFO, "sweep.baseline-recorded", **report.recorded.to_dict())
        return report

    ctx = Context(load(config, region, baselines), baselines)
    for kind in sorted(recorded, key=lambda k: ORDER.index(k) if k in ORDER else len(ORDER)):
        report.checked[kind] = len(recorded[kind])
        for ident, doc in recorded[kind].items():
            try:
                outcomes = reconcile(ctx, kind, ident, doc)
            except Exception as exc:  # a bug on one resource must not hide the others
                report.errors.append(f"{kind} {ident}: {type(exc).__name__}: {exc}")
                continue
            if any(o.status != "already-restored" for o in outcomes):
                report.drift.append(Drift(kind, ident, outcomes))
    log_event(
        LOG,
        logging.ERROR if report.action_required else logging.INFO,
        "sweep.done",
        checked=report.checked,
        drift=[d.label for d in report.drift],
        errors=report.errors,
    )
    return report


_HEADS = {"remediated": "REPAIRED", "already-restored": "OK", "failed": "REPAIR FAILED"}


def _hhmm(iso: str) -> str:
    return f"{iso[11:16]} UTC" + ("" if iso[:10] == datetime.now(UTC).date().isoformat() else f" {iso[:10]}")


def render(report: Report, account: str | None, reminder: SweepDecision | None = None) -> Message | None:
    """The sweep's one message, or None when there is nothing to tell (no drift, no baseline recorded).
    ``reminder``: the ledger found these same findings mailed over an hour ago; the message says so."""
    from trailguard.notify import ACTION_REQUIRED, PREFIX, Message, ascii_subject

    now = datetime.now(UTC).isoformat(timespec="seconds")
    where = f"account {account or 'unknown'}, {report.region}"
    lines: list[str]
    if report.recorded is not None:
        head = ACTION_REQUIRED if not report.recorded.ok else PREFIX
        subject = f"{head} Backstop recorded the baseline ({where})"
        lines = [
            "trailguard's backstop sweep found no baseline, so it recorded one now: from the next sweep on,",
            "every protected resource is compared with this state and drift is repaired.",
            "",
            report.recorded.describe(),
            "",
            "Check that the resources were in a good state when it was recorded; if not, repair them and run",
            "trailguard baseline record --stack-name STACK.",
        ]
    elif report.drift or report.errors:
        head = ACTION_REQUIRED if report.action_required else PREFIX
        state = "NEEDS A PERSON" if report.action_required else "REPAIRED"
        subject = f"{head} {state}: backstop found drift on {len(report.drift)} resource(s) ({where})"
        lines = [
            f"trailguard's backstop sweep compared every protected resource with its baseline ({where}).",
            "What differed was put back with the same repairs the event path uses. A CloudTrail event was",
            "missed (delivery to EventBridge is best effort) or a rule, function or repair was off.",
            "",
        ]
        for drift in report.drift:
            lines.append(f"- {drift.label}:")
            for outcome in drift.outcomes:
                lines.append(f"    {_HEADS.get(outcome.status, outcome.status.upper())}: {outcome.summary}")
        if report.errors:
            lines += ["", "Could not be checked:", *(f"- {e}" for e in report.errors)]
        if report.action_required:
            lines += ["", "ACTION REQUIRED: repair what is marked REPAIR FAILED by hand (or redeploy)."]
        if reminder is not None:
            since = _hhmm(reminder.since)
            state = (
                f"STILL BROKEN since {since}" if report.action_required else f"DRIFTING AGAIN since {since}"
            )
            subject = (
                f"{head} {state}: backstop found the same drift on {len(report.drift)} resource(s) ({where})"
            )
            lines = [
                f"REMINDER: every backstop sweep since {since} has found exactly this "
                f"({reminder.repeats} sweep(s) since the last message, which were not mailed).",
                "",
                *lines,
            ]
    else:
        return None
    checked = ", ".join(f"{n} {k}" for k, n in report.checked.items())
    lines += ["", f"Checked: {checked or 'nothing'}. Swept at {now}."]
    subject, text = ascii_subject(subject), "\n".join(lines)
    # Queues and functions get the document; it carries the text so a consumer can forward it as is.
    document = {"schema": SCHEMA, "account": account, "swept_at": now, **report.to_dict()}
    document |= {"subject": subject, "text": text}
    return Message(subject, text, document)


def _ledger_step(what: str, step: Any) -> Any:
    """One call on the ledger; a state table that cannot be used fails open (the message goes out)."""
    try:
        return step()
    except Exception as exc:
        log_event(
            LOG, logging.ERROR, "sweep.ledger-unavailable", step=what, error=f"{type(exc).__name__}: {exc}"
        )
        return None


def run(config: Config, region: str, ledger: Ledger | None = None) -> Report:
    """Sweep, then publish the one message if there is something to tell (the error is kept, not raised).

    Drift is repaired on every sweep; only the message is gated by the ledger on the state table
    (``ledger`` defaults to the configured one; none without a table): the same findings as the last
    message within the window send nothing, after it a reminder. A recorded baseline is always told."""
    report = sweep(config, region)
    if ledger is None and report.recorded is None and config.state_table:
        from trailguard.incidents import ledger_for

        ledger = _ledger_step("open", lambda: ledger_for(config, region))
    findings = report.findings()
    decision: SweepDecision | None = None
    if ledger is not None and report.recorded is None:
        if not findings:
            _ledger_step("clean", lambda: ledger.sweep_clean(config.account, region))
        else:
            decision = _ledger_step("decide", lambda: ledger.decide_sweep(config.account, region, findings))
    if decision is not None:
        report.notification = decision.to_dict()
        if decision.action == "suppress":
            log_event(
                LOG,
                logging.ERROR if report.action_required else logging.WARNING,
                "sweep.notification-suppressed",
                reason=decision.reason,
                since=decision.since,
                repeats=decision.repeats,
                drift=[d.label for d in report.drift],
            )
            return report
    reminder = decision if decision is not None and decision.action == "reminder" else None
    message = render(report, config.account, reminder)
    if message is None:
        return report
    from trailguard.notify import publish

    try:
        report.message_id = publish(message, config.topic_arn)
    except Exception as exc:
        report.publish_error = f"{type(exc).__name__}: {exc}"
        log_event(
            LOG, logging.ERROR, "sweep.publish-failed", error=report.publish_error, subject=message.subject
        )
        return report
    if ledger is not None and decision is not None:
        alerted, message_id = decision, report.message_id
        _ledger_step(
            "record", lambda: ledger.sweep_alerted(config.account, region, alerted, findings, message_id)
        )
    return report
