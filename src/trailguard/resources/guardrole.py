"""trailguard's own role: ids are role names. What the template declares is kept here so a repair can
compare the live role with it (``tests/resources/test_guardrole.py`` holds the two equal)."""

from __future__ import annotations

from trailguard.resources.base import Kind, last_segment

# The inline policies the template gives the role; anything else on it was added after deploy.
DECLARED_POLICIES = frozenset(
    {
        "OnlyTrailguardFunctions",
        "GuardKeyUse",
        "OnFailureDestination",
        "StackConfiguration",
        "AlertDelivery",
        "OrganizationTrails",
        "FunctionLogs",
        "Remediation",
    }
)
TRUSTED_SERVICE = "lambda.amazonaws.com"


def name_of(ref: str) -> str:
    """The role name of a role ARN (path dropped) or a name."""
    return last_segment(ref)


KIND = Kind(
    name="guardrole",
    noun="trailguard role",
    sweep_order=6,
    securityhub_type="AwsIamRole",
    ident=name_of,
    short=name_of,
    gone_codes=frozenset({"NoSuchEntity"}),
    iam_actions=(
        "iam:GetRole",
        "iam:ListRolePolicies",
        "iam:ListAttachedRolePolicies",
        "iam:DeleteRolePolicy",
        "iam:DetachRolePolicy",
        "iam:DeleteRolePermissionsBoundary",
    ),
    iam_reason=(
        "trailguard's own role only (CloudFormation names it STACK-GuardRole-*): it can take away what an "
        "attacker added, never grant itself anything."
    ),
    iam_resources=("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${AWS::StackName}-GuardRole-*",),
)
