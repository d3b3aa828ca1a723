"""``trailguard scp --attach``: create or update trailguard's SCPs and attach them, through Organizations.

Idempotent: a policy whose content already matches is left alone, an attached one is not attached
again. Everything is checked before anything changes (the organization has all features and SCPs
enabled on its root, every target exists, no target would pass the 5-SCP quota); ``dry_run`` stops
after the checks and reports what would change. Run with management-account credentials (or a
delegated administrator for policy management).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trailguard.aws import error_code, error_text
from trailguard.org.scp import MAX_PER_TARGET, Policy

SCP = "SERVICE_CONTROL_POLICY"
_ROOT = re.compile(r"^r-[0-9a-z]{4,32}$")
_OU = re.compile(r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$")
_ACCOUNT = re.compile(r"^\d{12}$")


class AttachError(Exception):
    """The organization is not ready, or a target is wrong: nothing was changed. ``usage``: the
    caller's input is wrong (the CLI exits 2), else the organization is not ready (exit 1)."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


@dataclass(frozen=True)
class Step:
    """One change (``create``, ``update``, ``attach``) or non-change (``unchanged``, ``attached``)."""

    action: str
    policy: str
    target: str | None = None
    detail: str = ""

    @property
    def changes(self) -> bool:
        return self.action in ("create", "update", "attach")

    def describe(self, dry_run: bool) -> str:
        verb = {
            "create": "create",
            "update": "update the content of",
            "attach": "attach",
            "unchanged": "keep (content already matches)",
            "attached": "keep (already attached to)",
        }[self.action]
        where = f" to {self.target}" if self.action == "attach" else ""
        where = f" {self.target}" if self.action == "attached" else where
        lead = "would " if dry_run and self.changes else ""
        tail = f" ({self.detail})" if self.detail else ""
        return f"{lead}{verb} {self.policy}{where}{tail}"


def _same(content: str | None, policy: Policy) -> bool:
    try:
        return bool(json.loads(content or "") == json.loads(policy.content))
    except ValueError:
        return False


def _all_pages(call: Callable[..., Mapping[str, Any]], key: str, **params: Any) -> list[Any]:
    found: list[Any] = []
    while True:
        page = call(**params)
        found.extend(page.get(key) or [])
        if not page.get("NextToken"):
            return found
        params["NextToken"] = page["NextToken"]


def _check_organization(org: Any) -> tuple[str, str]:
    """(management account id, root id), or :class:`AttachError` saying what to fix."""
    try:
        described = org.describe_organization()["Organization"]
    except Exception as exc:
        if error_code(exc) == "AWSOrganizationsNotInUseException":
            raise AttachError("this account is not in an organization: SCPs need AWS Organizations") from exc
        raise
    if described.get("FeatureSet") != "ALL":
        raise AttachError(
            "the organization has consolidated billing features only; SCPs need all features: "
            "aws organizations enable-all-features"
        )
    roots = _all_pages(org.list_roots, "Roots")
    if not roots:
        raise AttachError("the organization has no root")
    root = roots[0]
    enabled = {t.get("Type") for t in root.get("PolicyTypes") or [] if t.get("Status") == "ENABLED"}
    if SCP not in enabled:
        raise AttachError(
            f"service control policies are not enabled on root {root['Id']}: aws organizations "
            f"enable-policy-type --root-id {root['Id']} --policy-type {SCP}"
        )
    return str(described["MasterAccountId"]), str(root["Id"])


def _check_target(org: Any, target: str, root: str) -> None:
    try:
        if _ROOT.match(target):
            if target != root:
                raise AttachError(f"--target {target}: the organization's root is {root}", usage=True)
        elif _OU.match(target):
            org.describe_organizational_unit(OrganizationalUnitId=target)
        elif _ACCOUNT.match(target):
            org.describe_account(AccountId=target)
        else:
            raise AttachError(
                f"--target {target!r} is not a root (r-...), OU (ou-...-...) or account id", usage=True
            )
    except AttachError:
        raise
    except Exception as exc:
        if error_code(exc) in (
            "OrganizationalUnitNotFoundException",
            "AccountNotFoundException",
            "TargetNotFoundException",
        ):
            raise AttachError(f"--target {target}: {error_text(exc)}", usage=True) from exc
        raise


def plan(org: Any, policies: Sequence[Policy], targets: Sequence[str]) -> tuple[list[Step], list[str]]:
    """What attaching ``policies`` to ``targets`` changes, read-only: (steps, warnings).

    :class:`AttachError` when the organization is not ready, a target is wrong, or a target would pass
    the SCP quota (FullAWSAccess and the others already attached count)."""
    if not targets:
        raise AttachError("--attach needs at least one --target (a root, OU or account id)", usage=True)
    management, root = _check_organization(org)
    warnings: list[str] = []
    for target in dict.fromkeys(targets):
        _check_target(org, target, root)
        if target == management:
            warnings.append(
                f"--target {target} is the management account: SCPs do not apply to it, attaching changes "
                "nothing there"
            )
    existing = {p["Name"]: p for p in _all_pages(org.list_policies, "Policies", Filter=SCP)}
    steps: list[Step] = []
    ids: dict[str, str | None] = {}
    for policy in policies:
        found = existing.get(policy.name)
        if found is None:
            steps.append(Step("create", policy.name, detail=f"{policy.size} characters"))
            ids[policy.name] = None
            continue
        ids[policy.name] = str(found["Id"])
        content = org.describe_policy(PolicyId=found["Id"])["Policy"].get("Content")
        if _same(content, policy):
            steps.append(Step("unchanged", policy.name, detail=str(found["Id"])))
        else:
            steps.append(Step("update", policy.name, detail=f"{found['Id']}, {policy.size} characters"))
    for target in dict.fromkeys(targets):
        attached = _all_pages(org.list_policies_for_target, "Policies", TargetId=target, Filter=SCP)
        attached_ids = {str(p["Id"]) for p in attached}
        new = [p for p in policies if ids[p.name] is None or ids[p.name] not in attached_ids]
        if len(attached) + len(new) > MAX_PER_TARGET:
            raise AttachError(
                f"--target {target} has {len(attached)} SCPs attached ("
                + ", ".join(sorted(str(p.get("Name")) for p in attached))
                + f"); {len(new)} more would pass the quota of {MAX_PER_TARGET} per target. Attach to a "
                "parent OU instead, or detach one"
            )
        for policy in policies:
            if policy in new:
                steps.append(Step("attach", policy.name, target))
            else:
                steps.append(Step("attached", policy.name, target))
    return steps, warnings


def apply(org: Any, policies: Sequence[Policy], steps: Sequence[Step]) -> dict[str, str]:
    """Make the changes ``steps`` plan (in order: policies first, then attachments); name -> policy id."""
    by_name = {p.name: p for p in policies}
    listed = _all_pages(org.list_policies, "Policies", Filter=SCP)
    ids = {str(p["Name"]): str(p["Id"]) for p in listed if p["Name"] in by_name}
    for step in steps:
        policy = by_name[step.policy]
        if step.action == "create":
            created = org.create_policy(
                Name=policy.name, Description=policy.description, Type=SCP, Content=policy.content
            )
            ids[policy.name] = str(created["Policy"]["PolicySummary"]["Id"])
        elif step.action == "update":
            org.update_policy(
                PolicyId=ids[policy.name], Description=policy.description, Content=policy.content
            )
        elif step.action == "attach":
            org.attach_policy(PolicyId=ids[policy.name], TargetId=step.target)
    return ids
