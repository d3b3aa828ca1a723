"""trailguard's role repair (``remediate/role.py``) on the real stack on moto: what an attacker added (an
inline policy, an attached policy, a boundary) is taken away; what was taken away or a widened trust is
escalated, since restoring it would need the role to grant itself permissions (issue 9, item 9)."""

from __future__ import annotations

import json

from trailguard.resources.guardrole import DECLARED_POLICIES
from worlds import Deployed

from .guard_support import aws_region, call, check_permissions, incident_of, outcome_of

__all__ = ["aws_region"]

ADMIN = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


def _role(deployed: Deployed) -> str:
    return deployed.outputs["RoleArn"].rsplit("/", 1)[-1]


def test_added_inline_and_attached_policies_and_a_boundary_are_removed(deployed: Deployed) -> None:
    iam, role = deployed.client("iam"), _role(deployed)
    assert set(iam.list_role_policies(RoleName=role)["PolicyNames"]) == DECLARED_POLICIES
    iam.put_role_policy(RoleName=role, PolicyName="backdoor", PolicyDocument=ADMIN)
    deny = iam.create_policy(PolicyName="blind", PolicyDocument=ADMIN.replace("Allow", "Deny"))["Policy"][
        "Arn"
    ]
    iam.attach_role_policy(RoleName=role, PolicyArn=deny)
    iam.put_role_permissions_boundary(RoleName=role, PermissionsBoundary=deny)

    incident = incident_of(
        deployed.call(call("iam", "PutRolePolicy", {"roleName": role, "policyName": "backdoor"}))
    )
    assert incident["technique"] == "guard.role" and incident["status"] == "remediated", incident
    assert set(iam.list_role_policies(RoleName=role)["PolicyNames"]) == DECLARED_POLICIES
    assert not iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert "PermissionsBoundary" not in iam.get_role(RoleName=role)["Role"]
    check_permissions(outcome_of(deployed))


def test_a_removed_declared_policy_is_escalated_not_rewritten(deployed: Deployed) -> None:
    iam, role = deployed.client("iam"), _role(deployed)
    iam.delete_role_policy(RoleName=role, PolicyName="OnlyTrailguardFunctions")
    params = {"roleName": role, "policyName": "OnlyTrailguardFunctions"}
    incident = incident_of(deployed.call(call("iam", "DeleteRolePolicy", params)))
    assert incident["status"] == "failed" and incident["action_required"]
    (message,) = deployed.messages()
    assert "OnlyTrailguardFunctions" in message["text"] and "redeploy" in message["text"]
    assert "OnlyTrailguardFunctions" not in iam.list_role_policies(RoleName=role)["PolicyNames"]


def test_a_widened_trust_policy_is_escalated(deployed: Deployed) -> None:
    iam, role = deployed.client("iam"), _role(deployed)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"},
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                "Action": "sts:AssumeRole",
            },
        ],
    }
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(trust))
    incident = incident_of(deployed.call(call("iam", "UpdateAssumeRolePolicy", {"roleName": role})))
    assert incident["technique"] == "guard.role"
    assert incident["status"] == "failed" and incident["action_required"]
    (message,) = deployed.messages()
    assert "trust policy" in message["text"]
