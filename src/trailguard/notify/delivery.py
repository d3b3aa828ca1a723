"""Delivery: the one path from a notice to the alert topic, for event incidents and sweep findings alike.

:func:`send` asks the ledger whether the notice is news, renders the message the ledger's decision calls
for, bounds it to what SNS accepts (``notify.bound``: a shortened message points to the whole incident,
which it keeps in the state table), publishes it once (``MessageStructure=json``) and records the result
on the ledger. It never raises: a publish failure comes back in the :class:`Delivery` and the message is
kept in the outbox (``notify.outbox``) for the sweep to send; the handler still raises
:class:`NotificationError` after every repair, so Lambda retries sooner and the failure shows in the
function's error metrics. A state table that cannot be used fails open: a duplicate message beats a
lost one.

The log lines keep the names and loggers each path has always used (``notify.*`` / ``incidents.*`` on
``trailguard.incidents`` for incidents, ``sweep.*`` on ``trailguard.sweep`` for the sweep), so alarms and
log queries written against them keep matching.
"""

from __future__ import annotations

import base64
import json
import logging
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trailguard import aws
from trailguard.log import log_event
from trailguard.notify import bound, securityhub
from trailguard.notify.bound import Pointer, fit
from trailguard.notify.ledger import (
    BURSTS_PK,
    ROW_TTL_SECONDS,
    Decision,
    Ledger,
    SweepDecision,
    full_key,
    ledger_for,
)
from trailguard.notify.notice import Incident, Notice, SweepFindings
from trailguard.notify.outbox import PK as OUTBOX_PK
from trailguard.notify.outbox import Outbox, outbox_for
from trailguard.notify.outbox import key as outbox_key
from trailguard.notify.renderer import Message, render

if TYPE_CHECKING:
    from trailguard.config import Config

INCIDENT_LOG = logging.getLogger("trailguard.incidents")
SWEEP_LOG = logging.getLogger("trailguard.sweep")


class NotificationError(RuntimeError):
    """The alert could not be published; raised by the handler only after every repair was done."""


FULL_DOCUMENT_MAX = 300_000
"""A whole document larger than this is kept compressed (a DynamoDB item holds 400 KB)."""


def publish(message: Message, topic_arn: str | None) -> str:
    """Publish to the alert topic (in the topic's own region); returns the SNS message id."""
    return publish_body(message.subject, message.sns_payload(), topic_arn)


def publish_body(subject: str, body: str, topic_arn: str | None) -> str:
    """Publish a rendered ``MessageStructure=json`` body (the outbox resends these as kept)."""
    if not topic_arn:
        raise NotificationError("TRAILGUARD_TOPIC_ARN is not set: the alert has nowhere to go")
    sns = aws.client("sns", aws.region_of_arn(topic_arn))
    response = sns.publish(TopicArn=topic_arn, Subject=subject, Message=body, MessageStructure="json")
    return str(response.get("MessageId", ""))


@dataclass
class Delivery:
    """What became of one notice's message."""

    decision: Decision | SweepDecision | None = None
    subject: str | None = None
    message_id: str | None = None
    published: bool = False
    error: str | None = None
    shortened: bool = False
    """The message was too large for SNS and was shortened (the whole incident is in the state table)."""
    kept: bool = False
    """It could not be published and the outbox keeps it for the sweep to send."""

    @property
    def notification(self) -> dict[str, Any] | None:
        """The ledger's decision as the handler's summary and the sweep report show it."""
        return self.decision.to_dict() if self.decision is not None else None

    def fields(self) -> dict[str, Any]:
        """The keys an incident's summary line gains: notification, subject, message id, published."""
        out: dict[str, Any] = {}
        if self.decision is not None:
            out["notification"] = self.decision.to_dict()
        if self.subject is not None:
            out["subject"] = self.subject
        if self.published:
            out["message_id"] = self.message_id
        out["published"] = self.published
        if self.error is not None:
            out["publish_error"] = self.error
        if self.shortened:
            out["shortened"] = True
        if self.kept:
            out["kept_in_outbox"] = True
        return out


