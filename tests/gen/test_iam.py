"""The remediation statements: every required permission exactly once, each in one scope."""

from __future__ import annotations

import pytest

from trailguard.gen import iam
from trailguard.gen import statements as gen_statements
from trailguard.gen.iam import STAR, policy_statements, statements
from trailguard.gen.statements import Statement
from trailguard.gen.yamltext import Flow, Note, Tag
from trailguard.policy import required_permissions


def test_statements_grant_each_required_permission_once_per_kind_that_scopes_it() -> None:
    """Once, except where two kinds declare it equally specifically: then each grants it on its own
    resources (iam:PassRole: a trail's delivery role to CloudTrail, trailguard's own role to Lambda; the
    IAM reads and removals on trailguard's role and on a trail's delivery role)."""
    granted = [a for s in statements() for a in s.actions]
    assert set(granted) == set(required_permissions())
    assert {a for a in granted if granted.count(a) > 1} == {
        "iam:DeleteRolePermissionsBoundary",
        "iam:DeleteRolePolicy",
        "iam:DetachRolePolicy",
        "iam:GetRole",
        "iam:ListAttachedRolePolicies",
        "iam:ListRolePolicies",
        "iam:PassRole",
    }
    shared = [s for s in statements() if "iam:GetRole" in s.actions]
    assert sorted(s.sid for s in shared) == ["Guardrole", "Role"]


def test_statements_are_sorted_and_complete() -> None:
    found = statements()
    assert [s.sid for s in found] == sorted(s.sid for s in found)
    assert len({s.sid for s in found}) == len(found)
    for statement in found:
        assert list(statement.actions) == sorted(statement.actions)
        assert statement.resources and statement.reason
        assert STAR not in statement.resources or statement.resources == (STAR,)


def test_star_only_for_apis_without_resource_level_permissions() -> None:
    (star,) = [s for s in statements() if s.resources == (STAR,)]
    assert set(star.actions) == {
        "cloudtrail:DescribeTrails",
        "cloudtrail:ListEventDataStores",
        "cloudtrail:LookupEvents",
        "guardduty:CreateDetector",
        "guardduty:ListDetectors",
        "kms:ListAliases",
        "organizations:CreatePolicy",
        "organizations:EnableAWSServiceAccess",
        "organizations:ListAWSServiceAccessForOrganization",
        "organizations:ListDelegatedAdministrators",
        "organizations:ListPolicies",
        "cloudtrail:RegisterOrganizationDelegatedAdmin",
    }


def test_a_permission_without_a_scope_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gen_statements, "RUNTIME_PERMISSIONS", frozenset({"ec2:StopInstances"}))
    with pytest.raises(ValueError, match="ec2"):
        statements()


def test_policy_nodes_carry_the_reason_and_write_getatt_for_a_bare_attribute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        iam,
        "statements",
        lambda: [
            Statement("B", ("s:X", "s:A"), ("${StateTable.Arn}",), "why b"),
            Statement("C", ("s:Y",), ("arn:${AWS::Partition}:s:::b", "*"), "why c", {"Bool": {"k": "v"}}),
        ],
    )
    first, second = policy_statements()
    assert isinstance(first, Note) and first.comment == ("why b",)
    assert first.value == {
        "Sid": "B",
        "Effect": "Allow",
        "Action": Flow(("s:A", "s:X")),
        "Resource": Tag("GetAtt", "StateTable.Arn"),
    }
    assert isinstance(second, Note)
    assert second.value == {
        "Sid": "C",
        "Effect": "Allow",
        "Action": "s:Y",
        "Resource": ["*", Tag("Sub", "arn:${AWS::Partition}:s:::b")],
        "Condition": {"Bool": {"k": "v"}},
    }


def test_a_scoped_statement_names_its_parameter_and_says_when_it_falls_back() -> None:
    from trailguard.gen.iam import policy_statements

    by_sid = {
        n.value["Sid"]: n for n in policy_statements() if isinstance(n, Note) and isinstance(n.value, dict)
    }
    for sid, parameter, condition in (
        ("Bucket", "ProtectedBuckets", "HasProtectedBuckets"),
        ("Role", "TrailLogsRoleArns", "HasTrailLogsRoleArns"),
        ("Trail", "ProtectedTrailArns", "HasProtectedTrailArns"),
    ):
        note = by_sid[sid]
        resource = note.value["Resource"]
        assert isinstance(resource, dict)
        scoped_if = resource["Fn::If"]
        assert scoped_if[0] == condition
        assert parameter in repr(scoped_if[1])
        assert f"While {parameter} is empty:" in " ".join(note.comment)
