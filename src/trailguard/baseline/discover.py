"""Resources that appeared after deploy get a baseline: the sweep finds them, records them "first seen".

Without a baseline a trail created after deploy could be redirected, stripped of its key or CloudWatch
Logs, or deleted with nothing to restore. So every backstop sweep lists the protected trails; a trail
with no baseline (and its log bucket and KMS key, when those have none either) is captured as it is now
and recorded with ``_meta.first_seen_at``, and the sweep's message says so ("first seen at T").

A trail whose baseline was recorded at deploy (the signed config item lists it) but is missing now is
not re-recorded from the live state, which may be the attacker's: that is reported as tampered state.
A trail whose record exists but fails verification is left alone here (the sweep already reports it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from trailguard import history
from trailguard.aws import error_code
from trailguard.baseline.capture import Clients, capture_one, protected_trails
from trailguard.baseline.deployed import read_deployed
from trailguard.baseline.store import Baselines
from trailguard.config import Config
from trailguard.events import Record
from trailguard.integrity import TAMPERED
from trailguard.log import log_event
from trailguard.remediate import Outcome
from trailguard.resources import key as key_kind
from trailguard.resources import kind as kind_of
from trailguard.resources import trail as trail_kind

LOG = logging.getLogger("trailguard.baseline")
SOURCE = "first-seen"
CREATED = "created"
"""``_meta.source`` of a trail baselined from its confirmed create event (a destination may be restored
from it: ``remediate.floors.TRUSTED_SOURCES``); ``first-seen`` ones may not."""

Found = tuple[str, str, Outcome]
"""(kind, id, what was done): one line of the sweep's message."""


def first_seen(config: Config, region: str, baselines: Baselines) -> tuple[list[Found], list[str]]:
    """Baseline every protected trail (and its bucket and key) that has none; (what was recorded,
    tamper reports). Never raises: a failure is one failed line."""
    if not baselines.available:
        return [], []
    clients = Clients(region)
    try:
        trails = protected_trails(config, clients)
    except Exception as exc:
        log_event(LOG, logging.WARNING, "baseline.discover-failed", error=str(exc))
        return [], []
    deployed = read_deployed(config, region, signed=baselines.signed)
    at_deploy = set(deployed.recorded.get("trail", ())) if deployed.trusted else set()
    now = datetime.now(UTC).isoformat(timespec="seconds")
    found: list[Found] = []
    errors: list[str] = []
    waiting = _waiting(baselines)
    for trail in trails:
        arn = str(trail.get("TrailARN") or "")
        if not arn or baselines.get("trail", arn) is not None or baselines.is_tampered("trail", arn):
            continue
        if arn in waiting:  # its create event waits for CloudTrail's history: that decides its baseline
            continue
        if arn in at_deploy:
            errors.append(
                f"{TAMPERED}: item pk=baseline#trail sk={arn} is missing, though its baseline was recorded "
                "at deploy; it was not re-recorded from the live trail (which may be the attacker's). "
                "Check the trail, then run trailguard baseline record"
            )
            continue
        doc = _record(
            found,
            "trail",
            arn,
            baselines,
            now,
            capture=lambda t=trail, a=arn: capture_one("trail", a, clients, source=SOURCE, trail=t),
        )
        if doc is None:
            continue
        _chain(found, doc, baselines, region, now=now, arn=arn)
    return found, errors


def _chain(
    found: list[Found],
    doc: Mapping[str, Any],
    baselines: Baselines,
    region: str,
    *,
    now: str,
    arn: str,
    source: str = SOURCE,
) -> None:
    """Baseline what a newly baselined trail delivers through, when it has no baseline yet: its log
    bucket, KMS key and CloudWatch Logs group."""
    for kind, ref in (
        ("bucket", doc.get("S3BucketName")),
        ("key", doc.get("KmsKeyId")),
        ("loggroup", doc.get("CloudWatchLogsLogGroupArn")),
    ):
        if not ref or baselines.get(kind, str(ref)) is not None:
            continue
        ident = kind_of(kind).ident(str(ref))
        if baselines.is_tampered(kind, ident):
            continue
        key_region = str(doc.get("HomeRegion") or region)
        _record(
            found,
            kind,
            str(ref),
            baselines,
            now,
            capture=lambda k=kind, r=str(ref), kr=key_region: capture_one(
                k, r, Clients(kr if k == "key" else region), source=source
            ),
            trail=arn,
        )


