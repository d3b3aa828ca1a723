"""The guard role's declared shape (``resources/guardrole.py``) is the template's."""

from __future__ import annotations

from typing import Any

from trailguard.resources.guardrole import DECLARED_POLICIES, TRUSTED_SERVICE


def test_declared_policies_are_the_templates(template: dict[str, Any]) -> None:
    role = template["Resources"]["GuardRole"]["Properties"]
    assert {p["PolicyName"] for p in role["Policies"]} == DECLARED_POLICIES
    assert "ManagedPolicyArns" not in role and "PermissionsBoundary" not in role


def test_trusted_service_is_the_templates(template: dict[str, Any]) -> None:
    (statement,) = template["Resources"]["GuardRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": TRUSTED_SERVICE}
