"""The remediation role's IAM statements, derived from the registry (the template's role is generated
from them): every permission the actions declare beside their calls, plus the runtime's, scoped to the
ARN patterns of the resource kind that owns it."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from trailguard.permissions import NO_RESOURCE_LEVEL, RUNTIME_PERMISSIONS, RUNTIME_RESOURCES
from trailguard.policy import TECHNIQUES
from trailguard.resources import KINDS, Kind
from trailguard.resources.base import IamScope


@dataclass(frozen=True)
class Statement:
    """One Allow statement: ``resources`` are CloudFormation ``!Sub`` strings, or ``("*",)``; ``reason``
    says why it is scoped so (the template prints it above the statement). With ``scope``, ``resources``
    are the fallback while the scope's parameter is empty; otherwise the statement names the parameter's
    ARNs (and, for ``objects``, each ``ARN/*``)."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    reason: str
    condition: Mapping[str, Any] | None = None
    scope: IamScope | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Sid": self.sid, "Effect": "Allow", "Action": list(self.actions)}
        out["Resource"] = "*" if self.resources == ("*",) else list(self.resources)
        if self.scope is not None:
            out["Resource"] = {
                "Fn::If": [self.scope.condition, scoped_resources(self.scope), out["Resource"]]
            }
        if self.condition:
            out["Condition"] = {k: dict(v) for k, v in self.condition.items()}
        return out


def scoped_resources(scope: IamScope) -> dict[str, Any]:
    """The ARNs in ``scope``'s parameter as a CloudFormation list (long-form intrinsics); with
    ``objects`` each ARN twice: as given and with ``/*`` (the objects in it)."""
    ref = {"Ref": scope.parameter}
    if not scope.objects:
        return {"Fn::Split": [",", ref]}
    objects = {"Fn::Join": ["/*,", {"Fn::Split": [",", ref]}]}
    return {"Fn::Split": [",", {"Fn::Join": ["", [ref, ",", objects, "/*"]]}]}


def _best(permission: str, patterns: Iterable[str]) -> str | None:
    matched = [p for p in patterns if fnmatch.fnmatchcase(permission, p)]
    return max(matched, key=len) if matched else None


def _owners(permission: str) -> list[Kind]:
    """The kinds whose ARN patterns scope ``permission``: the most specific matching pattern wins; kinds
    tied on it each get a statement, each on its own resources (``iam:PassRole``: a trail's delivery role
    to CloudTrail and trailguard's own role to Lambda; ``iam:GetRole`` on trailguard's role and on a
    trail's delivery role)."""
    best: list[Kind] = []
    length = -1
    for kind in KINDS.values():
        pattern = _best(permission, kind.iam_actions)
        if pattern is None or not kind.iam_resources or len(pattern) < length:
            continue
        if len(pattern) > length:
            best, length = [], len(pattern)
        best.append(kind)
    return best


def _sid(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_"))


def statements() -> list[Statement]:
    """The role's statements: equal in effect to ``required_permissions()`` on the scoped resources."""
    permissions: set[str] = set(RUNTIME_PERMISSIONS)
    for technique in TECHNIQUES.values():
        permissions.update(technique.action.permissions)
    by_kind: dict[str, set[str]] = {}
    runtime: dict[str, set[str]] = {}
    anywhere: set[str] = set()
    for permission in sorted(permissions):
        if permission in NO_RESOURCE_LEVEL:
            anywhere.add(permission)
            continue
        kinds = _owners(permission)
        for kind in kinds:
            by_kind.setdefault(kind.name, set()).add(permission)
        if kinds:
            continue
        pattern = _best(permission, RUNTIME_RESOURCES)
        if pattern is None:
            raise ValueError(f"{permission}: no resource kind or runtime scope covers it")
        runtime.setdefault(pattern, set()).add(permission)
    statements = [
        Statement(
            _sid(name),
            tuple(sorted(actions)),
            KINDS[name].iam_resources,
            KINDS[name].iam_reason or f"{KINDS[name].noun}s only.",
            KINDS[name].iam_condition,
            KINDS[name].iam_scope,
        )
        for name, actions in by_kind.items()
    ]
    for pattern, actions in sorted(runtime.items()):
        sid, resources, reason = RUNTIME_RESOURCES[pattern]
        statements.append(Statement(sid, tuple(sorted(actions)), resources, reason))
    if anywhere:
        reasons = "; ".join(f"{p}: {NO_RESOURCE_LEVEL[p]}" for p in sorted(anywhere))
        statements.append(
            Statement(
                "NoResourceLevelPermissions",
                tuple(sorted(anywhere)),
                ("*",),
                'These APIs have no resource-level permissions, so IAM accepts only Resource "*" '
                f"({reasons}).",
            )
        )
    return sorted(statements, key=lambda s: s.sid)
