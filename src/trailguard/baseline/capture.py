"""Capturing baselines: every protected resource (:func:`capture_all`) or one (:func:`capture_one`).

What to read for each kind lives with the kind (``trailguard.resources.<kind>``); this module decides
which resources are protected, where their documents go and what one failure means for the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from trailguard import aws, resources
from trailguard.aws import error_code
from trailguard.baseline.store import KINDS, Baselines
from trailguard.config import Config
from trailguard.log import log_event
from trailguard.resources import Kind
from trailguard.resources import key as key_kind
from trailguard.resources import kind as kind_of
from trailguard.resources import store as store_kind
from trailguard.resources import trail as trail_kind

LOG = logging.getLogger("trailguard.baseline")

# Error codes that mean "this service or call is not available here" (moto lacks CloudTrail Lake).
_UNAVAILABLE = {
    "NotImplemented",
    "NotImplementedError",
    "UnsupportedOperationException",
    "UnsupportedOperation",
    "InvalidAction",
    "UnknownOperationException",
}


def kinds_of_region() -> tuple[Kind, ...]:
    """Kinds whose baselines are found per region (``Kind.discover``) rather than from a trail (the
    whole resource model: read when a capture runs, not at import)."""
    return tuple(k for k in resources.KINDS.values() if k.discover is not None and k.name in KINDS)


def _unavailable(exc: BaseException) -> bool:
    """A call the endpoint does not implement (moto answers some with 500/NotImplemented)."""
    if isinstance(exc, NotImplementedError):
        return True
    code = error_code(exc)
    if code in _UNAVAILABLE:
        return True
    status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status in (500, 501) and not code.endswith("Exception")


@dataclass(frozen=True)
class Clients:
    """Where captures send their calls: the deployer's profile/endpoint, or the function's environment."""

    region: str
    profile: str | None = None
    endpoint_url: str | None = None

    def __call__(self, service: str, region: str | None = None) -> Any:
        return aws.client(
            service, region or self.region, profile=self.profile, endpoint_url=self.endpoint_url
        )


@dataclass
class Summary:
    """What :func:`capture_all` recorded, what the endpoint could not provide, and what failed."""

    region: str
    recorded: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})
    unavailable: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "recorded": {k: list(v) for k, v in self.recorded.items()},
            "unavailable": list(self.unavailable),
            "errors": list(self.errors),
        }

    def describe(self) -> str:
        counts = ", ".join(f"{len(v)} {k}" for k, v in self.recorded.items() if v) or "nothing"
        text = f"recorded baselines: {counts}"
        if self.unavailable:
            text += f"; not available here: {'; '.join(self.unavailable)}"
        if self.errors:
            text += f"; FAILED: {'; '.join(self.errors)}"
        return text


def protected_trails(config: Config, clients: Clients) -> list[Mapping[str, Any]]:
    """The trails trailguard protects, as DescribeTrails lists them (shadow trails included)."""
    listed = trail_kind.describe_trails(clients)
    return [t for t in listed if trail_kind.is_protected(t, config.protected_trails)]


def capture_all(
    config: Config,
    region: str,
    *,
    profile: str | None = None,
    endpoint_url: str | None = None,
    source: str = "capture",
    baselines: Baselines | None = None,
) -> Summary:
    """Snapshot every protected resource into the state table; one failure does not stop the rest."""
    clients = Clients(region, profile, endpoint_url)
    if baselines is None:
        baselines = Baselines.from_config(config, region, profile=profile, endpoint_url=endpoint_url)
    summary = Summary(region)
    if not baselines.available:
        summary.errors.append("no state table configured (TRAILGUARD_STATE_TABLE / StateTableName)")
        return summary

    def record(kind: str, ident: str, capture: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
        try:
            doc = capture()
        except Exception as exc:
            summary.errors.append(f"{kind} {ident}: {error_code(exc) or type(exc).__name__}: {exc}")
            log_event(LOG, logging.ERROR, "baseline.capture-failed", kind=kind, id=ident, error=str(exc))
            return None
        stored = kind_of(kind).stored_id(ident, doc)
        baselines.put(kind, stored, doc)
        summary.recorded[kind].append(stored)
        return doc

    try:
        trails = protected_trails(config, clients)
    except Exception as exc:
        summary.errors.append(f"DescribeTrails in {region}: {error_code(exc) or type(exc).__name__}: {exc}")
        trails = []
    buckets: dict[str, None] = {}
    keys: dict[str, str] = {}
    groups: dict[str, None] = {}
    roles: dict[str, None] = {}
    for trail in trails:
        arn = str(trail.get("TrailARN") or trail.get("Name"))
        doc = record("trail", arn, partial(trail_kind.capture_trail, trail, clients, source=source))
        if doc is None:
            continue
        if doc.get("S3BucketName"):
            buckets.setdefault(str(doc["S3BucketName"]), None)
        if doc.get("KmsKeyId"):
            keys.setdefault(str(doc["KmsKeyId"]), str(doc.get("HomeRegion") or region))
        if doc.get("CloudWatchLogsLogGroupArn"):
            groups.setdefault(str(doc["CloudWatchLogsLogGroupArn"]), None)
        if doc.get("CloudWatchLogsRoleArn"):
            roles.setdefault(str(doc["CloudWatchLogsRoleArn"]), None)
    capture = _capture_of
    for bucket in buckets:
        record("bucket", bucket, partial(capture("bucket"), bucket, clients, source))
    for ref, key_region in keys.items():
        record("key", ref, partial(key_kind.capture_key, ref, clients, source, key_region))
    for group in groups:  # the trail's CloudWatch Logs group (retention, KMS key)
        record("loggroup", group, partial(capture("loggroup"), group, clients, source))
    for role in roles:  # the trail's CloudWatch Logs delivery role (trust, policies)
        record("role", role, partial(capture("role"), role, clients, source))
    try:
        for store in store_kind.capture_region(clients, source=source):
            arn = str(store.get("EventDataStoreArn"))
            baselines.put("store", arn, store)
            summary.recorded["store"].append(arn)
    except Exception as exc:
        if _unavailable(exc):
            summary.unavailable.append(f"CloudTrail Lake (ListEventDataStores) in {region}")
        else:
            summary.errors.append(f"event data stores: {error_code(exc) or type(exc).__name__}: {exc}")
    for (
        found
    ) in kinds_of_region():  # kinds a region holds, not reached from a trail (GuardDuty, Security Hub)
        try:
            for ident, doc in (found.discover or (lambda _c, _s: []))(clients, source):
                baselines.put(found.name, found.stored_id(ident, doc), doc)
                summary.recorded[found.name].append(found.stored_id(ident, doc))
        except Exception as exc:
            if _unavailable(exc):
                summary.unavailable.append(f"{found.noun}s in {region}")
            else:
                summary.errors.append(f"{found.noun}s: {error_code(exc) or type(exc).__name__}: {exc}")
    for kind, names in (
        ("rule", config.rule_names),
        ("function", config.function_names),
        ("topic", config.topic_arns),
    ):
        for name in names:
            record(kind, name, partial(capture(kind), name, clients, source))
    log_event(LOG, logging.INFO, "baseline.captured", **summary.to_dict())
    return summary


def _capture_of(kind: str) -> Callable[[str, Clients, str], dict[str, Any]]:
    capture = kind_of(kind).capture
    if capture is None:
        raise ValueError(f"no baseline is kept for {kind!r}")
    return capture


def capture_one(
    kind: str,
    ident: str,
    clients: Clients,
    *,
    source: str,
    trail: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Capture a single resource (the allow-listed change path): ``trail`` is its DescribeTrails entry
    (without it a trail is looked up by ``ident``)."""
    if kind == "trail" and trail is not None:
        return trail_kind.capture_trail(trail, clients, source=source)
    return _capture_of(kind)(ident, clients, source)