def _record(
    found: list[Found],
    kind: str,
    ref: str,
    baselines: Baselines,
    now: str,
    *,
    capture: Any,
    trail: str | None = None,
) -> Mapping[str, Any] | None:
    kind_obj = kind_of(kind)
    label = kind_obj.label(kind_obj.ident(ref))
    outcome = Outcome("baseline.first-seen", ref)
    try:
        doc = dict(capture())
        ident = kind_obj.stored_id(ref, doc)
        meta = dict(doc.get("_meta") or {})
        meta["first_seen_at"] = now
        doc["_meta"] = meta
        baselines.put(kind, ident, doc)
    except Exception as exc:
        outcome.status, outcome.verified = "failed", False
        outcome.errors.append(f"{error_code(exc) or type(exc).__name__}: {exc}")
        outcome.summary = f"{label} has no baseline and could not be captured, so it cannot be restored"
        found.append((kind, kind_obj.ident(ref), outcome))
        return None
    of_trail = f" (used by trail {trail_kind.KIND.short(trail)})" if trail else ""
    outcome.status, outcome.verified = "recorded", True
    outcome.summary = (
        f"first seen at {now}{of_trail}: its current configuration was recorded as its baseline, and "
        "trailguard restores it from now on. Check that this configuration is the one you want"
    )
    found.append((kind, ident, outcome))
    log_event(LOG, logging.INFO, "baseline.first-seen", kind=kind, id=ident)
    return doc


# -- a trail's create event: confirmed in CloudTrail's history, then baselined "first seen" -------------

CREATED_PK = "pending#created"
CREATE_HOLD_SECONDS = 60 * 60
"""How long a CreateTrail waits for CloudTrail's event history (it usually shows an event within 5 to
15 minutes); after that it is dropped and the sweep's discovery (:func:`first_seen`) baselines the trail
from its live state, saying so."""
CREATED_TTL_SECONDS = 24 * 3600
CLOUDTRAIL = "cloudtrail.amazonaws.com"
# CreateTrail's parameters that say where the logs go -> DescribeTrails field
DESTINATIONS = {
    "s3BucketName": "S3BucketName",
    "s3KeyPrefix": "S3KeyPrefix",
    "snsTopicName": "SnsTopicName",
    "kmsKeyId": "KmsKeyId",
    "cloudWatchLogsLogGroupArn": "CloudWatchLogsLogGroupArn",
    "cloudWatchLogsRoleArn": "CloudWatchLogsRoleArn",
}


@dataclass(frozen=True)
class Created:
    """One CreateTrail call waiting for (or given) CloudTrail's confirmation (a signed
    ``pending#created`` record between invocations)."""

    event_id: str
    region: str
    name: str
    arn: str | None
    event_time: str | None
    principal_arn: str | None
    request_parameters: Mapping[str, Any]
    first_seen: float

    @classmethod
    def of_record(cls, record: Record, region: str) -> Created | None:
        params = record.request_parameters
        name = params.get("name")
        if not isinstance(name, str) or not name.strip():
            return None
        response = record.raw.get("responseElements")
        arn = response.get("trailARN") if isinstance(response, Mapping) else None
        return cls(
            event_id=str(record.event_id or ""),
            region=record.region or region,
            name=name.strip(),
            arn=str(arn) if isinstance(arn, str) and arn else None,
            event_time=record.event_time,
            principal_arn=record.principal_arn,
            request_parameters=dict(params),
            first_seen=time.time(),
        )

    def to_doc(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "region": self.region,
            "name": self.name,
            "arn": self.arn,
            "event_time": self.event_time,
            "principal_arn": self.principal_arn,
            "request_parameters": dict(self.request_parameters),
            "first_seen": self.first_seen,
        }

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> Created:
        params = doc.get("request_parameters")
        return cls(
            event_id=str(doc["event_id"]),
            region=str(doc["region"]),
            name=str(doc["name"]),
            arn=str(doc["arn"]) if doc.get("arn") else None,
            event_time=str(doc["event_time"]) if doc.get("event_time") else None,
            principal_arn=str(doc["principal_arn"]) if doc.get("principal_arn") else None,
            request_parameters=params if isinstance(params, Mapping) else {},
            first_seen=float(doc.get("first_seen") or 0),
        )

    @property
    def holding(self) -> bool:
        return time.time() - self.first_seen < CREATE_HOLD_SECONDS

    def describe(self) -> str:
        who = self.principal_arn or "an unknown principal"
        return f"CreateTrail of {self.name} by {who} (event {self.event_id})"