def send(
    notice: Notice, topic_arn: str | None, ledger: Ledger | None, *, security_hub: bool = True
) -> Delivery:
    """Decide, render, bound, publish and record one notice's message (see the module docstring).
    ``security_hub``: the notice also goes to Security Hub, so a shortened message points there too."""
    delivery = Delivery()
    if isinstance(notice, SweepFindings) and ledger is not None:
        _mark_seen(notice, ledger)
    told_anyway = isinstance(notice, SweepFindings) and notice.recorded is not None
    if ledger is not None and not told_anyway:
        try:
            delivery.decision = ledger.decide(notice)
        except Exception as exc:
            _ledger_unavailable(notice, "decide", exc)
    decision = delivery.decision
    if isinstance(decision, Decision) and decision.duplicate and isinstance(notice, Incident):
        decision = delivery.decision = _unsent(ledger, notice, decision)
    if decision is not None and decision.action == "suppress":
        _suppressed(notice, decision)
        _finish(ledger, notice, delivery)
        return delivery
    message = render(notice, decision)  # never raises (a rendering failure gives a plain message)
    if message is None:
        return delivery
    try:
        bounded = _bounded(notice, message, ledger, security_hub)
        delivery.shortened = bounded is not message
        message = bounded
        delivery.subject = message.subject
        delivery.message_id = publish(message, topic_arn)
        delivery.published = True
        log_event(
            _log(notice),
            logging.INFO,
            "notify.published",
            subject=message.subject,
            message_id=delivery.message_id,
            shortened=delivery.shortened,
        )
    except Exception as exc:
        delivery.error = f"{type(exc).__name__}: {exc}"
        _publish_failed(notice, topic_arn, delivery)
        if ledger is not None:
            ledger_item = None
            if isinstance(decision, Decision) and decision.pk and decision.event_sk:
                ledger_item = (decision.pk, decision.event_sk)
            delivery.kept = Outbox(ledger.store, ledger.clock, mac=ledger.mac).keep(
                notice, message, delivery.error, ledger_item
            )
    else:
        if ledger is not None and isinstance(decision, Decision) and decision.retry:
            _discard(ledger, notice)
    _finish(ledger, notice, delivery)
    if isinstance(ledger, Ledger) and isinstance(notice, Incident):
        send_followups(ledger.take_followups(), topic_arn, ledger)
    return delivery


def send_followups(
    due: list[tuple[Incident, Decision]], topic_arn: str | None, ledger: Ledger | None
) -> list[Delivery]:
    """Publish follow-ups the ledger has already claimed (a burst's count); each kept in the outbox
    when SNS refuses it. Never raises."""
    sent: list[Delivery] = []
    for incident, decision in due:
        delivery = Delivery(decision=decision)
        message = render(incident, decision)
        try:
            delivery.subject = message.subject
            delivery.message_id = publish(message, topic_arn)
            delivery.published = True
            log_event(INCIDENT_LOG, logging.INFO, "notify.published", subject=message.subject,
                      message_id=delivery.message_id, followup=True)  # fmt: skip
        except Exception as exc:
            delivery.error = f"{type(exc).__name__}: {exc}"
            _publish_failed(incident, topic_arn, delivery)
            if ledger is not None:
                try:
                    delivery.kept = Outbox(ledger.store, ledger.clock, mac=ledger.mac).keep(
                        incident, message, delivery.error, None
                    )
                except Exception as kept_exc:
                    _ledger_unavailable(incident, "record", kept_exc)
        sent.append(delivery)
    return sent


