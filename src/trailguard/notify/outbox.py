"""The outbox: alerts that could not be published, kept in the state table until they are.

Lambda retries an asynchronous invocation twice, over about three minutes; an SNS outage (or a topic
the attacker deleted, until the sweep recreates it) can last longer, and the alert was then lost for
good. Now :func:`~trailguard.notify.delivery.send` keeps every message it could not publish here, as
rendered (subject and the ``MessageStructure=json`` body, already within SNS's limit), and every backstop
sweep (``sweep.run``, after the sweep has put the topic back) publishes what is kept, oldest first,
until SNS takes it. A message published from here marks its incident's ledger item published, so a late
Lambda retry of the same event sends nothing more; a Lambda retry that publishes first discards the
kept copy.

Items: ``pk = "outbox"``, ``sk`` the notice's key (``incident#<account>/<resource>#<event key>`` or
``sweep#<account>#<region>#<swept at>``), with no TTL: an alert is kept until it is delivered. The body
is stored zlib-compressed and base64-encoded: 256 KB of JSON fits the 400 KB item either way, but
escaped again inside the item's own JSON it might not.

Signed (issue 9, authenticated state): the sweep publishes a kept item *as trailguard*, so one
``PutItem`` on the table would otherwise make trailguard mail the attacker's text to the security
contact. With the stack's state key configured (``TRAILGUARD_STATE_KEY``), every item is written through
:class:`~trailguard.integrity.SignedStore`: its MAC covers the item's key (``outbox``, sk) and the exact
document text (kept time, subject, the packed body, attempts, last error, the ledger item to mark), so
neither the text nor the incident it marks published can be changed. Before sending, each item is
verified; one that fails is never published: it is deleted (its key and the reason are logged) and
:meth:`Outbox.flush` returns it under ``tampered`` for the sweep's ``[ACTION REQUIRED]`` message (as a
tampered baseline is reported). One KMS could not verify is neither sent nor deleted: the next sweep tries
again. The ledger item a resent alert marks published is signed the same way. Without a state key items
are written and sent unsigned, as before.
"""

from __future__ import annotations

import base64
import logging
import time
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from trailguard.integrity import TAMPERED, Mac, SignedStore, Tampered
from trailguard.log import log_event
from trailguard.notify.ledger import event_key, resource_key
from trailguard.notify.notice import Notice, SweepFindings
from trailguard.notify.text import clean
from trailguard.state import StateStore

if TYPE_CHECKING:
    from trailguard.config import Config
    from trailguard.notify.renderer import Message

LOG = logging.getLogger("trailguard.incidents")
PK = "outbox"
FLUSH_MAX = 50
"""At most this many kept alerts are published per sweep (oldest first), so a long outage's backlog
cannot make one sweep run out of time; the rest go with the next sweeps."""

Publisher = Callable[[str, str, str | None], str]
"""``(subject, body, topic ARN) -> message id``: :func:`trailguard.notify.delivery.publish_body`."""


def key(notice: Notice) -> str:
    """The outbox key of a notice: one item per incident event or sweep."""
    if isinstance(notice, SweepFindings):
        return str(clean(f"sweep#{notice.account or 'unknown'}#{notice.region}#{notice.swept_at}"))
    return f"incident#{resource_key(notice)}#{event_key(notice)}"


def _pack(body: str) -> str:
    return base64.b64encode(zlib.compress(body.encode("utf-8"), 9)).decode("ascii")


def _unpack(packed: str) -> str:
    return zlib.decompress(base64.b64decode(packed)).decode("utf-8")