def created(record: Record, config: Config, region: str, baselines: Baselines) -> list[Found]:
    """The event path's part: a successful CreateTrail of a protected trail with no baseline is
    confirmed in CloudTrail's history and its trail baselined "first seen at <event time>" (with its new
    bucket, key and log group); until CloudTrail confirms it, it is kept as pending and every sweep
    retries (:func:`retry_created`). Anything else about the record: nothing. Never raises."""
    if (
        record.kind != "cloudtrail"
        or record.event_source != CLOUDTRAIL
        or record.event_name != "CreateTrail"
        or record.failed
        or not baselines.available
    ):
        return []
    try:
        pending = Created.of_record(record, region)
        if pending is None or not pending.event_id:
            return []
        return _settle_created(pending, config, region, baselines, first=True)
    except Exception as exc:
        log_event(LOG, logging.ERROR, "baseline.created-failed", event_id=record.event_id, error=str(exc))
        return []


def retry_created(config: Config, region: str, baselines: Baselines) -> list[Found]:
    """The sweep's part: every pending CreateTrail settled (recorded, still pending, or given up).
    Never raises for one record."""
    signed = baselines.signed
    if signed is None:
        return []
    found: list[Found] = []
    for sk, doc in signed.query(CREATED_PK).items():
        try:
            pending = Created.of(doc)
            found += _settle_created(pending, config, region, baselines, first=False)
        except Exception as exc:
            log_event(LOG, logging.ERROR, "baseline.created-failed", sk=sk, error=str(exc))
    return found


def pending_creates(baselines: Baselines) -> list[Created]:
    """The CreateTrail calls still waiting for CloudTrail's history (``trailguard baseline show``);
    unreadable or failing records are left out (the sweep reports what fails verification)."""
    signed = baselines.signed
    if signed is None:
        return []
    try:
        return [Created.of(doc) for doc in signed.query(CREATED_PK).values()]
    except Exception as exc:
        log_event(LOG, logging.WARNING, "baseline.created-unreadable", error=str(exc))
        return []


def _waiting(baselines: Baselines) -> set[str]:
    """The trails (ARNs, and names where the call gave no ARN) whose create event is pending."""
    signed = baselines.signed
    if signed is None:
        return set()
    try:
        docs = signed.query(CREATED_PK)
    except Exception as exc:
        log_event(LOG, logging.WARNING, "baseline.created-unreadable", error=str(exc))
        return set()
    return {str(d.get("arn") or d.get("name")) for d in docs.values()}


