"""The central function's calls (security account): organization trails verified and repaired by ARN in
their home region as CloudTrail delegated administrator, members' incidents escalated, the organization
backstop, and every message on the central topic. The decisions are pure (:mod:`trailguard.org.central`
and :func:`trailguard.policy.classify`); the repairs are the existing actions
(:func:`trailguard.remediate.trail.ensure_logging`, the core of every stack's StopLogging repair).

One voice per incident: a forwarded call waits the grace (:data:`pause`), the trail is re-read, and the
central ledger says whether the account's own stack told (:meth:`Central.note_told` records its message
when the topic delivers it; :meth:`Central.claim_voice` is the one conditional write that decides).

Every AWS call is made through an :class:`~trailguard.remediate.Outcome` (recorded) and its IAM
permission is declared beside it; :data:`PERMISSIONS` is their union, which ``central.yaml``'s role grants
(a test compares them). The role's CloudTrail statement is scoped to the management account's trails.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from trailguard import aws
from trailguard.config import Config
from trailguard.events import MalformedEvent, Record, entries_from_object
from trailguard.integrity import SignedStore
from trailguard.inventory import LiveInventory
from trailguard.inventory import build as inventory_build
from trailguard.log import log_event
from trailguard.notify import Incident, Ledger, ledger_for
from trailguard.notify.delivery import deliver, followups, publish, resend, send
from trailguard.notify.notice import Drift, SweepFindings, status_head, status_word
from trailguard.notify.renderer import Message, ascii_subject
from trailguard.notify.securityhub import finding_for, report_sweep
from trailguard.org import central as policy
from trailguard.org.central import CentralSettings, Gap, MemberReport
from trailguard.policy import Verdict, classify
from trailguard.remediate import Context, Outcome
from trailguard.remediate.trail import ensure_logging
from trailguard.resources import trail as trail_kind
from trailguard.state import StateStore

LOG = logging.getLogger("trailguard.central")

LIST_PERMISSIONS = ("cloudtrail:DescribeTrails",)
CHECK_PERMISSIONS = (
    "cloudtrail:DescribeTrails",
    "cloudtrail:GetEventSelectors",
    "cloudtrail:GetTrailStatus",
    "cloudtrail:StartLogging",
    "cloudtrail:UpdateTrail",
)
NOTIFY_PERMISSIONS = ("sns:Publish",)
SECURITY_HUB_PERMISSIONS = ("securityhub:BatchImportFindings",)
LEDGER_PERMISSIONS = (
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
    "kms:GenerateMac",
    "kms:VerifyMac",
)
BUS_PERMISSIONS = ("events:DescribeEventBus", "events:PutPermission", "events:RemovePermission")
PERMISSIONS: frozenset[str] = frozenset(
    {
        *LIST_PERMISSIONS,
        *CHECK_PERMISSIONS,
        *NOTIFY_PERMISSIONS,
        *SECURITY_HUB_PERMISSIONS,
        *LEDGER_PERMISSIONS,
        *BUS_PERMISSIONS,
    }
)
"""Every IAM action the central function's code calls (``central.yaml`` grants exactly these)."""


BASELINE_ONLY = frozenset({"trail.update-degrade", "trail.selectors-degrade"})
"""Techniques whose change (a destination, the selectors) only a recorded baseline can undo."""
BASELINE_ONLY_NOTE = (
    "Where the trail delivers (bucket, prefix, topic) and its event selectors are restored from the "
    "baseline by the management account's stack (OrgTrailRole owner): confirm there that it did"
)


SELECTORS_SK = "#selectors"
"""Suffix of the trail ARN under which the owner's verified PutEventSelectors repair is recorded."""


def selectors_short(answer: Mapping[str, Any]) -> str | None:
    """What the live selectors (GetEventSelectors) lack of the organization floor, every management
    event read and written; None: they log them all. Pure."""
    coverage = trail_kind.management_coverage(answer)
    if coverage is None:
        return "the trail has no event selectors"
    reads, writes = coverage
    missing = [what for what, kept in (("reads", reads), ("writes", writes)) if not kept]
    return f"the event selectors drop management {' and '.join(missing)}" if missing else None


QUIET_PK = "escalated#clean"
QUIET_SECONDS = 900
"""How long one "found in order" escalation message stands for the members' later reports."""


