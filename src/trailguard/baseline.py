"""Baselines: the configuration trailguard restores, captured while it is known to be good.

A tamper repair must put a resource back the way it was, and after the tamper the live state is the
degraded one. So the good state is snapshotted ahead of time (by ``trailguard deploy``, ``trailguard
baseline record`` and when an allow-listed principal makes an authorised change) and kept in the state
table as ``pk = "baseline#<kind>"``, ``sk = <id>`` (``docs/internals.md``, "State").

Document shapes (each also carries ``_meta``: ``captured_at``, ``source``, ``notes``):

- ``trail`` (id: trail ARN): the ``DescribeTrails`` entry as returned, plus ``HomeRegion``,
  ``EventSelectors`` or ``AdvancedEventSelectors`` (whichever the trail uses; neither when CloudTrail
  reported none), ``InsightSelectors`` (``[]`` when insights are off; absent when unreadable),
  ``TagsList`` (``[{"Key", "Value"}]``) and ``IsLogging``. Being DescribeTrails-shaped, it doubles as the
  policy's inventory entry for the trail.
- ``bucket`` (id: name): ``Name``, ``Region``, ``Policy`` (JSON text or None), ``Lifecycle`` (the
  ``Rules`` list or None), ``Versioning`` (``{"Status", "MFADelete"}``, ``{}`` when never enabled),
  ``Encryption`` (``ServerSideEncryptionConfiguration`` or None). None means "absent", not "unknown".
- ``key`` (id: key id): ``KeyId``, ``Arn``, ``KeyState``, ``Enabled``, ``KeyManager``, ``Region``,
  ``Aliases``.
- ``store`` (id: ARN): the ``GetEventDataStore`` answer.
- ``rule`` (id: name): the ``DescribeRule`` answer (``EventPattern``, ``State``, ...) plus ``Targets``.
- ``function`` (id: name): configuration essentials incl. ``CodeSha256``, ``ReservedConcurrentExecutions``
  (None when unreserved) and ``Policy`` (resource policy JSON text or None).
- ``topic`` (id: ARN): ``Attributes`` and ``Subscriptions``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from trailguard import aws
from trailguard.aws import error_code
from trailguard.log import log_event

if TYPE_CHECKING:
    from trailguard.config import Config
    from trailguard.policy import Verdict
    from trailguard.remediate import Outcome
    from trailguard.state import StateStore

LOG = logging.getLogger(__name__)

KINDS = ("trail", "bucket", "key", "store", "rule", "function", "topic")

# DescribeTrails field -> CreateTrail / UpdateTrail parameter: what a trail repair restores and verifies.
TRAIL_PROPERTIES: dict[str, str] = {
    "S3BucketName": "S3BucketName",
    "S3KeyPrefix": "S3KeyPrefix",
    "SnsTopicName": "SnsTopicName",
    "IncludeGlobalServiceEvents": "IncludeGlobalServiceEvents",
    "IsMultiRegionTrail": "IsMultiRegionTrail",
    "LogFileValidationEnabled": "EnableLogFileValidation",
    "IsOrganizationTrail": "IsOrganizationTrail",
    "CloudWatchLogsLogGroupArn": "CloudWatchLogsLogGroupArn",
    "CloudWatchLogsRoleArn": "CloudWatchLogsRoleArn",
    "KmsKeyId": "KmsKeyId",
}

# Error codes that mean "this configuration is absent" (recorded as None), per S3 read.
_S3_ABSENT = {
    "GetBucketPolicy": {"NoSuchBucketPolicy"},
    "GetBucketLifecycleConfiguration": {"NoSuchLifecycleConfiguration"},
    "GetBucketEncryption": {"ServerSideEncryptionConfigurationNotFoundError"},
}
_S3_METHODS = {
    "GetBucketPolicy": "get_bucket_policy",
    "GetBucketLifecycleConfiguration": "get_bucket_lifecycle_configuration",
    "GetBucketEncryption": "get_bucket_encryption",
}
# Error codes that mean "this service or call is not available here" (moto lacks CloudTrail Lake).
_UNAVAILABLE = {
    "NotImplemented",
    "NotImplementedError",
    "UnsupportedOperationException",
    "UnsupportedOperation",
    "InvalidAction",
    "UnknownOperationException",
}


def _unavailable(exc: BaseException) -> bool:
    """A call the endpoint does not implement (moto answers some with 500/NotImplemented)."""
    if isinstance(exc, NotImplementedError):
        return True
    code = error_code(exc)
    if code in _UNAVAILABLE:
        return True
    status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status in (500, 501) and not code.endswith("Exception")


def key_id(ref: str) -> str:
    """``id`` of ``id``, ``arn:...:key/id``; aliases are returned as given (resolve them with DescribeKey)."""
    if ref.startswith("arn:") and ":key/" in ref:
        return ref.split(":key/", 1)[1]
    return ref


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


def _meta(source: str, notes: Iterable[str] = ()) -> dict[str, Any]:
    return {
        "captured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source,
        "notes": list(notes),
    }


def _clean(response: Mapping[str, Any]) -> dict[str, Any]:
    """An API answer without ``ResponseMetadata``, with datetimes as ISO text (the doc is JSON)."""
    return {k: _jsonable(v) for k, v in response.items() if k != "ResponseMetadata"}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


# -- captures, one per kind ------------------------------------------------------------------------


def capture_trail(trail: Mapping[str, Any], clients: Clients, *, source: str) -> dict[str, Any]:
    """The trail's full configuration, read in its home region by ARN (names are ambiguous)."""
    from trailguard.inventory import home_region

    doc = _clean(trail)
    region = home_region(trail, clients.region)
    arn = str(trail.get("TrailARN") or trail.get("Name"))
    doc["HomeRegion"] = region
    notes: list[str] = []
    cloudtrail = clients("cloudtrail", region)

    selectors = cloudtrail.get_event_selectors(TrailName=arn)
    advanced = selectors.get("AdvancedEventSelectors") or []
    basic = selectors.get("EventSelectors") or []
    doc.pop("EventSelectors", None)
    doc.pop("AdvancedEventSelectors", None)
    if advanced:
        doc["AdvancedEventSelectors"] = _jsonable(advanced)
    elif basic:
        doc["EventSelectors"] = _jsonable(basic)
    else:
        notes.append("CloudTrail reported no event selectors (its default: all management events)")

    try:
        insights = cloudtrail.get_insight_selectors(TrailName=arn)
        doc["InsightSelectors"] = _jsonable(insights.get("InsightSelectors") or [])
    except Exception as exc:
        if error_code(exc) == "InsightNotEnabledException":
            doc["InsightSelectors"] = []
        else:
            notes.append(f"insight selectors not recorded ({error_code(exc) or type(exc).__name__})")

    tags = cloudtrail.list_tags(ResourceIdList=[arn]).get("ResourceTagList") or []
    doc["TagsList"] = [
        {"Key": t["Key"], "Value": t.get("Value", "")}
        for entry in tags
        if entry.get("ResourceId") in (arn, None)
        for t in entry.get("TagsList") or []
    ]
    doc["IsLogging"] = bool(cloudtrail.get_trail_status(Name=arn).get("IsLogging"))
    doc["_meta"] = _meta(source, notes)
    return doc


