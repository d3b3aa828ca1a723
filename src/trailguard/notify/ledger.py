"""The ledger: the state table's record of what was told, so each incident and each sweep's findings get
one message, and storms fold into a count.

Why: EventBridge delivers at least once, the API-call and the finding paths both fire for one incident,
and an attacker may repeat a call in a loop. Repairs always run (this module only gates the message);
without a state table every incident is published, as before.

Incidents: one item per burst, and one conditional write per incident (issue 13). A burst is the run of
incidents of one technique family and verdict on one resource with no gap of
:data:`BURST_QUIET_SECONDS`; its item is ``bursts`` / ``<account>/<resource>#<family>#<verdict>``:

- ``doc``: the burst's first incident (its record, verdict and outcome, what it told), signed (``mac``);
- ``count`` / ``findings`` / ``unverified``: native counters, moved by the same write that decides;
- ``e_<digest of the event id>``: a signed stamp (``<attribute>|<time>|<status>|<mac>``) of the event
  that opened the burst and of each repeat whose repair needs a person: the write's condition
  ``attribute_not_exists`` on it is their deduplication, for the burst's whole life;
- ``d0`` / ``d1`` / ``d2``: every other repeat's event, as a short digest in a string set, one set per
  :data:`DEDUP_SECONDS` of the ledger's clock in rotation (a write adds to its period's set, checks it and
  the one before, and empties the next): a redelivery within :data:`DEDUP_SECONDS` (at most twice that)
  is recognised, one later is counted again (never mailed again: a message's own event keeps its stamp).
  Why not a stamp per event: the item would grow with the storm (every write's cost grows with the item,
  and a storm of a few thousand calls would pass DynamoDB's 400 KB item limit);
- ``last`` / ``prev``: the stamps of the latest call and the one before it (``SET prev = last``), and
  ``last_at``, the time the conditions compare; ``reported`` / ``slot`` / ``closed``: what the
  follow-ups have told.

The first incident opens the burst with ``TransactWriteItems`` (the burst item under the condition
"absent, or ended and closed", plus its ``incidents#<day>`` row for ``trailguard incidents``); a repeat
is one ``UpdateItem`` (condition: live and this event not stamped yet; ``ALL_NEW``). A failed condition
hands back the item that failed it (``ReturnValuesOnConditionCheckFailure``), so no write is followed by
a read. Which of the two to try first is guessed from what this process last saw (a warm function in a
storm tries the repeat first); a wrong guess costs one more write, never a wrong decision. So a warm
StopLogging repair makes one ledger call.

A repeat is counted, not mailed (unless its repair needs a person while the first one's did not, or it
did more than the first message said: each once per burst). The count goes out in one follow-up when the
burst has ended, or at its follow-up slots (1, 3, 7, 15... times :data:`FOLLOWUP_INTERVAL_SECONDS` after
it opened) while it goes on: :meth:`Ledger.close_bursts`, run by the backstop sweep, claims each with one
conditional write (``reported`` / ``slot``). "50 calls in a row" is one message and "49 more".

A GuardDuty / Security Hub finding that a trail was disabled counts into the burst of the StopLogging
call (``FAMILIES``) for :data:`FINDING_WINDOW_SECONDS` after that call; a finding whose repair found
nothing to do waits :data:`FINDING_GRACE_SECONDS` first, so a call being repaired at that moment
decides first and the one message says REPAIRED.

Authenticated (issue 9): the attacker can write any item. A decision to stay quiet needs a burst whose
signed ``doc`` verifies and whose previous stamp (``prev``, or ``last`` for a finding) verifies and is
fresh, or, for a duplicate, a verified stamp of this very event; anything else (no MAC, a MAC that
fails, a stamp moved from another event or burst, an old stamp replayed) is news: the burst is written
again over exactly the version read and the message says "trailguard's state was tampered with". The
counters are not covered: a forged count changes a follow-up's number, never the first message. With
the state key configured the MACs are made with :class:`~trailguard.integrity.DerivedMac` (one KMS call
per process). The backstop's ``sweep#`` item and the outbox are signed as before.

- ``incident#<account>/backstop`` / ``sweep#<region>``: what the last backstop sweep message said
  (the fingerprint of its findings: each drifted resource with its repair statuses, and what could not
  be checked). A sweep with the same findings within :data:`SWEEP_WINDOW_SECONDS` of that message sends
  none (a permanent failure, such as a deleted function, would otherwise be mailed every 5 minutes);
  after the window it sends a "still broken since HH:MM" reminder; other findings send a new message;
  a clean sweep deletes the item, so the same drift coming back later is news again.

The clock is injectable (``Ledger(store, clock=...)``, default :func:`time.time`): every decision reads
time from it, so tests drive storms, windows and quiet gaps without sleeping. (The store's own TTL
checks use the real clock.)
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, overload

from trailguard.events import Record
from trailguard.integrity import (
    KEY_ATTRIBUTE,
    MAC_ATTRIBUTE,
    TAMPERED,
    DerivedMac,
    Mac,
    SignedStore,
    Tampered,
    UnverifiableError,
)
from trailguard.notify.notice import NEEDS_A_PERSON, Incident, Notice, SweepFindings, short_name
from trailguard.notify.text import clean
from trailguard.policy.techniques import delivered_twice
from trailguard.policy.verdict import Verdict
from trailguard.remediate.base import Outcome
from trailguard.state import DOC_ATTRIBUTE, TTL_ATTRIBUTE, StateStore, StoredItem, dump

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
BURSTS_PK = "bursts"
"""Every burst's item: ``sk`` = ``<account>/<resource>#<technique family>#<verdict>`` (see the docstring)."""
FAMILIES = {"finding.trail-disabled": "trail.stop-logging"}
"""A finding that a trail was disabled is counted into the burst of the call that disabled it."""
FINDING_GRACE_SECONDS = 2.0
"""A finding whose repair found nothing to do waits this long before it decides, so the API-call path
that is restarting the trail at the same moment decides first (one message, and it says REPAIRED)."""
SKEW_SECONDS = 5.0
"""Clock difference tolerated between two functions' stamps on one burst."""
DEDUP_SECONDS = 15
"""A repeat's event is remembered (a short digest in one of three rotating sets on its burst) for at least
this long and at most twice this, so a redelivery within it is not counted twice; the burst item stays
the same size however long the storm (see the module docstring)."""
DEDUP_SLOTS = ("d0", "d1", "d2")
RECORD_MAX = 60_000
"""A first incident's record larger than this is kept in its burst by its identifying fields only."""

