"""trailguard's preventive service control policies (``trailguard scp``): pure, no AWS calls.

Two policies, each one JSON document under the 5,120-character SCP limit when minified:

``trailguard-protect-cloudtrail``
    Control Tower's CloudTrail statement is the floor (``StopLogging``, ``DeleteTrail``, ``UpdateTrail``,
    ``PutEventSelectors``), with ``PutInsightSelectors``; then CloudTrail Lake, the delegated-admin
    registration, GuardDuty's and Security Hub's disable calls and ``LeaveOrganization``. Denied to every
    principal but trailguard's roles (they repair), the break-glass roles and, with Control Tower,
    ``AWSControlTowerExecution``.

``trailguard-protect-self``
    trailguard's own rules, functions, topic, queues, alarms, log groups, stacks and keys: only
    trailguard's roles (for the repairs they make), StackSets' execution role (it deploys them), the
    break-glass roles and Control Tower's role may change them. It closes the two loopholes of an
    exemption that matches a name:

    * **role squatting**: a new role called ``trailguard-x`` (or ``stacksets-exec-x``, or a break-glass
      role's name in another account) would be exempt, so creating, re-trusting, widening or passing a
      role on those names is denied to everyone but StackSets' execution role and break-glass
      (``stacksets-exec-*`` and the break-glass names: break-glass only);
    * **the state table**: whoever writes it decides what the backstop "repairs" to, so only
      trailguard's roles, StackSets' execution role and break-glass may write ``table/<prefix>*``.

SCPs never apply to the management account (nor to service-linked roles): :data:`NOTES` says so, and
every output of ``trailguard scp`` prints it. Organizations stores SCPs without evaluating them in
moto, so tests check the documents' content, not their enforcement.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SCP_LIMIT = 5120
"""Characters in one SCP document (Organizations' quota), counted on the minified JSON."""
MAX_PER_TARGET = 5
"""SCPs attached to one root, OU or account at most (Organizations' quota), FullAWSAccess included."""
DEFAULT_PREFIX = "trailguard"
"""The start of every physical name a trailguard stack gives its resources (its stack name's start)."""
POLICY_PREFIX = "trailguard-protect-"
CLOUDTRAIL_POLICY = "trailguard-protect-cloudtrail"
SELF_POLICY = "trailguard-protect-self"
STACKSETS_ROLE = "stacksets-exec-*"
CONTROL_TOWER_ROLE = "AWSControlTowerExecution"

CONTROL_TOWER_FLOOR = (
    "cloudtrail:StopLogging",
    "cloudtrail:DeleteTrail",
    "cloudtrail:UpdateTrail",
    "cloudtrail:PutEventSelectors",
)
"""Control Tower's ``GRCLOUDTRAILENABLED`` statement: the calls the floor denies."""
TRAIL_CALLS = (*CONTROL_TOWER_FLOOR, "cloudtrail:PutInsightSelectors")
DETECTION_CALLS = (
    "cloudtrail:StopEventDataStoreIngestion",
    "cloudtrail:DeleteEventDataStore",
    "cloudtrail:UpdateEventDataStore",
    "cloudtrail:DeregisterOrganizationDelegatedAdmin",
    "guardduty:DeleteDetector",
    "guardduty:DisassociateFromAdministratorAccount",
    "guardduty:DisassociateFromMasterAccount",
    "guardduty:StopMonitoringMembers",
    "securityhub:DisableSecurityHub",
    "securityhub:DisableImportFindingsForProduct",
    "securityhub:DisassociateFromAdministratorAccount",
    "securityhub:DisassociateFromMasterAccount",
    "organizations:LeaveOrganization",
)
"""CloudTrail Lake, the delegated admin, the security services' disable calls, leaving the organization."""
GUARD_CALLS = (
    "events:DeleteRule",
    "events:DisableRule",
    "events:PutRule",
    "events:PutTargets",
    "events:RemoveTargets",
    "lambda:AddPermission",
    "lambda:RemovePermission",
    "lambda:CreateFunction",
    "lambda:DeleteFunction",
    "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration",
    "lambda:PutFunctionConcurrency",
    "lambda:DeleteFunctionConcurrency",
    "lambda:PutFunctionEventInvokeConfig",
    "lambda:UpdateFunctionEventInvokeConfig",
    "lambda:DeleteFunctionEventInvokeConfig",
    "sns:DeleteTopic",
    "sns:SetTopicAttributes",
    "sns:Subscribe",
    "sns:Unsubscribe",
    "sns:AddPermission",
    "sns:RemovePermission",
    "sqs:DeleteQueue",
    "sqs:PurgeQueue",
    "sqs:SetQueueAttributes",
    "cloudwatch:DeleteAlarms",
    "cloudwatch:DisableAlarmActions",
    "cloudwatch:PutMetricAlarm",
    "cloudwatch:SetAlarmState",
    "logs:DeleteLogGroup",
    "logs:PutRetentionPolicy",
    # what the guard role's own repair (remediate/role.py) takes away from it again
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:DeleteRolePermissionsBoundary",
)
"""Changes to trailguard's own resources; trailguard's roles keep them (its repairs make these calls)."""
STACK_CALLS = (
    "cloudformation:DeleteStack",
    "cloudformation:UpdateStack",
    "cloudformation:CreateChangeSet",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:SetStackPolicy",
    "cloudformation:UpdateTerminationProtection",
)
STATE_WRITES = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
    "dynamodb:DeleteTable",
    "dynamodb:UpdateTable",
    "dynamodb:UpdateTimeToLive",
    "dynamodb:UpdateContinuousBackups",
    "dynamodb:RestoreTableToPointInTime",
    "dynamodb:PutResourcePolicy",
    "dynamodb:DeleteResourcePolicy",
)
"""Writing the state table (baselines, the ledger) or changing it: trailguard's roles only."""
ROLE_GRANTS = (
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:PutRolePolicy",
    "iam:AttachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:UpdateRole",
    "iam:PassRole",
)
"""Making, re-trusting, widening or passing a role: on an exempt name, that is squatting."""
KEY_CALLS = (
    "kms:ScheduleKeyDeletion",
    "kms:DisableKey",
    "kms:PutKeyPolicy",
    "kms:CreateGrant",
    "kms:GenerateMac",
)
"""trailguard's keys (tagged by CloudFormation with the stack's name): disabling them, or signing with the
state key (a MAC made by anyone else could forge a baseline or a ledger record)."""

