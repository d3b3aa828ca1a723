"""The template's name expressions read for a single-account stack, so the tests written for it keep
checking the same strings.

Every physical name (and every ARN of trailguard's own resources) is one shape,
``!Sub ["..${Prefix}..", {Prefix: !If [HasNamePrefix, !Sub "${NamePrefix}", !Ref AWS::StackName]}]``, and the
code bucket ``${CodeBucket}`` the same way with ``CodeBucketPrefix``. :func:`single_account` rewrites
exactly those shapes to ``!Sub "..${AWS::StackName}.."`` / ``${CodeS3Bucket}`` (what the parameters'
defaults make of them); any other variable mapping is left as it is, so a name that strays from the
shape fails the tests that read it.
"""

from __future__ import annotations

import copy
from typing import Any

VARIABLES: dict[str, tuple[Any, str]] = {
    "Prefix": (
        {"Fn::If": ["HasNamePrefix", {"Fn::Sub": "${NamePrefix}"}, {"Ref": "AWS::StackName"}]},
        "${AWS::StackName}",
    ),
    "CodeBucket": (
        {
            "Fn::If": [
                "HasCodeBucketPrefix",
                {"Fn::Sub": "${CodeBucketPrefix}-${AWS::Region}"},
                {"Ref": "CodeS3Bucket"},
            ]
        },
        "${CodeS3Bucket}",
    ),
}


def _rewrite(node: Any) -> Any:
    if isinstance(node, list):
        return [_rewrite(n) for n in node]
    if not isinstance(node, dict):
        return node
    sub = node.get("Fn::Sub") if len(node) == 1 else None
    if isinstance(sub, list) and len(sub) == 2 and isinstance(sub[0], str) and isinstance(sub[1], dict):
        text, variables = sub
        if variables and all(VARIABLES.get(k, (None,))[0] == v for k, v in variables.items()):
            for key in variables:
                text = text.replace("${" + key + "}", VARIABLES[key][1])
            return {"Fn::Sub": text}
    return {k: _rewrite(v) for k, v in node.items()}


def single_account(template: dict[str, Any]) -> dict[str, Any]:
    """A copy of the decoded template with the name shapes read as their defaults make them."""
    out: dict[str, Any] = _rewrite(copy.deepcopy(template))
    return out
