"""The ledger: the state table's record of what was told, so each incident and each sweep's findings get
one message, and storms fold into a count.

Why: EventBridge delivers at least once, the API-call and the finding paths both fire for one incident,
and an attacker may repeat a call in a loop. Repairs always run (this module only gates the message);
without a state table every incident is published, as before.

Items (``docs/internals.md``, "State"), all with a TTL:

- ``incident#<account>/<resource>`` / ``event#<event id>``: one per delivered event, written with
  ``if_absent``; a second delivery of the same CloudTrail eventID (or finding Id) finds it and is
  dropped. It keeps the decision, so a Lambda retry after a failed publish sends that message again
  instead of counting itself as a repeat.
- ``incident#…`` / ``burst#<technique>#<verdict>``: the open burst. Its TTL is the quiet gap
  (:data:`BURST_QUIET_SECONDS`) and every repeat pushes it on; ``put(if_absent)`` treats an expired
  item as absent, so exactly one caller opens a burst and publishes the full message.
- ``incident#…`` / ``count#<row>``: atomic counters of the burst (``count``, ``unverified``,
  ``findings``).
- ``incident#…`` / ``followup#<row>#<slot>``: at most one follow-up per slot. Slot 0 is claimed when
  the repeats reach :data:`FOLLOWUP_THRESHOLD`; later slots open at 1, 3, 7, 15...
  times :data:`FOLLOWUP_INTERVAL_SECONDS` after the first message, by the first repeat that arrives in them.
  So 20 identical calls within ten minutes give two emails (the incident, then "5 more … since
  HH:MM"), and a loop that never stops gives a follow-up at exponentially spaced times.
- ``incident#…`` / ``recent#<technique>``: a tamper on a trail seen by the API-call path in the last
  :data:`FINDING_WINDOW_SECONDS`. A GuardDuty / Security Hub finding about the same trail is then
  counted, not emailed, unless its own repair needs a person.
- ``incidents#<YYYY-MM-DD>`` / ``<time>#<resource>#<technique>#<verdict>``: one row per burst for
  ``trailguard incidents``; its counts live in the ``count#`` item.
- ``incident#<account>/backstop`` / ``sweep#<region>``: what the last backstop sweep message said
  (the fingerprint of its findings: each drifted resource with its repair statuses, and what could not
  be checked). A sweep with the same findings within :data:`SWEEP_WINDOW_SECONDS` of that message sends
  none (a permanent failure, such as a deleted function, would otherwise be mailed every 5 minutes);
  after the window it sends a "still broken since HH:MM" reminder; other findings send a new message;
  a clean sweep deletes the item, so the same drift coming back later is news again.

A repeat whose repair fails in a burst whose first repair worked is escalated with a full message:
failures are never folded into a count.

Signed (issue 9, authenticated state): a forged "already published" or "open burst" record would mute an
alert, so with the stack's state key configured (``TRAILGUARD_STATE_KEY``) every record that gates a
message is written through :class:`~trailguard.integrity.SignedStore` and verified when read: the
``event#``, ``burst#``, ``recent#``, ``followup#`` and ``escalated#`` items and the backstop's ``sweep#``
item. The MAC covers the item's key and its ``doc`` text only. The atomic counters (``count#<row>``:
``count``, ``unverified``, ``findings``) are native number attributes beside the document, updated by
DynamoDB's ``ADD`` without reading the item, so they cannot be covered by a MAC made before the write;
they stay unsigned and are only ever shown (a forged count changes the number in a follow-up, or makes it
come sooner; it never suppresses the first message, which the signed ``burst#`` item decides). The
``incidents#`` rows and ``full#`` documents are for people (``trailguard incidents``, a shortened
message's pointer): nothing is decided from them, so they are unsigned too. A record that fails
verification (or that KMS could not verify) is read as absent, so the alert is sent: an ``if_absent``
claim overwrites a forged item (:meth:`~trailguard.integrity.SignedStore.claim`), and the decision's
reason (the message's ``notification``) says "trailguard's state was tampered with" and names the item.
Without a state key, records are unsigned and read as before.

The clock is injectable (``Ledger(store, clock=...)``, default :func:`time.time`): every decision reads
time from it, so tests drive storms, windows and quiet gaps without sleeping. (The store's own TTL
checks use the real clock.)
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, overload

from trailguard.integrity import TAMPERED, Mac, SignedStore, Tampered
from trailguard.notify.notice import NEEDS_A_PERSON, Incident, Notice, SweepFindings, short_name
from trailguard.notify.text import clean
from trailguard.state import StateStore, StoredItem

if TYPE_CHECKING:
    from trailguard.config import Config

BURST_QUIET_SECONDS = 300
"""A burst ends after this long without a repeat; the next incident gets a full message again."""
FOLLOWUP_THRESHOLD = 5
FOLLOWUP_INTERVAL_SECONDS = 600
FINDING_WINDOW_SECONDS = 3600
"""GuardDuty raises CloudTrailLoggingDisabled minutes after the call; an hour covers its delay."""
EVENT_TTL_SECONDS = 7 * 86400
ROW_TTL_SECONDS = 90 * 86400
IN_FLIGHT_SECONDS = 120
"""A claimed event older than this, never finished, belongs to a crashed run: a retry takes it over."""
SWEEP_WINDOW_SECONDS = 3600
"""A backstop sweep repeating the findings of its last message stays quiet this long, then reminds."""
SWEEP_TTL_SECONDS = 7 * 86400
ROWS_PREFIX = "incidents#"
TRAIL_DISABLED_BY_CALLS = ("trail.stop-logging", "trail.delete")

Action = Literal["publish", "follow-up", "suppress"]
SweepAction = Literal["publish", "reminder", "suppress"]


@dataclass
class Decision:
    """Whether and how to tell people about one incident, and where it was recorded."""

    action: Action
    reason: str
    pk: str | None = None
    event_sk: str | None = None
    row: str | None = None
    more: int = 0
    since: str = ""
    unverified: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    retry: bool = False
    """A Lambda retry re-sending a message that was not published (the outbox may hold it too)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "reason": self.reason,
            "row": self.row,
            "more": self.more,
            "since": self.since,
            "unverified": self.unverified,
        }


