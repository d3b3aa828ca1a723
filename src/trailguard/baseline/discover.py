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
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from trailguard.aws import error_code
from trailguard.baseline.capture import Clients, capture_one, protected_trails
from trailguard.baseline.deployed import read_deployed
from trailguard.baseline.store import Baselines
from trailguard.config import Config
from trailguard.integrity import TAMPERED
from trailguard.log import log_event
from trailguard.remediate import Outcome
from trailguard.resources import kind as kind_of
from trailguard.resources import trail as trail_kind

LOG = logging.getLogger("trailguard.baseline")
SOURCE = "first-seen"

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
    for trail in trails:
        arn = str(trail.get("TrailARN") or "")
        if not arn or baselines.get("trail", arn) is not None or baselines.is_tampered("trail", arn):
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
        for kind, ref in (("bucket", doc.get("S3BucketName")), ("key", doc.get("KmsKeyId"))):
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
                    k, r, Clients(kr if k == "key" else region), source=SOURCE
                ),
                trail=arn,
            )
    return found, errors


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
