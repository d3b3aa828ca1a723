"""What trailguard protects: the context a resource-scoped call is judged against.

The file format is the one of ``detection-policy.md`` ("Inventory"). Absent keys mean "not known": with no
``trails`` list every trail named in a CloudTrail call counts as protected (fail safe: a stopped trail is
restarted even when the inventory could not be built), while buckets, keys and guard resources are only
known through the inventory, so calls on them are benign without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trailguard.resources import function as function_kind
from trailguard.resources import key as key_kind
from trailguard.resources import loggroup as loggroup_kind
from trailguard.resources import role as role_kind
from trailguard.resources import rule as rule_kind
from trailguard.resources import store as store_kind
from trailguard.resources import topic as topic_kind
from trailguard.resources import trail as trail_kind

DEFAULT_RETENTION_DAYS = 365

Entry = Mapping[str, Any]


def _strs(value: Any) -> tuple[str, ...]:
    """A list of non-empty strings from whatever the file holds (a lone string counts as a list of one)."""
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, Sequence):
        return tuple(str(v) for v in value if isinstance(v, (str, int)) and str(v))
    return ()


def _entries(value: Any) -> tuple[Entry, ...] | None:
    if value is None:
        return None
    if isinstance(value, Sequence) and not isinstance(value, str):
        return tuple(v for v in value if isinstance(v, Mapping))
    return ()


def principal_matches(candidates: Sequence[str | None], listed: Sequence[str]) -> bool:
    """True when any candidate ARN is listed, exactly or as the same role (session vs role ARN)."""
    present = [c for c in candidates if c]
    if not present or not listed:
        return False
    if any(c in listed for c in present):
        return True
    roles = {role_kind.identity(arn) for arn in listed} - {None}
    return any(role_kind.identity(c) in roles for c in present)


@dataclass(frozen=True)
class Guard:
    """trailguard's own pipeline: its calls are benign, and tampering with it is tampering."""

    role_arns: tuple[str, ...] = ()
    rule_names: tuple[str, ...] = ()
    function_names: tuple[str, ...] = ()
    topic_arns: tuple[str, ...] = ()
    queue_urls: tuple[str, ...] = ()
    table_names: tuple[str, ...] = ()
    stack_names: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Any) -> Guard:
        if not isinstance(data, Mapping):
            return cls()
        return cls(
            role_arns=_strs(data.get("role_arns")),
            rule_names=_strs(data.get("rule_names")),
            function_names=_strs(data.get("function_names")),
            topic_arns=_strs(data.get("topic_arns")),
            queue_urls=_strs(data.get("queue_urls")),
            table_names=_strs(data.get("table_names")),
            stack_names=_strs(data.get("stack_names")),
        )