class Outbox:
    """The kept alerts of one state table."""

    def __init__(
        self, store: StateStore, clock: Callable[[], float] = time.time, *, mac: Mac | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        self.mac = mac
        self.signed = SignedStore(store, mac)

    def keep(
        self, notice: Notice, message: Message, error: str | None, ledger_item: tuple[str, str] | None
    ) -> bool:
        """Keep a message that could not be published; False (and logged) if even that fails."""
        try:
            self.signed.put(
                PK,
                key(notice),
                {
                    "kept_at": self.clock(),
                    "subject": message.subject,
                    "body_zlib_b64": _pack(message.sns_payload()),
                    "error": error,
                    "attempts": 1,
                    "ledger_item": list(ledger_item) if ledger_item else None,
                },
            )
        except Exception as exc:
            log_event(LOG, logging.CRITICAL, "outbox.keep-failed", subject=message.subject,
                      error=f"{type(exc).__name__}: {exc}")  # fmt: skip
            return False
        log_event(LOG, logging.ERROR, "outbox.kept", subject=message.subject, key=key(notice), error=error)
        return True

    def discard(self, notice: Notice) -> None:
        """Forget a kept message that was published after all (a Lambda retry got through)."""
        self.store.delete(PK, key(notice))

    def pending(self) -> list[dict[str, Any]]:
        """Every kept alert that verifies (all of them without a state key), oldest first; the others
        are in :attr:`SignedStore.tampered <trailguard.integrity.SignedStore.tampered>`."""
        if self.mac is None:
            return sorted(self.store.query(PK), key=lambda doc: float(doc.get("kept_at", 0)))
        docs = [{**doc, "_sk": sk} for sk, doc in self.signed.query(PK).items()]
        return sorted(docs, key=lambda doc: float(doc.get("kept_at", 0)))

    def flush(self, topic_arn: str | None, publish: Publisher) -> dict[str, Any]:
        """Publish kept alerts, oldest first, until one fails; what was sent, what is still kept and
        what failed verification (``tampered``: never sent; see the module docstring)."""
        before = len(self.signed.tampered)
        kept = self.pending()
        tampered = [t for t in self.signed.tampered[before:] if t.pk == PK]
        for problem in tampered:
            self._refused(problem)
        sent: list[str] = []
        error: str | None = None
        for doc in kept[:FLUSH_MAX]:
            sk = str(doc["_sk"])
            try:
                message_id = publish(
                    str(doc.get("subject", "")), _unpack(str(doc["body_zlib_b64"])), topic_arn
                )
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                attempts = int(doc.get("attempts", 1)) + 1
                retained = {k: v for k, v in doc.items() if k != "_sk"}
                self.signed.put(PK, sk, {**retained, "attempts": attempts, "error": error})
                log_event(LOG, logging.ERROR, "outbox.resend-failed", key=sk, attempts=attempts, error=error)
                break  # SNS is still down (or the topic still gone): the next sweep tries again
            self.store.delete(PK, sk)
            sent.append(str(doc.get("subject", "")))
            item = doc.get("ledger_item")
            if isinstance(item, list) and len(item) == 2:
                self._published(str(item[0]), str(item[1]), message_id)
            log_event(LOG, logging.INFO, "outbox.resent", key=sk, subject=doc.get("subject"),
                      message_id=message_id, kept_at=doc.get("kept_at"))  # fmt: skip
        out: dict[str, Any] = {"resent": sent, "pending": len(kept) - len(sent), "error": error}
        if tampered:
            out["tampered"] = [_tampered_text(t) for t in tampered]
        return out

    def _refused(self, problem: Tampered) -> None:
        """A kept item that failed verification: never sent; deleted unless KMS could not be asked."""
        if not problem.unverifiable:
            try:
                self.store.delete(problem.pk, problem.sk)
            except Exception as exc:
                log_event(LOG, logging.ERROR, "outbox.delete-failed", key=problem.sk,
                          error=f"{type(exc).__name__}: {exc}")  # fmt: skip
        log_event(LOG, logging.ERROR, "outbox.tampered", key=problem.sk, reason=problem.reason,
                  unverifiable=problem.unverifiable, deleted=not problem.unverifiable)  # fmt: skip

    def _published(self, pk: str, sk: str, message_id: str) -> None:
        """Mark the incident's ledger item published, so a late Lambda retry sends nothing more."""
        previous = self.signed.get(pk, sk) or {}
        self.signed.put(
            pk,
            sk,
            {**previous, "status": "published", "at": self.clock(), "message_id": message_id, "via": PK},
            ttl_seconds=7 * 86400,
        )


def _tampered_text(problem: Tampered) -> str:
    """The sweep message's line for a kept alert that was not sent."""
    item = f"pk={problem.pk} sk={clean(problem.sk[:200])!s}"  # the sk is the writer's choice
    if problem.unverifiable:
        return (
            f"trailguard's state could not be verified: kept alert {item} ({problem.reason}); it was not "
            "sent this time and the next sweep tries again"
        )
    return (
        f"{TAMPERED}: kept alert {item} failed verification ({problem.reason}); it was NOT sent and was "
        "deleted. Someone wrote the state table directly: find who in CloudTrail (DynamoDB data events)"
    )


def outbox_for(config: Config, region: str) -> Outbox | None:
    """The outbox on the configured state table, or None (no table: nothing can be kept)."""
    if not config.state_table:
        return None
    mac = Mac(config.state_key, region) if config.state_key else None
    return Outbox(StateStore(config.state_table, region), mac=mac)