NOTES = (
    "SCPs do not apply to the management account (nor to service-linked roles): these policies protect "
    "member accounts only. Protect the management account with trailguard's own stacks there and by "
    "limiting who can sign in to it.",
    "At most 5 SCPs can be attached to one root, OU or account, FullAWSAccess included: "
    "`trailguard scp --attach` counts them before attaching.",
    "A principal that deploys or updates trailguard stacks outside StackSets (a pipeline, "
    "`trailguard deploy` in a member account) must be a --break-glass-role, or its updates are denied.",
)

_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,19}$")
_ROLE_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):iam::(?P<account>\d{12}|\*):role/(?P<name>[\w+=,.@/-]{1,512})$"
)
_TRAIL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,127}$")
_TRAIL_ARN = re.compile(
    r"^arn:(aws|aws-cn|aws-us-gov):cloudtrail:[a-z0-9-]+:\d{12}:trail/[A-Za-z0-9._-]{3,128}$"
)


class ScpError(ValueError):
    """An option ``trailguard scp`` cannot turn into a safe policy (the CLI exits 2 with the message)."""


@dataclass(frozen=True)
class Options:
    """What the policies are built from (the ``trailguard scp`` flags)."""

    name_prefix: str = DEFAULT_PREFIX
    break_glass: tuple[str, ...] = ()
    control_tower: bool = False
    trails: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _PREFIX.match(self.name_prefix):
            raise ScpError(
                f"--name-prefix {self.name_prefix!r}: 1 to 20 letters, digits or hyphens, starting with a "
                "letter (no wildcard: the prefix is what the exemptions and protections match)"
            )
        for arn in self.break_glass:
            found = _ROLE_ARN.match(arn)
            if found is None:
                raise ScpError(
                    f"--break-glass-role {arn!r} is not a role ARN (arn:aws:iam::ACCOUNT:role/NAME; the "
                    "account may be *)"
                )
            if any(c in found.group("name") for c in "*?"):
                raise ScpError(
                    f"--break-glass-role {arn!r}: the role name may not hold a wildcard, it would exempt "
                    "every role it matches"
                )
        for trail in self.trails:
            if not (_TRAIL_NAME.match(trail) or _TRAIL_ARN.match(trail)):
                raise ScpError(f"--trail {trail!r} is neither a trail name nor a trail ARN")


@dataclass(frozen=True)
class Policy:
    """One SCP: its name, description and document."""

    name: str
    description: str
    document: Mapping[str, Any] = field(compare=False)

    @property
    def content(self) -> str:
        """The minified document, as it is stored in Organizations and counted against the limit."""
        return minify(self.document)

    @property
    def size(self) -> int:
        return len(self.content)


def minify(document: Any) -> str:
    """JSON without whitespace between tokens (what Organizations counts)."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def role_pattern(name: str) -> str:
    """``aws:PrincipalArn`` pattern of a role name (any partition, any account)."""
    return f"arn:*:iam::*:role/{name}"


def _any_account(arn: str) -> str:
    """A break-glass role's ARN with any account: its name may be squatted in every account."""
    found = _ROLE_ARN.match(arn)
    return role_pattern(found.group("name")) if found else arn


def _trail_resource(trail: str) -> str:
    return trail if trail.startswith("arn:") else f"arn:*:cloudtrail:*:*:trail/{trail}"