@dataclass(frozen=True)
class Inventory:
    """The protected trails, event data stores and guard resources, plus the allow-list.

    ``trails`` / ``event_data_stores`` are ``None`` when not known (every one named is protected) and a
    tuple when known (exactly those are protected). Entries are kept as the APIs return them.
    """

    account: str | None = None
    trails: tuple[Entry, ...] | None = None
    event_data_stores: tuple[Entry, ...] | None = None
    guard: Guard = field(default_factory=Guard)
    allowed_principal_arns: tuple[str, ...] = ()
    kms_aliases: Mapping[str, str] = field(default_factory=dict)
    """Optional extension: alias name (``alias/x`` or ``x``) -> key id or ARN, to resolve alias calls."""
    retention_days: int = DEFAULT_RETENTION_DAYS
    """Optional extension: the lifecycle floor for trail buckets (detection-policy default 365)."""
    log_groups: tuple[Entry, ...] = ()
    """Optional extension: the trails' CloudWatch Logs groups as recorded (``Arn``, ``Name``,
    ``RetentionInDays``), so a retention cut is judged against the group's baseline."""
    baselines_unavailable: bool = False
    """Optional extension: trailguard keeps baselines but could not lay them over the trails (the state
    table throttled, denied or gone; or the trails could not be listed). The trail entries are then the
    live trails, which the call being judged may already have changed, or absent, so they cannot vouch
    for where the logs went before it."""
    tampered_trails: tuple[str, ...] = ()
    """Optional extension: the trails (ARNs) whose recorded baseline failed verification (or could not
    be verified); their entries are the live trails, for the same reason no baseline."""
    unrecorded_trails: tuple[str, ...] = ()
    """Optional extension: protected trails (ARNs) that have no recorded baseline yet (created after the
    last recording and not yet baselined from a confirmed create event or a sweep; or no state table is
    configured). Their entries are the live trails, after the call being judged."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Inventory:
        """Read the inventory file format; unknown keys are ignored and odd types read as absent."""
        if not isinstance(data, Mapping):
            return cls()
        aliases = data.get("kms_aliases")
        retention = data.get("retention_days")
        return cls(
            account=str(data["account"]) if isinstance(data.get("account"), (str, int)) else None,
            trails=_entries(data.get("trails")),
            event_data_stores=_entries(data.get("event_data_stores")),
            guard=Guard.from_dict(data.get("guard")),
            allowed_principal_arns=_strs(data.get("allowed_principal_arns")),
            kms_aliases=(
                {key_kind.parse_ref(str(k))[1]: str(v) for k, v in aliases.items() if isinstance(v, str)}
                if isinstance(aliases, Mapping)
                else {}
            ),
            retention_days=(
                retention
                if isinstance(retention, int) and not isinstance(retention, bool) and retention > 0
                else DEFAULT_RETENTION_DAYS
            ),
            log_groups=_entries(data.get("log_groups")) or (),
            baselines_unavailable=data.get("baselines_unavailable") is True,
            tampered_trails=_strs(data.get("tampered_trails")),
            unrecorded_trails=_strs(data.get("unrecorded_trails")),
        )

    # -- lookups ------------------------------------------------------------------------------------
    def trail(self, ref: str) -> Entry | None:
        """The protected trail ``ref`` names (name or ARN): ARN first, then by name (real records carry
        ARNs whose account ids do not match the inventory's), through the one trail resolver."""
        return trail_kind.resolve(self.trails or (), ref, by_region=False)

    def baseline_doubt(self, trail: Entry | None, ref: str) -> str | None:
        """Why the entry of the trail ``ref`` names (``trail``, None without a trail list) cannot stand
        for its authenticated baseline, as a clause ("its recorded baseline failed verification"), or
        None when nothing says so."""
        if self.baselines_unavailable:
            return "trailguard could not compare it with a recorded baseline"
        arn = trail.get("TrailARN") if trail is not None else None
        for tampered in self.tampered_trails:
            if tampered in (arn, ref) or (
                arn is None and not ref.startswith("arn:") and trail_kind.name_of(tampered) == ref
            ):
                return "its recorded baseline failed verification"
        if arn is not None and arn in self.unrecorded_trails:
            return "it has no recorded baseline yet (trailguard has not baselined it since it appeared)"
        return None

    def trails_for_bucket(self, bucket: str) -> tuple[Entry, ...]:
        """The protected trails whose logs go to ``bucket``."""
        return tuple(t for t in self.trails or () if bucket and t.get("S3BucketName") == bucket)

    def trails_for_key(self, ref: str) -> tuple[Entry, ...]:
        """The protected trails encrypted with the key ``ref`` names (id, key ARN, alias or alias ARN)."""
        kind, value = key_kind.parse_ref(ref)
        wanted = {(kind, value)}
        if kind == "alias" and value in self.kms_aliases:
            wanted.add(key_kind.parse_ref(self.kms_aliases[value]))
        if kind == "key":
            wanted.update(
                ("alias", alias)
                for alias, target in self.kms_aliases.items()
                if key_kind.parse_ref(target) == ("key", value)
            )
        found = []
        for trail in self.trails or ():
            key = trail.get("KmsKeyId")
            if isinstance(key, str) and key and key_kind.parse_ref(key) in wanted:
                found.append(trail)
        return tuple(found)

    def trails_for_log_group(self, name: str, region: str | None = None) -> tuple[Entry, ...]:
        """The protected trails that deliver to the CloudWatch Logs group called ``name`` (in ``region``
        when given: a group name is unique per region only)."""
        found = []
        for trail in self.trails or ():
            arn = trail.get("CloudWatchLogsLogGroupArn")
            if not isinstance(arn, str) or not arn:
                continue
            if loggroup_kind.name_of(arn) == name and (
                region is None or loggroup_kind.region_of(arn) in (None, region)
            ):
                found.append(trail)
        return tuple(found)

    def log_group(self, ref: str) -> Entry | None:
        """The recorded log group ``ref`` (name or ARN) names, from the optional ``log_groups`` list."""
        name = loggroup_kind.name_of(ref)
        for group in self.log_groups:
            if loggroup_kind.arn_of(str(group.get("Arn") or "")) == loggroup_kind.arn_of(ref):
                return group
            if not ref.startswith("arn:") and group.get("Name") == name:
                return group
        return None

    def store(self, ref: str) -> Entry | None:
        """The protected event data store ``ref`` names (ARN, id or name)."""
        ident = store_kind.store_id(ref)
        for store in self.event_data_stores or ():
            arn = str(store.get("EventDataStoreArn") or "")
            if ref == arn or (arn and ident == store_kind.store_id(arn)) or ref == store.get("Name"):
                return store
        return None

    @property
    def knows_trails(self) -> bool:
        return self.trails is not None

    @property
    def knows_stores(self) -> bool:
        return self.event_data_stores is not None

    def is_guard_principal(self, *arns: str | None) -> bool:
        return principal_matches(arns, self.guard.role_arns)

    def is_allowed_principal(self, *arns: str | None) -> bool:
        return principal_matches(arns, self.allowed_principal_arns)

    def guard_rule(self, ref: str) -> str | None:
        name = rule_kind.name_of(ref)
        return name if name in self.guard.rule_names else None

    def guard_function(self, ref: str) -> str | None:
        """The guard function ``ref`` names: a name, an ARN or partial ARN, possibly with a qualifier."""
        name = function_kind.name_of(ref)
        for listed in self.guard.function_names:
            if name and name == function_kind.name_of(listed):
                return listed
        return None

    def guard_topic(self, ref: str) -> str | None:
        """The guard topic ``ref`` names: its ARN, its name, or one of its subscription ARNs."""
        for arn in self.guard.topic_arns:
            if ref == arn or ref.startswith(arn + ":") or ref == topic_kind.name_of(arn):
                return arn
        return None