def _s3_read(s3: Any, operation: str, bucket: str) -> dict[str, Any] | None:
    try:
        result: dict[str, Any] = getattr(s3, _S3_METHODS[operation])(Bucket=bucket)
    except Exception as exc:
        if error_code(exc) in _S3_ABSENT.get(operation, set()):
            return None
        raise
    return result


def capture_bucket(name: str, clients: Clients, *, source: str) -> dict[str, Any]:
    """The trail bucket's policy, lifecycle, versioning and encryption (None: not configured)."""
    s3 = clients("s3")
    location = s3.get_bucket_location(Bucket=name).get("LocationConstraint")
    region = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)
    policy = _s3_read(s3, "GetBucketPolicy", name)
    lifecycle = _s3_read(s3, "GetBucketLifecycleConfiguration", name)
    versioning = s3.get_bucket_versioning(Bucket=name)
    encryption = _s3_read(s3, "GetBucketEncryption", name)
    return {
        "Name": name,
        "Region": region,
        "Policy": policy.get("Policy") if policy else None,
        "Lifecycle": _jsonable(lifecycle.get("Rules")) if lifecycle else None,
        "Versioning": {k: versioning[k] for k in ("Status", "MFADelete") if k in versioning},
        "Encryption": (
            _jsonable(encryption.get("ServerSideEncryptionConfiguration")) if encryption else None
        ),
        "_meta": _meta(source),
    }


