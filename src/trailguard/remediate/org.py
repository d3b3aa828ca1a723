"""Organization repairs, in the management account: CloudTrail's trusted access enabled again, CloudTrail's
delegated administrators registered again, trailguard's SCPs re-attached, recreated or restored.

Each reads the live state first (nothing to do -> ``already-restored``), acts, and reads it back. The
baseline is the organization's (``resources.organization``, signed like every baseline). Floors, checked
in code before each call whatever the baseline says: trusted access is enabled only for
``cloudtrail.amazonaws.com``; only an account recorded as CloudTrail's delegated administrator is
registered; an SCP is created or rewritten only under a ``trailguard-protect-`` name, with content that
parses and only denies (no Allow, no ``"*"`` action), and attached only to a root, OU or account id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from trailguard.aws import error_code
from trailguard.remediate.base import (
    NO_BASELINE,
    Context,
    Gone,
    Outcome,
    RepairRequest,
    action,
    read_baseline,
    read_until,
    request_param,
)
from trailguard.remediate.floors import FloorRefused
from trailguard.resources import organization as org_kind
from trailguard.resources.organization import CLOUDTRAIL, KIND, SCP

TRUSTED_FOLLOW_UP = (
    "While it was off, organization trails may not have logged member accounts: check each organization "
    "trail's status (aws cloudtrail get-trail-status) and the member accounts' activity in that window"
)
ADMIN_FOLLOW_UP = (
    "While it was deregistered, that account could not manage the organization's trails: check who "
    "deregistered it and why"
)
SCP_FOLLOW_UP = (
    "While the SCP was off, member accounts could stop or change CloudTrail and trailguard: check their "
    "trails and trailguard stacks, and who changed the SCP"
)


def _region(ctx: Context, request: RepairRequest) -> str:
    """Organizations is global: the call's region (us-east-1 for its events), else the handler's."""
    record = request.record
    return (record.region if record is not None else None) or ctx.region


def _account(ctx: Context, request: RepairRequest) -> str:
    """The organization baseline's id: the management account the call was made in."""
    record_account = request.record.account_id if request.record is not None else None
    return str(request.ident or record_account or ctx.config.account or ctx.live.inventory.account or "")


def _baseline(ctx: Context, request: RepairRequest, outcome: Outcome) -> Mapping[str, Any] | None:
    if request.baseline is not None:
        return request.baseline
    return read_baseline(ctx, outcome, KIND.name, _account(ctx, request))


# -- trusted access -----------------------------------------------------------------------------------


def _trusted(outcome: Outcome, region: str) -> bool:
    enabled = outcome.pages(
        "organizations", region, "ListAWSServiceAccessForOrganization", "EnabledServicePrincipals"
    )
    found = any(s.get("ServicePrincipal") == CLOUDTRAIL for s in enabled)
    outcome.calls[-1].result = f"{CLOUDTRAIL} {'enabled' if found else 'not enabled'}"
    return found


@action(
    "org.enable_trusted_access",
    permissions=("organizations:EnableAWSServiceAccess", "organizations:ListAWSServiceAccessForOrganization"),
    restores=KIND,
    manual_steps=(
        "enable CloudTrail's trusted access again in the management account (aws organizations "
        "enable-aws-service-access --service-principal cloudtrail.amazonaws.com), then check every "
        "organization trail."
    ),
)
def enable_trusted_access(ctx: Context, request: RepairRequest) -> Outcome:
    """``org.trusted-access``: DisableAWSServiceAccess(cloudtrail) -> EnableAWSServiceAccess, verified with
    ListAWSServiceAccessForOrganization. The principal is fixed in code: no other service is enabled."""
    outcome = Outcome("org.enable_trusted_access", _account(ctx, request))
    region = _region(ctx, request)
    try:
        if _trusted(outcome, region):
            return outcome.unchanged(
                f"CloudTrail's trusted access ({CLOUDTRAIL}) is enabled; nothing changed"
            )
        outcome.call("organizations", region, "EnableAWSServiceAccess", ServicePrincipal=CLOUDTRAIL)
        enabled = read_until(ctx, lambda: _trusted(outcome, region), bool)
    except Exception as exc:
        error = outcome.last_error(exc)
        return outcome.fail(f"could not enable CloudTrail's trusted access again: {error}", error)
    return outcome.finish(
        "CloudTrail's trusted access",
        [f"enabled trusted access for {CLOUDTRAIL} again"],
        [] if enabled else [f"ListAWSServiceAccessForOrganization does not list {CLOUDTRAIL}"],
        f"ListAWSServiceAccessForOrganization lists {CLOUDTRAIL}",
        follow_up=TRUSTED_FOLLOW_UP,
    )


# -- delegated administrators ---------------------------------------------------------------------------


def _admins(outcome: Outcome, region: str) -> set[str]:
    listed = outcome.pages(
        "organizations",
        region,
        "ListDelegatedAdministrators",
        "DelegatedAdministrators",
        ServicePrincipal=CLOUDTRAIL,
    )
    found = {str(a.get("Id")) for a in listed}
    outcome.calls[-1].result = ", ".join(sorted(found)) or "none"
    return found