def _settle_created(
    pending: Created, config: Config, region: str, baselines: Baselines, *, first: bool
) -> list[Found]:
    signed = baselines.signed
    assert signed is not None
    clients = Clients(pending.region)
    trails = protected_trails(config, clients)
    ref = pending.arn or pending.name
    trail = trail_kind.resolve(trails, ref, prefer_regions=(pending.region,))
    arn = str(trail.get("TrailARN") or "") if trail is not None else ""
    if not arn or baselines.get("trail", arn) is not None or baselines.is_tampered("trail", arn):
        # not protected, gone again, or already baselined (trailguard's own re-creation): nothing to add
        if not first:
            signed.delete(CREATED_PK, pending.event_id)
        return []
    outcome = Outcome("baseline.first-seen", arn)
    label = trail_kind.KIND.label(arn)
    confirmation = history.confirm(
        pending.event_id,
        pending.region,
        event_name="CreateTrail",
        event_source=CLOUDTRAIL,
        principal_arn=pending.principal_arn,
        request_parameters=pending.request_parameters,
    )
    if confirmation.status in ("pending", "unavailable"):
        if not pending.holding:
            signed.delete(CREATED_PK, pending.event_id)
            log_event(LOG, logging.WARNING, "baseline.created-unconfirmed", event_id=pending.event_id)
            return []  # the sweep's discovery records it from its live state and says so
        if first:
            signed.put(CREATED_PK, pending.event_id, pending.to_doc(), ttl_seconds=CREATED_TTL_SECONDS)
        outcome.status, outcome.verified = "pending", None
        outcome.summary = (
            f"new {label} ({pending.describe()}) gets its baseline once CloudTrail's event history confirms "
            f"the call ({confirmation.reason}); until then it is pending, and a change to where it delivers "
            "is escalated"
        )
        return [("trail", arn, outcome)]
    if not first:
        signed.delete(CREATED_PK, pending.event_id)
    if confirmation.status == "mismatch":
        outcome.fail(
            f"the create event of {label} ({pending.describe()}) does not match CloudTrail's history "
            f"({confirmation.reason}): it was not used as the trail's baseline. Find who invoked "
            "trailguard's function with this record",
            confirmation.reason,
        )
        return [("trail", arn, outcome)]
    doc = dict(capture_one("trail", arn, clients, source=CREATED, trail=trail))
    changed = _changed_since_created(pending.request_parameters, doc)
    if changed:
        outcome.fail(
            f"{label} was changed after CloudTrail confirmed its creation ({pending.describe()}): "
            f"{', '.join(changed)}. Its live state was not recorded as its baseline; check the trail, then "
            "run trailguard baseline record"
        )
        return [("trail", arn, outcome)]
    when = pending.event_time or datetime.now(UTC).isoformat(timespec="seconds")
    meta = dict(doc.get("_meta") or {})
    meta.update(
        first_seen_at=when,
        confirmed_by=confirmation.event.describe() if confirmation.event else pending.describe(),
    )
    doc["_meta"] = meta
    baselines.put("trail", trail_kind.KIND.stored_id(arn, doc), doc)
    outcome.status, outcome.verified = "recorded", True
    outcome.summary = (
        f"first seen at {when} ({pending.describe()}, confirmed by CloudTrail's event history): its "
        "configuration was recorded as its baseline, and trailguard restores it from now on"
    )
    log_event(LOG, logging.INFO, "baseline.first-seen", kind="trail", id=arn, source="create-event")
    found: list[Found] = [("trail", arn, outcome)]
    _chain(found, doc, baselines, pending.region, now=when, arn=arn, source=CREATED)
    return found


def _same_destination(param: str, created: str, live: str) -> bool:
    if param == "kmsKeyId" and created and live:
        return key_kind.parse_ref(created)[1] == key_kind.parse_ref(live)[1] or created == live
    if param == "s3KeyPrefix":
        return created.strip("/") == live.strip("/")
    if param in ("snsTopicName", "cloudWatchLogsLogGroupArn"):
        return created.rsplit(":", 1)[-1].removesuffix("*") == live.rsplit(":", 1)[-1].removesuffix("*") or (
            created.rstrip(":*") == live.rstrip(":*")
        )
    return created == live


def _changed_since_created(params: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    """Where the trail delivers now that differs from what its CreateTrail asked for."""
    changed = []
    for param, field_name in DESTINATIONS.items():
        asked = params.get(param)
        asked_text = asked.strip() if isinstance(asked, str) else ""
        now = live.get(field_name)
        now_text = now.strip() if isinstance(now, str) else ""
        if not _same_destination(param, asked_text, now_text):
            changed.append(f"{field_name} created as {asked_text or 'none'}, now {now_text or 'none'}")
    return changed
