"""The outbox: what the security team's inbox would receive, one JSON file per delivered email.

moto accepts email subscriptions but sends nothing (and may leave them ``PendingConfirmation``). Every
successful SNS ``Publish`` to a topic with email subscriptions is written here instead, one file per
subscribed address, so a person or a test reads exactly the subject and body the team would get.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trailguard.local.recorder import Call

log = logging.getLogger(__name__)

EMAIL_PROTOCOLS = ("email", "email-json")
DEFAULT_SUBJECT = "AWS Notification Message"


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    body: str
    topic_arn: str
    time: str
    message_id: str | None = None
    protocol: str = "email"


def _email_body(message: str, structure: str | None, protocol: str) -> str:
    """The text an email subscriber gets: the ``email`` (or ``default``) member for MessageStructure=json."""
    if structure == "json":
        try:
            members = json.loads(message)
        except ValueError:
            return message
        if isinstance(members, Mapping):
            key = "email-json" if protocol == "email-json" and "email-json" in members else "email"
            return str(members.get(key, members.get("default", "")))
    return message


def email_subscribers(topic_arn: str) -> list[tuple[str, str]]:
    """``(protocol, address)`` of every email subscription on the topic (pending ones included)."""
    from moto.sns.models import sns_backends

    parts = topic_arn.split(":")
    if len(parts) < 6:
        return []
    backend = sns_backends[parts[4]][parts[3]]
    topic = backend.topics.get(topic_arn)
    if topic is None:
        return []
    return [
        (sub.protocol, sub.endpoint)
        for sub in list(backend.subscriptions.values())
        if sub.topic is topic and sub.protocol in EMAIL_PROTOCOLS
    ]


class Outbox:
    """Writes emails to ``directory``; also a call observer for SNS Publish served by moto."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._count = 0

    def emails(self) -> list[dict[str, Any]]:
        """Every email written so far, oldest first."""
        return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(self.directory.glob("*.json"))]

    def deliver(
        self,
        topic_arn: str,
        message: str,
        subject: str | None = None,
        structure: str | None = None,
        message_id: str | None = None,
    ) -> list[Path]:
        """Write one file per email subscriber of the topic; returns the files written."""
        written = []
        now = datetime.now(UTC)
        for protocol, address in email_subscribers(topic_arn):
            email = Email(
                to=address,
                subject=subject or DEFAULT_SUBJECT,
                body=_email_body(message, structure, protocol),
                topic_arn=topic_arn,
                time=now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                message_id=message_id,
                protocol=protocol,
            )
            with self._lock:
                self._count += 1
                stamp = now.strftime("%Y%m%dT%H%M%S")
                # The count before the clock: monotonic_ns() % 10**9 wraps within a second, and the
                # names must sort oldest first (``emails``).
                name = f"{stamp}-{self._count:06d}-{time.monotonic_ns() % 10**9:09d}.json"
            path = self.directory / name
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(asdict(email), indent=2) + "\n", encoding="utf-8")
            tmp.replace(path)
            written.append(path)
            log.info("email to %s: %s", address, email.subject)
        return written

    def __call__(self, call: Call) -> None:
        op = call.operation
        if op is None or op.service != "sns" or not call.succeeded:
            return
        params = op.request_parameters
        if op.name == "Publish":
            topic_arn = params.get("topicArn") or params.get("targetArn")
            if topic_arn:
                self.deliver(
                    str(topic_arn),
                    str(params.get("message", "")),
                    params.get("subject"),
                    params.get("messageStructure"),
                    _message_id(call.response_body),
                )
        elif op.name == "PublishBatch":
            entries = params.get("publishBatchRequestEntries") or []
            for entry in entries if isinstance(entries, list) else []:
                self.deliver(
                    str(params.get("topicArn")),
                    str(entry.get("message", "")),
                    entry.get("subject"),
                    entry.get("messageStructure"),
                )


def _message_id(body: bytes) -> str | None:
    start, end = body.find(b"<MessageId>"), body.find(b"</MessageId>")
    if start < 0 or end < 0:
        try:
            loaded = json.loads(body)
        except ValueError:
            return None
        found = loaded.get("MessageId") if isinstance(loaded, dict) else None
        return str(found) if found else None
    return body[start + len("<MessageId>") : end].decode("utf-8", "replace")
