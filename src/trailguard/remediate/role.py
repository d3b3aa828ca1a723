"""trailguard's own role, compared with what the template declares for it.

What an attacker added is taken away (an inline policy the template does not declare, any attached
policy, a permissions boundary): those calls only ever reduce what the role can do, so the role may make
them on itself. What was taken away or rewritten (a declared inline policy, the trust policy) would need
``iam:PutRolePolicy`` / ``iam:UpdateAssumeRolePolicy`` on the role itself, which would let anything
running as the role grant itself anything: that is escalated, never granted.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from trailguard.remediate.base import (
    REDEPLOY,
    Context,
    Gone,
    Outcome,
    RepairRequest,
    action,
    policy_json,
    target,
)
from trailguard.resources.guardrole import DECLARED_POLICIES, KIND, TRUSTED_SERVICE, name_of

IAM_REGION = "us-east-1"  # IAM is global; its endpoint lives in us-east-1


def trust_is_declared(document: Any) -> bool:
    """Every Allow statement of the trust policy lets only Lambda assume the role."""
    if isinstance(document, str):
        document = policy_json(unquote(document))
    if not isinstance(document, dict):
        return False
    statements = document.get("Statement")
    statements = statements if isinstance(statements, list) else [statements]
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        if not isinstance(principal, dict) or set(principal) != {"Service"}:
            return False
        services = principal["Service"]
        if (services if isinstance(services, list) else [services]) != [TRUSTED_SERVICE]:
            return False
    return True


@action(
    "guard.restore_role",
    permissions=(
        "iam:GetRole",
        "iam:ListRolePolicies",
        "iam:ListAttachedRolePolicies",
        "iam:DeleteRolePolicy",
        "iam:DetachRolePolicy",
        "iam:DeleteRolePermissionsBoundary",
    ),
    restores=KIND,
    manual_steps=(
        "Compare trailguard's role {resource} with the template (trust policy, inline policies) and "
        "redeploy the stack with trailguard deploy to put back what was removed or rewritten."
    ),
)
def restore_role(ctx: Context, request: RepairRequest) -> Outcome:
    """``guard.role``: removes added inline policies, attached policies and a permissions boundary from
    trailguard's role and reads the role back; a removed or rewritten declared policy, a changed trust
    policy or a deleted role is escalated."""
    ref = target(request, "roleName", "RoleName")
    outcome = Outcome("guard.restore_role", ref)
    if not ref:
        return outcome.fail("could not tell which IAM role was changed, so nothing was restored")
    name = name_of(ref)
    outcome.resource = name
    done: list[str] = []
    off: list[str] = []
    record = request.record
    event = record.event_name if record is not None else None
    rewritten = record.request_parameters.get("policyName") if record is not None else None

    def call(operation: str, **params: Any) -> Any:
        return outcome.call("iam", IAM_REGION, operation, gone=KIND, RoleName=name, **params)

    def extras(judge: bool = True) -> tuple[set[str], list[str], str | None]:
        inline = set(call("ListRolePolicies").get("PolicyNames") or [])
        attached = [p["PolicyArn"] for p in call("ListAttachedRolePolicies").get("AttachedPolicies") or []]
        role = call("GetRole")["Role"]
        boundary = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        if judge and not trust_is_declared(role.get("AssumeRolePolicyDocument")):
            off.append(
                f"the trust policy of role {name} lets more than {TRUSTED_SERVICE} assume it; {REDEPLOY}"
            )
        missing = DECLARED_POLICIES - inline
        if judge and missing:
            off.append(f"inline policies {', '.join(sorted(missing))} of role {name} are gone; {REDEPLOY}")
        return inline - DECLARED_POLICIES, attached, boundary

    try:
        try:
            added, attached, boundary = extras()
        except Gone:
            outcome.calls[-1].error, outcome.calls[-1].result = None, "role does not exist"
            off.append(f"trailguard's role {name} was deleted, so its functions can do nothing; {REDEPLOY}")
            return outcome.finish(f"role {name}", done, off, "")
        if event == "PutRolePolicy" and isinstance(rewritten, str) and rewritten in DECLARED_POLICIES:
            off.append(
                f"the declared inline policy {rewritten} of role {name} was rewritten and cannot be put back "
                f"in place (the role may not grant itself permissions); {REDEPLOY}"
            )
        for policy in sorted(added):
            call("DeleteRolePolicy", PolicyName=policy)
            done.append(f"deleted the inline policy {policy} that was added to role {name}")
        for arn in attached:
            call("DetachRolePolicy", PolicyArn=arn)
            done.append(f"detached {arn} from role {name}")
        if boundary:
            call("DeleteRolePermissionsBoundary")
            done.append(f"removed the permissions boundary {boundary} from role {name}")
        if added or attached or boundary:
            again = extras(judge=False)
            if again[0] or again[1] or again[2]:
                off.append(f"role {name} still carries what was added: {json.dumps(sorted(again[0]))}")
    except Exception as exc:
        error = outcome.last_error(exc)
        outcome.errors.append(error)
        off.append(f"a call on role {name} failed: {error}")
    return outcome.finish(
        f"role {name}",
        done,
        off,
        "ListRolePolicies, ListAttachedRolePolicies and GetRole show only what the template declares",
    )
