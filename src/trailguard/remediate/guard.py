"""trailguard's own pipeline: put its EventBridge rules, Lambda functions and alert topic back the way the
baseline recorded them, and prove it by reading them back.

Each action reconciles the whole resource with its baseline (``ctx.baselines.get("rule" | "function" |
"topic", id)``) rather than undoing only the call that triggered it: the same action then serves the
event path (the API-call rule and the guard-calls rule deliver these calls to the two functions, so
either one repairs the other) and the backstop sweep (no event at all). Idempotent: live state is read
first and only what differs is changed.

What cannot be restored in place is escalated, never guessed: a deleted function or replaced code needs
the package, which only ``trailguard deploy`` has. The other function, still running, sends that alert.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from trailguard import aws
from trailguard.policy.inventory import function_name, last_segment
from trailguard.remediate import (
    Context,
    Outcome,
    action,
    error_code,
    read_baseline,
    target,
    verify_until,
)

if TYPE_CHECKING:
    from trailguard.policy import Verdict

REDEPLOY = "ACTION REQUIRED: redeploy the stack with trailguard deploy"
NO_BASELINE = "run `trailguard baseline record --stack-name STACK` so trailguard can restore it"
ENABLED = ("ENABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
# Topic attributes SetTopicAttributes accepts; the rest (Owner, counts, Effective*) are read-only.
TOPIC_ATTRIBUTES = (
    "Policy",
    "DisplayName",
    "DeliveryPolicy",
    "KmsMasterKeyId",
    "SignatureVersion",
    "TracingConfig",
)
# Lambda configuration a repair compares with the baseline (drift here cannot be undone in place).
FUNCTION_FIELDS = ("CodeSha256", "Handler", "Runtime", "Role", "Timeout", "MemorySize", "Environment")
_GONE = {"ResourceNotFoundException", "NotFound", "NotFoundException"}


def _finish(outcome: Outcome, label: str, done: list[str], off: list[str], verified: str) -> Outcome:
    """One status and one sentence from what was done and what is still off."""
    if off:
        outcome.status, outcome.verified = "failed", False
        outcome.summary = "; ".join([*done, *(f"STILL OFF: {o}" for o in off)])
    elif done:
        outcome.status, outcome.verified = "remediated", True
        outcome.summary = f"{'; '.join(done)}; verified that {verified}"
    else:
        outcome.status, outcome.verified = "already-restored", True
        outcome.summary = f"{label} already matched its baseline when trailguard checked; nothing changed"
    return outcome


def _squash(value: Any) -> Any:
    """Compare API answers without the empty values one side spells and the other omits."""
    if isinstance(value, Mapping):
        return {str(k): _squash(v) for k, v in sorted(value.items()) if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [_squash(v) for v in value]
    return value


def _json(text: Any) -> Any:
    if isinstance(text, str):
        try:
            return json.loads(text) if text.strip() else None
        except ValueError:
            return text
    return text


# -- rules --------------------------------------------------------------------------------------------

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
            out[str(entry["Id"])] = _squash({k: entry[k] for k in _TARGET_FIELDS if k in entry})
    return out


class _Rule:
    def __init__(self, ctx: Context, outcome: Outcome, name: str, baseline: Mapping[str, Any] | None) -> None:
        self.ctx, self.outcome, self.name, self.baseline = ctx, outcome, name, baseline
        self.region = aws.region_of_arn(str((baseline or {}).get("Arn") or "")) or ctx.region

    def describe(self) -> Mapping[str, Any] | None:
        try:
            rule: Mapping[str, Any] = self.outcome.call("events", self.region, "DescribeRule", Name=self.name)
        except Exception as exc:
            if error_code(exc) in _GONE:
                self.outcome.calls[-1].error, self.outcome.calls[-1].result = None, "rule does not exist"
                return None
            raise
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
        if _json(live.get("EventPattern")) != _json(self.baseline.get("EventPattern")):
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


@action("guard.restore_rule")
def restore_rule(ctx: Context, verdict: Verdict) -> Outcome:
    """``guard.rule``: EnableRule; a deleted or overwritten rule is put back from its baseline (PutRule,
    then PutTargets with the recorded retry policy and dead-letter queue); a retargeted rule gets its
    baseline targets back and loses any target the baseline lacks (RemoveTargets). Verified by
    DescribeRule.State and ListTargetsByRule."""
    ref = target(verdict, "name", "rule", "Name", "Rule")
    outcome = Outcome("guard.restore_rule", ref)
    if not ref:
        outcome.summary = "could not tell which EventBridge rule was changed, so none was restored"
        outcome.errors.append("the event does not name the rule")
        return outcome
    name = last_segment(ref)
    outcome.resource = name
    rule = _Rule(ctx, outcome, name, read_baseline(ctx, outcome, "rule", name))
    done: list[str] = []
    off: list[str] = []
    try:
        live = rule.describe()
        drift = ["the rule was deleted"] if live is None else rule.definition_drift(live)
        if drift and rule.baseline is None:
            off.append(f"rule {name}: {', '.join(drift)} and no baseline is recorded; {REDEPLOY}")
            return _finish(outcome, f"rule {name}", done, off, "")
        if drift:
            rule.put_rule()
            done.append(f"re-created rule {name} from its baseline ({', '.join(drift)})")
        elif live is not None and live.get("State") not in ENABLED:
            outcome.call("events", rule.region, "EnableRule", Name=name)
            done.append(f"re-enabled rule {name}")
        if rule.baseline is not None:
            changed, extra = rule.target_drift()
            if changed:
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
    except Exception as exc:
        error = outcome.last_error(exc)
        outcome.errors.append(error)
        off.append(f"a call on rule {name} failed: {error}")
    what = "DescribeRule reports the rule ENABLED"
    if rule.baseline is None:
        what += f" (no baseline recorded, so its targets were not compared; {NO_BASELINE})"
    else:
        what += " and ListTargetsByRule lists the baseline targets"
    return _finish(outcome, f"rule {name}", done, off, what)


# -- functions ----------------------------------------------------------------------------------------


def _statements(policy: Any) -> dict[str, Mapping[str, Any]]:
    doc = _json(policy)
    statements = doc.get("Statement") if isinstance(doc, Mapping) else None
    listed = statements if isinstance(statements, list) else []
    return {str(s.get("Sid")): s for s in listed if isinstance(s, Mapping) and s.get("Sid")}


def _condition_value(statement: Mapping[str, Any], key: str) -> str | None:
    for pairs in (statement.get("Condition") or {}).values():
        if isinstance(pairs, Mapping):
            for name, value in pairs.items():
                if str(name).lower() == key.lower():
                    return str(value[0] if isinstance(value, list) else value)
    return None


def permission_params(name: str, statement: Mapping[str, Any]) -> dict[str, Any]:
    """AddPermission parameters that recreate one resource-policy statement (EventBridge's shape)."""
    principal = statement.get("Principal")
    if isinstance(principal, Mapping):
        value = principal.get("Service") or principal.get("AWS")
        principal = value[0] if isinstance(value, list) else value
    action_name = statement.get("Action")
    params: dict[str, Any] = {
        "FunctionName": name,
        "StatementId": str(statement["Sid"]),
        "Action": str(action_name[0] if isinstance(action_name, list) else action_name),
        "Principal": str(principal),
    }
    source_arn = _condition_value(statement, "AWS:SourceArn")
    source_account = _condition_value(statement, "AWS:SourceAccount")
    if source_arn:
        params["SourceArn"] = source_arn
    if source_account:
        params["SourceAccount"] = source_account
    return params


@action("guard.restore_function")
def restore_function(ctx: Context, verdict: Verdict) -> Outcome:
    """``guard.function``: zero concurrency is lifted (or the baseline's reserved concurrency put back),
    removed invoke permissions are added again from the baseline policy; a deleted function or changed
    code / configuration is escalated for a redeploy. Verified by GetFunctionConcurrency and GetPolicy."""
    ref = target(verdict, "functionName", "FunctionName")
    outcome = Outcome("guard.restore_function", ref)
    if not ref:
        outcome.summary = "could not tell which Lambda function was changed, so nothing was restored"
        outcome.errors.append("the event does not name the function")
        return outcome
    name = function_name(ref)
    outcome.resource = name
    baseline = read_baseline(ctx, outcome, "function", name)
    region = aws.region_of_arn(str((baseline or {}).get("FunctionArn") or "")) or ctx.region
    done: list[str] = []
    off: list[str] = []
    try:
        try:
            config = outcome.call("lambda", region, "GetFunction", FunctionName=name)["Configuration"]
        except Exception as exc:
            if error_code(exc) not in _GONE:
                raise
            outcome.calls[-1].error, outcome.calls[-1].result = None, "function does not exist"
            off.append(
                f"function {name} was deleted and cannot be restored in place; {REDEPLOY} "
                "(until then the other trailguard function keeps detecting and alerting)"
            )
            return _finish(outcome, f"function {name}", done, off, "")
        if baseline is not None:
            changed = [
                f for f in FUNCTION_FIELDS if f in baseline and _squash(config.get(f)) != _squash(baseline[f])
            ]
            if changed:
                off.append(
                    f"the {', '.join(changed)} of function {name} differ from the baseline and cannot be "
                    f"restored in place; {REDEPLOY}"
                )

        wanted = baseline.get("ReservedConcurrentExecutions") if baseline is not None else None

        def concurrency() -> int | None:
            answer = outcome.call("lambda", region, "GetFunctionConcurrency", FunctionName=name)
            value = answer.get("ReservedConcurrentExecutions")
            outcome.calls[-1].result = f"reserved {value if value is not None else 'none'}"
            return int(value) if value is not None else None

        current = concurrency()
        if current != wanted and (baseline is not None or current == 0):
            if wanted is None:
                outcome.call("lambda", region, "DeleteFunctionConcurrency", FunctionName=name)
                done.append(f"removed the reserved concurrency ({current}) that throttled function {name}")
            else:
                outcome.call(
                    "lambda",
                    region,
                    "PutFunctionConcurrency",
                    FunctionName=name,
                    ReservedConcurrentExecutions=int(wanted),
                )
                done.append(f"restored the reserved concurrency of function {name} to {wanted}")
            if not verify_until(ctx, lambda: concurrency() == wanted):
                off.append(f"GetFunctionConcurrency on function {name} does not show the baseline value")

        def live_statements() -> dict[str, Mapping[str, Any]]:
            try:
                policy = outcome.call("lambda", region, "GetPolicy", FunctionName=name).get("Policy")
            except Exception as exc:
                if error_code(exc) not in _GONE:
                    raise
                outcome.calls[-1].error, outcome.calls[-1].result = None, "no policy"
                return {}
            return _statements(policy)

        live = live_statements()
        if baseline is None:
            if not live:
                off.append(
                    f"function {name} has no invoke permission and no baseline says which to restore; "
                    f"{REDEPLOY}"
                )
        else:
            missing = [s for sid, s in _statements(baseline.get("Policy")).items() if sid not in live]
            for statement in missing:
                outcome.call("lambda", region, "AddPermission", **permission_params(name, statement))
            if missing:
                done.append(
                    f"added back {len(missing)} invoke permission(s) of function {name} "
                    f"({', '.join(str(s['Sid']) for s in missing)})"
                )
                wanted_sids = set(_statements(baseline.get("Policy")))
                if not verify_until(ctx, lambda: wanted_sids <= set(live_statements())):
                    off.append(f"GetPolicy on function {name} still lacks a baseline permission")
    except Exception as exc:
        error = outcome.last_error(exc)
        outcome.errors.append(error)
        off.append(f"a call on function {name} failed: {error}")
    what = "GetFunctionConcurrency and GetPolicy match the baseline"
    if baseline is None:
        what += f" as far as can be told without one ({NO_BASELINE})"
    return _finish(outcome, f"function {name}", done, off, what)


# -- topic --------------------------------------------------------------------------------------------


def _attribute(name: str, value: Any) -> Any:
    return _squash(_json(value)) if name in ("Policy", "DeliveryPolicy", "TracingConfig") else (value or "")


@action("guard.restore_topic")
def restore_topic(ctx: Context, verdict: Verdict) -> Outcome:
    """``guard.topic``: a deleted topic is created again with the same name (so the same ARN), its
    baseline attributes and subscriptions; a changed attribute or a removed subscription is put back.
    Email subscriptions must be confirmed again by their owner, and the summary says so."""
    ref = target(verdict, "topicArn", "TopicArn", "subscriptionArn", "SubscriptionArn")
    outcome = Outcome("guard.restore_topic", ref)
    if not ref:
        outcome.summary = "could not tell which SNS topic was changed, so nothing was restored"
        outcome.errors.append("the event does not name the topic")
        return outcome
    arn = ref if ref.count(":") == 5 else ref.rsplit(":", 1)[0]  # a subscription ARN names its topic
    outcome.resource = arn
    region = aws.region_of_arn(arn) or ctx.region
    baseline = read_baseline(ctx, outcome, "topic", arn)
    done: list[str] = []
    off: list[str] = []
    notes: list[str] = []
    try:

        def attributes() -> dict[str, Any] | None:
            try:
                answer = outcome.call("sns", region, "GetTopicAttributes", TopicArn=arn)
            except Exception as exc:
                if error_code(exc) not in _GONE:
                    raise
                outcome.calls[-1].error, outcome.calls[-1].result = None, "topic does not exist"
                return None
            return dict(answer.get("Attributes") or {})

        live = attributes()
        if live is None:
            created = outcome.call("sns", region, "CreateTopic", Name=last_segment(arn))["TopicArn"]
            if created != arn:
                off.append(f"CreateTopic returned {created}, not {arn}")
            done.append(f"re-created topic {last_segment(arn)} (same ARN)")
            live = attributes() or {}
        recorded = dict((baseline or {}).get("Attributes") or {})
        wrong = [
            a
            for a in TOPIC_ATTRIBUTES
            if a in recorded and _attribute(a, recorded[a]) != _attribute(a, live.get(a))
        ]
        for name in wrong:
            outcome.call(
                "sns",
                region,
                "SetTopicAttributes",
                TopicArn=arn,
                AttributeName=name,
                AttributeValue=recorded[name],
            )
        if wrong:
            done.append(f"restored the {', '.join(wrong)} of topic {last_segment(arn)}")

        def subscriptions() -> set[tuple[str, str]]:
            answer = outcome.call("sns", region, "ListSubscriptionsByTopic", TopicArn=arn)
            subs = {
                (str(s.get("Protocol")), str(s.get("Endpoint")))
                for s in answer.get("Subscriptions") or []
                if s.get("SubscriptionArn") != "Deleted"
            }
            outcome.calls[-1].result = f"{len(subs)} subscription(s)"
            return subs

        wanted = {
            (str(s.get("Protocol")), str(s.get("Endpoint")))
            for s in (baseline or {}).get("Subscriptions") or []
            if isinstance(s, Mapping) and s.get("Protocol") and s.get("Endpoint")
        }
        have = subscriptions()
        missing = sorted(wanted - have)
        for protocol, endpoint in missing:
            outcome.call("sns", region, "Subscribe", TopicArn=arn, Protocol=protocol, Endpoint=endpoint)
        if missing:
            done.append(f"subscribed {', '.join(e for _, e in missing)} to topic {last_segment(arn)} again")
            if any(p in ("email", "email-json") for p, _ in missing):
                notes.append(
                    "email subscriptions must be confirmed again: the recipient has to click the link "
                    "AWS sends; until then alerts do not reach that address"
                )
        if baseline is None:
            if not have and not missing:
                off.append(f"topic {last_segment(arn)} has no subscriber and no baseline says whom to add")
        else:
            after = attributes() or {}
            if any(_attribute(a, recorded[a]) != _attribute(a, after.get(a)) for a in wrong):
                off.append(f"GetTopicAttributes on topic {last_segment(arn)} still differs from the baseline")
            if missing and not wanted <= subscriptions():
                off.append(f"ListSubscriptionsByTopic on topic {last_segment(arn)} still lacks a subscriber")
    except Exception as exc:
        error = outcome.last_error(exc)
        outcome.errors.append(error)
        off.append(
            f"a call on topic {last_segment(arn)} failed: {error}; alerts may not be delivered, so this "
            "incident is recorded in Security Hub (when enabled) and in the function's logs"
        )
    what = "GetTopicAttributes and ListSubscriptionsByTopic match the baseline"
    if baseline is None:
        what = f"the topic exists ({NO_BASELINE} to restore its attributes and subscribers)"
    result = _finish(outcome, f"topic {last_segment(arn)}", done, off, what)
    if notes:
        result.summary += "; " + "; ".join(notes)
    return result
