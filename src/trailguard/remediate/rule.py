"""trailguard's own EventBridge rules: put a rule back the way its baseline recorded it, and prove it.

Each guard action (this, ``function``, ``topic``) reconciles the whole resource with its baseline rather
than undoing only the call that triggered it: the same action then serves the event path (the API-call
rule and the guard-calls rule deliver these calls to the two functions, so either one repairs the other)
and the backstop sweep (no event at all). Idempotent: live state is read first and only what differs is
changed; what cannot be restored in place is escalated, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from trailguard import aws, history
from trailguard.remediate import floors
from trailguard.remediate import trail as trail_repair
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
from trailguard.resources import trail as trail_kind
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


RULE_CALLS = frozenset({"DisableRule", "DeleteRule", "RemoveTargets", "PutRule", "PutTargets"})
"""The calls that switch a rule off or away from its targets (``guard.rule``'s triggers)."""


@dataclass
class _Restored:
    """What restoring one rule did: the steps, what is still off, and whether it was found off or changed
    (then the events it matches were not delivered while it was)."""

    done: list[str] = field(default_factory=list)
    off: list[str] = field(default_factory=list)
    found_off: bool = False
    baseline: bool = True


def _restore(ctx: Context, outcome: Outcome, name: str) -> _Restored:
    """Reconcile one rule with its baseline (enable, re-create, retarget) and read it back."""
    rule = _Rule(ctx, outcome, name, read_baseline(ctx, outcome, "rule", name))
    result = _Restored(baseline=rule.baseline is not None)
    done, off = result.done, result.off
    try:
        live = rule.describe()
        drift = ["the rule was deleted"] if live is None else rule.definition_drift(live)
        result.found_off = bool(drift)
        if drift and rule.baseline is None:
            off.append(f"rule {name}: {', '.join(drift)} and no baseline is recorded; {REDEPLOY}")
            return result
        if drift:
            rule.put_rule()
            done.append(f"re-created rule {name} from its baseline ({', '.join(drift)})")
        elif live is not None and live.get("State") not in ENABLED:
            result.found_off = True
            outcome.call("events", rule.region, "EnableRule", Name=name)
            done.append(f"re-enabled rule {name}")
        if rule.baseline is not None:
            changed, extra = rule.target_drift()
            result.found_off = result.found_off or bool(changed or extra)
            if changed:
                floors.check_targets(ctx.scope, rule.region, name, changed)
                outcome.call("events", rule.region, "PutTargets", Rule=name, Targets=changed)
                done.append(
                    f"restored {len(changed)} target(s) of rule {name} with their retry policy and DLQ"
                )
            if extra:
                outcome.call("events", rule.region, "RemoveTargets", Rule=name, Ids=extra)
                done.append(f"removed target(s) {', '.join(extra)} that the baseline of rule {name} lacks")
        if not result.found_off:
            return result  # the reads above found it as recorded: they are the verification

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
    return result


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _since(ctx: Context, name: str, request: RepairRequest) -> str:
    """When rule ``name`` was switched off or changed: the call's time when the call named it, else the
    newest such call on it in CloudTrail's history that trailguard's role did not make."""
    record = request.record
    if record is not None and request.ident and rule_name(request.ident) == name and record.event_time:
        who = record.principal_arn or "an unknown principal"
        return f"{record.event_time} ({record.event_name} by {who})"
    guard = set(ctx.config.guard_role_arns)
    for event in history.who_changed(name, ctx.region, event_names=RULE_CALLS, limit=10):
        if event.principal_arn in guard or history.issuer_of(event.record) in guard:
            continue
        return f"{event.event_time or 'an unknown time'} ({event.event_name} by {event.principal_arn})"
    return "a time CloudTrail's event history does not show"


def _catch_up(ctx: Context, outcome: Outcome, gaps: list[str]) -> _Restored:
    """Events were lost while a rule was off: check every protected trail's live state now (the
    backstop's trail checks, ``trail.reconcile``) and repair what is off, rather than wait for the
    sweep."""
    result = _Restored()
    lost = (
        f"{'; '.join(gaps)}: CloudTrail events the stack's rules match were not delivered while a rule was "
        "off, so trailguard checked the live state of every protected trail at once"
    )
    try:
        part = trail_repair.reconcile(
            ctx, RepairRequest(trail_kind.KIND, None, "a rule of trailguard's was off: events were lost")
        )
    except Exception as exc:  # never lose the rule repair's message over the catch-up
        error = f"{type(exc).__name__}: {exc}"
        outcome.errors.append(error)
        result.off.append(f"{lost}, but the check failed: {error}")
        return result
    outcome.calls.extend(part.calls)
    outcome.errors.extend(e for e in part.errors if e not in outcome.errors)
    if part.status == "failed":
        result.off.append(f"{lost}: {part.summary}")
    else:
        result.done.append(f"{lost}: {part.summary or 'nothing was off'}")
    return result


@action(
    "guard.restore_rule",
    permissions=(
        "events:EnableRule",
        "events:PutRule",
        "events:PutTargets",
        "events:RemoveTargets",
        "events:DescribeRule",
        "events:ListTargetsByRule",
        # the catch-up after a rule was off: the backstop's trail checks (trail.reconcile)
        *sorted(trail_repair.reconcile.permissions),
    ),
    restores=KIND,
)
def restore_rule(ctx: Context, request: RepairRequest) -> Outcome:
    """``guard.rule``: EnableRule; a deleted or overwritten rule is put back from its baseline (PutRule,
    then PutTargets with the recorded retry policy and dead-letter queue); a retargeted rule gets its
    baseline targets back and loses any target the baseline lacks (RemoveTargets). Verified by
    DescribeRule.State and ListTargetsByRule.

    On the event path every other rule of the stack is reconciled too: an attacker who disables both
    API-call rules in parallel loses one of the two events (each rule is the other's witness), so the
    one delivered puts both back. When a rule was found off or changed, the events it matches were lost
    meanwhile, so the protected trails' live state is checked and repaired at once (``trail.reconcile``,
    the sweep's trail checks) and the message says from when to when the rule was off. The sweep
    reconciles each rule itself and checks the trails after the rules (``resources.ORDER``)."""
    ref = target(request, "name", "rule", "Name", "Rule")
    outcome = Outcome("guard.restore_rule", ref)
    if not ref:
        outcome.summary = "could not tell which EventBridge rule was changed, so none was restored"
        outcome.errors.append("the event does not name the rule")
        return outcome
    name = rule_name(ref)
    outcome.resource = name
    names = [name]
    if request.record is not None:
        names += [n for n in dict.fromkeys(rule_name(r) for r in ctx.scope.rule_names) if n != name]
    done: list[str] = []
    off: list[str] = []
    gaps: list[str] = []
    baselined = True
    for one in names:
        restored = _restore(ctx, outcome, one)
        done += restored.done
        off += restored.off
        if one == name:
            baselined = restored.baseline
        if restored.found_off:
            gaps.append(f"rule {one} was off from {_since(ctx, one, request)} to {_now()}")
    if gaps and request.record is not None:
        caught = _catch_up(ctx, outcome, gaps)
        done += caught.done
        off += caught.off
    elif gaps:
        done.append(
            f"{'; '.join(gaps)}: the events it matches were not delivered meanwhile, so this sweep checks "
            "the protected trails after the rules"
        )
    what = f"DescribeRule reports the rule{'s' if len(names) > 1 else ''} ENABLED"
    if not baselined:
        what += f" (no baseline recorded, so its targets were not compared; {NO_BASELINE})"
    else:
        what += " and ListTargetsByRule lists the baseline targets"
    return outcome.finish(f"rule {name}", done, off, what)
