"""The checks ``deploy --org`` makes before it changes anything, on the organization as read
(:class:`~trailguard.org.topology.Topology`). Pure: no AWS call here.

A :class:`Problem` stops the deploy (exit 1, nothing changed) and says the command that fixes it; a
note is printed and the deploy goes on (a suspended account skipped, a template sent by URL).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from trailguard.org.topology import (
    CLOUDTRAIL_PRINCIPAL,
    CONTROL_TOWER_PRINCIPAL,
    STACKSETS_PRINCIPAL,
    Account,
    Topology,
)

TEMPLATE_BODY_LIMIT = 51_200  # inline TemplateBody; above it CloudFormation reads it from S3
TEMPLATE_URL_LIMIT = 1_000_000  # a template given by TemplateURL


@dataclass(frozen=True)
class Problem:
    what: str
    fix: str

    def describe(self) -> str:
        return f"{self.what}. Fix: {self.fix}"


@dataclass(frozen=True)
class Request:
    """What the caller asked for, with the OUs as given (ids or names)."""

    security_account: str
    ous: tuple[str, ...]  # empty: the whole organization (its root)
    regions: tuple[str, ...]
    template_sizes: Sequence[tuple[str, int]] = ()  # (template, compacted bytes)


@dataclass
class Preflight:
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    targets: tuple[str, ...] = ()  # the OU (or root) ids the stack set deploys to
    members: list[Account] = field(default_factory=list)  # accounts under them, management excluded
    security_in_targets: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def check(topology: Topology, request: Request) -> Preflight:
    """Every problem (not only the first), so one run says everything to fix."""
    out = Preflight()
    problems, notes = out.problems, out.notes
    notes.extend(topology.notes)
    if topology.caller_account != topology.management_id:
        problems.append(
            Problem(
                f"these credentials are account {topology.caller_account}, not the organization's "
                f"management account {topology.management_id}",
                "run deploy --org with the management account's credentials (--profile)",
            )
        )
    if topology.feature_set != "ALL":
        problems.append(
            Problem(
                f"the organization has feature set {topology.feature_set or 'unknown'}, not ALL "
                "(service-managed StackSets and SCPs need all features)",
                "aws organizations enable-all-features, then accept it in every account",
            )
        )
    if STACKSETS_PRINCIPAL not in topology.trusted_services:
        problems.append(
            Problem(
                "CloudFormation StackSets has no trusted access to the organization",
                "aws cloudformation activate-organizations-access (or, in the console: CloudFormation, "
                "StackSets, Activate trusted access)",
            )
        )
    if CLOUDTRAIL_PRINCIPAL not in topology.trusted_services:
        problems.append(
            Problem(
                "CloudTrail has no trusted access to the organization (organization trails and their "
                "delegated administrator need it)",
                f"aws organizations enable-aws-service-access --service-principal {CLOUDTRAIL_PRINCIPAL}",
            )
        )

    if topology.organization_trails == ():
        notes.append(
            "the organization has no organization trail: each account's stacks protect its own trails only"
        )
    elif topology.organization_trails:
        notes.append(f"organization trail(s): {', '.join(topology.organization_trails)}")
    if CONTROL_TOWER_PRINCIPAL in topology.trusted_services:
        notes.append(
            "Control Tower manages this organization: its AWSControlTowerExecution role changes trails; "
            "allow-list it (--parameter-overrides AllowedPrincipalArns=...) and use trailguard scp "
            "--control-tower"
        )

    security = topology.accounts.get(request.security_account)
    if security is None:
        problems.append(
            Problem(
                f"security account {request.security_account} is not in organization "
                f"{topology.organization_id}",
                "pass --security-account with the id of a member account (aws organizations list-accounts)",
            )
        )
    elif not security.active:
        problems.append(
            Problem(
                f"security account {security.id} is {security.status}",
                "choose an ACTIVE account for --security-account",
            )
        )
    elif security.id == topology.management_id:
        problems.append(
            Problem(
                "the security account is the management account",
                "choose a member account for --security-account (the central stack belongs outside "
                "the management account, where SCPs apply)",
            )
        )
    elif topology.cloudtrail_admins is not None and security.id not in topology.cloudtrail_admins:
        notes.append(
            f"security account {security.id} is not CloudTrail's delegated administrator: it cannot repair "
            "organization trails until it is (aws cloudtrail register-organization-delegated-admin "
            f"--member-account-id {security.id})"
        )

    targets: list[str] = []
    for ref in request.ous or (topology.root,):
        unit = topology.resolve_unit(ref)
        if unit is None:
            known = ", ".join(f"{u.id} ({u.name})" for u in topology.units.values() if u.parent) or "none"
            problems.append(
                Problem(f"OU {ref} is not in the organization", f"give an OU id or unique name; OUs: {known}")
            )
        elif unit not in targets:
            targets.append(unit)
    out.targets = tuple(targets)

    for region in request.regions:
        status = topology.regions.get(region)
        if status is None:
            problems.append(Problem(f"{region} is not a region", "give a region name such as eu-west-1"))
        elif status not in ("opt-in-not-required", "opted-in"):
            problems.append(
                Problem(
                    f"region {region} is not enabled in the management account ({status})",
                    f"aws account enable-region --region-name {region}, or leave it out",
                )
            )
    if not request.regions:
        problems.append(
            Problem("no region to deploy to", "pass --region R (repeatable) or --all-enabled-regions")
        )

    seen: set[str] = set()
    for unit in targets:
        for account in topology.below(unit):
            if account.id in seen:
                continue
            seen.add(account.id)
            if account.id == topology.management_id:
                notes.append(
                    f"the management account {account.id} is in {unit}: StackSets skip it, it gets plain "
                    "stacks instead"
                )
                continue
            if not account.active:
                notes.append(f"account {account.id} ({account.name}) is {account.status}: skipped")
            out.members.append(account)
    out.security_in_targets = security is not None and security.id in seen
    if security is not None and not out.security_in_targets and security.active:
        notes.append(
            f"security account {security.id} is in none of the targeted OUs: it gets the central stack but "
            "no member stack (add its OU with --ou to protect its own trails)"
        )

    for name, size in request.template_sizes:
        if size > TEMPLATE_URL_LIMIT:
            problems.append(
                Problem(
                    f"the {name} template is {size} bytes, over CloudFormation's {TEMPLATE_URL_LIMIT}",
                    "this installation is broken: reinstall trailguard",
                )
            )
        elif size > TEMPLATE_BODY_LIMIT:
            notes.append(
                f"the {name} template is {size} bytes (over {TEMPLATE_BODY_LIMIT}): CloudFormation reads it "
                "from the artifact bucket"
            )
    return out
