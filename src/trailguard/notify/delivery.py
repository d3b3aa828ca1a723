"""Delivery: the one path from a notice to the alert topic, for event incidents and sweep findings alike.

:func:`send` asks the ledger whether the notice is news, renders the message the ledger's decision calls
for, publishes it once (``MessageStructure=json``) and records the result on the ledger. It never
raises: a publish failure comes back in the :class:`Delivery` (the handler raises
:class:`NotificationError` after every repair, so Lambda retries), and a state table that cannot be
used fails open: a duplicate message beats a lost one.

The log lines keep the names and loggers each path has always used (``notify.*`` / ``incidents.*`` on
``trailguard.incidents`` for incidents, ``sweep.*`` on ``trailguard.sweep`` for the sweep), so alarms and
log queries written against them keep matching.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from trailguard import aws
from trailguard.log import log_event
from trailguard.notify.ledger import Decision, Ledger, SweepDecision
from trailguard.notify.notice import Incident, Notice, SweepFindings
from trailguard.notify.renderer import Message, render

INCIDENT_LOG = logging.getLogger("trailguard.incidents")
SWEEP_LOG = logging.getLogger("trailguard.sweep")


class NotificationError(RuntimeError):
    """The alert could not be published; raised by the handler only after every repair was done."""


def publish(message: Message, topic_arn: str | None) -> str:
    """Publish to the alert topic (in the topic's own region); returns the SNS message id."""
    if not topic_arn:
        raise NotificationError("TRAILGUARD_TOPIC_ARN is not set: the alert has nowhere to go")
    sns = aws.client("sns", aws.region_of_arn(topic_arn))
    response = sns.publish(
        TopicArn=topic_arn,
        Subject=message.subject,
        Message=message.sns_payload(),
        MessageStructure="json",
    )
    return str(response.get("MessageId", ""))


@dataclass
class Delivery:
    """What became of one notice's message."""

    decision: Decision | SweepDecision | None = None
    subject: str | None = None
    message_id: str | None = None
    published: bool = False
    error: str | None = None

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
        return out


def send(notice: Notice, topic_arn: str | None, ledger: Ledger | None) -> Delivery:
    """Decide, render, publish and record one notice's message (see the module docstring)."""
    delivery = Delivery()
    told_anyway = isinstance(notice, SweepFindings) and notice.recorded is not None
    if ledger is not None and not told_anyway:
        try:
            delivery.decision = ledger.decide(notice)
        except Exception as exc:
            _ledger_unavailable(notice, "decide", exc)
    decision = delivery.decision
    if decision is not None and decision.action == "suppress":
        _suppressed(notice, decision)
        _finish(ledger, notice, delivery)
        return delivery
    try:
        message = render(notice, decision)
        if message is None:
            return delivery
        delivery.subject = message.subject
        delivery.message_id = publish(message, topic_arn)
        delivery.published = True
        log_event(
            _log(notice),
            logging.INFO,
            "notify.published",
            subject=message.subject,
            message_id=delivery.message_id,
        )
    except Exception as exc:
        delivery.error = f"{type(exc).__name__}: {exc}"
        _publish_failed(notice, topic_arn, delivery)
    _finish(ledger, notice, delivery)
    return delivery


def deliver(
    incident: Incident, topic_arn: str | None, ledger: Ledger | None, line: dict[str, Any]
) -> str | None:
    """:func:`send` for one incident, filling the handler's summary ``line``; the publish error or None."""
    delivery = send(incident, topic_arn, ledger)
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
        ledger.finished(notice, delivery.decision, delivery.message_id, delivery.error)
    except Exception as exc:
        _ledger_unavailable(notice, "record", exc)
