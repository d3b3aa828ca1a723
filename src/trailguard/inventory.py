"""Builds the policy's :class:`~trailguard.policy.Inventory` from the live account and the config.

The handler calls :func:`load` once per invocation (never cached across invocations: a trail created or
deleted a minute ago must count). ``DescribeTrails`` runs in the handler's region with
``includeShadowTrails`` so multi-region trails homed elsewhere are seen too. The same snapshot resolves
the trail an event names, because events name trails by name or ARN (sometimes with account ids that do
not match, and moto ignores ``trailNameList``), so resolution is done here rather than by the API.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trailguard import aws
from trailguard.allowlist import allowed_principals
from trailguard.baseline.store import Baselines
from trailguard.config import Config
from trailguard.log import log_event
from trailguard.policy import Inventory
from trailguard.resources import trail as trail_kind
from trailguard.resources.trail import is_protected
from trailguard.resources.trail import parse_ref as parse_trail_ref

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveInventory:
    """One invocation's view of the account: the trails, which are protected, and the policy inventory."""

    region: str
    trails: tuple[Mapping[str, Any], ...]
    protected: tuple[Mapping[str, Any], ...]
    inventory: Inventory
    error: str | None = None
    """Why the trails could not be listed, if they could not (the handler still classifies)."""
    document: Mapping[str, Any] = field(default_factory=dict, compare=False)
    protected_refs: tuple[str, ...] = ()
    org_trail_role: str = "owner"
    """The stack's ``OrgTrailRole``: which accounts' trails it repairs (``resources.trail.reachable``)."""

    def find_trail(self, ref: str, *, prefer_region: str | None = None) -> Mapping[str, Any] | None:
        """The trail ``ref`` names: exact ARN first, then name within the ARN's region, then by name.

        A bare name is ambiguous across regions; ``prefer_region`` (the event's region) and then the
        handler's region break the tie, as CloudTrail itself resolves names in the caller's region.
        """
        return trail_kind.resolve(self.trails, ref, prefer_regions=(prefer_region, self.region))

    def home_region(self, trail: Mapping[str, Any]) -> str:
        return trail_kind.home_region(trail, self.region) or self.region

    def inventory_for(self, ref: str | None, *, record_account: str | None = None) -> Inventory:
        """The inventory to judge a call on trail ``ref`` with.

        A trail the event names but DescribeTrails no longer lists was just deleted (the event proves it
        existed). Without a baseline store it would look unprotected and the deletion would go unreported,
        so when the configuration protects it (every trail, or it is listed by name or ARN) it is added;
        never a trail whose ARN names an account that is neither the stack's nor the one the call was
        recorded in (``record_account``): it cannot be repaired from here (unless the stack's
        organization-trail role says otherwise: ``resources.trail.watched``).
        """
        if not ref or "trails" not in self.document or self.find_trail(ref) is not None:
            return self.inventory
        if not trail_kind.watched(ref, self.inventory.account, record_account, self.org_trail_role):
            return self.inventory  # a trail of another account than the stack's and the call's
        name, region = parse_trail_ref(ref)
        entry: dict[str, Any] = {"Name": name}
        if ref.startswith("arn:"):
            entry["TrailARN"] = ref
        if region:
            entry["HomeRegion"] = region
        if not is_protected(entry, self.protected_refs):
            return self.inventory
        document = dict(self.document)
        document["trails"] = [*document["trails"], entry]
        return Inventory.from_dict(document)


def describe_trails(region: str) -> list[Mapping[str, Any]]:
    """Every trail visible from ``region``, including multi-region trails homed in other regions."""
    response = aws.client("cloudtrail", region).describe_trails(includeShadowTrails=True)
    return [t for t in response.get("trailList", []) if isinstance(t, Mapping)]


# DescribeTrails switches an UpdateTrail may just have turned off: read live, after the call, they would
# make a weakening look like "already off before" (the policy then applies its no-baseline rule instead).
LIVE_UNTRUSTED_SWITCHES = (
    "IsMultiRegionTrail",
    "IncludeGlobalServiceEvents",
    "LogFileValidationEnabled",
    "IsOrganizationTrail",
)


def without_live_switches(trail: Mapping[str, Any]) -> Mapping[str, Any]:
    """A live trail entry without the switches whose pre-call value it cannot vouch for."""
    return {k: v for k, v in trail.items() if k not in LIVE_UNTRUSTED_SWITCHES}