def followups(config: Config, region: str) -> dict[str, Any] | None:
    """The sweep's hook: the follow-ups of bursts that ended (or reached a slot), each sent once with
    its count (None without a state table). Never raises."""
    try:
        ledger = ledger_for(config, region)
        if ledger is None:
            return None
        sent = send_followups(ledger.close_bursts(region), config.topic_arn, ledger)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        log_event(SWEEP_LOG, logging.ERROR, "sweep.followups-unavailable", error=error)
        return {"sent": [], "error": error}
    return {"sent": [d.subject for d in sent if d.published], "failed": [d.error for d in sent if d.error]}


def import_bursts(config: Config, region: str) -> dict[str, Any] | None:
    """The backstop's import of each CloudTrail burst's Security Hub finding, with its count
    (``securityhub.import_bursts``: the event path leaves a recorded burst to it). None without a state
    table or with Security Hub off. Never raises."""
    if not config.security_hub:
        return None
    try:
        ledger = ledger_for(config, region)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        log_event(SWEEP_LOG, logging.ERROR, "sweep.ledger-unavailable", step="security hub", error=error)
        return {"imported": [], "failed": [error]}
    return None if ledger is None else securityhub.import_bursts(ledger, region)


def imported_by_the_sweep(notice: Notice, delivery: Delivery) -> bool:
    """Whether the backstop sweep imports this incident into Security Hub (so the event path need not):
    a CloudTrail incident that opened a burst the ledger recorded, and whose alert went out. Without
    the ledger's record, or with the alert not published (Security Hub then keeps the incident), it is
    imported at once."""
    decision = delivery.decision
    return (
        isinstance(notice, Incident)
        and notice.record.kind == "cloudtrail"
        and isinstance(decision, Decision)
        and decision.action == "publish"
        and decision.pk == BURSTS_PK
        and decision.more == 0
        and delivery.published
    )


def _unsent(ledger: Ledger | None, notice: Incident, decision: Decision) -> Decision:
    """A duplicate delivery whose first message SNS refused (the outbox keeps it): this is Lambda's
    retry, so it is sent now (and the kept copy discarded once published). Any other duplicate: as is."""
    if ledger is None:
        return decision
    try:
        kept = Outbox(ledger.store, ledger.clock, mac=ledger.mac).signed.get(OUTBOX_PK, outbox_key(notice))
    except Exception as exc:
        _ledger_unavailable(notice, "decide", exc)
        return decision
    if kept is None:
        return decision
    return Decision(
        "publish", f"retry of an unpublished message ({decision.reason})", decision.pk, row=decision.row,
        retry=True,
    )  # fmt: skip


def _mark_seen(sweep: SweepFindings, ledger: Ledger) -> None:
    """Whether the event path had the event that history names for each drift (so the message blames
    a missed event only when one was missed)."""
    for drift in sweep.drift:
        if drift.cause is None or drift.seen is not None or not drift.cause.event_id:
            continue
        try:
            drift.seen = ledger.seen(sweep.account, drift.ident, drift.cause.event_id)
        except Exception as exc:
            _ledger_unavailable(sweep, "decide", exc)
            return


def _discard(ledger: Ledger, notice: Notice) -> None:
    """A Lambda retry published what the outbox also kept: forget the kept copy."""
    try:
        Outbox(ledger.store, ledger.clock, mac=ledger.mac).discard(notice)
    except Exception as exc:
        _ledger_unavailable(notice, "record", exc)


def _bounded(notice: Notice, message: Message, ledger: Ledger | None, security_hub: bool) -> Message:
    """The message within SNS's limit; a shortened one points to the whole document, kept here first."""
    if bound.fits(message):
        return message
    finding = _finding(notice) if security_hub else None
    if ledger is None:
        return fit(message, Pointer(finding=finding, error="no state table is configured"))
    pk, sk = full_key(notice)
    document = message.document
    try:
        raw = json.dumps(document, default=str)
        item: dict[str, Any] = (
            {"document": document}
            if len(raw) <= FULL_DOCUMENT_MAX
            else {
                "document_zlib_b64": base64.b64encode(zlib.compress(raw.encode("utf-8"), 9)).decode("ascii")
            }
        )
        ledger.store.put(pk, sk, item, ttl_seconds=ROW_TTL_SECONDS)
        pointer = Pointer(ledger.store.table_name, pk, sk, finding)
    except Exception as exc:
        pointer = Pointer(finding=finding, error=f"{type(exc).__name__}: {exc}")
    return fit(message, pointer)