pause: Callable[[float], None] = time.sleep
"""How the grace is waited (tests replace it to interleave the account's own message with the wait)."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------------- trail checks


def describe_all(outcome: Outcome, region: str) -> list[Mapping[str, Any]]:
    """Every trail visible from ``region``, shadow trails included."""
    # LIST_PERMISSIONS
    answer = outcome.call("cloudtrail", region, "DescribeTrails", includeShadowTrails=True)
    return [t for t in answer.get("trailList") or [] if isinstance(t, Mapping)]


def _describe(outcome: Outcome, arn: str, region: str) -> Mapping[str, Any] | None:
    """The trail by ARN in its home region (moto ignores ``trailNameList``: the list is filtered here)."""
    answer = outcome.call(  # CHECK_PERMISSIONS
        "cloudtrail", region, "DescribeTrails", trailNameList=[arn], includeShadowTrails=True
    )
    for trail in answer.get("trailList") or []:
        if trail.get("TrailARN") == arn:
            outcome.calls[-1].result = "found"
            return dict(trail)
    outcome.calls[-1].result = "not found"
    return None


def check_org_trail(ctx: Context, trail: Mapping[str, Any], *, action: str = "central.org_trail") -> Outcome:
    """Verify one organization trail by ARN in its home region and repair what the central function
    can: logging (StartLogging, verified by GetTrailStatus) and log file validation (UpdateTrail with
    ``EnableLogFileValidation`` only: it strengthens, never redirects). A missing KMS key or CloudWatch
    Logs group needs the recorded value (the management account's stack holds it): reported as a failure
    a person must act on. Every line names the trail's account (the management account, from its ARN):
    the central function's messages come from the security account."""
    arn = str(trail.get("TrailARN"))
    name = str(trail.get("Name") or trail_kind.name_of(arn))
    owner = arn.split(":")[4] if arn.count(":") >= 5 else ""
    label = f"organization trail {name}" + (f" of account {owner}" if owner else "")
    region = trail_kind.home_region(trail, ctx.region) or ctx.region
    outcome = Outcome(action, arn)
    done: list[str] = []
    off: list[str] = []
    live: Mapping[str, Any] | None = None
    try:
        live = _describe(outcome, arn, region)
    except Exception as exc:  # an unreadable configuration must not stop the restart: logging first
        outcome.errors.append(f"DescribeTrails on {arn} in {region}: {outcome.last_error(exc)}")
        off.append(f"the configuration of {label} could not be read, so it was not checked")
    else:
        if live is None:
            return outcome.fail(
                f"{label} no longer exists in {region}: the management account's stack "
                "recreates it from its baseline (OrgTrailRole owner); check it there"
            )
    state = ensure_logging(ctx, outcome, arn, region)  # GetTrailStatus, StartLogging: CHECK_PERMISSIONS
    if state == "restarted":
        done.append(f"restarted logging on {label} in {region}")
    elif state != "already-logging":
        off.append(f"{label} is not logging ({state})")
    for gap in policy.trail_gaps(live) if live is not None else []:
        if gap.fix is None:
            off.append(f"{gap.text}: restore it from the management account's baseline")
            continue
        if _fix(outcome, arn, region, gap):
            done.append(f"switched {gap.field} back on for {label}")
        else:
            off.append(gap.text)
    return outcome.finish(
        label,
        done,
        off,
        "GetTrailStatus reports IsLogging true and DescribeTrails shows the repaired properties",
        unchanged=f"{label} is logging with its KMS key, validation and CloudWatch Logs",
    )


def _fix(outcome: Outcome, arn: str, region: str, gap: Gap) -> bool:
    """One strengthening UpdateTrail for ``gap``, read back by DescribeTrails."""
    assert gap.fix is not None
    param, value = gap.fix
    try:
        params: dict[str, Any] = {"Name": arn, param: value}
        outcome.call("cloudtrail", region, "UpdateTrail", **params)  # CHECK_PERMISSIONS
        live = _describe(outcome, arn, region)
    except Exception as exc:
        outcome.errors.append(f"UpdateTrail {param} on {arn}: {outcome.last_error(exc)}")
        return False
    return live is not None and not any(g.field == gap.field for g in policy.trail_gaps(live))


# ----------------------------------------------------------------------------------- one invocation


@dataclass
class Central:
    """One invocation of the central function: its settings, the organization trails (listed once, on
    first need) and the ledger on the central state table."""

    settings: CentralSettings
    region: str
    state_table: str | None = None
    state_key: str | None = None
    _trails: list[Mapping[str, Any]] | None = field(default=None, repr=False)
    _listing: Outcome | None = field(default=None, repr=False)
    _all_arns: set[str] = field(default_factory=set, repr=False)
    _ledger: Ledger | bool | None = field(default=False, repr=False)
    _waited: bool = field(default=False, repr=False)
    _as_restored: dict[str, str] = field(default_factory=dict, repr=False)
    """Event id -> why its UpdateTrail's result is the owner's restored state (:meth:`judge_update`)."""

    @classmethod
    def from_env(cls, region: str | None = None) -> Central:
        env = aws.environ()
        return cls(
            CentralSettings.from_env(env),
            region or aws.default_region(),
            state_table=(env.get("TRAILGUARD_STATE_TABLE") or "").strip() or None,
            state_key=(env.get("TRAILGUARD_STATE_KEY") or "").strip() or None,
        )

    @property
    def config(self) -> Config:
        """The settings as the shared pipeline (inventory, floors, notify) reads them."""
        return Config(
            topic_arn=self.settings.topic_arn,
            state_table=self.state_table,
            state_key=self.state_key,
            guard_role_arns=(self.settings.role_arn,) if self.settings.role_arn else (),
            function_names=self.settings.function_names,
            security_hub=self.settings.security_hub,
        )

    @property
    def ledger(self) -> Ledger | None:
        if self._ledger is False:
            self._ledger = ledger_for(self.config, self.region)
        return self._ledger if isinstance(self._ledger, Ledger) else None

    def trails(self) -> list[Mapping[str, Any]] | None:
        """The organization trails (None: they could not be listed; logged)."""
        if self._listing is None:
            self._listing = Outcome("central.list", None)
            try:
                listed = describe_all(self._listing, self.region)
                self._all_arns = {str(t.get("TrailARN")) for t in listed}
                management = self.settings.management_account
                self._trails = [t for t in listed if policy.is_org_trail(t, management)]
            except Exception as exc:
                log_event(
                    LOG, logging.ERROR, "central.describe-trails-failed", error=self._listing.last_error(exc)
                )
                self._trails = None
        return self._trails

    def live(self, trails: Sequence[Mapping[str, Any]]) -> LiveInventory:
        """The inventory of these trails. The central stack records no baseline, so each entry is the
        live trail after the call being judged: listed as unrecorded, a change to where it delivers is
        never judged against it (the policy counts it as a redirect)."""
        arns = [str(t["TrailARN"]) for t in trails if t.get("TrailARN")]
        return inventory_build(self.config, self.region, list(trails), allowed=(), unrecorded_trails=arns)

    def context(self, trails: Sequence[Mapping[str, Any]]) -> Context:
        return Context(self.live(trails), config=self.config)

    # -- forwarded calls and findings ------------------------------------------------------------

    def org_trail_named(self, record: Record) -> tuple[Mapping[str, Any] | None, str | None]:
        """(the organization trail the record names, or None; why not, when not)."""
        ref = _trail_ref(record)
        if not ref:
            return None, "the record names no trail"
        management = self.settings.management_account
        if ref.startswith("arn:") and not policy.names_org_trail(ref, management):
            return None, f"trail {ref} is not in the management account: its own account's stack repairs it"
        trails = self.trails()
        if trails is None and not ref.startswith("arn:") and management and record.account_id == management:
            ref = f"arn:aws:cloudtrail:{record.region or self.region}:{management}:trail/{ref}"  # made there
        if trails is None:
            if policy.names_org_trail(ref, management):  # unlisted, but the ARN says whose it is
                return {
                    "Name": trail_kind.name_of(ref),
                    "TrailARN": ref,
                    "HomeRegion": aws.region_of_arn(ref),
                }, None
            return None, "the organization trails could not be listed"
        found = trail_kind.resolve(trails, ref, prefer_regions=(record.region, self.region), by_region=False)
        unlisted = policy.names_org_trail(ref, management) and ref not in self._all_arns
        if found is None and unlisted and record.kind == "cloudtrail" and record.event_name == "DeleteTrail":
            # not listed at all, and the call deleted it: the check reports it gone
            found = {"Name": trail_kind.name_of(ref), "TrailARN": ref, "HomeRegion": aws.region_of_arn(ref)}
        if found is None and unlisted:
            # any other call or a finding proves no organization trail: the security account sees every
            # organization trail, so one it cannot list is the management account's own (its stack
            # repairs it), or was deleted (the forwarded DeleteTrail and the backstop report that)
            why = f"trail {ref} is not an organization trail seen here: account {management}'s stack has it"
            return None, why
        if found is None:
            return None, f"trail {ref} is not an organization trail of account {management}"
        return found, None

    def record(self, record: Record) -> dict[str, Any] | None:
        """A forwarded call or a finding: classified against the organization trail it names, repaired
        when it is tamper (a member's failed try is an ATTEMPT: no repair call), and reported."""
        trail, why_not = self.org_trail_named(record)
        if trail is None:
            log_event(LOG, logging.INFO, "central.not-org-trail", event_id=record.event_id, reason=why_not)
            return None
        verdict = classify(record, self.live([trail]).inventory)
        log_event(
            LOG,
            logging.INFO,
            "central.verdict",
            event_id=record.event_id,
            event_name=record.event_name,
            verdict=verdict.verdict,
            technique=verdict.technique_id,
            resource=verdict.resource,
            account=record.account_id,
            region=record.region,
        )
        if verdict.verdict == "benign":
            return None
        told = self.told_store() if record.event_id else None
        if told is not None:
            self.wait()  # the account's own stack repairs and tells first; then the trail is re-read
        outcome = self.repair(verdict, trail, record) if verdict.verdict == "tamper" else None
        incident = Incident(
            verdict=verdict,
            record=record,
            handler=policy.HANDLER,
            handler_region=self.region,
            account=record.account_id,
            outcome=outcome,
        )
        line = incident.summary()
        judged = self._as_restored.get(str(record.event_id)) if outcome is not None else None
        if judged is not None and outcome is not None and outcome.status == "already-restored":
            line["notification"] = {"action": "suppress", "reason": f"not news: {judged}"}
            log_event(LOG, logging.INFO, "central.quiet", event_id=record.event_id, reason=judged)
            return line
        if told is not None and policy.fallback(verdict.verdict, incident.status) == "unless-told":
            holder = self.claim_voice(told, str(record.event_id))
            if holder is not None:
                reason = (
                    f"account {holder.get('by')}'s own stack told ({holder.get('status') or 'its message'})"
                    + (" and the trail was found in order" if outcome is not None else "")
                )
                line["notification"] = {"action": "suppress", "reason": reason}
                log_event(LOG, logging.INFO, "central.quiet", event_id=record.event_id, reason=reason)
                return line
        error = deliver(
            incident, self.settings.topic_arn, self.ledger, line, security_hub=self.settings.security_hub
        )
        # a call's incident is imported; a finding is already in Security Hub (GuardDuty's import or its own)
        folded = (line.get("notification") or {}).get("action") == "suppress"
        if self.settings.security_hub and record.kind == "cloudtrail" and not folded:
            self.import_incident(incident, line)
        if error:
            line["publish_error"] = error
        return line

    # -- one voice per incident ------------------------------------------------------------------

    def told_store(self) -> SignedStore | None:
        """Where "who told about this event" is kept: the central ledger's signed store (None without a
        state table: then nothing can be recorded, and the central function tells as before, since a
        duplicate beats a lost message)."""
        ledger = self.ledger
        return ledger.signed if ledger is not None else None

    def wait(self) -> None:
        """The grace, once per invocation (a batch of forwarded calls waits once)."""
        if not self._waited:
            self._waited = True
            pause(policy.TOLD_GRACE_SECONDS)

    def claim_voice(self, told: SignedStore, event_id: str) -> Mapping[str, Any] | None:
        """One conditional write (``attribute_not_exists``) on the event's told record: who told, when
        someone else did (the central function stays quiet); None when the central function speaks: it
        claimed the event now, or it had claimed it before (a retry or a second delivery, whose message
        the ledger's burst then decides), or the record could not be written or verified (a duplicate
        beats a lost message). A forged record fails verification and is overwritten (with the state
        key), so it cannot hold the claim. Publishing a fake "own stack told" message on the topic needs
        the event id, and it only ever quietens what the re-read found already in order, or an attempt
        that failed; a trail still broken is told regardless (:func:`policy.fallback`)."""
        doc = {"by": policy.BY_CENTRAL, "at": _now()}
        try:
            claimed, held = told.claim_or_get(  # LEDGER_PERMISSIONS (PutItem, GetItem)
                policy.TOLD_PK, event_id, doc, ttl_seconds=policy.TOLD_TTL_SECONDS
            )
        except Exception as exc:
            log_event(LOG, logging.ERROR, "central.state-unavailable", error=f"{type(exc).__name__}: {exc}")
            return None
        if claimed or held is None:
            return None
        holder = held.doc
        return None if holder.get("by") == policy.BY_CENTRAL else holder

    def note_told(self, report: MemberReport) -> str | None:
        """The account's own message arrived on the central topic: recorded under its event id (one
        conditional write; a second copy of it changes nothing). What was recorded ("told"), or that the
        central function had told first ("late": it was past the grace), or None (nothing to record)."""
        told = self.told_store() if report.event_id else None
        if told is None or report.event_id is None:
            return None
        doc = {
            "by": report.account or "unknown",
            "status": report.status,
            "handler": report.detected_by,
            "at": _now(),
        }
        try:
            claimed, held = told.claim_or_get(  # LEDGER_PERMISSIONS (PutItem, GetItem)
                policy.TOLD_PK, report.event_id, doc, ttl_seconds=policy.TOLD_TTL_SECONDS
            )
        except Exception as exc:
            log_event(LOG, logging.ERROR, "central.state-unavailable", error=f"{type(exc).__name__}: {exc}")
            return None
        self.note_restored(told, report)
        if claimed or held is None or held.doc.get("by") != policy.BY_CENTRAL:
            return "told"
        log_event(LOG, logging.WARNING, "central.told-late", event_id=report.event_id, account=report.account)
        return "late"

    def note_restored(self, told: SignedStore, report: MemberReport) -> None:
        """The management account's stack reports a verified UpdateTrail repair of an organization trail:
        what it set is recorded under the trail's ARN, to judge the UpdateTrail calls that follow
        (its own repair's call among them) by their result (:func:`policy.as_restored`). A verified
        PutEventSelectors repair is recorded under the ARN plus :data:`SELECTORS_SK` (its message
        abbreviates the selectors: the PutEventSelectors calls that follow are judged by the live ones)."""
        management = self.settings.management_account
        ref = report.resource or ""
        if report.account != management or report.status != "remediated" or not management:
            return
        if report.technique not in BASELINE_ONLY:
            return
        incident = report.raw.get("incident")
        remediation = incident.get("remediation") if isinstance(incident, Mapping) else None
        restored = policy.restored_values(remediation)
        sk = ""
        if report.technique == "trail.selectors-degrade" and _made(remediation, "PutEventSelectors"):
            restored, sk = {"EventSelectors": "every management event"}, SELECTORS_SK
        if not restored:
            return
        if not ref.startswith("arn:"):
            ref = f"arn:aws:cloudtrail:{report.region or self.region}:{management}:trail/{ref}"
        if not policy.names_org_trail(ref, management):
            return
        doc = {"event_id": report.event_id, "restored": restored, "at": time.time()}
        try:
            told.put(  # LEDGER_PERMISSIONS
                policy.RESTORED_PK, ref + sk, doc, ttl_seconds=policy.RESTORED_SECONDS
            )
        except Exception as exc:
            log_event(LOG, logging.ERROR, "central.state-unavailable", error=f"{type(exc).__name__}: {exc}")

    def judge_update(self, record: Record, trail: Mapping[str, Any]) -> str | None:
        """Whether an UpdateTrail that left the organization trail's floor intact (logging, key,
        validation, CloudWatch Logs) left it as the management account's stack reported it restored:
        what says so, or None (it did not, or there is no such report: then it needs a person)."""
        told = self.told_store()
        arn = str(trail.get("TrailARN"))
        if told is not None and record.event_name == "PutEventSelectors":
            return self.judge_selectors(told, record, trail)
        if told is None or record.event_name != "UpdateTrail":
            return None
        try:
            report = told.get(policy.RESTORED_PK, arn)  # LEDGER_PERMISSIONS (GetItem)
            if not report or time.time() - float(report.get("at") or 0) > policy.RESTORED_SECONDS:
                return None
            region = trail_kind.home_region(trail, self.region) or self.region
            live = _describe(Outcome("central.judge", arn), arn, region)  # CHECK_PERMISSIONS
        except Exception as exc:
            log_event(LOG, logging.ERROR, "central.judge-failed", error=f"{type(exc).__name__}: {exc}")
            return None
        restored = report.get("restored")
        if live is None or not isinstance(restored, Mapping):
            return None
        why_not = policy.as_restored(live, restored, record.request_parameters)
        if why_not is not None:
            log_event(LOG, logging.INFO, "central.not-as-restored", event_id=record.event_id, reason=why_not)
            return None
        return (
            f"the live trail, read by ARN, is as the management account's stack reported it restored "
            f"(event {report.get('event_id')}), with logging, its KMS key, validation and CloudWatch Logs"
        )

    def judge_selectors(self, told: SignedStore, record: Record, trail: Mapping[str, Any]) -> str | None:
        """A PutEventSelectors after the management account's stack reported its selectors restored:
        the live selectors, read by ARN in the trail's home region, log every management event read and
        written (what it says so), or None (they do not, or there is no such report: it needs a person)."""
        arn = str(trail.get("TrailARN"))
        try:
            report = told.get(policy.RESTORED_PK, arn + SELECTORS_SK)  # LEDGER_PERMISSIONS (GetItem)
            if not report or time.time() - float(report.get("at") or 0) > policy.RESTORED_SECONDS:
                return None
            region = trail_kind.home_region(trail, self.region) or self.region
            answer = Outcome("central.judge", arn).call(  # CHECK_PERMISSIONS
                "cloudtrail", region, "GetEventSelectors", TrailName=arn
            )
        except Exception as exc:
            log_event(LOG, logging.ERROR, "central.judge-failed", error=f"{type(exc).__name__}: {exc}")
            return None
        why_not = selectors_short(answer)
        if why_not is not None:
            log_event(LOG, logging.INFO, "central.not-as-restored", event_id=record.event_id, reason=why_not)
            return None
        return (
            "the live event selectors, read by ARN, log every management event (reads and writes) as "
            f"the management account's stack reported them restored (event {report.get('event_id')})"
        )

    def repair(self, verdict: Verdict, trail: Mapping[str, Any], record: Record) -> Outcome:
        """Any change to an organization trail is answered by the full check (read by ARN in its home
        region, then logging, key, validation, CloudWatch Logs): the trail is verified before anything is
        changed, since the management account's own stack (``OrgTrailRole=owner``) may have repaired it
        already, and a stop is started by the same ``ensure_logging`` every stack's StopLogging repair
        uses."""
        try:
            outcome = check_org_trail(self.context([trail]), trail)
        except Exception as exc:  # never lose the incident
            outcome = Outcome("central.org_trail", str(trail.get("TrailARN")))
            why = f"{type(exc).__name__}: {exc}"
            return outcome.fail(f"the check of organization trail {verdict.resource} failed: {why}")
        technique = verdict.technique.id if verdict.technique is not None else None
        if technique in BASELINE_ONLY and outcome.ok:
            # where it delivers and what it selects are compared with the baseline only where one is kept
            judged = self.judge_update(record, trail) if outcome.status == "already-restored" else None
            if judged is not None:  # the result is the owner's restored state: not news
                outcome.summary += f"; {judged}"
                self._as_restored[str(record.event_id)] = judged
                return outcome
            if outcome.status == "already-restored":  # nothing it can see is off: the change is not undone
                outcome.status, outcome.verified = "failed", False
                outcome.summary = f"not undone here: {outcome.summary}"
            outcome.summary += f". {BASELINE_ONLY_NOTE}"
        return outcome

    def import_incident(self, incident: Incident, line: dict[str, Any]) -> None:
        """The incident as a finding of the security account's own product (BatchImportFindings accepts
        only the caller's account there), naming the member account and region in its fields."""
        account = self.settings.account
        try:
            if not account:
                raise ValueError("the topic ARN names no account, so there is no product ARN to import under")
            finding = finding_for(incident, self.region, account, _timestamp())
            fields = dict(finding.get("ProductFields") or {})
            fields["trailguard/memberAccount"] = incident.account_id or "unknown"
            fields["trailguard/memberRegion"] = incident.region
            finding["ProductFields"] = fields
            response = aws.client(
                "securityhub", self.region
            ).batch_import_findings(  # SECURITY_HUB_PERMISSIONS
                Findings=[finding]
            )
            if response.get("FailedCount"):
                raise RuntimeError(
                    f"BatchImportFindings refused the finding: {response.get('FailedFindings')}"
                )
            line["security_hub"] = {"imported": finding["Id"]}
        except Exception as exc:
            line["security_hub"] = {"error": f"{type(exc).__name__}: {exc}"}
            log_event(LOG, logging.ERROR, "central.securityhub-failed", error=line["security_hub"]["error"])

    # -- members' incidents ----------------------------------------------------------------------

    def member_report(self, report: MemberReport) -> dict[str, Any] | None:
        """A member's incident that says its repair was routed elsewhere or could not be verified: the
        organization trail it names is re-checked here, and one message says what was found and done."""
        why = policy.escalation_reason(report)
        if why is None:
            return None
        trails = self.trails() or []
        trail = policy.escalation_target(report, trails)
        if (
            trail is None
            and report.resource
            and policy.names_org_trail(report.resource, self.settings.management_account)
        ):
            trail = {
                "TrailARN": report.resource,
                "Name": trail_kind.name_of(report.resource),
                "HomeRegion": aws.region_of_arn(report.resource),
            }
        if trail is None:
            log_event(
                LOG,
                logging.INFO,
                "central.escalation-skipped",
                resource=report.resource,
                account=report.account,
                reason="not an organization trail of the management account: the member's own stack owns it",
            )
            return None
        try:
            outcome = check_org_trail(self.context([trail]), trail, action="central.escalation")
        except Exception as exc:
            outcome = Outcome("central.escalation", str(trail.get("TrailARN")))
            outcome.fail(f"the re-check failed: {type(exc).__name__}: {exc}")
        message = escalation_message(report, why, trail, outcome, self.region)
        line: dict[str, Any] = {
            "escalated": str(trail.get("TrailARN")),
            "account": report.account,
            "region": report.region,
            "status": outcome.status,
        }
        if outcome.status == "already-restored" and not self.first_clean_recheck(str(trail.get("TrailARN"))):
            # every member in every region reports the same stopped organization trail: once it is found
            # logging again, one message says so per quiet window; repairs and failures always go out
            line["notification"] = "suppressed: already found logging in this quiet window"
            log_event(
                LOG, logging.INFO, "central.escalation-quiet", trail=line["escalated"], account=report.account
            )
            return line
        try:
            line["message_id"] = publish(message, self.settings.topic_arn)  # NOTIFY_PERMISSIONS
        except Exception as exc:
            line["publish_error"] = f"{type(exc).__name__}: {exc}"
            log_event(LOG, logging.ERROR, "central.publish-failed", error=line["publish_error"])
        if self.settings.security_hub:
            sweep = SweepFindings(
                self.settings.account,
                self.region,
                {"trail": 1},
                [Drift("trail", str(trail.get("TrailARN")), [outcome])],
            )
            result = report_sweep(sweep)
            if result is not None:
                line["security_hub"] = result
        return line

    def first_clean_recheck(self, trail_arn: str) -> bool:
        """Whether this is the first re-check in the quiet window that found ``trail_arn`` in order (one
        conditional put on the state table; no table, or one that cannot be written: True, since a
        duplicate message beats a lost one). Unsigned: forging it can only quieten "found in order"."""
        if not self.state_table:
            return True
        try:
            store = StateStore(self.state_table, self.region)
            return store.put(  # LEDGER_PERMISSIONS (dynamodb:PutItem)
                QUIET_PK,
                trail_arn,
                {"found": "in order", "at": _now()},
                ttl_seconds=QUIET_SECONDS,
                if_absent=True,
            )
        except Exception as exc:
            log_event(LOG, logging.ERROR, "central.state-unavailable", error=f"{type(exc).__name__}: {exc}")
            return True

    # -- the organization backstop ---------------------------------------------------------------

    def backstop(self) -> dict[str, Any]:
        """Every organization trail checked and repaired; the organization bus's policy checked and put
        back; one message (through the ledger's quiet window) when anything drifted or could not be
        checked; the alerts the outbox keeps and the storms' follow-ups sent."""
        report: dict[str, Any] = {"trails": 0, "drift": [], "errors": []}
        findings = SweepFindings(self.settings.account, self.region)
        trails = self.trails()
        if trails is None:
            error = self._listing.errors[-1] if self._listing and self._listing.errors else ""
            findings.errors.append(
                f"the organization trails could not be listed in {self.region}"
                + (f": {error}" if error else f" ({self._listing.calls[-1].error if self._listing else ''})")
            )
        else:
            if not trails:
                findings.errors.append(
                    f"no organization trail of account {self.settings.management_account} is visible from "
                    f"{self.region}: the organization is not logged, or this account is not CloudTrail's "
                    "delegated administrator"
                )
            ctx = self.context(trails)
            for trail in trails:
                try:
                    outcome = check_org_trail(ctx, trail, action="central.backstop")
                except Exception as exc:
                    outcome = Outcome("central.backstop", str(trail.get("TrailARN")))
                    outcome.fail(f"the check failed: {type(exc).__name__}: {exc}")
                if outcome.status != "already-restored":
                    findings.drift.append(Drift("trail", str(trail.get("TrailARN")), [outcome]))
            findings.checked["organization trail"] = len(trails)
            report["trails"] = len(trails)
        bus = self.bus_check()
        if bus is not None:
            findings.drift.append(bus)
        if findings.newsworthy:
            delivery = send(
                findings, self.settings.topic_arn, self.ledger, security_hub=self.settings.security_hub
            )
            report["notification"] = delivery.fields()
            if self.settings.security_hub:
                result = report_sweep(findings)
                if result is not None:
                    report["security_hub"] = result
        report["drift"] = [d.to_dict() for d in findings.drift]
        report["errors"] = list(findings.errors)
        report["resent"] = resend(self.config, self.region)
        report["followups"] = followups(self.config, self.region)
        return report

    def bus_check(self) -> Drift | None:
        """The organization bus's policy: the organization's statement and nothing wider, else put back
        statement by statement (moto's CloudFormation skips the template's EventBusPolicy). None: it
        holds."""
        bus, org = self.settings.bus_arn, self.settings.organization_id
        if not bus or not org:
            return None
        outcome = Outcome("central.bus_policy", bus)
        name = bus.rsplit("/", 1)[-1]
        done: list[str] = []
        try:
            found = outcome.call("events", self.region, "DescribeEventBus", Name=name)  # BUS_PERMISSIONS
            if policy.bus_policy_holds(found.get("Policy"), org, bus):
                return None
            foreign, ours = policy.bus_policy_repair(found.get("Policy"), org, bus)
            if None in foreign:  # a statement without an id can only go with all the others
                outcome.call(
                    "events", self.region, "RemovePermission", EventBusName=name, RemoveAllPermissions=True
                )
                done.append(f"removed every statement of the policy of bus {name} (one had no id)")
                ours = False
            else:
                for sid in foreign:
                    outcome.call(
                        "events", self.region, "RemovePermission", EventBusName=name, StatementId=sid
                    )
                    done.append(f"removed statement {sid} from the policy of bus {name}")
            if not ours:
                outcome.call(
                    "events",
                    self.region,
                    "PutPermission",
                    EventBusName=name,
                    Action="events:PutEvents",
                    Principal="*",
                    StatementId=policy.BUS_POLICY_SID,
                    Condition={"Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": org},
                )
                done.append(f"granted organization {org} events:PutEvents on bus {name}")
            again = outcome.call("events", self.region, "DescribeEventBus", Name=name)
        except Exception as exc:
            outcome.fail(f"could not check or restore the policy of bus {name}", outcome.last_error(exc))
            return Drift("bus", bus, [outcome])
        holds = policy.bus_policy_holds(again.get("Policy"), org, bus)
        return Drift(
            "bus",
            bus,
            [
                outcome.finish(
                    f"bus {name}",
                    done,
                    [] if holds else [f"the policy of bus {name}"],
                    "DescribeEventBus shows it",
                )
            ],
        )


def _made(remediation: Any, operation: str) -> bool:
    """Whether a repair's message (``remediation.calls``) reports a successful ``operation`` call."""
    calls = remediation.get("calls") if isinstance(remediation, Mapping) else None
    return any(
        isinstance(c, Mapping) and c.get("operation") == operation and not c.get("error") for c in calls or []
    )


def _timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _trail_ref(record: Record) -> str | None:
    if record.kind != "cloudtrail":
        return record.finding_trail
    for key in ("trailName", "name"):
        value = record.request_parameters.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


# ----------------------------------------------------------------------------------- messages


def escalation_message(
    report: MemberReport, why: str, trail: Mapping[str, Any], outcome: Outcome, region: str
) -> Message:
    """The one message an escalation sends: who reported what, what the central function found on the
    organization trail and what it did (schema ``trailguard.central/1``, which it never escalates)."""
    name = str(trail.get("Name") or trail.get("TrailARN"))
    prefix, word = status_head(outcome.status)
    where = f"account {report.account or 'unknown'}, {report.region or 'unknown region'}"
    subject = ascii_subject(f"{prefix} {word}: organization trail {name} re-checked for {where}")
    lines = [
        f"{word}: account {report.account or 'unknown'} ({report.region or 'unknown region'}) reported "
        f"{report.technique or 'an incident'} on organization trail {name} with status "
        f"{status_word(report.status) if report.status else 'unknown'}.",
        f"Why it was escalated: {why}.",
        f"What trailguard's central function found and did: {outcome.summary}",
    ]
    if outcome.errors:
        lines += ["", "Errors:", *(f"  {e}" for e in outcome.errors)]
    if not outcome.ok:
        lines += [
            "",
            "What you must still do:",
            f"  1. Repair organization trail {trail.get('TrailARN')} in the management account "
            "(trailguard deploy with OrgTrailRole owner records and restores its baseline).",
        ]
    if outcome.calls:
        lines += ["", "AWS calls made by trailguard:", *(f"  {c.describe()}" for c in outcome.calls)]
    lines += ["", f"Member's message: {report.summary}" if report.summary else ""]
    text = "\n".join(lines).rstrip() + "\n"
    document = {
        "schema": policy.SCHEMA,
        "kind": "escalation",
        "subject": subject,
        "text": text,
        "member": {
            "account": report.account,
            "region": report.region,
            "status": report.status,
            "technique": report.technique,
            "resource": report.resource,
        },
        "trail": str(trail.get("TrailARN")),
        "reason": why,
        "remediation": outcome.to_dict(),
        "detected_by": {"handler": policy.HANDLER, "region": region},
    }
    return Message(subject, text, document)


# ----------------------------------------------------------------------------------- the entry


def handle(event: Any) -> dict[str, Any]:
    """One invocation: the schedule, SNS messages (members' incidents) or an EventBridge envelope.
    Bad input is logged and skipped (never raised: a raise makes Lambda retry a poison event)."""
    summary: dict[str, Any] = {"records": 0, "incidents": [], "escalations": [], "skipped": [], "told": []}
    kind = policy.entry_kind(event)
    central = Central.from_env()
    if kind == "schedule":
        summary["backstop"] = central.backstop()
        return summary
    if kind == "alarm":  # a member stack's alarm, forwarded by its <prefix>-forward rule
        from trailguard.org.central_alarms import tell_alarm

        summary["alarms"] = [tell_alarm(central, event)]
        return summary
    if kind == "sns":
        for index, item in enumerate(event["Records"]):
            sns = item.get("Sns") if isinstance(item, Mapping) else None
            read = policy.read_message(sns.get("Message") if isinstance(sns, Mapping) else None)
            if isinstance(read, str):
                _skip(summary, index, read)
                continue
            summary["records"] += 1
            for report in read:  # none: not a member's (the central function's own, another schema)
                noted = central.note_told(report)
                if noted is not None:
                    summary["told"].append(
                        {"event_id": report.event_id, "account": report.account, "as": noted}
                    )
                try:
                    line = central.member_report(report)
                except Exception as exc:
                    why = f"the member's message could not be escalated ({type(exc).__name__}: {exc})"
                    _skip(summary, index, why)
                    continue
                if line is not None:
                    summary["escalations"].append(line)
        return summary
    try:
        entries = entries_from_object(event)
    except MalformedEvent as exc:
        _skip(summary, None, str(exc))
        return summary
    except Exception as exc:
        _skip(summary, None, f"could not read the event ({type(exc).__name__}: {exc})")
        return summary
    for index, entry in enumerate(entries):
        if not isinstance(entry, Record):
            _skip(summary, index, str(entry))
            continue
        summary["records"] += 1
        try:
            line = central.record(entry)
        except Exception as exc:  # a bug on one record is reported; the others still run
            _skip(summary, index, f"record {index} could not be processed ({type(exc).__name__}: {exc})")
            continue
        if line is not None:
            summary["incidents"].append(line)
    return summary


def _skip(summary: dict[str, Any], index: int | None, reason: str) -> None:
    log_event(LOG, logging.WARNING, "central.skipped", index=index, reason=reason)
    summary["skipped"].append({"index": index, "reason": reason})