@dataclass
class SweepDecision:
    """Whether one backstop sweep's findings are news (publish), old news past the window (reminder),
    or the same as its last message (suppress)."""

    action: SweepAction
    reason: str
    fingerprint: str
    first_at: float
    alerted_at: float | None = None
    repeats: int = 0

    @property
    def since(self) -> str:
        return _iso(self.first_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "reason": self.reason,
            "since": self.since,
            "last_alert": _iso(self.alerted_at) if self.alerted_at is not None else None,
            "repeats": self.repeats,
        }


def sweep_key(account: str | None, region: str) -> tuple[str, str]:
    """Where the last backstop message of one account and region is recorded."""
    return f"incident#{account or 'unknown'}/backstop", f"sweep#{region}"


def fingerprint(findings: list[list[str]]) -> str:
    raw = json.dumps(sorted(findings), separators=(",", ":"))
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def resource_key(incident: Incident) -> str:
    """``<account>/<short name>``: a trail named by ARN in one event and by name in another is one key."""
    return str(clean(f"{incident.account_id or 'unknown'}/{incident.resource_label}"))


def event_key(incident: Incident) -> str:
    """The CloudTrail eventID or finding Id; a digest of the raw record when it has none.

    A Security Hub finding keeps its Id through every update, so its key adds the version: when its
    provider last updated it and its workflow status (a workflow change of its own is news; trailguard's
    own update coming back is recognised before this, by the finding itself)."""
    record = incident.record
    if record.event_id:
        key = record.event_id
        if record.finding_version is not None:
            key += f"@{record.finding_version}"
        return str(clean(key))
    raw = json.dumps(record.raw, sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def full_key(notice: Notice) -> tuple[str, str]:
    """Where the whole incident (or sweep report) is kept when its message had to be shortened."""
    if isinstance(notice, SweepFindings):
        pk, _sk = sweep_key(notice.account, notice.region)
        return pk, f"full#{notice.region}#{notice.swept_at}"
    return f"incident#{resource_key(notice)}", f"full#{event_key(notice)}"


def seen_key(account: str | None, ident: str, event_id: str) -> tuple[str, str]:
    """The event item an incident about ``ident`` left, if trailguard's event path had ``event_id``."""
    return str(clean(f"incident#{account or 'unknown'}/{short_name(ident)}")), str(clean(f"event#{event_id}"))


class Ledger:
    """Decides, on the state table, whether an incident gets a message, a follow-up or only a count."""

    def __init__(
        self, store: StateStore, clock: Callable[[], float] = time.time, *, mac: Mac | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        self.mac = mac
        self.signed = SignedStore(store, mac)
        self.tampered: list[Tampered] = []
        """Ledger records the last decision found failing verification (or unverifiable): read as absent."""

    @property
    def authenticated(self) -> bool:
        """True when the records that gate messages are signed and verified (a state key is configured)."""
        return self.mac is not None

    # -- the records that gate a message: signed and verified when a state key is configured --------

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        if self.mac is None:
            return self.store.get(pk, sk)
        doc = self.signed.get(pk, sk)
        if doc is None:
            self._note(pk, sk)
        return doc

    def _put(
        self, pk: str, sk: str, doc: dict[str, Any], *, ttl_seconds: int, if_absent: bool = False
    ) -> bool:
        if self.mac is None:
            return self.store.put(pk, sk, doc, ttl_seconds=ttl_seconds, if_absent=if_absent)
        if not if_absent:
            return self.signed.put(pk, sk, doc, ttl_seconds=ttl_seconds)
        claimed = self.signed.claim(pk, sk, doc, ttl_seconds=ttl_seconds)  # a forged item holds nothing
        self._note(pk, sk)
        return claimed

    def _claim(
        self, pk: str, sk: str, doc: dict[str, Any], *, ttl_seconds: int
    ) -> tuple[bool, StoredItem | None]:
        """``_put(if_absent=True)``, and when the claim is lost, the item holding it, read (and verified,
        when signed) once: None when it vanished in between or could not be verified."""
        claimed, held = self.signed.claim_or_get(pk, sk, doc, ttl_seconds=ttl_seconds)
        self._note(pk, sk)
        return claimed, held

    def _note(self, pk: str, sk: str) -> None:
        problem = self.signed.problem(pk, sk)
        if problem is not None and problem not in self.tampered:
            self.tampered.append(problem)

    def _told_tampered(self, decision: Decision | SweepDecision | None, before: int) -> None:
        """Say in the decision (the message's ``notification``) which ledger records were ignored."""
        found = self.tampered[before:]
        if decision is None or not found:
            return
        items = ", ".join(t.item for t in found)
        if all(t.unverifiable for t in found):
            decision.reason += f" (the ledger items {items} could not be verified and were ignored)"
        else:
            decision.reason += f" ({TAMPERED}: ledger items {items} failed verification and were ignored)"

    # -- one entry for either notice ------------------------------------------------------------------

    def seen(self, account: str | None, ident: str, event_id: str) -> bool:
        """Whether trailguard's event path had the event ``event_id`` about resource ``ident``."""
        return self._get(*seen_key(account, ident, event_id)) is not None

    @overload
    def decide(self, notice: Incident) -> Decision: ...
    @overload
    def decide(self, notice: SweepFindings) -> SweepDecision | None: ...
    def decide(self, notice: Notice) -> Decision | SweepDecision | None:
        """Whether this notice is news. An incident: publish, follow-up or suppress (see the module
        docstring). A sweep: None when it found nothing (and the last findings are forgotten), else
        publish, reminder or suppress."""
        # Each decision reports what it met: a claim that overwrote a forged item earlier (and left it
        # listed) must not be blamed again on a later, genuine record under the same key.
        self.tampered = []
        self.signed.tampered = []
        before = 0
        if isinstance(notice, SweepFindings):
            findings = notice.findings()
            if not findings:
                self.sweep_clean(notice.account, notice.region)
                return None
            sweep_decision = self.decide_sweep(notice.account, notice.region, findings)
            self._told_tampered(sweep_decision, before)
            return sweep_decision
        decision = self._decide_incident(notice)
        self._told_tampered(decision, before)
        return decision

    def finished(
        self,
        notice: Notice,
        decision: Decision | SweepDecision,
        message_id: str | None,
        error: str | None,
        *,
        kept: bool = False,
    ) -> None:
        """Record how the message went: an incident's event keeps its status (so a retry re-sends only
        what was not published); a published sweep message starts its window, and so does one the outbox
        keeps (``kept``: the sweep resends it); one neither published nor kept is not recorded, so the
        next sweep sends it."""
        if isinstance(decision, SweepDecision):
            told = error is None or kept
            if isinstance(notice, SweepFindings) and decision.action != "suppress" and told:
                self.sweep_alerted(notice.account, notice.region, decision, notice.findings(), message_id)
            return
        if isinstance(notice, Incident):
            self._incident_finished(notice, decision, message_id, error)

    # -- the backstop sweep: one message per distinct set of findings, then hourly reminders ---------

    def decide_sweep(self, account: str | None, region: str, findings: list[list[str]]) -> SweepDecision:
        """Compare a sweep's findings with those of the last sweep message (see the module docstring).
        A suppressed sweep is counted on the item; nothing is recorded for one that will publish until
        :meth:`sweep_alerted` (so a failed publish is tried again by the next sweep)."""
        now = self.clock()
        pk, sk = sweep_key(account, region)
        mark = fingerprint(findings)
        previous = self._get(pk, sk)
        if previous is None:
            return SweepDecision("publish", "first sweep with these findings", mark, now)
        alerted = float(previous.get("alerted_at", 0))
        if previous.get("fingerprint") != mark:
            return SweepDecision(
                "publish", f"the findings differ from the message at {_iso(alerted)}", mark, now, alerted
            )
        first = float(previous.get("first_at", alerted))
        repeats = int(previous.get("repeats", 0)) + 1
        if now - alerted < SWEEP_WINDOW_SECONDS:
            self._put(pk, sk, {**previous, "repeats": repeats, "seen_at": now}, ttl_seconds=SWEEP_TTL_SECONDS)
            return SweepDecision(
                "suppress",
                f"the same findings as the message at {_iso(alerted)}",
                mark,
                first,
                alerted,
                repeats,
            )
        return SweepDecision(
            "reminder", f"the same findings since {_iso(first)}, last mailed at {_iso(alerted)}", mark, first,
            alerted, repeats,
        )  # fmt: skip

    def sweep_alerted(
        self,
        account: str | None,
        region: str,
        decision: SweepDecision,
        findings: list[list[str]],
        message_id: str | None,
    ) -> None:
        """Record the sweep message just published: the window starts again from now."""
        pk, sk = sweep_key(account, region)
        doc = {
            "fingerprint": decision.fingerprint,
            "findings": sorted(findings),
            "first_at": decision.first_at,
            "alerted_at": self.clock(),
            "repeats": 0,
            "message_id": message_id,
        }
        self._put(pk, sk, doc, ttl_seconds=SWEEP_TTL_SECONDS)

    def sweep_clean(self, account: str | None, region: str) -> bool:
        """A sweep found nothing: forget the last findings. True when there were some."""
        pk, sk = sweep_key(account, region)
        if self.store.get(pk, sk) is None:
            return False
        self.store.delete(pk, sk)
        return True

    def _decide_incident(self, incident: Incident) -> Decision:
        now = self.clock()
        pk = f"incident#{resource_key(incident)}"
        event_sk = f"event#{event_key(incident)}"
        claim = {"status": "claimed", "at": now, "event_id": incident.record.event_id}
        claimed, held = self._claim(pk, event_sk, claim, ttl_seconds=EVENT_TTL_SECONDS)
        if not claimed:
            previous = held.doc if held is not None else None
            if previous is None and not self.authenticated:
                previous = {}  # unsigned (as before): an item that vanished in between is a duplicate
            # Signed: one that fails verification (or cannot be verified) is treated as absent, so a
            # forged "already published" record cannot mute the alert.
            if previous is not None:
                retry = _retry(previous, now)
                told = str(previous.get("told") or "")  # "" (suppressed, or an item older than this field)
                if retry is None and told and _rank(incident.status) > _rank(told):
                    # The other function's delivery of the same event found it already restored and said
                    # so first; this one made the repair: that is news, never a duplicate.
                    decision = Decision(
                        "publish",
                        f"the same event, now {incident.status} (the message before said {told})",
                        pk,
                        event_sk,
                        row=previous.get("row"),
                    )
                    self._put(
                        pk,
                        event_sk,
                        {**previous, "status": "decided", "at": now, "told": incident.status},
                        ttl_seconds=EVENT_TTL_SECONDS,
                    )
                    return decision
                if retry is None:
                    return Decision("suppress", f"duplicate delivery of event {event_key(incident)}", pk)
                if retry.action != "suppress":
                    retry.pk, retry.event_sk = pk, event_sk
                    retry.reason = f"retry of an unpublished message ({retry.reason})"
                    retry.retry = True
                    return retry
        decision = self._decide_new(incident, pk, now)
        decision.pk, decision.event_sk = pk, event_sk
        if decision.action == "suppress":  # nothing will be sent: record it as final now, once
            self._record_event(incident, decision, "suppressed", None, None)
        else:
            self._record_event(incident, decision, "decided")
        return decision

    def _decide_new(self, incident: Incident, pk: str, now: float) -> Decision:
        verdict = incident.verdict
        technique = incident.technique_id or "unknown"
        is_trail_call = incident.record.kind == "cloudtrail" and technique in TRAIL_DISABLED_BY_CALLS
        if is_trail_call and verdict.verdict == "tamper":
            self._put(pk, f"recent#{technique}", {"at": now}, ttl_seconds=FINDING_WINDOW_SECONDS)
        if incident.record.kind != "cloudtrail" and not incident.action_required:
            for call in TRAIL_DISABLED_BY_CALLS:
                seen = self._get(pk, f"recent#{call}")
                if seen is not None and now - float(seen.get("at", 0)) <= FINDING_WINDOW_SECONDS:
                    burst = self._get(pk, f"burst#{call}#tamper") or {}
                    if burst.get("row"):
                        self.store.add(pk, f"count#{burst['row']}", "findings", ttl_seconds=ROW_TTL_SECONDS)
                    return Decision(
                        "suppress",
                        f"a finding about trail {incident.resource_label}, already reported from the "
                        f"{call} call at {_iso(float(seen.get('at', 0)))}",
                        row=burst.get("row"),
                    )

        burst_sk = f"burst#{technique}#{verdict.verdict}"
        row = f"{_iso(now)}#{resource_key(incident)}#{technique}#{verdict.verdict}"
        rows_pk = ROWS_PREFIX + _iso(now)[:10]
        opening: dict[str, Any] = {
            "opened_at": now,
            "row": row,
            "rows_pk": rows_pk,
            "action_required": incident.action_required,
            "told": incident.status,
        }
        unverified = int(incident.verdict.verdict == "tamper" and incident.action_required)
        claimed, held = self._claim(pk, burst_sk, opening, ttl_seconds=BURST_QUIET_SECONDS)
        if claimed:
            self.store.put(rows_pk, row, _row(incident, pk, row), ttl_seconds=ROW_TTL_SECONDS)
            self.store.add(pk, f"count#{row}", "count", ttl_seconds=ROW_TTL_SECONDS)
            if unverified:  # ADD 0 returns nothing under UPDATED_NEW: only count real ones
                self.store.add(pk, f"count#{row}", "unverified", ttl_seconds=ROW_TTL_SECONDS)
            return Decision("publish", "first incident of its kind on this resource", row=row)

        if held is None:  # it expired between the two calls: the quiet gap passed, so this one is new
            return Decision("publish", "first incident after a quiet gap", row=row)
        burst = held.doc
        row = str(burst["row"])
        self.signed.keep(held, ttl_seconds=BURST_QUIET_SECONDS)  # the burst goes on
        count = self.store.add(pk, f"count#{row}", "count", ttl_seconds=ROW_TTL_SECONDS)
        if unverified:
            self.store.add(pk, f"count#{row}", "unverified", ttl_seconds=ROW_TTL_SECONDS)
        opened = float(burst.get("opened_at", now))
        more, since = count - 1, _iso(opened)
        if (
            unverified
            and not burst.get("action_required")
            and self._put(pk, f"escalated#{row}", {"at": now}, ttl_seconds=ROW_TTL_SECONDS, if_absent=True)
        ):
            return Decision("publish", "a repeat whose repair needs a person", row=row, more=more)
        told = str(burst.get("told") or "")
        if told and _rank(incident.status) > _rank(told):
            self._put(pk, burst_sk, {**burst, "told": incident.status}, ttl_seconds=BURST_QUIET_SECONDS)
            return Decision(
                "publish",
                f"a repeat that was {incident.status} after a message that said {burst.get('told')}",
                row=row,
                more=more,
            )
        elapsed = now - opened
        if more < FOLLOWUP_THRESHOLD and elapsed < FOLLOWUP_INTERVAL_SECONDS:
            return Decision("suppress", f"repeat {more} of a burst since {since}", row=row, more=more)
        slot = int(math.log2(1 + elapsed // FOLLOWUP_INTERVAL_SECONDS))
        claimed = self._put(
            pk,
            f"followup#{row}#{slot}",
            {"at": now, "more": more},
            ttl_seconds=ROW_TTL_SECONDS,
            if_absent=True,
        )
        if claimed:
            bad = int((self.store.get(pk, f"count#{row}") or {}).get("unverified", 0))
            return Decision(
                "follow-up", f"{more} repeats since {since}", row=row, more=more, since=since, unverified=bad
            )
        return Decision("suppress", f"repeat {more} of a burst since {since}", row=row, more=more)

    def _incident_finished(
        self, incident: Incident, decision: Decision, message_id: str | None, error: str | None
    ) -> None:
        if decision.action == "suppress":  # recorded as final when it was decided
            return
        self._record_event(incident, decision, "publish-failed" if error else "published", message_id, error)

    def _record_event(
        self,
        incident: Incident,
        decision: Decision,
        status: str,
        message_id: str | None = None,
        error: str | None = None,
    ) -> None:
        """The event item: what was decided for the event and, once known, how its message went."""
        if decision.pk is None or decision.event_sk is None:
            return
        doc: dict[str, Any] = {"status": status, "at": self.clock(), "event_id": incident.record.event_id}
        if status != "decided":
            doc.update(message_id=message_id, error=error)
        doc["told"] = incident.status if decision.action != "suppress" else ""
        self._put(
            decision.pk, decision.event_sk, {**doc, **decision.to_dict()}, ttl_seconds=EVENT_TTL_SECONDS
        )


def _rank(status: str) -> int:
    """How much a repair's status tells: nothing changed < repaired < a person must act."""
    if status in NEEDS_A_PERSON:
        return 2
    return {"remediated": 1}.get(status, 0)


def _retry(previous: dict[str, Any], now: float) -> Decision | None:
    """The decision to repeat for an event seen before, or None when it was handled (or is in flight)."""
    status = previous.get("status")
    stale = now - float(previous.get("at", 0)) > IN_FLIGHT_SECONDS
    if status == "publish-failed" or (status == "decided" and stale):
        return Decision(
            previous.get("action", "publish"),
            str(previous.get("reason", "")),
            row=previous.get("row"),
            more=int(previous.get("more", 0)),
            since=str(previous.get("since", "")),
            unverified=int(previous.get("unverified", 0)),
        )
    if status == "claimed" and stale:  # crashed before deciding: decide afresh
        return Decision("suppress", "take over")
    return None


def _row(incident: Incident, pk: str, row: str) -> dict[str, Any]:
    """What ``trailguard incidents`` shows for a burst: its first incident."""
    record, outcome = incident.record, incident.outcome
    return {
        "detected_at": incident.detected_at,
        "event_time": record.event_time,
        "event_id": record.event_id,
        "event_name": record.event_name,
        "verdict": incident.verdict.verdict,
        "technique": incident.technique_id,
        "resource": incident.resource,
        "account": incident.account_id,
        "region": incident.region,
        "principal": record.principal_arn or record.principal_name,
        "principal_type": record.principal_type,
        "source_ip": record.source_ip,
        "user_agent": record.user_agent,
        "status": incident.status,
        "verified": outcome.verified if outcome is not None else None,
        "action_required": incident.action_required,
        "counts": {"pk": pk, "sk": f"count#{row}"},
    }


def ledger_for(config: Config, region: str, clock: Callable[[], float] = time.time) -> Ledger | None:
    """The ledger on the configured state table, or None (no table: publish every notice)."""
    if not config.state_table:
        return None
    mac = Mac(config.state_key, region) if config.state_key else None
    return Ledger(StateStore(config.state_table, region), clock, mac=mac)
