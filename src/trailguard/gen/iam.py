"""The remediation role's IAM statements: every permission trailguard needs, scoped to its resources.

``statements()`` is the one seam: the generator writes whatever it returns. Resources are Fn::Sub
strings (``"${StateTable.Arn}"`` alone is written as ``!GetAtt StateTable.Arn``), or ``"*"`` where the
API has no resource-level permissions. The resource kinds name trailguard's own resources after
``${AWS::StackName}`` and its code after ``${CodeS3Bucket}``; the template names them after
``NamePrefix`` and ``CodeBucketPrefix`` when those are set (:data:`VARIABLES`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from trailguard.gen.statements import scoped_resources, statements
from trailguard.gen.yamltext import Flow, Node, Note, Tag

STAR = "*"
_GETATT = re.compile(r"\$\{([A-Za-z0-9]+\.[A-Za-z0-9.]+)\}")

# A placeholder the kinds' ARN patterns use -> (the !Sub variable standing in for it, its value): the
# same choice the template's hand-written names make.
VARIABLES: dict[str, tuple[str, str]] = {
    "${AWS::StackName}": ("Prefix", '!If [HasNamePrefix, !Sub "${NamePrefix}", !Ref AWS::StackName]'),
    "${CodeS3Bucket}": (
        "CodeBucket",
        '!If [HasCodeBucketPrefix, !Sub "${CodeBucketPrefix}-${AWS::Region}", !Ref CodeS3Bucket]',
    ),
}


def policy_statements() -> list[Node]:
    """The Remediation policy's ``Statement`` list as template nodes, each preceded by its reason."""
    nodes: list[Node] = []
    for statement in statements():
        body: dict[str, Node] = {"Sid": statement.sid, "Effect": "Allow"}
        actions = sorted(set(statement.actions))
        body["Action"] = actions[0] if len(actions) == 1 else Flow(tuple(actions))
        resources = [_resource(r) for r in sorted(set(statement.resources))]
        wide: Node = resources[0] if len(resources) == 1 else resources
        reason = statement.reason
        if statement.scope is None:
            body["Resource"] = wide
        else:
            scoped = _short(scoped_resources(statement.scope))
            body["Resource"] = {"Fn::If": [statement.scope.condition, scoped, wide]}
            reason += f" While {statement.scope.parameter} is empty: {statement.scope.fallback}"
        if statement.condition:
            body["Condition"] = {op: dict(values) for op, values in statement.condition.items()}
        nodes.append(Note(_wrap(reason), body))
    return nodes


def _resource(resource: str) -> Node:
    if resource == STAR:
        return STAR
    attribute = _GETATT.fullmatch(resource)
    if attribute:
        return Tag("GetAtt", attribute.group(1))
    variables = {name: value for placeholder, (name, value) in VARIABLES.items() if placeholder in resource}
    if not variables:
        return Tag("Sub", resource)
    for placeholder, (name, _value) in VARIABLES.items():
        resource = resource.replace(placeholder, "${" + name + "}")
    mapping = ", ".join(f"{name}: {value}" for name, value in variables.items())
    return Tag("Sub", f'["{resource}", {{ {mapping} }}]')


def _short(node: Any) -> Tag:
    """A long-form intrinsic (``{"Fn::Split": [...]}``) as one short-form line (``!Split [...]``)."""

    def text(value: Any) -> str:
        if isinstance(value, dict):
            ((fn, args),) = value.items()
            return f"!{fn.removeprefix('Fn::')} {text(args)}"
        if isinstance(value, list):
            return "[" + ", ".join(text(v) for v in value) + "]"
        return str(value) if str(value).isidentifier() else json.dumps(value)

    ((fn, args),) = node.items()
    return Tag(fn.removeprefix("Fn::"), text(args))


def _wrap(text: str, width: int = 92) -> tuple[str, ...]:
    out: list[str] = []
    for word in text.split():
        if out and len(out[-1]) + 1 + len(word) <= width:
            out[-1] += " " + word
        else:
            out.append(word)
    return tuple(out)