def _deregistered(request: RepairRequest) -> str | None:
    return request_param(
        request, "accountId", "delegatedAdminAccountId", "AccountId", "DelegatedAdminAccountId"
    )


@action(
    "org.register_delegated_admin",
    permissions=(
        "cloudtrail:RegisterOrganizationDelegatedAdmin",
        "organizations:ListDelegatedAdministrators",
    ),
    restores=KIND,
    manual_steps=(
        "register CloudTrail's delegated administrator again from the management account (aws cloudtrail "
        "register-organization-delegated-admin --member-account-id ACCOUNT)."
    ),
)
def register_delegated_admin(ctx: Context, request: RepairRequest) -> Outcome:
    """``org.delegated-admin``: every account the baseline records as CloudTrail's delegated administrator
    and ListDelegatedAdministrators no longer lists is registered again with CloudTrail's own call
    (which also makes the service-linked role), then read back. An account the baseline does not record
    is never registered: the deregistration is escalated instead."""
    outcome = Outcome("org.register_delegated_admin", _account(ctx, request))
    region = _region(ctx, request)
    baseline = _baseline(ctx, request, outcome)
    recorded = org_kind.recorded_admins(baseline)
    named = _deregistered(request)
    if recorded is None:
        return outcome.fail(
            "no baseline records CloudTrail's delegated administrators, so trailguard cannot tell which "
            f"account to register again{f' (the call deregistered {named})' if named else ''}; {NO_BASELINE}"
        )
    try:
        live = _admins(outcome, region)
        missing = [a for a in recorded if a not in live]
        done: list[str] = []
        for account in missing:
            outcome.call("cloudtrail", region, "RegisterOrganizationDelegatedAdmin", MemberAccountId=account)
            done.append(f"registered account {account} as CloudTrail's delegated administrator again")
        if missing:
            live = read_until(ctx, lambda: _admins(outcome, region), lambda a: set(recorded) <= a)
    except Exception as exc:
        error = outcome.last_error(exc)
        return outcome.fail(f"could not register CloudTrail's delegated administrator again: {error}", error)
    off = [f"account {a} is not CloudTrail's delegated administrator" for a in recorded if a not in live]
    if named and named not in recorded:
        off.append(
            f"account {named} was deregistered but is not recorded as a delegated administrator in the "
            "baseline, so trailguard did not register it again"
        )
    return outcome.finish(
        "CloudTrail's delegated administrators",
        done,
        off,
        "ListDelegatedAdministrators lists " + (", ".join(recorded) or "no account"),
        follow_up=ADMIN_FOLLOW_UP,
        unchanged=(
            "CloudTrail's delegated administrators match the baseline ("
            + (", ".join(recorded) or "none")
            + "); nothing changed"
        ),
    )


# -- trailguard's SCPs ------------------------------------------------------------------------------------


def check_policy(name: str, content: str) -> None:
    """The floor for CreatePolicy / UpdatePolicy: a trailguard name, content that only denies."""
    if not org_kind.is_trailguard_policy(name):
        raise FloorRefused("CreatePolicy", name, f"only SCPs named {org_kind.POLICY_PREFIX}* are restored")
    try:
        document = json.loads(content)
    except ValueError:
        raise FloorRefused("CreatePolicy", name, "the recorded content is not JSON") from None
    statements = document.get("Statement") if isinstance(document, Mapping) else None
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise FloorRefused("CreatePolicy", name, "the recorded content has no statements")
    for statement in statements:
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Deny":
            raise FloorRefused("CreatePolicy", name, "a restored SCP only denies; the recorded one allows")
        actions = statement.get("Action")
        if "NotAction" in statement or actions == "*" or (isinstance(actions, list) and "*" in actions):
            raise FloorRefused("CreatePolicy", name, 'a restored SCP never denies every action ("*")')


def check_target(target: str) -> None:
    if not org_kind.TARGET.match(target):
        raise FloorRefused("AttachPolicy", target, "an SCP is attached only to a root, OU or account id")


def _same_content(a: str | None, b: str | None) -> bool:
    try:
        return bool(json.loads(a or "") == json.loads(b or ""))
    except ValueError:
        return False