def _finding(notice: Notice) -> str | None:
    """What the shortened message names in Security Hub."""
    if isinstance(notice, SweepFindings):
        return f"one finding per drifted resource, GeneratorId {securityhub.BACKSTOP_GENERATOR}"
    if notice.record.kind == "guardduty" or not notice.account_id:
        return None
    return f"finding {securityhub.finding_id(notice, notice.account_id)}"


def resend(config: Config, region: str) -> dict[str, Any] | None:
    """The sweep's hook: publish the alerts the outbox keeps (None without a state table). Never raises."""
    try:
        outbox = outbox_for(config, region)
        return outbox.flush(config.topic_arn, publish_body) if outbox is not None else None
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        log_event(SWEEP_LOG, logging.ERROR, "sweep.outbox-unavailable", error=error)
        return {"resent": [], "pending": None, "error": error}


def deliver(
    incident: Incident,
    topic_arn: str | None,
    ledger: Ledger | None,
    line: dict[str, Any],
    *,
    security_hub: bool = True,
) -> str | None:
    """:func:`send` for one incident, filling the handler's summary ``line``; the publish error or None."""
    delivery = send(incident, topic_arn, ledger, security_hub=security_hub)
    line.update(delivery.fields())
    return delivery.error


def _log(notice: Notice) -> logging.Logger:
    return SWEEP_LOG if isinstance(notice, SweepFindings) else INCIDENT_LOG


def _ledger_unavailable(notice: Notice, step: str, exc: Exception) -> None:
    error = f"{type(exc).__name__}: {exc}"
    if isinstance(notice, SweepFindings):
        log_event(SWEEP_LOG, logging.ERROR, "sweep.ledger-unavailable", step=step, error=error)
    elif step == "record":
        log_event(INCIDENT_LOG, logging.ERROR, "incidents.record-failed", error=error)
    else:
        log_event(
            INCIDENT_LOG,
            logging.ERROR,
            "incidents.state-unavailable",
            error=error,
            event_id=notice.record.event_id,
        )


def _suppressed(notice: Notice, decision: Decision | SweepDecision) -> None:
    if isinstance(notice, SweepFindings) and isinstance(decision, SweepDecision):
        log_event(
            SWEEP_LOG,
            logging.ERROR if notice.action_required else logging.WARNING,
            "sweep.notification-suppressed",
            reason=decision.reason,
            since=decision.since,
            repeats=decision.repeats,
            drift=[d.label for d in notice.drift],
        )
    elif isinstance(notice, Incident):
        log_event(
            INCIDENT_LOG,
            logging.INFO,
            "notify.suppressed",
            event_id=notice.record.event_id,
            reason=decision.reason,
        )


def _publish_failed(notice: Notice, topic_arn: str | None, delivery: Delivery) -> None:
    if isinstance(notice, SweepFindings):
        log_event(
            SWEEP_LOG, logging.ERROR, "sweep.publish-failed", error=delivery.error, subject=delivery.subject
        )
    else:
        log_event(
            INCIDENT_LOG,
            logging.CRITICAL,
            "notify.publish-failed",
            topic_arn=topic_arn,
            incident={**notice.summary(), **delivery.fields()},
            error=delivery.error,
        )


def _finish(ledger: Ledger | None, notice: Notice, delivery: Delivery) -> None:
    if ledger is None or delivery.decision is None:
        return
    try:
        ledger.finished(notice, delivery.decision, delivery.message_id, delivery.error, kept=delivery.kept)
    except Exception as exc:
        _ledger_unavailable(notice, "record", exc)
