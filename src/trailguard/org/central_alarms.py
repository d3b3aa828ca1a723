"""The central function's calls on a member's alarm (security account): one message on the central topic
per alarm state change. What is told and how it reads is :mod:`trailguard.org.central`'s
(:func:`~trailguard.org.central.read_alarm`, :func:`~trailguard.org.central.alarm_news`,
:func:`~trailguard.org.central.alarm_message`).

The event reaches the central function from the member's ``<prefix>-forward`` rule through the
organization bus (CloudWatch puts every alarm's state change on its account's default bus). EventBridge
delivers at least once and Lambda retries, so the state change is claimed on the central ledger first
(one conditional write, signed when the central stack has a state key): a second delivery finds the
claim and sends nothing. A ledger that cannot be written fails open (a duplicate beats a lost message).
A publish that fails gives the claim back and raises, so Lambda's retry sends it.

IAM: ``sns:Publish`` on the topic and the ledger's ``dynamodb:PutItem`` / ``GetItem`` /
``DeleteItem`` (with ``kms:GenerateMac`` / ``kms:VerifyMac``), all among
:data:`trailguard.org.central_run.PERMISSIONS` (``NOTIFY_PERMISSIONS``, ``LEDGER_PERMISSIONS``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from trailguard.log import log_event
from trailguard.notify import NotificationError
from trailguard.notify.delivery import publish
from trailguard.org import central as policy

if TYPE_CHECKING:
    from trailguard.org.central_run import Central

LOG = logging.getLogger("trailguard.central")


def tell_alarm(central: Central, event: Any) -> dict[str, Any]:
    """One forwarded alarm state change: told once when it is one of trailguard's alarms going into
    ALARM; what became of it (the handler's summary line). Raises :class:`NotificationError` only when
    the message could not be published (after giving the claim back)."""
    change = policy.read_alarm(event)
    if isinstance(change, str):
        log_event(LOG, logging.WARNING, "central.skipped", reason=change)
        return {"skipped": change}
    line: dict[str, Any] = {
        "alarm": change.name,
        "account": change.account,
        "region": change.region,
        "state": change.state,
    }
    why_not = policy.alarm_news(change)
    if why_not is not None:
        line["notification"] = {"action": "suppress", "reason": why_not}
        log_event(LOG, logging.INFO, "central.alarm-not-told", alarm=change.name, reason=why_not)
        return line
    store = central.told_store()
    claimed = False
    if store is not None:
        doc = {"by": policy.BY_CENTRAL, "at": datetime.now(UTC).isoformat(timespec="seconds")}
        try:
            claimed, held = store.claim_or_get(  # LEDGER_PERMISSIONS (PutItem, GetItem)
                policy.ALARM_PK, change.key, doc, ttl_seconds=policy.TOLD_TTL_SECONDS
            )
        except Exception as exc:  # fail open: a duplicate beats a lost message
            log_event(LOG, logging.ERROR, "central.state-unavailable", error=f"{type(exc).__name__}: {exc}")
            held = None
        if not claimed and held is not None:
            reason = "this alarm state change was already told (a second delivery or a retry)"
            line["notification"] = {"action": "suppress", "reason": reason}
            log_event(LOG, logging.INFO, "central.quiet", alarm=change.name, key=change.key, reason=reason)
            return line
    message = policy.alarm_message(change, central.region)
    try:
        line["message_id"] = publish(message, central.settings.topic_arn)  # NOTIFY_PERMISSIONS
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        log_event(LOG, logging.ERROR, "central.publish-failed", alarm=change.name, error=error)
        if store is not None and claimed:
            try:
                store.delete(policy.ALARM_PK, change.key)  # LEDGER_PERMISSIONS (DeleteItem)
            except Exception as again:
                log_event(LOG, logging.ERROR, "central.state-unavailable", error=str(again))
        raise NotificationError(f"the alarm {change.name} could not be published: {error}") from exc
    line["subject"] = message.subject
    log_event(LOG, logging.INFO, "central.alarm-told", alarm=change.name, account=change.account)
    return line