def _live_policy(outcome: Outcome, region: str, recorded: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The live SCP for a recorded one: by its id, else by its name (a recreated one has a new id)."""
    try:
        found = outcome.call("organizations", region, "DescribePolicy", gone=KIND, PolicyId=recorded["Id"])
        return dict(found["Policy"])
    except Gone:
        outcome.calls[-1].error, outcome.calls[-1].result = None, "no such policy"
    for summary in outcome.pages("organizations", region, "ListPolicies", "Policies", Filter=SCP):
        if summary.get("Name") == recorded["Name"]:
            found = outcome.call("organizations", region, "DescribePolicy", PolicyId=summary["Id"])
            return dict(found["Policy"])
    outcome.calls[-1].result = f"no SCP named {recorded['Name']}"
    return None


def _targets(outcome: Outcome, region: str, policy_id: str) -> set[str]:
    listed = outcome.pages("organizations", region, "ListTargetsForPolicy", "Targets", PolicyId=policy_id)
    found = {str(t.get("TargetId")) for t in listed}
    outcome.calls[-1].result = ", ".join(sorted(found)) or "no target"
    return found


def _restore_one(outcome: Outcome, region: str, recorded: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(done, still off) for one recorded SCP."""
    name, content = str(recorded["Name"]), str(recorded.get("Content") or "")
    description = str(recorded.get("Description") or "")
    done: list[str] = []
    live = _live_policy(outcome, region, recorded)
    if live is None:
        check_policy(name, content)
        created = outcome.call(
            "organizations",
            region,
            "CreatePolicy",
            Name=name,
            Description=description,
            Type=SCP,
            Content=content,
        )
        policy_id = str(created["Policy"]["PolicySummary"]["Id"])
        outcome.calls[-1].result = f"PolicyId {policy_id}"
        done.append(f"recreated deleted SCP {name} (was {recorded['Id']}, now {policy_id})")
    else:
        summary = live.get("PolicySummary") or {}
        policy_id = str(summary.get("Id"))
        changed = []
        if not _same_content(live.get("Content"), content):
            changed.append("content")
        if summary.get("Name") != name:
            changed.append(f"name {summary.get('Name')} -> {name}")
        if changed:
            check_policy(name, content)
            outcome.call(
                "organizations",
                region,
                "UpdatePolicy",
                PolicyId=policy_id,
                Name=name,
                Description=description,
                Content=content,
            )
            done.append(f"restored SCP {name}'s {', '.join(changed)} from the baseline")
    wanted = [str(t) for t in recorded.get("Targets") or []]
    attached = _targets(outcome, region, policy_id)
    for target in wanted:
        if target in attached:
            continue
        check_target(target)
        outcome.call("organizations", region, "AttachPolicy", PolicyId=policy_id, TargetId=target)
        done.append(f"attached SCP {name} to {target} again")
    off: list[str] = []
    if done:
        after = outcome.call("organizations", region, "DescribePolicy", PolicyId=policy_id)["Policy"]
        if not _same_content(after.get("Content"), content):
            off.append(f"SCP {name}'s content still differs from the baseline")
        attached = _targets(outcome, region, policy_id)
        off.extend(f"SCP {name} is not attached to {t}" for t in wanted if t not in attached)
    return done, off


def _chosen(
    request: RepairRequest, recorded: list[Mapping[str, Any]]
) -> tuple[list[Mapping[str, Any]], bool]:
    """(the recorded SCPs to check, whether the call named one of them by its recorded id). A call that
    names another id checks them all: a recreated SCP has an id the baseline does not know yet, and
    each is found by name."""
    policy_id = request_param(request, "policyId", "PolicyId")
    if request.record is None or policy_id is None:
        return recorded, True
    named = [p for p in recorded if p.get("Id") == policy_id]
    return (named, True) if named else (recorded, False)


@action(
    "org.restore_scp",
    permissions=(
        "organizations:DescribePolicy",
        "organizations:ListPolicies",
        "organizations:CreatePolicy",
        "organizations:UpdatePolicy",
        "organizations:ListTargetsForPolicy",
        "organizations:AttachPolicy",
    ),
    restores=KIND,
    manual_steps=(
        "put trailguard's SCPs back: run `trailguard scp --attach --target ID ...` with the targets they "
        "had, from the management account."
    ),
)
def restore_scp(ctx: Context, request: RepairRequest) -> Outcome:
    """``org.scp-change``: each recorded trailguard SCP is found (by id, else by name), recreated when
    deleted, its content and name restored when changed, and re-attached to every recorded target;
    then read back (DescribePolicy, ListTargetsForPolicy)."""
    outcome = Outcome("org.restore_scp", _account(ctx, request))
    region = _region(ctx, request)
    baseline = _baseline(ctx, request, outcome)
    recorded = org_kind.recorded_policies(baseline)
    if baseline is None:
        return outcome.fail(f"no baseline of the organization is recorded; {NO_BASELINE}")
    chosen, recognised = _chosen(request, recorded)
    names = ", ".join(str(p["Name"]) for p in chosen) or "none recorded"
    unchanged = f"trailguard's SCPs match the baseline ({names}); nothing changed"
    if not recognised:
        unchanged = (
            f"SCP {request_param(request, 'policyId', 'PolicyId')} is not one of trailguard's recorded SCPs, "
            f"and {unchanged}"
        )
    done: list[str] = []
    off: list[str] = []
    try:
        for policy in chosen:
            d, o = _restore_one(outcome, region, policy)
            done.extend(d)
            off.extend(o)
    except FloorRefused as refused:
        return outcome.fail(refused.describe(), str(refused))
    except Exception as exc:
        error = outcome.last_error(exc)
        code = error_code(exc)
        return outcome.fail(f"could not restore trailguard's SCPs: {error}", code or error)
    return outcome.finish(
        "trailguard's SCPs",
        done,
        off,
        "DescribePolicy and ListTargetsForPolicy match the baseline",
        follow_up=SCP_FOLLOW_UP,
        unchanged=unchanged,
    )