def capture_key(ref: str, region: str, clients: Clients, *, source: str) -> dict[str, Any]:
    """The trail key's state and aliases; ``ref`` may be an id, key ARN, alias or alias ARN."""
    region = aws.region_of_arn(ref) or region
    kms = clients("kms", region)
    metadata = kms.describe_key(KeyId=ref)["KeyMetadata"]
    aliases = kms.list_aliases(KeyId=metadata["KeyId"]).get("Aliases") or []
    return {
        "KeyId": metadata["KeyId"],
        "Arn": metadata.get("Arn"),
        "KeyState": metadata.get("KeyState"),
        "Enabled": metadata.get("Enabled"),
        "KeyManager": metadata.get("KeyManager"),
        "Region": region,
        "Aliases": sorted(str(a["AliasName"]) for a in aliases if a.get("AliasName")),
        "_meta": _meta(source),
    }


def capture_stores(clients: Clients, *, source: str) -> list[dict[str, Any]]:
    """Every event data store in the region (``GetEventDataStore`` for each)."""
    cloudtrail = clients("cloudtrail")
    out: list[dict[str, Any]] = []
    request: dict[str, Any] = {}
    while True:
        page = cloudtrail.list_event_data_stores(**request)
        for store in page.get("EventDataStores") or []:
            detail = _clean(cloudtrail.get_event_data_store(EventDataStore=store["EventDataStoreArn"]))
            detail["_meta"] = _meta(source)
            out.append(detail)
        if not page.get("NextToken"):
            return out
        request["NextToken"] = page["NextToken"]


def capture_rule(name: str, clients: Clients, *, source: str) -> dict[str, Any]:
    events = clients("events")
    doc = _clean(events.describe_rule(Name=name))
    doc["Targets"] = _jsonable(events.list_targets_by_rule(Rule=name).get("Targets") or [])
    doc["_meta"] = _meta(source)
    return doc


_FUNCTION_FIELDS = (
    "FunctionName",
    "FunctionArn",
    "Runtime",
    "Handler",
    "Role",
    "CodeSha256",
    "CodeSize",
    "Timeout",
    "MemorySize",
    "Architectures",
    "Environment",
    "DeadLetterConfig",
    "Version",
)


def capture_function(name: str, clients: Clients, *, source: str) -> dict[str, Any]:
    lam = clients("lambda")
    configuration = lam.get_function(FunctionName=name)["Configuration"]
    doc = {k: _jsonable(configuration[k]) for k in _FUNCTION_FIELDS if k in configuration}
    concurrency = lam.get_function_concurrency(FunctionName=name)
    doc["ReservedConcurrentExecutions"] = concurrency.get("ReservedConcurrentExecutions")
    try:
        doc["Policy"] = lam.get_policy(FunctionName=name).get("Policy")
    except Exception as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        doc["Policy"] = None
    doc["_meta"] = _meta(source)
    return doc


def capture_topic(arn: str, clients: Clients, *, source: str) -> dict[str, Any]:
    sns = clients("sns", aws.region_of_arn(arn))
    attributes = sns.get_topic_attributes(TopicArn=arn).get("Attributes") or {}
    subscriptions: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TopicArn": arn}
    while True:
        page = sns.list_subscriptions_by_topic(**request)
        subscriptions.extend(
            {k: s.get(k) for k in ("SubscriptionArn", "Protocol", "Endpoint")}
            for s in page.get("Subscriptions") or []
        )
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    return {
        "TopicArn": arn,
        "Attributes": dict(attributes),
        "Subscriptions": subscriptions,
        "_meta": _meta(source),
    }