def merge_baselines(
    trails: Sequence[Mapping[str, Any]], baseline_trails: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The live trails with their baseline laid over them, plus baseline trails no longer listed.

    The policy must judge a change against the recorded good state, not the live one (after an
    UpdateTrail the live trail already shows the new value), and a deleted trail stays protected.
    """
    by_arn = {str(b.get("TrailARN")): b for b in baseline_trails if b.get("TrailARN")}
    merged: list[Mapping[str, Any]] = []
    for trail in trails:
        baseline = by_arn.pop(str(trail.get("TrailARN")), None)
        if baseline is None:
            merged.append(without_live_switches(trail))
        else:
            # a property the baseline lacks was unset when it was recorded: the live value (maybe the
            # change being judged, e.g. an SNS topic added) must not stand in for it
            unset = {k for k in trail_kind.PROPERTIES if k not in baseline}
            kept = {k: v for k, v in trail.items() if k not in unset}
            merged.append({**kept, **{k: v for k, v in baseline.items() if k != "_meta"}})
    merged.extend({k: v for k, v in b.items() if k != "_meta"} for b in by_arn.values())
    return merged


def build(
    config: Config,
    region: str,
    trails: Sequence[Mapping[str, Any]] | None,
    baseline_trails: Sequence[Mapping[str, Any]] = (),
    baseline_groups: Sequence[Mapping[str, Any]] = (),
    *,
    allowed: Sequence[str] | None = None,
    baselines_unavailable: bool = False,
    tampered_trails: Sequence[str] = (),
    unrecorded_trails: Sequence[str] = (),
) -> LiveInventory:
    """The inventory for ``trails`` (None: they could not be listed, so the policy gets no trail list).

    Without a trail list the policy treats every named trail as protected, which fails safe: a stopped
    trail is still restarted when DescribeTrails itself is denied or throttled. ``baseline_trails`` are
    merged in (see :func:`merge_baselines`) when the trails could be listed. ``allowed`` is the
    allow-list read from the stack (:func:`trailguard.allowlist.allowed_principals`); None keeps the
    config's own (commands outside the functions, where the config was rebuilt from the stack).
    ``baselines_unavailable`` / ``tampered_trails`` tell the policy which trail entries are live values
    rather than authenticated baselines (so a change to where logs go is not judged against them).
    """
    if trails is not None:
        trails = merge_baselines(trails, baseline_trails)
    protected = [t for t in trails or () if is_protected(t, config.protected_trails)]
    document: dict[str, Any] = {
        "guard": {
            "role_arns": list(config.guard_role_arns),
            "rule_names": list(config.rule_names),
            "function_names": list(config.function_names),
            "topic_arns": list(config.topic_arns),
            "queue_urls": list(config.queue_urls),
            "table_names": [config.state_table] if config.state_table else [],
            "stack_names": [config.stack_name] if config.stack_name else [],
        },
        "allowed_principal_arns": list(config.allowed_principal_arns if allowed is None else allowed),
    }
    if config.account:
        document["account"] = config.account
    if trails is not None:
        document["trails"] = [dict(t) for t in protected]
    if baselines_unavailable:
        document["baselines_unavailable"] = True
    if tampered_trails:
        document["tampered_trails"] = list(tampered_trails)
    if unrecorded_trails:
        document["unrecorded_trails"] = list(unrecorded_trails)
    if baseline_groups:  # the trails' log groups as recorded, so a retention cut is judged against them
        document["log_groups"] = [{k: v for k, v in g.items() if k != "_meta"} for g in baseline_groups]
    return LiveInventory(
        region=region,
        trails=tuple(trails or ()),
        protected=tuple(protected),
        inventory=Inventory.from_dict(document),
        document=document,
        protected_refs=config.protected_trails,
        org_trail_role=config.org_trail_role,
    )


def load(config: Config, region: str, baselines: Baselines | None = None) -> LiveInventory:
    """Describe the account's trails and build the inventory; a failure is logged, not raised.

    With ``baselines``, the recorded trails are merged in; an unreadable state table is logged and the
    live trails alone are used (detection must not depend on the table being reachable).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    baseline_trails: list[Mapping[str, Any]] = []
    baseline_groups: list[Mapping[str, Any]] = []
    unreadable = False
    tampered: list[str] = []
    if baselines is not None and baselines.available:
        try:
            baseline_trails = list(baselines.of_kind("trail").values())
        except (ClientError, BotoCoreError) as exc:
            unreadable = True  # the live trails stand in: the policy must not take them for baselines
            log_event(LOG, logging.ERROR, "inventory.baselines-unreadable", region=region, error=str(exc))
        try:
            baseline_groups = list(baselines.of_kind("loggroup").values())
        except (ClientError, BotoCoreError) as exc:
            log_event(LOG, logging.ERROR, "inventory.baselines-unreadable", region=region, error=str(exc))
        # a trail baseline that failed verification reads as absent; the policy is told which it was
        tampered = [t.sk for t in baselines.tampered if t.pk == "baseline#trail"]

    try:
        trails: list[Mapping[str, Any]] | None = describe_trails(region)
        error = None
    except (ClientError, BotoCoreError) as exc:
        trails, error = None, f"DescribeTrails failed in {region}: {exc}"
        log_event(LOG, logging.ERROR, "inventory.describe-trails-failed", region=region, error=str(exc))
    # A live trail with no baseline (new since the last recording, or no state table at all): its entry
    # is the live trail after the call being judged, so it cannot vouch for where its logs went before.
    unrecorded: list[str] = []
    if trails is not None and baselines is not None and not unreadable:
        recorded = {str(b.get("TrailARN")) for b in baseline_trails} | set(tampered)
        unrecorded = [
            str(t["TrailARN"]) for t in trails if t.get("TrailARN") and str(t["TrailARN"]) not in recorded
        ]
    # The allow-list comes from the stack, never from the function's environment (trailguard.allowlist).
    live = build(
        config,
        region,
        trails,
        baseline_trails,
        baseline_groups,
        allowed=allowed_principals(config, region),
        # without a trail list the baselines are not laid over one either (nor, with no state table,
        # is there any: a redirect must then not be judged benign for want of the value it replaced)
        baselines_unavailable=unreadable or (trails is None and baselines is not None),
        tampered_trails=tampered,
        unrecorded_trails=unrecorded,
    )
    return dataclasses.replace(live, error=error) if error else live
