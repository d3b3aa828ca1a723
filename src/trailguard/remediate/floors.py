"""Safety floors: what no repair may do, whatever a baseline says (a forged state item included).

A repair puts a resource back to its baseline, and the baseline lives in a DynamoDB table that an
intruder with broad rights may write. So each call that changes a protected resource is checked here,
in code, right before it is made; a check that fails raises :class:`FloorRefused`, the call is not made,
and the repair ends failed, so the message escalates it ([ACTION REQUIRED]) naming the floor and the
item. No baseline, signed or not, can lower these:

Trails (``cloudtrail:CreateTrail``, ``UpdateTrail``, ``PutEventSelectors``)
  * never weaker than found: a repair never removes the KMS key, log file validation, CloudWatch Logs,
    multi-region, global service events or organization coverage the live trail has, and never puts
    event selectors that log fewer management events (read or write) than the live ones;
  * where logs go: a repair sets a bucket, key prefix, KMS key, CloudWatch Logs group or role, or SNS
    topic other than the live one only from a baseline recorded at deploy (or by ``trailguard baseline
    record``, or by the sweep for a resource it first saw) or by an allow-listed change (its
    ``_meta.source``), and never to a key, log group, role or topic of another account.
Lambda (``lambda:AddPermission``)
  * only ``lambda:InvokeFunction`` for ``events.amazonaws.com``, with a source ARN that is one of the
    stack's own rules, on one of the stack's own functions.
Lambda (``CreateFunction``, ``UpdateFunctionConfiguration``, ``PutFunctionEventInvokeConfig``)
  * only the stack's function names, the running function's own role, trailguard's two handlers, no
    layer; failures only to the stack's queue (the code itself comes from the stack's parameters).
EventBridge (``events:PutTargets``, ``events:PutRule``)
  * targets only the stack's own functions (and its queue), no role on a target, dead-letter queues only
    the stack's own; ``PutRule`` only on the stack's own rules and never with a role.

What the floors cannot judge: a baseline whose provenance is genuine but whose values were rewritten
consistently (every item the intruder could reach). That is what the state table's MAC is for: an item
that fails verification is never handed to a repair. The floors are the second line: even a state that
verifies cannot make trailguard weaken a trail or open its own functions and rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trailguard.config import switched_on
from trailguard.resources.key import parse_ref as key_ref
from trailguard.resources.trail import management_coverage

TRUSTED_SOURCES = frozenset({"deploy", "cli", "capture", "backstop", "allowed-change", "created"})
"""``_meta.source`` of a baseline a destination may be restored from: recorded at deploy (``deploy``),
by ``trailguard baseline record`` (``cli``) or its library call (``capture``), by the sweep for a
resource it first saw (``backstop``), or by an allow-listed change (``allowed-change``, recorded only
once CloudTrail's history confirms the change), or from a new trail's create event (``created``, recorded
only once CloudTrail's history confirms the CreateTrail and the live trail still delivers where it asked).
Not ``first-seen``: the sweep's discovery of a trail it has no create event for is unconfirmed."""

PARTITIONS = frozenset({"aws", "aws-cn", "aws-us-gov"})


class FloorRefused(Exception):  # noqa: N818  (what it says: the floor refused the call)
    """A call a repair was about to make would break a safety floor; it was not made."""

    def __init__(self, operation: str, resource: str, reason: str) -> None:
        super().__init__(f"refused {operation} on {resource}: {reason}")
        self.operation = operation
        self.resource = resource
        self.reason = reason

    def describe(self) -> str:
        return (
            f"trailguard refused {self.operation} on {self.resource} (safety floor): {self.reason}. "
            "The recorded baseline asks for it, so the baseline may have been tampered with: check "
            "trailguard's state table and the resource by hand"
        )


@dataclass(frozen=True)
class Scope:
    """What belongs to the stack: its account, its rules, its functions and its queues."""

    account: str | None
    rule_names: tuple[str, ...] = ()
    function_names: tuple[str, ...] = ()
    queue_arns: tuple[str, ...] = ()


# -- ARN helpers ---------------------------------------------------------------------------------------


def _arn_parts(arn: str) -> list[str] | None:
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[1] not in PARTITIONS:
        return None
    return parts


def arn_account(arn: str) -> str | None:
    parts = _arn_parts(arn)
    return parts[4] or None if parts else None


def _in_account(value: str, account: str | None) -> bool:
    """An ARN in ``account``; a plain name or id (resolved by the API in the caller's account) passes."""
    if not value.startswith("arn:"):
        return True
    found = arn_account(value)
    return account is not None and found == account


# -- trails --------------------------------------------------------------------------------------------

DESTINATIONS = (  # where a trail's logs go: DescribeTrails' string properties
    "S3BucketName",
    "S3KeyPrefix",
    "SnsTopicName",
    "KmsKeyId",
    "CloudWatchLogsLogGroupArn",
    "CloudWatchLogsRoleArn",
)
# UpdateTrail parameter names that differ from DescribeTrails'
_PARAM_FIELD = {"EnableLogFileValidation": "LogFileValidationEnabled"}
# switches the live trail may have on that no repair turns off: DescribeTrails' boolean properties
SWITCHES = (
    "LogFileValidationEnabled",
    "IsMultiRegionTrail",
    "IncludeGlobalServiceEvents",
    "IsOrganizationTrail",
)


def normalise(field: str, value: Any) -> str:
    """A trail destination as compared: a KMS key by key id, a prefix without slashes, a topic by name."""
    text = value.strip() if isinstance(value, str) else ""
    if field == "KmsKeyId" and text:
        return key_ref(text)[1]
    if field == "S3KeyPrefix":
        return text.strip("/")
    if field == "SnsTopicName":
        return text.rsplit(":", 1)[-1]
    return text


def provenance(baseline: Mapping[str, Any]) -> str | None:
    meta = baseline.get("_meta")
    source = meta.get("source") if isinstance(meta, Mapping) else None
    return str(source) if isinstance(source, str) else None


def check_trail_properties(
    operation: str,
    resource: str,
    params: Mapping[str, Any],
    live: Mapping[str, Any] | None,
    baseline: Mapping[str, Any],
    *,
    account: str | None,
) -> None:
    """The floor before ``CreateTrail`` (``live`` None) or ``UpdateTrail`` with ``params``."""
    fields = {_PARAM_FIELD.get(k, k): v for k, v in params.items()}
    if live is not None:
        if live.get("KmsKeyId") and "KmsKeyId" in fields and not normalise("KmsKeyId", fields["KmsKeyId"]):
            raise FloorRefused(operation, resource, "it would remove the trail's KMS key")
        for logs in ("CloudWatchLogsLogGroupArn", "CloudWatchLogsRoleArn"):
            if live.get(logs) and logs in fields and not normalise(logs, fields[logs]):
                raise FloorRefused(
                    operation, resource, "it would remove the trail's CloudWatch Logs delivery"
                )
        for switch in SWITCHES:
            if live.get(switch) is True and switch in fields and fields[switch] is not True:
                raise FloorRefused(operation, resource, f"it would turn {switch} off")
    before = live or {}
    changed = [
        f for f in DESTINATIONS if f in fields and normalise(f, fields[f]) != normalise(f, before.get(f))
    ]
    if not changed:
        return
    source = provenance(baseline)
    if source not in TRUSTED_SOURCES:
        raise FloorRefused(
            operation,
            resource,
            f"it would change {', '.join(changed)} from a baseline whose origin is "
            f"{source or 'not recorded'}, not a deploy, a recording or a confirmed allow-listed change",
        )
    for field in changed:
        value = str(fields[field] or "")
        if field != "S3BucketName" and not _in_account(value, account):
            raise FloorRefused(
                operation, resource, f"it would point {field} at {value}, outside account {account}"
            )


def check_selectors(resource: str, params: Mapping[str, Any], live: Mapping[str, Any]) -> None:
    """The floor before ``PutEventSelectors``: never fewer management events than the live selectors."""
    new = management_coverage(params) or (False, False)
    listed = [live.get(k) for k in ("AdvancedEventSelectors", "EventSelectors")]
    have = management_coverage(live) if any(listed) else None
    have = (True, True) if have is None else have  # no selectors: CloudTrail logs all management events
    lost = [
        what for what, before, after in zip(("read", "write"), have, new, strict=True) if before and not after
    ]
    if lost:
        raise FloorRefused(
            "PutEventSelectors",
            resource,
            f"the selectors would stop logging {' and '.join(lost)} management events the trail logs now",
        )


# -- Lambda permissions ----------------------------------------------------------------------------------


def rule_arns(scope: Scope, region: str, partition: str = "aws") -> frozenset[str]:
    return frozenset(
        f"arn:{partition}:events:{region}:{scope.account}:rule/{name}" for name in scope.rule_names
    )


def function_arns(scope: Scope, region: str, partition: str = "aws") -> frozenset[str]:
    return frozenset(
        f"arn:{partition}:lambda:{region}:{scope.account}:function:{name}" for name in scope.function_names
    )


def check_invoke_permission(scope: Scope, region: str, params: Mapping[str, Any]) -> None:
    """The floor before ``AddPermission``: EventBridge may invoke a stack function for a stack rule."""
    function = str(params.get("FunctionName") or "")
    resource = f"function {function}"
    if scope.account is None:
        raise FloorRefused("AddPermission", resource, "the stack's account is not known")
    if function not in scope.function_names:
        raise FloorRefused("AddPermission", resource, "it is not one of the stack's functions")
    if params.get("Principal") != "events.amazonaws.com":
        raise FloorRefused(
            "AddPermission", resource, f"principal {params.get('Principal')} is not events.amazonaws.com"
        )
    if params.get("Action") != "lambda:InvokeFunction":
        raise FloorRefused(
            "AddPermission", resource, f"action {params.get('Action')} is not lambda:InvokeFunction"
        )
    source = str(params.get("SourceArn") or "")
    partition = (_arn_parts(source) or ["", "aws"])[1]
    if source not in rule_arns(scope, region, partition):
        raise FloorRefused(
            "AddPermission", resource, f"source {source or '(any)'} is not one of the stack's rules"
        )
    account = params.get("SourceAccount")
    if account is not None and account != scope.account:
        raise FloorRefused("AddPermission", resource, f"source account {account} is not the stack's")
    for other in ("PrincipalOrgID", "EventSourceToken", "FunctionUrlAuthType"):
        if other in params:
            raise FloorRefused("AddPermission", resource, f"it carries {other}")


# -- Lambda configuration ------------------------------------------------------------------------------

# the function environment that says what trailguard trusts and protects (config.py)
ALLOW_LIST = "TRAILGUARD_ALLOWED_PRINCIPAL_ARNS"
PROTECTED = "TRAILGUARD_PROTECTED_TRAILS"
SECURITY_HUB = "TRAILGUARD_SECURITY_HUB"
_WIRING = (
    "TRAILGUARD_TOPIC_ARN",
    "TRAILGUARD_STATE_TABLE",
    "TRAILGUARD_GUARD_ROLE_ARNS",
    "TRAILGUARD_RULE_NAMES",
    "TRAILGUARD_FUNCTION_NAMES",
    "TRAILGUARD_QUEUE_URLS",
)


def _listed(value: Any) -> set[str]:
    return {v.strip() for v in str(value or "").split(",") if v.strip()}


def check_function_environment(
    function: str, wanted: Mapping[str, Any], live: Mapping[str, Any], running: Mapping[str, str]
) -> None:
    """The floor before ``UpdateFunctionConfiguration`` restores an environment: it never widens the
    allow-list, never narrows the protected trails, never turns Security Hub reporting off, and wires
    the function only to what the running trailguard function is wired to (``running``: its own
    settings, the same stack's)."""
    resource = f"function {function}"
    operation = "UpdateFunctionConfiguration"
    # what the running function (the same stack's) has is never a widening: an attacker who blanked or
    # replaced a variable of the other function does not block putting the stack's value back
    added = _listed(wanted.get(ALLOW_LIST)) - _listed(live.get(ALLOW_LIST)) - _listed(running.get(ALLOW_LIST))
    if added:
        raise FloorRefused(operation, resource, f"it would allow-list {', '.join(sorted(added))}")
    want, have = _listed(wanted.get(PROTECTED)), _listed(live.get(PROTECTED))
    ours = _listed(running.get(PROTECTED))
    if want and (not have or not want >= have) and not (ours and want >= ours):
        raise FloorRefused(operation, resource, "it would protect fewer trails than the function does now")
    if switched_on(live.get(SECURITY_HUB)) and not switched_on(wanted.get(SECURITY_HUB)):
        raise FloorRefused(operation, resource, "it would turn Security Hub reporting off")
    for name in _WIRING:
        value = wanted.get(name)
        if value is not None and value != live.get(name) and value != running.get(name):
            raise FloorRefused(operation, resource, f"it would set {name} to {value}, not the stack's")


HANDLERS = frozenset({"trailguard.handlers.api_call", "trailguard.handlers.finding"})
"""The only handlers trailguard's functions run (the template's)."""


def check_function_name(operation: str, function: str, scope: Scope) -> None:
    """Only the stack's own functions are created, given code or reconfigured."""
    if function not in scope.function_names:
        raise FloorRefused(operation, f"function {function}", "it is not one of the stack's functions")


def check_function_role(operation: str, function: str, role: str, guard_roles: Sequence[str]) -> None:
    """The floor before a role is passed to Lambda (``CreateFunction``, ``UpdateFunctionConfiguration``):
    only the stack's own role, as the running function knows it (``TRAILGUARD_GUARD_ROLE_ARNS``)."""
    if not guard_roles or role not in guard_roles:
        raise FloorRefused(
            operation, f"function {function}", f"role {role or '(none)'} is not the stack's role"
        )


def check_function_handler(operation: str, function: str, handler: Any) -> None:
    """A function is given back only one of trailguard's own handlers."""
    if handler not in HANDLERS:
        raise FloorRefused(operation, f"function {function}", f"handler {handler} is not one of trailguard's")


def check_invoke_config(function: str, scope: Scope, destination: Mapping[str, Any] | None) -> None:
    """The floor before ``PutFunctionEventInvokeConfig``: failures go to the stack's own queue only."""
    found = destination.get("OnFailure") if isinstance(destination, Mapping) else None
    arn = str(found.get("Destination") or "") if isinstance(found, Mapping) else ""
    success = destination.get("OnSuccess") if isinstance(destination, Mapping) else None
    if arn not in scope.queue_arns:
        raise FloorRefused(
            "PutFunctionEventInvokeConfig",
            f"function {function}",
            f"destination {arn or '(none)'} is not the stack's queue",
        )
    if isinstance(success, Mapping) and success.get("Destination"):
        raise FloorRefused(
            "PutFunctionEventInvokeConfig",
            f"function {function}",
            "trailguard's functions send no success record",
        )


# -- EventBridge rules -------------------------------------------------------------------------------


def check_rule(scope: Scope, rule: str, params: Mapping[str, Any]) -> None:
    """The floor before ``PutRule``: the stack's own rule, with no role."""
    if rule not in scope.rule_names:
        raise FloorRefused("PutRule", f"rule {rule}", "it is not one of the stack's rules")
    if params.get("RoleArn"):
        raise FloorRefused("PutRule", f"rule {rule}", "trailguard's rules carry no role")
    if params.get("EventBusName") not in (None, "default"):
        raise FloorRefused("PutRule", f"rule {rule}", "trailguard's rules are on the default bus")


def check_targets(scope: Scope, region: str, rule: str, targets: Sequence[Mapping[str, Any]]) -> None:
    """The floor before ``PutTargets``: the stack's own functions or queue, nothing else."""
    resource = f"rule {rule}"
    if rule not in scope.rule_names:
        raise FloorRefused("PutTargets", resource, "it is not one of the stack's rules")
    if scope.account is None:
        raise FloorRefused("PutTargets", resource, "the stack's account is not known")
    for entry in targets:
        arn = str(entry.get("Arn") or "")
        partition = (_arn_parts(arn) or ["", "aws"])[1]
        allowed = function_arns(scope, region, partition) | set(scope.queue_arns)
        if arn not in allowed:
            raise FloorRefused("PutTargets", resource, f"target {arn or '(none)'} is not the stack's")
        if entry.get("RoleArn"):
            raise FloorRefused("PutTargets", resource, f"target {entry.get('Id')} carries a role")
        dead = entry.get("DeadLetterConfig")
        dead_arn = dead.get("Arn") if isinstance(dead, Mapping) else None
        if dead_arn and dead_arn not in scope.queue_arns:
            raise FloorRefused(
                "PutTargets",
                resource,
                f"dead-letter queue {dead_arn} of target {entry.get('Id')} is not the stack's",
            )


def check_subscription(
    topic: str, protocol: str, endpoint: str, deployed: frozenset[tuple[str, str]] | None
) -> None:
    """The floor before ``Subscribe``: only an endpoint the stack subscribes itself (``deployed``: its
    ``SecurityContactEmail``, read from the stack; None when it could not be read), whatever the
    baseline lists: a re-signed baseline must not add a reader of every alert."""
    if deployed is None:
        raise FloorRefused(
            "Subscribe", topic, f"{endpoint}: the endpoints the stack was deployed with could not be read"
        )
    wanted = (protocol, endpoint.strip().lower() if protocol.startswith("email") else endpoint)
    if wanted not in deployed:
        raise FloorRefused(
            "Subscribe", topic, f"{endpoint} ({protocol}) is not an endpoint the stack was deployed with"
        )
