"""trailguard's SCP documents: what they deny, whom they exempt, and their size.

Neither moto nor any emulator evaluates SCPs (moto's Organizations stores them only), so these tests
check the documents themselves, and judge them with a small labelled model of SCP evaluation
(:func:`denied`: Deny statements with ``ArnNotLike`` / ``StringLike`` conditions and wildcard actions and
resources, as IAM's policy grammar defines them). That model is ours, not AWS's: it proves what the
documents say, not that AWS enforces them (open point: Access Analyzer ``ValidatePolicy`` and one
denied call per exemption in a sandbox OU).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping
from typing import Any

import pytest

from trailguard.org import scp
from trailguard.org.scp import Options, ScpError, policies

GUARD = "arn:aws:iam::111122223333:role/trailguard-GuardRole-ABC123"
STACKSETS = "arn:aws:iam::111122223333:role/stacksets-exec-0123456789abcdef"
ADMIN = "arn:aws:iam::111122223333:role/Admin"
BREAK_GLASS = "arn:aws:iam::*:role/BreakGlass"
CT = "arn:aws:iam::111122223333:role/AWSControlTowerExecution"
TRAIL = "arn:aws:cloudtrail:us-east-1:999988887777:trail/org-trail"
TABLE = "arn:aws:dynamodb:us-east-1:111122223333:table/trailguard-StateTable-XYZ"


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _matches(
    statement: Mapping[str, Any], principal: str, action: str, resource: str, tags: Mapping[str, str]
) -> bool:
    if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _list(statement["Action"])):
        return False
    if not any(fnmatch.fnmatchcase(resource, r) for r in _list(statement["Resource"])):
        return False
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, patterns in keys.items():
            if key == "aws:PrincipalArn":
                value: str | None = principal
            elif key.startswith("aws:ResourceTag/"):
                value = tags.get(key.split("/", 1)[1])
            else:
                raise AssertionError(f"the model does not know condition key {key}")
            hit = value is not None and any(fnmatch.fnmatchcase(value, p) for p in _list(patterns))
            if operator in ("ArnNotLike",):
                if hit:
                    return False
            elif operator == "StringLike":
                if not hit:
                    return False
            else:
                raise AssertionError(f"the model does not know operator {operator}")
    return True


def denied(
    documents: list[Mapping[str, Any]],
    principal: str,
    action: str,
    resource: str = "*",
    tags: Mapping[str, str] | None = None,
) -> bool:
    """Whether any Deny statement of ``documents`` denies ``principal`` the ``action`` on ``resource``."""
    return any(
        s["Effect"] == "Deny" and _matches(s, principal, action, resource, tags or {})
        for d in documents
        for s in d["Statement"]
    )


def _docs(**options: Any) -> list[Mapping[str, Any]]:
    return [json.loads(p.content) for p in policies(Options(**options))]


def test_the_model_can_say_no_and_yes() -> None:
    """The evaluator itself: a matching Deny denies, an exempt principal or another action does not."""
    doc = {
        "Statement": [
            {
                "Effect": "Deny",
                "Action": "s3:Get*",
                "Resource": "*",
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": ["arn:*:iam::*:role/ok"]}},
            }
        ]
    }
    assert denied([doc], ADMIN, "s3:GetObject")
    assert not denied([doc], "arn:aws:iam::1:role/ok", "s3:GetObject")
    assert not denied([doc], ADMIN, "s3:PutObject")


@pytest.mark.parametrize("call", scp.CONTROL_TOWER_FLOOR)
def test_the_four_cloudtrail_calls_are_denied_to_an_admin(call: str) -> None:
    docs = _docs()
    assert denied(docs, ADMIN, call, TRAIL)
    assert not denied(docs, GUARD, call, TRAIL)  # trailguard's repairs


def test_lake_security_services_and_leaving_are_denied() -> None:
    docs = _docs()
    for call in (
        "cloudtrail:StopEventDataStoreIngestion",
        "cloudtrail:DeleteEventDataStore",
        "cloudtrail:PutInsightSelectors",
        "guardduty:DeleteDetector",
        "securityhub:DisableSecurityHub",
        "organizations:LeaveOrganization",
    ):
        assert denied(docs, ADMIN, call), call
    assert not denied(docs, ADMIN, "cloudtrail:StartLogging", TRAIL)  # turning it on stays open
    assert not denied(docs, ADMIN, "cloudtrail:DescribeTrails")


def test_exemptions_are_the_guard_role_break_glass_and_control_tower_only_when_asked() -> None:
    plain = _docs()
    assert denied(plain, CT, "cloudtrail:StopLogging", TRAIL)
    assert denied(plain, STACKSETS, "cloudtrail:StopLogging", TRAIL)  # StackSets deploys, never stops
    assert denied(plain, "arn:aws:iam::111122223333:role/BreakGlass", "cloudtrail:StopLogging", TRAIL)
    asked = _docs(break_glass=(BREAK_GLASS,), control_tower=True)
    assert not denied(asked, CT, "cloudtrail:StopLogging", TRAIL)
    assert not denied(asked, "arn:aws:iam::111122223333:role/BreakGlass", "cloudtrail:StopLogging", TRAIL)
    assert denied(asked, "arn:aws:iam::111122223333:role/BreakGlassX", "cloudtrail:StopLogging", TRAIL)
    principals = json.dumps(asked)
    assert "arn:*:iam::*:role/trailguard*" in principals
    assert "arn:*:iam::*:role/stacksets-exec-*" in principals
    assert "arn:*:iam::*:role/AWSControlTowerExecution" in principals
    assert "AWSControlTowerExecution" not in json.dumps(plain)


def test_trail_option_narrows_the_trail_statement_only() -> None:
    docs = _docs(trails=("org-trail",))
    assert denied(docs, ADMIN, "cloudtrail:StopLogging", TRAIL)
    assert not denied(docs, ADMIN, "cloudtrail:StopLogging", "arn:aws:cloudtrail:us-east-1:1:trail/scratch")
    assert denied(docs, ADMIN, "guardduty:DeleteDetector")  # the rest stays account-wide


@pytest.mark.parametrize(
    "action,resource",
    [
        ("events:DisableRule", "arn:aws:events:us-east-1:111122223333:rule/trailguard-api-calls"),
        ("lambda:UpdateFunctionCode", "arn:aws:lambda:us-east-1:111122223333:function:trailguard-api-call"),
        ("lambda:DeleteFunction", "arn:aws:lambda:us-east-1:111122223333:function:trailguard-finding"),
        ("sns:DeleteTopic", "arn:aws:sns:us-east-1:111122223333:trailguard-alerts"),
        ("sqs:PurgeQueue", "arn:aws:sqs:us-east-1:111122223333:trailguard-DeadLetterQueue-1"),
        (
            "cloudwatch:DeleteAlarms",
            "arn:aws:cloudwatch:us-east-1:111122223333:alarm:trailguard-backstop-missing",
        ),
        ("iam:DeleteRolePolicy", GUARD),
    ],
    ids=["rule", "code", "function", "topic", "queue", "alarm", "role-policy"],
)
def test_trailguards_own_resources_are_protected(action: str, resource: str) -> None:
    docs = _docs(break_glass=(BREAK_GLASS,))
    assert denied(docs, ADMIN, action, resource)
    assert not denied(docs, GUARD, action, resource)  # its repairs
    assert not denied(docs, STACKSETS, action, resource)  # its deploys
    assert not denied(docs, "arn:aws:iam::111122223333:role/BreakGlass", action, resource)
    assert not denied(docs, ADMIN, action, resource.replace("trailguard", "other"))


def test_the_stack_is_protected_for_plain_and_stackset_stack_names() -> None:
    docs = _docs()
    for stack in ("trailguard", "StackSet-trailguard-member-0a1b2c"):
        arn = f"arn:aws:cloudformation:us-east-1:111122223333:stack/{stack}/0000"
        assert denied(docs, ADMIN, "cloudformation:DeleteStack", arn)
        assert denied(docs, GUARD, "cloudformation:DeleteStack", arn)  # the guard never deletes itself
        assert not denied(docs, STACKSETS, "cloudformation:UpdateStack", arn)


def test_role_name_squatting_is_closed() -> None:
    """A new role whose name matches an exemption would be exempt: only StackSets and break-glass may
    create, re-trust, widen or pass such a role; the guard role cannot grant itself anything."""
    docs = _docs(break_glass=(BREAK_GLASS,))
    squat = "arn:aws:iam::111122223333:role/trailguard-x"
    path_squat = "arn:aws:iam::111122223333:role/trailguard/x"
    for call in (
        "iam:CreateRole",
        "iam:UpdateAssumeRolePolicy",
        "iam:PutRolePolicy",
        "iam:AttachRolePolicy",
        "iam:PassRole",
    ):
        for role in (squat, path_squat, GUARD):
            assert denied(docs, ADMIN, call, role), (call, role)
            assert denied(docs, GUARD, call, role), (call, role)
        assert not denied(docs, STACKSETS, call, squat)
    for exempt_name in (STACKSETS, "arn:aws:iam::444455556666:role/BreakGlass"):
        assert denied(docs, ADMIN, "iam:CreateRole", exempt_name)
        assert denied(docs, STACKSETS, "iam:UpdateAssumeRolePolicy", exempt_name)
        assert not denied(docs, "arn:aws:iam::444455556666:role/BreakGlass", "iam:CreateRole", exempt_name)
    assert not denied(docs, ADMIN, "iam:CreateRole", "arn:aws:iam::111122223333:role/app")


def test_without_break_glass_nobody_may_change_the_stacksets_role() -> None:
    docs = _docs()
    assert denied(docs, STACKSETS, "iam:UpdateAssumeRolePolicy", STACKSETS)
    assert denied(docs, GUARD, "iam:CreateRole", STACKSETS)


def test_only_trailguard_writes_its_state_table() -> None:
    docs = _docs(break_glass=(BREAK_GLASS,), control_tower=True)
    for call in (
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:PartiQLUpdate",
        "dynamodb:DeleteTable",
    ):
        assert denied(docs, ADMIN, call, TABLE), call
        assert denied(docs, CT, call, TABLE), call
        assert not denied(docs, GUARD, call, TABLE)
        assert not denied(docs, STACKSETS, call, TABLE)
    assert not denied(docs, ADMIN, "dynamodb:GetItem", TABLE)
    assert not denied(docs, ADMIN, "dynamodb:PutItem", TABLE.replace("trailguard", "app"))


def test_trailguards_keys_are_protected_by_their_stack_tag() -> None:
    docs = _docs()
    tag = {"aws:cloudformation:stack-name": "StackSet-trailguard-member-1"}
    key = "arn:aws:kms:us-east-1:111122223333:key/1234"
    for call in ("kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy", "kms:GenerateMac"):
        assert denied(docs, ADMIN, call, key, tag), call
        assert not denied(docs, GUARD, call, key, tag)
        assert not denied(docs, ADMIN, call, key, {"aws:cloudformation:stack-name": "app"})


@pytest.mark.parametrize(
    "options",
    [
        Options(),
        Options(break_glass=(BREAK_GLASS,), control_tower=True, trails=("org-trail",)),
        Options(
            name_prefix="a-twenty-char-prefix",
            break_glass=tuple(f"arn:aws:iam::{n:012d}:role/break-glass-{n}" for n in range(5)),
            control_tower=True,
            trails=tuple(f"trail-{n}" for n in range(5)),
        ),
    ],
    ids=["defaults", "typical", "five-break-glass-roles"],
)
def test_each_policy_fits_the_scp_limit_minified(options: Options) -> None:
    for policy in policies(options):
        assert policy.size <= scp.SCP_LIMIT, (policy.name, policy.size)
        assert policy.content == json.dumps(json.loads(policy.content), separators=(",", ":"))
        assert all(s["Effect"] == "Deny" for s in policy.document["Statement"])
        assert len({s["Sid"] for s in policy.document["Statement"]}) == len(policy.document["Statement"])


def test_too_many_exemptions_are_refused_not_cut() -> None:
    many = tuple(f"arn:aws:iam::{n:012d}:role/a-rather-long-break-glass-role-name-{n}" for n in range(40))
    with pytest.raises(ScpError, match="5120"):
        policies(Options(break_glass=many))


@pytest.mark.parametrize(
    "options",
    [
        {"break_glass": ("arn:aws:iam::*:role/*",)},
        {"break_glass": ("arn:aws:iam::123456789012:role/Break*",)},
        {"break_glass": ("arn:aws:iam::123456789012:user/alice",)},
        {"break_glass": ("BreakGlass",)},
        {"name_prefix": "trail*"},
        {"name_prefix": ""},
        {"name_prefix": "x" * 21},
        {"trails": ("*",)},
    ],
    ids=[
        "any-role",
        "wildcard-name",
        "user",
        "bare-name",
        "wildcard-prefix",
        "empty-prefix",
        "long-prefix",
        "wildcard-trail",
    ],
)
def test_options_that_would_widen_an_exemption_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ScpError):
        Options(**options)


def test_the_notes_say_scps_skip_the_management_account() -> None:
    assert any("do not apply to the management account" in n for n in scp.NOTES)