# -- the store ------------------------------------------------------------------------------------


@dataclass
class Baselines:
    """Baselines in the state table; a store of None reads as "no baseline recorded" for everything."""

    store: StateStore | None
    _cache: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_config(
        cls,
        config: Config,
        region: str | None = None,
        *,
        profile: str | None = None,
        endpoint_url: str | None = None,
    ) -> Baselines:
        if not config.state_table:
            return cls(None)
        from trailguard.state import StateStore

        return cls(StateStore(config.state_table, region, profile=profile, endpoint_url=endpoint_url))

    @property
    def available(self) -> bool:
        return self.store is not None

    @staticmethod
    def normalise(kind: str, ident: str) -> str:
        """Ids as stored: key ARNs become key ids; everything else as given."""
        if kind not in KINDS:
            raise ValueError(f"unknown baseline kind {kind!r} (one of {', '.join(KINDS)})")
        return key_id(ident) if kind == "key" else ident

    def get(self, kind: str, ident: str) -> dict[str, Any] | None:
        """The baseline of one resource, or None when none is recorded (or no table is configured)."""
        if self.store is None or not ident:
            return None
        ident = self.normalise(kind, ident)
        if kind in self._cache:
            return self._cache[kind].get(ident)
        return self.store.get(f"baseline#{kind}", ident)

    def put(self, kind: str, ident: str, doc: Mapping[str, Any]) -> None:
        if self.store is None:
            raise RuntimeError("no state table is configured, so no baseline can be recorded")
        ident = self.normalise(kind, ident)
        self.store.put(f"baseline#{kind}", ident, dict(doc))
        self._cache.pop(kind, None)

    def delete(self, kind: str, ident: str) -> None:
        if self.store is None:
            raise RuntimeError("no state table is configured, so no baseline can be removed")
        self.store.delete(f"baseline#{kind}", self.normalise(kind, ident))
        self._cache.pop(kind, None)

    def of_kind(self, kind: str) -> dict[str, dict[str, Any]]:
        """Every baseline of one kind, id -> document (read once per instance)."""
        if self.store is None:
            return {}
        if kind not in self._cache:
            self.normalise(kind, "-")
            self._cache[kind] = {str(doc.pop("_sk")): doc for doc in self.store.query(f"baseline#{kind}")}
        return self._cache[kind]

    def all(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Every baseline: kind -> id -> document."""
        return {kind: self.of_kind(kind) for kind in KINDS}

    def trail(self, ref: str) -> dict[str, Any] | None:
        """The trail baseline ``ref`` names (ARN, or name when only one trail of that name is known)."""
        if self.store is None or not ref:
            return None
        trails = self.of_kind("trail")
        if ref in trails:
            return trails[ref]
        from trailguard.inventory import parse_trail_ref

        name, region = parse_trail_ref(ref)
        found = [
            doc
            for doc in trails.values()
            if doc.get("Name") == name and region in (None, doc.get("HomeRegion"))
        ]
        return found[0] if len(found) == 1 else None


# -- capture everything -----------------------------------------------------------------------------


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
    from trailguard.inventory import is_protected

    listed = clients("cloudtrail").describe_trails(includeShadowTrails=True).get("trailList") or []
    return [t for t in listed if isinstance(t, Mapping) and is_protected(t, config.protected_trails)]


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

    def record(kind: str, ident: str, capture: Any) -> dict[str, Any] | None:
        try:
            doc: dict[str, Any] = capture()
        except Exception as exc:
            summary.errors.append(f"{kind} {ident}: {error_code(exc) or type(exc).__name__}: {exc}")
            log_event(LOG, logging.ERROR, "baseline.capture-failed", kind=kind, id=ident, error=str(exc))
            return None
        stored = doc.get("KeyId") if kind == "key" else ident
        baselines.put(kind, str(stored), doc)
        summary.recorded[kind].append(str(stored))
        return doc

    try:
        trails = protected_trails(config, clients)
    except Exception as exc:
        summary.errors.append(f"DescribeTrails in {region}: {error_code(exc) or type(exc).__name__}: {exc}")
        trails = []
    buckets: dict[str, None] = {}
    keys: dict[str, str] = {}
    for trail in trails:
        arn = str(trail.get("TrailARN") or trail.get("Name"))
        doc = record("trail", arn, lambda t=trail: capture_trail(t, clients, source=source))
        if doc is None:
            continue
        if doc.get("S3BucketName"):
            buckets.setdefault(str(doc["S3BucketName"]), None)
        if doc.get("KmsKeyId"):
            keys.setdefault(str(doc["KmsKeyId"]), str(doc.get("HomeRegion") or region))
    for bucket in buckets:
        record("bucket", bucket, lambda b=bucket: capture_bucket(b, clients, source=source))
    for ref, key_region in keys.items():
        record("key", ref, lambda r=ref, g=key_region: capture_key(r, g, clients, source=source))
    try:
        for store in capture_stores(clients, source=source):
            arn = str(store.get("EventDataStoreArn"))
            baselines.put("store", arn, store)
            summary.recorded["store"].append(arn)
    except Exception as exc:
        if _unavailable(exc):
            summary.unavailable.append(f"CloudTrail Lake (ListEventDataStores) in {region}")
        else:
            summary.errors.append(f"event data stores: {error_code(exc) or type(exc).__name__}: {exc}")
    for rule in config.rule_names:
        record("rule", rule, lambda r=rule: capture_rule(r, clients, source=source))
    for function in config.function_names:
        record("function", function, lambda f=function: capture_function(f, clients, source=source))
    for topic in config.topic_arns:
        record("topic", topic, lambda t=topic: capture_topic(t, clients, source=source))
    log_event(LOG, logging.INFO, "baseline.captured", **summary.to_dict())
    return summary


def capture_one(
    kind: str,
    ident: str,
    clients: Clients,
    *,
    source: str,
    trail: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Capture a single resource (the allow-listed change path): ``trail`` is its DescribeTrails entry."""
    if kind == "trail":
        if trail is None:
            raise ValueError("a trail capture needs the trail's DescribeTrails entry")
        return capture_trail(trail, clients, source=source)
    if kind == "bucket":
        return capture_bucket(ident, clients, source=source)
    if kind == "key":
        return capture_key(ident, clients.region, clients, source=source)
    if kind == "store":
        doc = _clean(
            clients("cloudtrail", aws.region_of_arn(ident)).get_event_data_store(EventDataStore=ident)
        )
        doc["_meta"] = _meta(source)
        return doc
    if kind == "rule":
        return capture_rule(ident, clients, source=source)
    if kind == "function":
        return capture_function(ident, clients, source=source)
    if kind == "topic":
        return capture_topic(ident, clients, source=source)
    raise ValueError(f"unknown baseline kind {kind!r}")


# technique id (or its family) -> baseline kind, for the allow-listed change path
_TECHNIQUE_KINDS = {
    "trail": "trail",
    "bucket": "bucket",
    "key": "key",
    "lake": "store",
    "guard.rule": "rule",
    "guard.function": "function",
    "guard.topic": "topic",
}


def kind_for(technique: str | None) -> str | None:
    if not technique:
        return None
    return _TECHNIQUE_KINDS.get(technique) or _TECHNIQUE_KINDS.get(technique.split(".", 1)[0])


def rebaseline(verdict: Verdict, baselines: Baselines, region: str) -> Outcome | None:
    """An allow-listed principal changed a protected resource: its new state becomes the baseline.

    Returns what was done as an Outcome (``baseline.record``) so the alert says so; None when the
    resource has no baseline kind (e.g. a detector) or the verdict names no resource. Never raises.
    """
    from trailguard.remediate import Outcome

    kind = kind_for(verdict.technique)
    resource = verdict.resource
    if kind is None or not resource:
        return None
    outcome = Outcome("baseline.record", resource)
    if not baselines.available:
        outcome.status = "failed"
        outcome.summary = (
            f"no state table is configured, so the authorised change to {kind} {resource} was not "
            "recorded as the new baseline"
        )
        return outcome
    clients = Clients(region)
    try:
        ident, doc = _current(kind, resource, clients, region)
        if doc is None:
            baselines.delete(kind, ident)
            outcome.status, outcome.verified = "remediated", True
            outcome.summary = (
                f"{kind} {ident} no longer exists after this authorised change; its baseline was "
                "removed, so trailguard will not recreate it"
            )
        else:
            baselines.put(kind, ident, doc)
            outcome.status, outcome.verified = "remediated", True
            outcome.summary = (
                f"recorded the new state of {kind} {ident} as its baseline: trailguard will restore "
                "this configuration from now on"
            )
    except Exception as exc:
        text = f"{error_code(exc) or type(exc).__name__}: {exc}"
        outcome.status, outcome.verified = "failed", False
        outcome.errors.append(text)
        outcome.summary = (
            f"could not record the new baseline of {kind} {resource}; the previous baseline still "
            "applies (run trailguard baseline record)"
        )
    log_event(LOG, logging.INFO if outcome.ok else logging.ERROR, "baseline.rebaseline", **outcome.to_dict())
    return outcome


def _current(kind: str, resource: str, clients: Clients, region: str) -> tuple[str, dict[str, Any] | None]:
    """(baseline id, current state) of the resource a verdict names; state None when it is gone."""
    from trailguard.policy.inventory import function_name, last_segment

    gone = {
        "TrailNotFoundException",
        "NoSuchBucket",
        "NotFoundException",
        "ResourceNotFoundException",
        "EventDataStoreNotFoundException",
        "NotFound",
    }
    if kind == "trail":
        from trailguard.inventory import describe_trails, parse_trail_ref

        name, trail_region = parse_trail_ref(resource)
        listed = describe_trails(trail_region or region)
        found = [t for t in listed if t.get("TrailARN") == resource] or [
            t for t in listed if t.get("Name") == name
        ]
        if not found:
            return resource, None
        trail = found[0]
        return str(trail["TrailARN"]), capture_trail(trail, clients, source="allowed-change")
    ident = {
        "function": function_name(resource),
        "rule": last_segment(resource),
        "key": key_id(resource),
    }.get(kind, resource)
    try:
        doc = capture_one(kind, ident, clients, source="allowed-change")
    except Exception as exc:
        if error_code(exc) in gone:
            return ident, None
        raise
    return (str(doc["KeyId"]) if kind == "key" else ident), doc


def config_from_stack(
    outputs: Mapping[str, str],
    parameters: Mapping[str, str] | None = None,
    *,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
) -> Config:
    """The Config the deployed handler runs with: read from the API-call function's environment when
    ``region`` is given and it is readable (exactly what the handler protects), else rebuilt from the
    stack's outputs and parameters."""
    from trailguard.config import Config, _split

    name = outputs.get("ApiCallFunctionName")
    if region and name:
        try:
            answer = Clients(region, profile, endpoint_url)("lambda").get_function_configuration(
                FunctionName=name
            )
            env = (answer.get("Environment") or {}).get("Variables")
            if isinstance(env, dict) and env.get("TRAILGUARD_STATE_TABLE"):
                return Config.from_env(env)
        except Exception as exc:
            log_event(LOG, logging.WARNING, "baseline.function-env-unreadable", function=name, error=str(exc))
    params = parameters or {}
    return Config(
        topic_arn=outputs.get("TopicArn") or None,
        state_table=outputs.get("StateTableName") or None,
        guard_role_arns=_split(outputs.get("RoleArn")),
        rule_names=_split(",".join(outputs.get(k, "") for k in ("ApiCallRuleName", "FindingRuleName"))),
        function_names=_split(
            ",".join(outputs.get(k, "") for k in ("ApiCallFunctionName", "FindingFunctionName"))
        ),
        allowed_principal_arns=_split(params.get("AllowedPrincipalArns")),
        protected_trails=_split(params.get("ProtectedTrails")),
    )
