"""trailguard's own Lambda functions, put back from what trailguard can authenticate (issue 10).

What a repair uses, and only this:

* the function's **signed baseline** (configuration, reserved concurrency, resource policy, asynchronous
  invocation settings), recorded by ``trailguard deploy``;
* the **stack's own code artifact**: the ``CodeS3Bucket`` / ``CodeS3Key`` parameters, read with
  ``DescribeStacks`` on the stack the running function belongs to (CloudFormation authenticates them; the
  role may describe its own stack only, as for the allow-list). The key is content-addressed
  (``lambda-<sha256>.zip``, ``deploy.artifacts.code_key``), so the parameter itself says which code the
  function must end up with: Lambda's ``CodeSha256`` read back is compared with it. An object rewritten
  in the artifact bucket is therefore never reported REPAIRED: its SHA-256 differs.

So a deleted function is recreated (``CreateFunction`` from the baseline and the artifact, then its
reserved concurrency, its invoke permissions and its on-failure destination), new code is replaced
(``UpdateFunctionCode`` from the artifact), and a changed role, environment, handler, runtime, layers,
timeout or memory is restored (``UpdateFunctionConfiguration``). Each is read back with ``GetFunction``.

Floors (:mod:`trailguard.remediate.floors`), whatever the baseline says: only the stack's own function
names, only the stack's own role (``TRAILGUARD_GUARD_ROLE_ARNS`` of the running function) is passed to
Lambda, only trailguard's handlers, no layers, an environment that never widens the allow-list nor
narrows the protected trails nor rewires the function, invoke permissions only for EventBridge from the
stack's rules, failures only to the stack's queue. The code comes from the stack's parameters, never
from a baseline.

Who repairs: the other function. Both rules (api-calls and guard-calls) deliver a ``DeleteFunction`` of
either function to the one that is left. When both are gone nothing of trailguard runs: the dead-man
alarm (``STACK-backstop-missing``, outside the functions) is what alerts.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trailguard import aws
from trailguard.config import Config
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
from trailguard.resources.function import INVOKE_CONFIG_FIELDS, KIND
from trailguard.resources.function import name_of as function_name

# Lambda configuration a repair compares with the baseline.
FIELDS = ("CodeSha256", "Handler", "Runtime", "Role", "Timeout", "MemorySize", "Environment", "Layers")
RESTORABLE = ("Handler", "Runtime", "Role", "Timeout", "MemorySize", "Environment", "Layers")
"""Put back with UpdateFunctionConfiguration (the role behind the floor: the stack's role only). The code
(``CodeSha256``) is put back with UpdateFunctionCode from the stack's artifact."""
DEADMAN = "the dead-man alarm {stack}-backstop-missing"


def _meanwhile(name: str) -> str:
    """What still runs while function ``name`` is gone: the two functions are not alike (only the
    api-call function is sent the calls on the trails; only the finding function gets findings and the
    backstop schedule), so the message must not claim the other one covers for it."""
    if name.endswith("-api-call"):
        return (
            "calls on the protected trails reach no trailguard function: a stopped trail is still caught "
            "by GuardDuty's CloudTrailLoggingDisabled finding and by the backstop sweep, both handled by "
            "the finding function, a redirect only by the sweep"
        )
    if name.endswith("-finding"):
        return (
            "the api-call function still repairs the calls it is sent, but no GuardDuty finding and no "
            "backstop sweep is handled"
        )
    return "the other trailguard function still runs"


_CODE_KEY = re.compile(r"(?:^|/)lambda-([0-9a-f]{64})\.zip$")


@dataclass(frozen=True)
class Artifact:
    """The code the stack deployed: its S3 object and, from the content-addressed key, Lambda's
    ``CodeSha256`` for it (base64 of the SHA-256; None when the key carries no hash)."""

    bucket: str
    key: str
    sha256: str | None

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class NoArtifact(Exception):  # noqa: N818  (what it says)
    """The stack's code artifact could not be read from the stack."""


def sha_of_key(key: str) -> str | None:
    """Lambda's CodeSha256 of the zip a content-addressed key names (``.../lambda-<hex>.zip``)."""
    found = _CODE_KEY.search(key)
    return base64.b64encode(bytes.fromhex(found.group(1))).decode() if found else None


def code_artifact(config: Config, region: str) -> Artifact:
    """``CodeS3Bucket`` / ``CodeS3Key`` of the running function's own stack (DescribeStacks); with
    ``CodeBucketPrefix`` the bucket is ``<prefix>-<region>``, as the template's."""
    if not config.stack_name:
        raise NoArtifact("the function does not know its stack (TRAILGUARD_STACK_NAME is unset)")
    try:
        (stack,) = aws.client("cloudformation", region).describe_stacks(StackName=config.stack_name)["Stacks"]
    except Exception as exc:
        raise NoArtifact(f"DescribeStacks on stack {config.stack_name} failed: {exc}") from exc
    params = {
        str(p.get("ParameterKey")): str(p.get("ParameterValue") or "") for p in stack.get("Parameters") or []
    }
    bucket, key = params.get("CodeS3Bucket", ""), params.get("CodeS3Key", "")
    if params.get("CodeBucketPrefix"):  # a StackSet's stack: the code bucket of its own region
        bucket = f"{params['CodeBucketPrefix']}-{region}"
    if not bucket or not key:
        raise NoArtifact(f"stack {config.stack_name} has no CodeS3Bucket / CodeS3Key parameters")
    return Artifact(bucket, key, sha_of_key(key))


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


def _layers(config: Mapping[str, Any]) -> list[str]:
    found = config.get("Layers")
    listed = found if isinstance(found, list) else []
    return [str(x.get("Arn") if isinstance(x, Mapping) else x) for x in listed]


def _value(config: Mapping[str, Any], field: str) -> Any:
    """A field as compared: variables as a mapping, layers as their ARNs (none recorded: none)."""
    if field == "Environment":
        return _variables(config)
    if field == "Layers":
        return _layers(config)
    return squash(config.get(field))


def _changed(live: Mapping[str, Any], baseline: Mapping[str, Any]) -> list[str]:
    """The configuration fields that differ from the baseline (Layers always: trailguard has none)."""
    return [
        f for f in RESTORABLE if (f in baseline or f == "Layers") and _value(live, f) != _value(baseline, f)
    ]


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
        elif field == "Layers":
            parts.append(f"layers {_layers(live) or 'none'} -> {_layers(baseline) or 'none'}")
        else:
            parts.append(f"{field} {live.get(field)} -> {baseline.get(field)}")
    return ", ".join(parts)


def _running() -> dict[str, str]:
    """The running trailguard function's own settings (the same stack's): what the floors trust."""
    return {k: v for k, v in aws.environ().items() if k.startswith("TRAILGUARD_")}


def _check_configuration(
    ctx: Context,
    operation: str,
    *,
    name: str,
    baseline: Mapping[str, Any],
    live: Mapping[str, Any],
    fields: list[str],
) -> None:
    """The floors before a configuration from the baseline is applied (``live``: what is there now)."""
    floors.check_function_name(operation, name, ctx.scope)
    if "Role" in fields:
        floors.check_function_role(
            operation, name, str(baseline.get("Role") or ""), ctx.config.guard_role_arns
        )
    if "Handler" in fields:
        floors.check_function_handler(operation, name, baseline.get("Handler"))
    if "Layers" in fields and _layers(baseline):
        raise floors.FloorRefused(operation, f"function {name}", "trailguard's functions run with no layer")
    if "Environment" in fields:
        floors.check_function_environment(name, _variables(baseline), _variables(live), _running())


def _restore_configuration(
    ctx: Context,
    outcome: Outcome,
    region: str,
    name: str,
    *,
    live: Mapping[str, Any],
    baseline: Mapping[str, Any],
    fields: list[str],
) -> None:
    """UpdateFunctionConfiguration with the baseline's values of ``fields``, behind the floors."""
    _check_configuration(
        ctx, "UpdateFunctionConfiguration", name=name, baseline=baseline, live=live, fields=fields
    )
    params: dict[str, Any] = {"FunctionName": name}
    for field in fields:
        if field == "Environment":
            params["Environment"] = {"Variables": _variables(baseline)}
        elif field == "Layers":
            params["Layers"] = []
        else:
            params[field] = baseline[field]
    outcome.call("lambda", region, "UpdateFunctionConfiguration", **params)


def _create(
    ctx: Context, outcome: Outcome, region: str, name: str, *, baseline: Mapping[str, Any], artifact: Artifact
) -> None:
    """CreateFunction from the baseline's configuration and the stack's artifact, behind the floors
    (the environment is judged against the running function's, the deleted one having none)."""
    running = {"Environment": {"Variables": _running()}}
    fields = ["Role", "Handler", "Layers", "Environment"]
    _check_configuration(ctx, "CreateFunction", name=name, baseline=baseline, live=running, fields=fields)
    params: dict[str, Any] = {
        "FunctionName": name,
        "Role": str(baseline["Role"]),
        "Handler": str(baseline["Handler"]),
        "Code": {"S3Bucket": artifact.bucket, "S3Key": artifact.key},
        "Environment": {"Variables": _variables(baseline)},
        "Publish": False,
    }
    for field in ("Runtime", "Timeout", "MemorySize", "Architectures"):
        if baseline.get(field) is not None:
            params[field] = baseline[field]
    outcome.call("lambda", region, "CreateFunction", **params)


def _settled(ctx: Context, outcome: Outcome, region: str, name: str) -> dict[str, Any]:
    """GetFunction until the function is Active and no update is in progress (Lambda refuses the next
    change meanwhile); its configuration."""
    seen: dict[str, Any] = {}

    def ready() -> bool:
        seen.update(outcome.call("lambda", region, "GetFunction", FunctionName=name)["Configuration"])
        state, update = str(seen.get("State", "Active")), str(seen.get("LastUpdateStatus", "Successful"))
        return state == "Active" and update != "InProgress"

    verify_until(ctx, ready)
    return seen


def _invoke_config(outcome: Outcome, region: str, name: str) -> dict[str, Any] | None:
    try:
        found = outcome.call("lambda", region, "GetFunctionEventInvokeConfig", gone=KIND, FunctionName=name)
    except Gone:
        outcome.calls[-1].error, outcome.calls[-1].result = None, "no asynchronous invocation settings"
        return None
    return {k: found[k] for k in INVOKE_CONFIG_FIELDS if k in found}


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
        "lambda:UpdateFunctionCode",
        "lambda:CreateFunction",
        "lambda:GetFunctionEventInvokeConfig",
        "lambda:PutFunctionEventInvokeConfig",
        "iam:PassRole",  # CreateFunction / UpdateFunctionConfiguration pass the stack's role to Lambda
        "s3:GetObject",  # CreateFunction / UpdateFunctionCode read the stack's code object
    ),
    restores=KIND,
)
def restore_function(ctx: Context, request: RepairRequest) -> Outcome:
    """``guard.function``: a deleted function is recreated from its baseline and the stack's code
    artifact (then its concurrency, invoke permissions and on-failure destination); new code is replaced
    from the artifact; a changed configuration is put back; zero concurrency is lifted; removed invoke
    permissions are added again. Verified by GetFunction (code SHA-256 equal to the artifact's,
    configuration equal to the baseline), GetFunctionConcurrency, GetPolicy and
    GetFunctionEventInvokeConfig."""
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
    stack = ctx.config.stack_name or "STACK"
    done: list[str] = []
    off: list[str] = []
    checked: list[str] = []
    read_back = ""

    unreadable: list[str] = []

    def artifact_or_none() -> Artifact | None:
        """The stack's artifact; None (the reason kept, made an error only where it matters) if unreadable."""
        try:
            return code_artifact(ctx.config, region)
        except NoArtifact as exc:
            unreadable.append(str(exc))
            return None

    try:
        try:
            config = outcome.call("lambda", region, "GetFunction", gone=KIND, FunctionName=name)[
                "Configuration"
            ]
        except Gone:
            outcome.calls[-1].error, outcome.calls[-1].result = None, "function does not exist"
            others = [f for f in ctx.scope.function_names if f != name]
            backstop = (
                f"if {' and '.join(others) or 'the other function'} is deleted too, nothing of trailguard "
                f"runs and {DEADMAN.format(stack=stack)} is what alerts"
            )
            artifact = artifact_or_none() if baseline is not None else None
            if baseline is None or artifact is None:
                why = (
                    f"no baseline records its configuration ({NO_BASELINE})"
                    if baseline is None
                    else f"the stack's code artifact could not be read ({unreadable[-1]})"
                )
                off.append(
                    f"function {name} was deleted and cannot be recreated: {why}; {REDEPLOY} (until then "
                    f"{_meanwhile(name)}; {backstop})"
                )
                return outcome.finish(f"function {name}", done, off, "")
            try:
                _create(ctx, outcome, region, name, baseline=baseline, artifact=artifact)
            except floors.FloorRefused:
                raise
            except Exception as exc:
                error = outcome.last_error(exc)
                outcome.errors.append(error)
                off.append(
                    f"function {name} was deleted and recreating it from the stack's code artifact "
                    f"{artifact.location} failed: {error}; {REDEPLOY} ({backstop})"
                )
                return outcome.finish(f"function {name}", done, off, "")
            done.append(
                f"function {name} was deleted: the other trailguard function recreated it from its recorded "
                f"configuration (role {baseline.get('Role')}, handler {baseline.get('Handler')}) and the "
                f"stack's code artifact {artifact.location} ({backstop})"
            )
            config = _settled(ctx, outcome, region, name)
            code_wanted: str | None = artifact.sha256 or str(baseline.get("CodeSha256") or "") or None
            config_wanted = [f for f in RESTORABLE if f in baseline or f == "Layers"]
        else:
            code_wanted, config_wanted = None, []
            if baseline is not None:
                artifact = artifact_or_none()
                expected = (artifact.sha256 if artifact else None) or baseline.get("CodeSha256")
                if expected and config.get("CodeSha256") != expected:
                    if artifact is None:
                        off.append(
                            f"the code of function {name} (CodeSha256 {config.get('CodeSha256')}) is not the "
                            f"recorded {expected} and the stack's code artifact could not be read "
                            f"({unreadable[-1]}); {REDEPLOY}"
                        )
                    else:
                        floors.check_function_name("UpdateFunctionCode", name, ctx.scope)
                        code: dict[str, Any] = {"S3Bucket": artifact.bucket, "S3Key": artifact.key}
                        if baseline.get("Architectures"):
                            code["Architectures"] = baseline["Architectures"]
                        outcome.call("lambda", region, "UpdateFunctionCode", FunctionName=name, **code)
                        done.append(
                            f"replaced the code of function {name} (CodeSha256 {config.get('CodeSha256')} -> "
                            f"{expected}) with the stack's code artifact {artifact.location}"
                        )
                        code_wanted = str(expected)
                        config = _settled(ctx, outcome, region, name)
                fixed = _changed(config, baseline)
                if fixed:
                    _restore_configuration(
                        ctx, outcome, region, name, live=config, baseline=baseline, fields=fixed
                    )
                    done.append(f"restored {_changes(config, baseline, fixed)} of function {name}")
                    config_wanted = fixed
        if code_wanted or config_wanted:
            assert baseline is not None
            final = dict(baseline)

            def matches() -> bool:
                now = outcome.call("lambda", region, "GetFunction", FunctionName=name)["Configuration"]
                return (not code_wanted or now.get("CodeSha256") == code_wanted) and all(
                    _value(now, f) == _value(final, f) for f in config_wanted
                )

            if verify_until(ctx, matches):
                shown = " and ".join(
                    ([f"the artifact's code (CodeSha256 {code_wanted})"] if code_wanted else [])
                    + ([f"the baseline's {', '.join(config_wanted)}"] if config_wanted else [])
                )
                read_back = f"GetFunction shows {shown}"
            else:
                off.append(
                    f"GetFunction on function {name} does not show "
                    + ("the artifact's code and " if code_wanted else "")
                    + f"the baseline configuration; {REDEPLOY}"
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
        checked.append("GetFunctionConcurrency")

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
        checked.append("GetPolicy")

        recorded = baseline.get("EventInvokeConfig") if baseline is not None else None
        if isinstance(recorded, Mapping):
            have = _invoke_config(outcome, region, name)
            if squash(have) != squash(recorded):
                destination = recorded.get("DestinationConfig")
                floors.check_invoke_config(
                    name, ctx.scope, destination if isinstance(destination, Mapping) else None
                )
                params = {k: recorded[k] for k in INVOKE_CONFIG_FIELDS if k in recorded}
                outcome.call("lambda", region, "PutFunctionEventInvokeConfig", FunctionName=name, **params)
                target_arn = ((destination or {}).get("OnFailure") or {}).get("Destination")
                done.append(
                    f"restored the on-failure destination of function {name} "
                    f"({_destination(have) or 'none'} -> {target_arn})"
                )
                if not verify_until(
                    ctx, lambda: squash(_invoke_config(outcome, region, name)) == squash(recorded)
                ):
                    off.append(f"GetFunctionEventInvokeConfig on function {name} does not show the baseline")
            checked.append("GetFunctionEventInvokeConfig")
    except floors.FloorRefused as refused:
        outcome.errors.append(str(refused))
        off.append(refused.describe())
    except Exception as exc:
        error = outcome.last_error(exc)
        outcome.errors.append(error)
        off.append(f"a call on function {name} failed: {error}")
    what = (
        f"{', '.join(checked[:-1])} and {checked[-1]} match the baseline"
        if len(checked) > 1
        else (f"{checked[0]} matches the baseline" if checked else "the function matches the baseline")
    )
    if read_back:
        what = f"{read_back}; {what}"
    if baseline is None:
        what += f" as far as can be told without one ({NO_BASELINE})"
    return outcome.finish(f"function {name}", done, off, what)


def _destination(config: Mapping[str, Any] | None) -> str | None:
    found = ((config or {}).get("DestinationConfig") or {}).get("OnFailure") or {}
    value = found.get("Destination") if isinstance(found, Mapping) else None
    return str(value) if value else None
