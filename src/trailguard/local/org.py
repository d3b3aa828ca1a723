"""The organization the local cloud emulates in ``--org`` mode, and the resource policies it evaluates.

moto stores an organization's accounts and OUs but applies none of what membership means to other
services: a member's view of the organization trail, who may change it, which cross-account bus or
topic accepts a call. The local cloud keeps the topology here (set once by the org world builder) and
the gate (:mod:`trailguard.local.orggate`) and router consult it. Nothing here changes the
single-account mode: with no :class:`Organization` set, every check passes through.

The policy evaluator is deliberately small: ``Allow``/``Deny`` statements on one action, principals
``*`` / an account id / an account's root or IAM ARN, and the conditions an organization uses
(``aws:PrincipalOrgID``, ``aws:PrincipalAccount``, ``aws:SourceAccount``, ``aws:SourceOwner``) with
``StringEquals``/``StringLike``/``ArnLike``/``ArnEquals``. Anything else never allows (and a ``Deny``
conditioned on it is taken to apply), so the emulator never lets through what AWS would refuse.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MANAGEMENT = "management"
SECURITY = "security"
MEMBER = "member"
ROLES = (MANAGEMENT, SECURITY, MEMBER)


@dataclass(frozen=True)
class OrgTrail:
    """An organization trail: its ARN names the owner (the management account) in every account."""

    arn: str
    name: str
    owner: str
    home_region: str


@dataclass
class Organization:
    """Who is in the organization, in which role, and which organization trails it has."""

    id: str
    management: str
    roles: dict[str, str] = field(default_factory=dict)
    """account id -> management / security / member"""
    trails: list[OrgTrail] = field(default_factory=list)

    def contains(self, account: str) -> bool:
        return account in self.roles

    def role_of(self, account: str) -> str | None:
        return self.roles.get(account)

    def accounts(self, role: str | None = None) -> list[str]:
        return [a for a, r in self.roles.items() if role is None or r == role]

    def org_trail(self, name_or_arn: str) -> OrgTrail | None:
        """The organization trail this ARN names (members can name it only by ARN)."""
        return next((t for t in self.trails if t.arn == name_or_arn), None)

    def foreign_org_trail(self, caller: str, name_or_arn: str) -> OrgTrail | None:
        """The organization trail a call from ``caller`` names, when ``caller`` is a member that does
        not own it (the calls AWS refuses to members and answers from the owner's trail)."""
        trail = self.org_trail(name_or_arn)
        if trail is None or trail.owner == caller or not self.contains(caller):
            return None
        return trail


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _principal_matches(principal: Any, account: str, principal_arn: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    for value in _as_list(principal.get("AWS", [])):
        text = str(value)
        # moto writes a bus permission for principal "*" as arn:aws:iam::*:root (AWS: "*").
        if text in ("*", account, f"arn:aws:iam::{account}:root", "arn:aws:iam::*:root"):
            return True
        if principal_arn and text == principal_arn:
            return True
    return False


def _condition_matches(condition: Mapping[str, Any], context: Mapping[str, str]) -> bool | None:
    """True or False; None when the condition uses an operator or key not modelled here."""
    for operator, pairs in condition.items():
        if not isinstance(pairs, Mapping) or operator not in _OPERATORS:
            return None
        for key, expected in pairs.items():
            actual = context.get(key.lower())
            if actual is None:
                return None
            values = [str(v) for v in _as_list(expected)]
            if operator in ("StringEquals", "ArnEquals"):
                ok = actual in values
            else:
                ok = any(fnmatch.fnmatchcase(actual, v) for v in values)
            if not ok:
                return False
    return True


_OPERATORS = frozenset({"StringEquals", "ArnEquals", "StringLike", "ArnLike"})


def _action_matches(actions: Any, action: str) -> bool:
    service = action.split(":", 1)[0]
    return any(
        fnmatch.fnmatchcase(action.lower(), str(a).lower()) or str(a) in ("*", f"{service}:*")
        for a in _as_list(actions)
    )


def policy_allows(
    policy: str | Mapping[str, Any] | None,
    action: str,
    account: str,
    *,
    principal_arn: str = "",
    org_id: str = "",
) -> bool:
    """Whether a resource policy lets a principal of ``account`` (in organization ``org_id``) make
    ``action``: an allowing statement and no denying one."""
    if not policy:
        return False
    try:
        doc = json.loads(policy) if isinstance(policy, str) else dict(policy)
    except ValueError:
        return False
    context = {
        "aws:principalaccount": account,
        "aws:sourceaccount": account,
        "aws:sourceowner": account,
        "aws:principalarn": principal_arn or f"arn:aws:iam::{account}:root",
    }
    if org_id:
        context["aws:principalorgid"] = org_id
    allowed = False
    for statement in _as_list(doc.get("Statement", [])):
        if not isinstance(statement, Mapping) or not _action_matches(statement.get("Action", []), action):
            continue
        if not _principal_matches(statement.get("Principal"), account, principal_arn):
            continue
        matches = _condition_matches(statement.get("Condition", {}), context)
        if statement.get("Effect") == "Deny":
            if matches is not False:  # a deny whose condition is not modelled is taken to apply
                return False
            continue
        allowed = allowed or (matches is True and statement.get("Effect") == "Allow")
    return allowed
