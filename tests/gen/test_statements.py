"""``gen.statements.statements()``: the role's statements derived from the registry grant what the committed
template's Remediation policy grants, statement for statement in effect (action, resource, condition)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cfnlint.decode import decode_str

from template.names import single_account
from trailguard.gen.statements import Statement, scoped_resources
from trailguard.gen.statements import statements as iam_statements
from trailguard.policy import required_permissions

TEMPLATE = Path(__file__).resolve().parents[2] / "src" / "trailguard" / "data" / "trailguard.yaml"
STATE_TABLE = "${StateTable.Arn}"


def _resource(value: Any) -> str:
    """A template Resource as the !Sub text the statements use (``!GetAtt StateTable.Arn`` included)."""
    if isinstance(value, str) and value.startswith("If "):
        return value
    if isinstance(value, str):
        return value
    if "Fn::Sub" in value:
        return str(value["Fn::Sub"])
    if value.get("Fn::GetAtt") in (["StateTable", "Arn"], "StateTable.Arn"):
        return STATE_TABLE
    raise AssertionError(f"unexpected Resource {value!r}")


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _branches(resource: Any) -> list[Any]:
    """A Resource's entries: a scoped one (``Fn::If`` on a deploy parameter) gives its fallback entries
    and its scoped list, as the text ``If CONDITION: <the list>``."""
    if isinstance(resource, dict) and "Fn::If" in resource:
        condition, scoped, fallback = resource["Fn::If"]
        return [*_listed(fallback), f"If {condition}: {json.dumps(scoped, sort_keys=True)}"]
    return _listed(resource)


def _grants_in_template() -> set[tuple[str, str, str]]:
    decoded, matches = decode_str(TEMPLATE.read_text(encoding="utf-8"))
    assert decoded is not None and not matches
    role = single_account(dict(decoded))["Resources"]["GuardRole"]["Properties"]
    (policy,) = [p for p in role["Policies"] if p["PolicyName"] == "Remediation"]
    return {
        (action, _resource(resource), repr(statement.get("Condition")))
        for statement in policy["PolicyDocument"]["Statement"]
        for action in _listed(statement["Action"])
        for resource in _branches(statement["Resource"])
    }


def _scoped(statement: Statement) -> list[str]:
    if statement.scope is None:
        return []
    return [
        f"If {statement.scope.condition}: {json.dumps(scoped_resources(statement.scope), sort_keys=True)}"
    ]


def test_statements_grant_what_the_template_grants() -> None:
    derived = {
        (action, resource, repr(statement.condition and {k: dict(v) for k, v in statement.condition.items()}))
        for statement in iam_statements()
        for action in statement.actions
        for resource in (*statement.resources, *_scoped(statement))
    }
    assert derived == _grants_in_template()


def test_statements_cover_exactly_the_required_permissions() -> None:
    statements = iam_statements()
    assert {a for s in statements for a in s.actions} == required_permissions()
    assert len({s.sid for s in statements}) == len(statements)
    for statement in statements:
        if statement.resources == ("*",):
            assert statement.reason, f"{statement.sid} grants * without saying why"
        assert statement.to_dict()["Effect"] == "Allow"
