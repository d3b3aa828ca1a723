"""trailguard's own Lambda functions: lift a throttle, put invoke permissions back, escalate the rest.

A deleted function or replaced code needs the package, which only ``trailguard deploy`` has: that is
escalated, and the other function, still running, sends the alert.
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
from trailguard.resources.function import KIND
from trailguard.resources.function import name_of as function_name

# Lambda configuration a repair compares with the baseline.
FIELDS = ("CodeSha256", "Handler", "Runtime", "Role", "Timeout", "MemorySize", "Environment")
RESTORABLE = ("Handler", "Runtime", "Timeout", "MemorySize", "Environment")
"""Put back with UpdateFunctionConfiguration. Not ``Role`` (passing a role to Lambda needs iam:PassRole
for lambda.amazonaws.com, which the role's statement does not grant: the guard role is only passed to
CloudTrail) nor the code (the function cannot read the deployed artifact's location from anything an
intruder cannot edit): both are escalated for a redeploy."""


def _statements(policy: Any) -> dict[str, Mapping[str, Any]]:
    doc = policy_json(policy)
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


def _variables(config: Mapping[str, Any]) -> dict[str, str]:
    env = config.get("Environment")
    found = env.get("Variables") if isinstance(env, Mapping) else None
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, Mapping) else {}


def _changes(live: Mapping[str, Any], baseline: Mapping[str, Any], fields: list[str]) -> str:
    """What the message says changed, before -> after (variables by name: values may be long)."""
    parts = []
    for field in fields:
        if field == "Environment":
            have, want = _variables(live), _variables(baseline)
            names = sorted(k for k in {*have, *want} if have.get(k) != want.get(k))
            parts.append(
                "environment ("
                + ", ".join(f"{k} {have.get(k, 'unset')!r} -> {want.get(k, 'unset')!r}" for k in names)
                + ")"
            )
        else:
            parts.append(f"{field} {live.get(field)} -> {baseline.get(field)}")
    return ", ".join(parts)


def _restore_configuration(
    outcome: Outcome,
    region: str,
    name: str,
    *,
    live: Mapping[str, Any],
    baseline: Mapping[str, Any],
    fields: list[str],
) -> None:
    """UpdateFunctionConfiguration with the baseline's values of ``fields``, behind the floor."""
    params: dict[str, Any] = {"FunctionName": name}
    for field in fields:
        if field == "Environment":
            wanted = _variables(baseline)
            running = {k: v for k, v in aws.environ().items() if k.startswith("TRAILGUARD_")}
            floors.check_function_environment(name, wanted, _variables(live), running)
            params["Environment"] = {"Variables": wanted}
        else:
            params[field] = baseline[field]
    outcome.call("lambda", region, "UpdateFunctionConfiguration", **params)


@action(
    "guard.restore_function",
    permissions=(
        "lambda:DeleteFunctionConcurrency",
        "lambda:PutFunctionConcurrency",
        "lambda:GetFunctionConcurrency",
        "lambda:AddPermission",
        "lambda:GetPolicy",
        "lambda:GetFunction",
        "lambda:UpdateFunctionConfiguration",
    ),
    restores=KIND,
)
def restore_function(ctx: Context, request: RepairRequest) -> Outcome:
    """``guard.function``: zero concurrency is lifted (or the baseline's reserved concurrency put back),
    removed invoke permissions are added again from the baseline policy; a deleted function or changed
    code / configuration is escalated for a redeploy. Verified by GetFunctionConcurrency and GetPolicy."""
    ref = target(request, "functionName", "FunctionName")
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
            config = outcome.call("lambda", region, "GetFunction", gone=KIND, FunctionName=name)[
                "Configuration"
            ]
        except Gone:
            outcome.calls[-1].error, outcome.calls[-1].result = None, "function does not exist"
            off.append(
                f"function {name} was deleted and cannot be restored in place; {REDEPLOY} "
                "(until then the other trailguard function keeps detecting and alerting)"
            )
            return outcome.finish(f"function {name}", done, off, "")
        if baseline is not None:
            changed = [f for f in FIELDS if f in baseline and squash(config.get(f)) != squash(baseline[f])]
            fixed = [f for f in changed if f in RESTORABLE]
            if fixed:
                _restore_configuration(outcome, region, name, live=config, baseline=baseline, fields=fixed)
                done.append(f"restored {_changes(config, baseline, fixed)} of function {name}")

                def matches() -> bool:
                    now = outcome.call("lambda", region, "GetFunction", FunctionName=name)["Configuration"]
                    return all(squash(now.get(f)) == squash(baseline[f]) for f in fixed)

                if not verify_until(ctx, matches):
                    off.append(f"GetFunction on function {name} does not show the baseline configuration")
            stuck = [f for f in changed if f not in RESTORABLE]
            if stuck:
                off.append(
                    f"the {', '.join(stuck)} of function {name} differ from the baseline and cannot be "
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
                policy = outcome.call("lambda", region, "GetPolicy", gone=KIND, FunctionName=name).get(
                    "Policy"
                )
            except Gone:  # GetPolicy's "not found" is about the policy: the function has none
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
                params = permission_params(name, statement)
                floors.check_invoke_permission(ctx.scope, region, params)
                outcome.call("lambda", region, "AddPermission", **params)
            if missing:
                done.append(
                    f"added back {len(missing)} invoke permission(s) of function {name} "
                    f"({', '.join(str(s['Sid']) for s in missing)})"
                )
                wanted_sids = set(_statements(baseline.get("Policy")))
                if not verify_until(ctx, lambda: wanted_sids <= set(live_statements())):
                    off.append(f"GetPolicy on function {name} still lacks a baseline permission")
    except floors.FloorRefused as refused:
        outcome.errors.append(str(refused))
        off.append(refused.describe())
    except Exception as exc:
        error = outcome.last_error(exc)
        outcome.errors.append(error)
        off.append(f"a call on function {name} failed: {error}")
    what = "GetFunctionConcurrency and GetPolicy match the baseline"
    if baseline is None:
        what += f" as far as can be told without one ({NO_BASELINE})"
    return outcome.finish(f"function {name}", done, off, what)
