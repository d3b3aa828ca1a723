"""trailguard's own EventBridge rules: put a rule back the way its baseline recorded it, and prove it.

Each guard action (this, ``function``, ``topic``) reconciles the whole resource with its baseline rather
than undoing only the call that triggered it: the same action then serves the event path (the API-call
rule and the guard-calls rule deliver these calls to the two functions, so either one repairs the other)
and the backstop sweep (no event at all). Idempotent: live state is read first and only what differs is
changed; what cannot be restored in place is escalated, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trailguard import aws
from trailguard.remediate import floors
from trailguard.remediate.base import (
    NO_BASELINE,
    REDEPLOY,
    Context,
    Gone,
    Outcome,
    RepairRequest,
    action,
    policy_json,
    read_baseline,
    squash,
    target,
    verify_until,
)
from trailguard.resources.rule import KIND
from trailguard.resources.rule import name_of as rule_name

ENABLED = ("ENABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")

_TARGET_FIELDS = (
    "Id",
    "Arn",
    "RoleArn",
    "Input",
    "InputPath",
    "InputTransformer",
    "RetryPolicy",
    "DeadLetterConfig",
)


def _targets(targets: Any) -> dict[str, Any]:
    """Targets by Id, with only the fields PutTargets takes (the baseline is ListTargetsByRule-shaped)."""
    out: dict[str, Any] = {}
    for entry in targets if isinstance(targets, list) else []:
        if isinstance(entry, Mapping) and entry.get("Id"):
            out[str(entry["Id"])] = squash({k: entry[k] for k in _TARGET_FIELDS if k in entry})
    return out


class _Rule:
    def __init__(self, ctx: Context, outcome: Outcome, name: str, baseline: Mapping[str, Any] | None) -> None:
        self.ctx, self.outcome, self.name, self.baseline = ctx, outcome, name, baseline
        self.region = aws.region_of_arn(str((baseline or {}).get("Arn") or "")) or ctx.region

    def describe(self) -> Mapping[str, Any] | None:
        try:
            rule: Mapping[str, Any] = self.outcome.call(
                "events", self.region, "DescribeRule", gone=KIND, Name=self.name
            )
        except Gone:
            self.outcome.calls[-1].error, self.outcome.calls[-1].result = None, "rule does not exist"
            return None
        self.outcome.calls[-1].result = f"State {rule.get('State')}"
        return rule

    def live_targets(self) -> dict[str, Any]:
        answer = self.outcome.call("events", self.region, "ListTargetsByRule", Rule=self.name)
        found = _targets(answer.get("Targets"))
        self.outcome.calls[-1].result = f"{len(found)} target(s)"
        return found

    def wanted_state(self) -> str:
        state = str((self.baseline or {}).get("State") or "ENABLED")
        return state if state in ENABLED else "ENABLED"  # a guard rule is never meant to be off

    def definition_drift(self, live: Mapping[str, Any]) -> list[str]:
        if self.baseline is None:
            return []
        drift = []
        if policy_json(live.get("EventPattern")) != policy_json(self.baseline.get("EventPattern")):
            drift.append("event pattern")
        if (live.get("ScheduleExpression") or None) != (self.baseline.get("ScheduleExpression") or None):
            drift.append("schedule")
        return drift

    def put_rule(self) -> None:
        assert self.baseline is not None
        params: dict[str, Any] = {"Name": self.name, "State": self.wanted_state()}
        for key in ("EventPattern", "ScheduleExpression", "Description", "RoleArn"):
            value = self.baseline.get(key)
            if isinstance(value, str) and value:
                params[key] = value
        floors.check_rule(self.ctx.scope, self.name, params)
        self.outcome.call("events", self.region, "PutRule", **params)

    def target_drift(self) -> tuple[list[Any], list[str]]:
        """The baseline targets missing or changed on the live rule, and the Ids of targets it lacks
        (an attacker's extra target would receive every matched event)."""
        wanted = _targets((self.baseline or {}).get("Targets"))
        live = self.live_targets()
        changed = [want for ident, want in wanted.items() if live.get(ident) != want]
        return changed, sorted(ident for ident in live if ident not in wanted)

    def targets_match(self) -> bool:
        return self.target_drift() == ([], [])


@action(
    "guard.restore_rule",
    permissions=(
        "events:EnableRule",
        "events:PutRule",
        "events:PutTargets",
        "events:RemoveTargets",
        "events:DescribeRule",
        "events:ListTargetsByRule",
    ),
    restores=KIND,
)
def restore_rule(ctx: Context, request: RepairRequest) -> Outcome:
    """``guard.rule``: EnableRule; a deleted or overwritten rule is put back from its baseline (PutRule,
    then PutTargets with the recorded retry policy and dead-letter queue); a retargeted rule gets its
    baseline targets back and loses any target the baseline lacks (RemoveTargets). Verified by
    DescribeRule.State and ListTargetsByRule."""
    ref = target(request, "name", "rule", "Name", "Rule")
    outcome = Outcome("guard.restore_rule", ref)
    if not ref:
        outcome.summary = "could not tell which EventBridge rule was changed, so none was restored"
        outcome.errors.append("the event does not name the rule")
        return outcome
    name = rule_name(ref)
    outcome.resource = name
    rule = _Rule(ctx, outcome, name, read_baseline(ctx, outcome, "rule", name))
    done: list[str] = []
    off: list[str] = []
    try:
        live = rule.describe()
        drift = ["the rule was deleted"] if live is None else rule.definition_drift(live)
        if drift and rule.baseline is None:
            off.append(f"rule {name}: {', '.join(drift)} and no baseline is recorded; {REDEPLOY}")
            return outcome.finish(f"rule {name}", done, off, "")
        if drift:
            rule.put_rule()
            done.append(f"re-created rule {name} from its baseline ({', '.join(drift)})")
        elif live is not None and live.get("State") not in ENABLED:
            outcome.call("events", rule.region, "EnableRule", Name=name)
            done.append(f"re-enabled rule {name}")
        if rule.baseline is not None:
            changed, extra = rule.target_drift()
            if changed:
                floors.check_targets(ctx.scope, rule.region, name, changed)
                outcome.call("events", rule.region, "PutTargets", Rule=name, Targets=changed)
                done.append(
                    f"restored {len(changed)} target(s) of rule {name} with their retry policy and DLQ"
                )
            if extra:
                outcome.call("events", rule.region, "RemoveTargets", Rule=name, Ids=extra)
                done.append(f"removed target(s) {', '.join(extra)} that the baseline of rule {name} lacks")

        def verified() -> bool:
            now = rule.describe()
            return now is not None and now.get("State") in ENABLED and not rule.definition_drift(now)

        if not verify_until(ctx, verified):
            off.append(f"DescribeRule does not show rule {name} enabled as recorded")
        elif rule.baseline is not None and not rule.targets_match():
            off.append(f"ListTargetsByRule on rule {name} differs from the baseline")
    except floors.FloorRefused as refused:
        outcome.errors.append(str(refused))
        off.append(refused.describe())
    except Exception as exc:
        error = outcome.last_error(exc)
        outcome.errors.append(error)
        off.append(f"a call on rule {name} failed: {error}")
    what = "DescribeRule reports the rule ENABLED"
    if rule.baseline is None:
        what += f" (no baseline recorded, so its targets were not compared; {NO_BASELINE})"
    else:
        what += " and ListTargetsByRule lists the baseline targets"
    return outcome.finish(f"rule {name}", done, off, what)