def _deny(
    sid: str,
    actions: Sequence[str],
    resources: Sequence[str],
    exempt: Sequence[str],
    extra: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """One Deny statement; ``exempt`` (``aws:PrincipalArn`` patterns) are not denied (none: nobody)."""
    condition: dict[str, Any] = {}
    if exempt:
        condition["ArnNotLike"] = {"aws:PrincipalArn": list(dict.fromkeys(exempt))}
    condition.update(extra or {})
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Deny",
        "Action": list(actions),
        "Resource": list(resources) if len(resources) != 1 else resources[0],
    }
    if condition:
        statement["Condition"] = condition
    return statement


@dataclass(frozen=True)
class Exempt:
    """The principals the statements exempt, as ``aws:PrincipalArn`` patterns."""

    guard: str
    stacksets: str
    break_glass: tuple[str, ...]
    control_tower: tuple[str, ...]

    @classmethod
    def of(cls, options: Options) -> Exempt:
        return cls(
            guard=role_pattern(f"{options.name_prefix}*"),
            stacksets=role_pattern(STACKSETS_ROLE),
            break_glass=tuple(dict.fromkeys(options.break_glass)),
            control_tower=(role_pattern(CONTROL_TOWER_ROLE),) if options.control_tower else (),
        )


def cloudtrail_policy(options: Options) -> Policy:
    exempt = Exempt.of(options)
    repairers = [exempt.guard, *exempt.break_glass, *exempt.control_tower]
    trails = [_trail_resource(t) for t in options.trails] or ["*"]
    document = {
        "Version": "2012-10-17",
        "Statement": [
            _deny("DenyTrailTamper", TRAIL_CALLS, trails, repairers),
            _deny("DenyDetectionTamper", DETECTION_CALLS, ["*"], repairers),
        ],
    }
    scope = ", ".join(options.trails) if options.trails else "every trail"
    return Policy(
        CLOUDTRAIL_POLICY,
        f"trailguard: only trailguard and break-glass may stop, delete or change CloudTrail ({scope})",
        document,
    )


def self_policy(options: Options) -> Policy:
    exempt = Exempt.of(options)
    p = options.name_prefix
    everyone_who_deploys = [exempt.guard, exempt.stacksets, *exempt.break_glass, *exempt.control_tower]
    deployers = [exempt.stacksets, *exempt.break_glass, *exempt.control_tower]
    own = [
        f"arn:*:events:*:*:rule/{p}*",
        f"arn:*:lambda:*:*:function:{p}*",
        f"arn:*:sns:*:*:{p}*",
        f"arn:*:sqs:*:*:{p}*",
        f"arn:*:cloudwatch:*:*:alarm:{p}*",
        f"arn:*:logs:*:*:log-group:/aws/lambda/{p}*",
        role_pattern(f"{p}*"),
    ]
    stacks = [f"arn:*:cloudformation:*:*:stack/{p}*/*", f"arn:*:cloudformation:*:*:stack/StackSet-{p}*/*"]
    break_glass_names = [_any_account(a) for a in exempt.break_glass]
    document = {
        "Version": "2012-10-17",
        "Statement": [
            _deny("DenyChangesToTrailguard", GUARD_CALLS, own, everyone_who_deploys),
            _deny(
                "OnlyTrailguardWritesItsState",
                STATE_WRITES,
                [f"arn:*:dynamodb:*:*:table/{p}*"],
                [exempt.guard, exempt.stacksets, *exempt.break_glass],
            ),
            # one statement for two denials with the same exemptions (each action only matches its own
            # resource type): the stacks, and squatting on trailguard's role names
            _deny(
                "OnlyDeployersChangeStacksAndRoleNames",
                (*STACK_CALLS, *ROLE_GRANTS),
                [*stacks, role_pattern(f"{p}*")],
                deployers,
            ),
            _deny(
                "NoSquattingOnExemptRoleNames",
                ROLE_GRANTS,
                [exempt.stacksets, *break_glass_names],
                exempt.break_glass,
            ),
            _deny(
                "ProtectTrailguardKeys",
                KEY_CALLS,
                ["*"],
                [exempt.guard, exempt.stacksets, *exempt.break_glass],
                {
                    "StringLike": {
                        "aws:ResourceTag/aws:cloudformation:stack-name": [f"{p}*", f"StackSet-{p}*"]
                    }
                },
            ),
        ],
    }
    return Policy(
        SELF_POLICY,
        f"trailguard: only trailguard, StackSets and break-glass may change {p}* resources or roles",
        document,
    )


def policies(options: Options) -> tuple[Policy, ...]:
    """Both policies; :class:`ScpError` when one would pass the SCP size limit."""
    built = (cloudtrail_policy(options), self_policy(options))
    for policy in built:
        if policy.size > SCP_LIMIT:
            raise ScpError(
                f"{policy.name} would be {policy.size} characters, over the {SCP_LIMIT}-character SCP "
                "limit: give fewer --break-glass-role / --trail values (a role in every account can be "
                "given once as arn:aws:iam::*:role/NAME)"
            )
    return built


def is_trailguard_policy(name: str | None) -> bool:
    """Whether an SCP's name is one ``trailguard scp`` writes."""
    return bool(name) and str(name).startswith(POLICY_PREFIX)