_LIVE: dict[str, dict[str, float]] = {}
_KNOWN: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
_EMPTIED: dict[str, dict[str, str]] = {}
"""Per table: each burst's signed document this process verified (or wrote), with its MAC."""


def _may_race(incident: Incident) -> bool:
    """Whether another run may be repairing what this incident found already restored: a finding races
    the API call it reports; a call on trailguard's own pipeline reaches both functions; a StopLogging
    found logging again was restarted by someone, maybe another delivery of the same call."""
    record = incident.record
    if record.kind != "cloudtrail" or incident.technique_id == "trail.stop-logging":
        return True
    return delivered_twice(record.event_source, record.event_name)


def forget_bursts() -> None:
    """Forget which bursts this process saw live and what they hold (tests: a fresh process)."""
    _LIVE.clear()
    _KNOWN.clear()
    _EMPTIED.clear()


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
    duplicate: bool = False
    """Another delivery of an event already decided (``notify.delivery`` re-sends it only when the outbox
    still keeps its message: a Lambda retry after a failed publish)."""

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
        self.sleep: Callable[[float], None] = time.sleep
        self._live = _LIVE.setdefault(store.table_name, {})
        """Bursts this process last saw live (sk -> until when, shared by the process's ledgers on the
        table): its next write on one guesses "repeat" first. A wrong guess costs one more write, never a
        wrong decision."""
        self._known = _KNOWN.setdefault(store.table_name, {})
        """The signed document (and its MAC) of each burst this process wrote or verified (sk ->)."""
        self._emptied = _EMPTIED.setdefault(store.table_name, {})
        """The dedup set each burst's last write by this process emptied (sk -> set name)."""
        self.pending_followups: list[tuple[Incident, Decision]] = []
        """Follow-ups of ended bursts this process's last decision closed (:meth:`take_followups`)."""

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

    # -- incidents: one conditional write decides, deduplicates and counts ---------------------------

    def seen(self, account: str | None, ident: str, event_id: str) -> bool:
        """Whether trailguard's event path had the event ``event_id`` about resource ``ident``: a verified
        event stamp on one of the resource's bursts."""
        pk, _ = seen_key(account, ident, event_id)
        prefix = pk.removeprefix("incident#") + "#"
        name = event_attribute(event_id)
        digest = event_digest(event_id)
        for item in self.store.query_raw(BURSTS_PK, prefix):
            stamp = _s(item, name)
            if stamp is not None and self._stamp_ok(str(item["sk"]["S"]), name, stamp):
                return True
            if any(digest in _ss(item, slot) for slot in DEDUP_SLOTS):  # a repeat, recently
                return True
        return False

    def _decide_incident(self, incident: Incident) -> Decision:
        finding = incident.record.kind != "cloudtrail"
        if incident.status == "already-restored" and FINDING_GRACE_SECONDS > 0 and _may_race(incident):
            # Another run may be repairing this very thing right now (the API-call path restarting the
            # trail a finding reports, or the other function given the same guard call): its write goes
            # first, so the one message says REPAIRED, never ALREADY RESTORED about what trailguard did
            # change.
            self.sleep(FINDING_GRACE_SECONDS)
        write = _Write(self, incident, burst_key(incident)[1], self.clock(), finding)
        warm = self._live.get(write.sk, 0.0) > write.now + 1
        decision = (
            (write.repeat() or write.open()) if warm and not finding else (write.open() or write.repeat())
        )
        if decision is None:  # the burst changed twice under us: decide once more, without guessing
            decision = write.open() or write.repeat() or write.forced(None)
        if not finding and decision.pk is not None:
            self._live[write.sk] = write.now + BURST_QUIET_SECONDS
        return decision

    def _stamp(self, sk: str, name: str, at: float, status: str) -> str:
        body = f"{name}|{at:.3f}|{status}"
        mac = self.mac.sign(BURSTS_PK, sk, "stamp|" + body) if self.mac is not None else ""
        return f"{body}|{mac}"

    def _stamp_ok(self, sk: str, name: str | None, stamp: str) -> bool:
        """A stamp trailguard wrote on this burst (and, with ``name``, for that event)."""
        parts = stamp.split("|")
        if len(parts) != 4 or (name is not None and parts[0] != name):
            self._forged(sk, "an event stamp that does not parse")
            return False
        if self.mac is None:
            return True
        try:
            good = self.mac.verify(BURSTS_PK, sk, "stamp|" + "|".join(parts[:3]), parts[3])
        except UnverifiableError as exc:
            self._forged(sk, f"KMS could not verify an event stamp: {exc}", unverifiable=True)
            return False
        if not good:
            self._forged(sk, "an event stamp whose MAC does not match")
        return good

    def _stamp_at(self, sk: str, stamp: str | None) -> float | None:
        """When a verified stamp was written; None for no stamp or one that fails."""
        if stamp is None or not self._stamp_ok(sk, None, stamp):
            return None
        return float(stamp.split("|")[1])

    def _doc(self, sk: str, item: Mapping[str, Any]) -> dict[str, Any] | None:
        """The burst's signed document, verified (None, recorded as tampered, when it fails)."""
        doc = self.signed.checked(_stored_item(item))
        if doc is None:
            self._note(BURSTS_PK, sk)
        return doc

    def _forged(self, sk: str, reason: str, *, unverifiable: bool = False) -> None:
        if self.mac is None:
            return
        problem = Tampered(BURSTS_PK, sk, reason, unverifiable)
        if problem not in self.tampered:
            self.tampered.append(problem)

    def _incident_finished(
        self, incident: Incident, decision: Decision, message_id: str | None, error: str | None
    ) -> None:
        """Nothing to write: the event's stamp went in with the decision (a message SNS refused is kept
        in the outbox, which the sweep sends: ``notify.outbox``)."""
        return

    # -- the count of a burst, once, when it ends (or at its follow-up slots) ------------------------

    def take_followups(self) -> list[tuple[Incident, Decision]]:
        """Follow-ups of earlier bursts that this decision closed (sent beside its own message)."""
        due, self.pending_followups = self.pending_followups, []
        return due

    def close_bursts(self, handler_region: str) -> list[tuple[Incident, Decision]]:
        """The follow-ups that are due (the backstop sweep sends them): a burst quiet for
        :data:`BURST_QUIET_SECONDS` whose calls are not all in a message yet gets one with its final count
        ("49 more StopLogging calls ... since HH:MM"); a burst still going gets one when its next slot
        opens (1, 3, 7, 15... times :data:`FOLLOWUP_INTERVAL_SECONDS` after it opened). Each is claimed by
        one conditional write, so no count is sent twice. One broken burst does not hide the others."""
        self.tampered = []
        self.signed.tampered = []
        due: list[tuple[Incident, Decision]] = []
        for item in self.store.query_raw(BURSTS_PK):
            try:
                due.extend(self.close_one(item, handler_region))
            except Exception as exc:
                self._forged(
                    str(item.get("sk", {}).get("S", "?")), f"could not be closed: {exc}", unverifiable=True
                )
        return due

    def close_one(
        self, item: Mapping[str, Any], region: str, *, now: float | None = None
    ) -> list[tuple[Incident, Decision]]:
        """The follow-up ``item`` (one burst) is due, claimed; [] when none is."""
        now = self.clock() if now is None else now
        sk = str(item["sk"]["S"])
        if _n(item, "closed"):
            return []
        doc = self._doc(sk, item)
        last_at = self._stamp_at(sk, _s(item, "last"))
        if doc is None or last_at is None:
            return []  # nothing trailguard wrote and kept going: nothing to count (the tamper is recorded)
        count, reported, held = int(_n(item, "count")), int(_n(item, "reported")), int(_n(item, "slot"))
        opened = float(doc.get("opened_at", now))
        ended = now - last_at >= BURST_QUIET_SECONDS - 0.01  # stamps keep milliseconds
        slot = int(math.log2(1 + max(0.0, now - opened) // FOLLOWUP_INTERVAL_SECONDS))
        news = count > reported
        if not ended and (not news or slot <= held):
            return []
        claimed = self.store.update_if(
            BURSTS_PK,
            sk,
            "SET #r = :count, #s = :slot, #c = :closed",
            condition="#r = :reported AND #s = :held AND #c = :zero",
            names={"#r": "reported", "#s": "slot", "#c": "closed"},
            values={
                ":count": {"N": str(count)},
                ":slot": {"N": str(max(slot, held))},
                ":closed": {"N": "1" if ended else "0"},
                ":reported": {"N": str(reported)},
                ":held": {"N": str(held)},
                ":zero": {"N": "0"},
            },
        )
        if not claimed.ok:
            return []
        if ended and doc.get("rows_pk") and doc.get("row"):
            self.store.update_if(
                str(doc["rows_pk"]),
                str(doc["row"]),
                "SET #n = :n, #f = :f, #u = :u",
                names={"#n": "count", "#f": "findings", "#u": "unverified"},
                values={
                    ":n": {"N": str(count)},
                    ":f": {"N": str(int(_n(item, "findings")))},
                    ":u": {"N": str(int(_n(item, "unverified")))},
                },
            )
        more = count - (1 if doc.get("kind") == "cloudtrail" else 0)
        if not news or more <= 0:
            return []
        since = _iso(opened)
        reason = f"{more} repeats since {since}" + (", the burst has ended" if ended else ", still going")
        decision = Decision(
            "follow-up", reason, BURSTS_PK, None, row=str(doc.get("row") or ""), more=more, since=since,
            unverified=int(_n(item, "unverified")),
        )  # fmt: skip
        return [(first_incident(doc, region), decision)]


class _Write:
    """One incident's write on its burst: open it (the first of its kind on the resource: a full message)
    or count a repeat, in one conditional call whose answer (the item before or after) decides."""

    def __init__(self, ledger: Ledger, incident: Incident, sk: str, now: float, finding: bool) -> None:
        self.ledger = ledger
        self.incident = incident
        self.sk = sk
        self.now = now
        self.finding = finding
        self.event = event_attribute(event_key(incident))
        self.digest = event_digest(event_key(incident))
        self.stamp = ledger._stamp(sk, self.event, now, incident.status)
        self.bad = incident.verdict.verdict == "tamper" and incident.action_required
        self.window = FINDING_WINDOW_SECONDS if finding else BURST_QUIET_SECONDS
        period = int(now // DEDUP_SECONDS)
        self.slot, self.before, self.next = (DEDUP_SLOTS[(period + k) % len(DEDUP_SLOTS)] for k in (0, -1, 1))

    def _item(self) -> tuple[dict[str, Any], dict[str, Any]]:
        incident, now, ledger = self.incident, self.now, self.ledger
        doc = _burst_doc(incident, now)
        text = dump(doc)
        item: dict[str, Any] = {
            "pk": {"S": BURSTS_PK},
            "sk": {"S": self.sk},
            DOC_ATTRIBUTE: {"S": text},
            "count": {"N": "0" if self.finding else "1"},
            "findings": {"N": "1" if self.finding else "0"},
            "unverified": {"N": "1" if self.bad else "0"},
            "reported": {"N": "0" if self.finding else "1"},
            "slot": {"N": "0"},
            "closed": {"N": "0"},
            "last": {"S": self.stamp},
            "last_at": {"N": f"{now:.3f}"},
            self.event: {"S": self.stamp},
            self.slot: {"SS": [self.digest]},
            TTL_ATTRIBUTE: {"N": str(int(time.time()) + ROW_TTL_SECONDS)},
        }
        if ledger.mac is not None:
            item[MAC_ATTRIBUTE] = {"S": ledger.mac.sign(BURSTS_PK, self.sk, text)}
            item[KEY_ATTRIBUTE] = {"S": ledger.mac.key_id}
        return item, doc

    def _put(self, condition: str, names: dict[str, str], values: dict[str, Any]) -> tuple[bool, Any, str]:
        item, doc = self._item()
        row = _row(self.incident, BURSTS_PK, str(doc["row"]), float(doc["opened_at"]))
        result = self.ledger.store.open_with_row(
            item, (str(doc["rows_pk"]), str(doc["row"]), row), condition=condition, names=names, values=values
        )
        if result.ok:
            self._remember(_s(item, MAC_ATTRIBUTE), doc)
        return result.ok, result.item, str(doc["row"])

    def _remember(self, mac: str | None, doc: dict[str, Any]) -> None:
        """Keep the burst's verified document for this process's next repeat (:meth:`_quick`)."""
        if mac is not None and self.ledger.mac is not None:
            self.ledger._known[self.sk] = (mac, doc)

    def open(self) -> Decision | None:
        """Open the burst. None when a live burst holds it (then a repeat is counted instead)."""
        condition = "attribute_not_exists(pk) OR (#at < :stale AND #c = :one)"
        names = {"#at": "last_at", "#c": "closed"}
        # a finding folds into a call's burst for the whole finding window, even once the burst is closed
        values = {":stale": {"N": f"{self.now - self.window:.3f}"}, ":one": {"N": "1"}}
        ok, held, row = self._put(condition, names, values)
        if ok:
            return Decision("publish", "first incident of its kind on this resource", BURSTS_PK, row=row)
        return self._held(held, opening=True)

    def forced(self, seen: Mapping[str, Any] | None, why: str = "") -> Decision:
        """Open over exactly the item version ``seen`` (one that cannot be trusted, or an ended burst
        just closed): a message in any case, so a record nobody can vouch for never mutes one."""
        mac = _s(seen, MAC_ATTRIBUTE) if seen is not None else None
        values: dict[str, Any] = {}
        names: dict[str, str] = {}
        if seen is None:
            condition = "attribute_not_exists(pk)"
        elif mac is None:
            condition, names = "attribute_not_exists(#mac)", {"#mac": MAC_ATTRIBUTE}
        else:
            condition, names, values = "#mac = :seen", {"#mac": MAC_ATTRIBUTE}, {":seen": {"S": mac}}
        ok, _, row = self._put(condition, names, values)
        reason = why or "first incident of its kind on this resource"
        if not ok:
            reason += " (its record changed meanwhile and was not written: sent anyway)"
        return Decision("publish", reason, BURSTS_PK if ok else None, row=row if ok else None)

    def repeat(self) -> Decision | None:
        """Count a repeat into a live burst. None when there is none (then the burst is opened)."""
        quick = self._quick()
        if quick is not None:
            return quick
        return self._repeat()

    def _quick(self) -> Decision | None:
        """A warm process's repeat that can only be suppressed, in one write that returns nothing.

        Taken only when this process itself wrote to the burst within :data:`BURST_QUIET_SECONDS` (so it
        is live whatever the table says), verified its signed document (the write's condition requires
        the same MAC, so the document is still that one) and the repeat cannot be news (its repair needs
        no person and did no more than the first message said). The write is the same as
        :meth:`_repeat`'s, so the counts and the deduplication are the same; what it saves is the whole
        item coming back (its digests, its first record) and verifying it again. Anything else, or a
        failed condition that is not a duplicate, goes the full way."""
        ledger = self.ledger
        known = ledger._known.get(self.sk)
        if known is None or self.finding or self.bad or ledger._live.get(self.sk, 0.0) <= self.now:
            return None
        mac, doc = known
        told = str(doc.get("told") or "")
        if not told or _rank(self.incident.status) > _rank(told) or doc.get("kind") != "cloudtrail":
            return None
        expression, condition, names, values = self._expression()
        names["#mac"] = MAC_ATTRIBUTE
        values[":mac"] = {"S": mac}
        result = ledger.store.update_if(
            BURSTS_PK, self.sk, expression, condition=condition + " AND #mac = :mac", names=names,
            values=values, returns="NONE",
        )  # fmt: skip
        if result.ok:
            ledger._emptied[self.sk] = self.next
            since = _iso(float(doc.get("opened_at", self.now)))
            return Decision("suppress", f"a repeat of a burst since {since}", BURSTS_PK, row=doc.get("row"))
        ledger._known.pop(self.sk, None)
        held = self._held(result.item, opening=False)
        return held if held is not None and held.duplicate else None

    def _expression(self) -> tuple[str, str, dict[str, str], dict[str, Any]]:
        """The repeat's update: (expression, condition, names, values)."""
        names = {
            "#at": "last_at", "#ev": self.event, "#n": "findings" if self.finding else "count",
            "#d": self.slot, "#dp": self.before, "#dn": self.next,
        }  # fmt: skip
        values: dict[str, Any] = {
            ":since": {"N": f"{self.now - self.window:.3f}"},
            ":one": {"N": "1"},
            ":digest": {"S": self.digest},
            ":digests": {"SS": [self.digest]},
        }
        sets, adds = [], ["#n :one", "#d :digests"]
        if self.bad:  # a repeat that may be mailed keeps its own signed stamp, as the burst's first does
            values[":stamp"] = {"S": self.stamp}
            sets.append("#ev = :stamp")
        if not self.finding:  # a finding neither extends the burst nor moves its last call
            names.update({"#last": "last", "#prev": "prev"})
            values[":now"] = {"N": f"{self.now:.3f}"}
            values[":stamp"] = {"S": self.stamp}
            sets += ["#prev = #last", "#last = :stamp", "#at = :now"]
        if self.bad:
            names["#u"] = "unverified"
            adds.append("#u :one")
        expression = (f"SET {', '.join(sets)} " if sets else "") + f"ADD {', '.join(adds)}"
        if self.ledger._emptied.get(self.sk) != self.next:
            # the next period's set, emptied once per period by each process (left over, it would only
            # hold more of this burst's own events: never wrong, only larger)
            expression += " REMOVE #dn"
        else:
            del names["#dn"]
        # (``#at >= :since`` is false on an absent item: no attribute_exists(pk) needed)
        condition = "#at >= :since AND attribute_not_exists(#ev) AND NOT contains(#d, :digest)"
        condition += " AND NOT contains(#dp, :digest)"
        return expression, condition, names, values

    def _repeat(self) -> Decision | None:
        expression, condition, names, values = self._expression()
        result = self.ledger.store.update_if(
            BURSTS_PK, self.sk, expression, condition=condition, names=names, values=values
        )
        if not result.ok:
            return self._held(result.item, opening=False)
        assert result.item is not None
        self.ledger._emptied[self.sk] = self.next
        return self._counted(result.item)

    def _counted(self, item: Mapping[str, Any]) -> Decision:
        """A repeat was counted into ``item`` (as it is now): suppressed, unless it is news."""
        ledger, incident = self.ledger, self.incident
        doc = ledger._doc(self.sk, item)
        before = ledger._stamp_at(self.sk, _s(item, "last" if self.finding else "prev"))
        if doc is None or before is None or self.now - before > self.window + SKEW_SECONDS:
            # Not a burst trailguard opened and kept going (forged, or an old record replayed): news.
            return self.forced(item, "the burst it would count into could not be trusted")
        self._remember(_s(item, MAC_ATTRIBUTE), doc)
        row = doc.get("row")
        more = max(0, int(_n(item, "count")) - (1 if doc.get("kind") == "cloudtrail" else 0))
        since = _iso(float(doc.get("opened_at", self.now)))
        if self.bad and not doc.get("action_required") and int(_n(item, "unverified")) == 1:
            return Decision("publish", "a repeat whose repair needs a person", BURSTS_PK, row=row, more=more)
        told = str(doc.get("told") or "")
        if not self.bad and told and _rank(incident.status) > _rank(told) and self._upgrade():
            reason = f"a repeat that was {incident.status} after a message that said {told}"
            return Decision("publish", reason, BURSTS_PK, row=row, more=more)
        if self.finding:
            reason = f"a finding about {incident.resource_label}, already reported from the call at {since}"
            return Decision("suppress", reason, BURSTS_PK, row=row)
        return Decision("suppress", f"repeat {more} of a burst since {since}", BURSTS_PK, row=row, more=more)

    def _upgrade(self) -> bool:
        """Claim the one extra message a burst may send when a repeat did more than its first message said."""
        result = self.ledger.store.update_if(
            BURSTS_PK, self.sk, "SET #g = :one", condition="attribute_not_exists(#g)",
            names={"#g": "upgraded"}, values={":one": {"N": "1"}},
        )  # fmt: skip
        return result.ok

    def _held(self, item: Mapping[str, Any] | None, *, opening: bool) -> Decision | None:
        """The condition failed on ``item``: a duplicate delivery, a live burst, or an ended one."""
        if item is None:
            return None
        ledger = self.ledger
        stamp = _s(item, self.event)
        key = event_key(self.incident)
        if stamp is not None:
            if ledger._stamp_ok(self.sk, self.event, stamp):
                return Decision("suppress", f"duplicate delivery of event {key}", BURSTS_PK, duplicate=True)
            return self.forced(item, "a forged record of this event was ignored")
        if self.digest in _ss(item, self.slot) | _ss(item, self.before) and ledger._doc(self.sk, item):
            # a repeat delivered again (its digest is unsigned: one whose repair needs a person, which a
            # forged digest would mute, was stamped instead, so it is sent)
            if self.bad:
                return self.forced(item, "a forged record of this event was ignored")
            return Decision("suppress", f"duplicate delivery of event {key}", BURSTS_PK, duplicate=True)
        if opening and self.now - _n(item, "last_at") >= self.window and not _n(item, "closed"):
            # An ended burst whose count was not told yet (the sweep had not come): told now, beside this.
            ledger.pending_followups.extend(
                ledger.close_one(item, self.incident.handler_region, now=self.now)
            )
            return self.forced(item)
        return None


def event_attribute(event_id: str) -> str:
    """The burst item's attribute that stamps one event (a digest: any event id fits)."""
    return "e_" + hashlib.sha256(event_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def event_digest(event_id: str) -> str:
    """What a burst's rotating sets keep of a repeat's event: 96 bits of its digest, as 16 characters."""
    raw = hashlib.sha256(event_id.encode("utf-8", "surrogatepass")).digest()[:12]
    return base64.urlsafe_b64encode(raw).decode("ascii")


def burst_key(incident: Incident) -> tuple[str, str]:
    """Where an incident's burst is kept: one item per resource, technique family and verdict."""
    technique = incident.technique_id or "unknown"
    family = FAMILIES.get(technique, technique)
    return BURSTS_PK, str(clean(f"{resource_key(incident)}#{family}#{incident.verdict.verdict}"))


def _s(item: Mapping[str, Any] | None, name: str) -> str | None:
    value = (item or {}).get(name)
    return str(value["S"]) if isinstance(value, Mapping) and "S" in value else None


def _ss(item: Mapping[str, Any] | None, name: str) -> set[str]:
    value = (item or {}).get(name)
    return {str(v) for v in value["SS"]} if isinstance(value, Mapping) and "SS" in value else set()


def _n(item: Mapping[str, Any] | None, name: str) -> float:
    value = (item or {}).get(name)
    try:
        return float(value["N"]) if isinstance(value, Mapping) and "N" in value else 0.0
    except ValueError:
        return 0.0


def _stored_item(item: Mapping[str, Any]) -> StoredItem:
    return StoredItem(
        str(item["pk"]["S"]),
        str(item["sk"]["S"]),
        _s(item, DOC_ATTRIBUTE) or "",
        {k: str(v["S"]) for k, v in item.items() if k in (MAC_ATTRIBUTE, KEY_ATTRIBUTE) and "S" in v},
    )


_RECORD_KEPT = (
    "eventID",
    "eventName",
    "eventSource",
    "awsRegion",
    "eventTime",
    "recipientAccountId",
    "userIdentity",
    "sourceIPAddress",
)


def _burst_doc(incident: Incident, now: float) -> dict[str, Any]:
    """What a burst keeps of its first incident: enough to decide on repeats and to write its follow-up."""
    record, verdict, outcome = incident.record, incident.verdict, incident.outcome
    raw = record.raw if isinstance(record.raw, Mapping) else {}
    if len(json.dumps(raw, default=str)) > RECORD_MAX:
        raw = {k: raw.get(k) for k in _RECORD_KEPT}
    row = f"{_iso(now)}#{resource_key(incident)}#{incident.technique_id or 'unknown'}#{verdict.verdict}"
    return {
        "opened_at": now,
        "row": row,
        "rows_pk": ROWS_PREFIX + _iso(now)[:10],
        "action_required": incident.action_required,
        "told": incident.status,
        "kind": record.kind,
        "record": json.loads(json.dumps(raw, default=str)),
        "verdict": verdict.verdict,
        "technique": incident.technique_id,
        "resource": verdict.resource,
        "principal": verdict.principal,
        "reason": verdict.reason,
        "handler": incident.handler,
        "account": incident.account,
        "outcome": None if outcome is None else {
            "action": outcome.action, "status": outcome.status, "verified": outcome.verified,
        },
    }  # fmt: skip


def first_incident(doc: Mapping[str, Any], region: str) -> Incident:
    """The burst's first incident again, from its verified document (its record, verdict and outcome):
    for its follow-up, and for its Security Hub finding."""
    record = Record.of(dict(doc.get("record") or {}), doc.get("kind") or "cloudtrail")
    verdict = Verdict(
        doc.get("verdict", "tamper"), doc.get("technique"), doc.get("resource"), doc.get("principal"),
        str(doc.get("reason", "")), record,
    )  # fmt: skip
    done = doc.get("outcome")
    outcome = None
    if isinstance(done, Mapping):
        outcome = Outcome(str(done.get("action")), doc.get("resource"), done.get("status", "failed"),
                          verified=done.get("verified"))  # fmt: skip
    return Incident(verdict, record, str(doc.get("handler") or "sweep"), region, doc.get("account"), outcome)


def _rank(status: str) -> int:
    """How much a repair's status tells: nothing changed < repaired < a person must act."""
    if status in NEEDS_A_PERSON:
        return 2
    return {"remediated": 1}.get(status, 0)


def _row(incident: Incident, pk: str, row: str, opened_at: float) -> dict[str, Any]:
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
        "counts": {"pk": pk, "sk": burst_key(incident)[1], "opened_at": opened_at},
    }


def ledger_for(config: Config, region: str, clock: Callable[[], float] = time.time) -> Ledger | None:
    """The ledger on the configured state table, or None (no table: publish every notice)."""
    if not config.state_table:
        return None
    mac = DerivedMac(config.state_key, region) if config.state_key else None
    return Ledger(StateStore(config.state_table, region), clock, mac=mac)
