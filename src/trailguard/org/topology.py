"""What ``deploy --org`` must know about the organization before it changes anything, read with the
management account's credentials: its features, trusted services, OUs, accounts and regions.

Reading only (Organizations and EC2 ``Describe``/``List`` calls). The facts are returned as plain data
(:class:`Topology`), so the checks on them (:mod:`trailguard.org.preflight`) are pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from trailguard.deploy.errors import DeployError, call

# IAM permissions of these reads (the deploying principal's policy):
READ_ACTIONS = (
    "organizations:DescribeOrganization",
    "organizations:ListRoots",
    "organizations:ListOrganizationalUnitsForParent",
    "organizations:ListAccountsForParent",
    "organizations:ListAccounts",
    "organizations:ListAWSServiceAccessForOrganization",
    "organizations:ListDelegatedAdministrators",
    "ec2:DescribeRegions",
    "cloudtrail:DescribeTrails",
)
STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
CLOUDTRAIL_PRINCIPAL = "cloudtrail.amazonaws.com"
CONTROL_TOWER_PRINCIPAL = "controltower.amazonaws.com"
ENABLED_OPT_IN = frozenset({"opt-in-not-required", "opted-in"})


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    status: str  # ACTIVE | SUSPENDED | PENDING_CLOSURE
    parent: str  # the root or OU directly above it

    @property
    def active(self) -> bool:
        return self.status == "ACTIVE"


@dataclass(frozen=True)
class Unit:
    """A root or OU: its id, name and the one above it ("" for a root)."""

    id: str
    name: str
    parent: str


@dataclass
class Topology:
    """The organization as the management account sees it."""

    organization_id: str
    management_id: str
    caller_account: str
    feature_set: str
    trusted_services: frozenset[str]
    units: dict[str, Unit]  # every root and OU by id
    accounts: dict[str, Account]  # every account by id
    regions: dict[str, str]  # region name -> OptInStatus (for the caller's account)
    cloudtrail_admins: tuple[str, ...] | None = ()  # CloudTrail's delegated administrators; None: unknown
    organization_trails: tuple[str, ...] | None = ()  # their ARNs (as the management account lists them)
    notes: list[str] = field(default_factory=list)  # what could not be read, said plainly

    @property
    def root(self) -> str:
        return next((u.id for u in self.units.values() if not u.parent), "")

    @property
    def enabled_regions(self) -> list[str]:
        return sorted(r for r, status in self.regions.items() if status in ENABLED_OPT_IN)

    def resolve_unit(self, ref: str) -> str | None:
        """The id of the OU (or root) named by ``ref``: its id, or a name no other OU has."""
        if ref in self.units:
            return ref
        named = [u.id for u in self.units.values() if u.name == ref]
        return named[0] if len(named) == 1 else None

    def below(self, unit: str) -> list[Account]:
        """Every account in ``unit`` or any OU under it (a parent OU includes its children)."""
        inside = {unit}
        grew = True
        while grew:
            more = {u.id for u in self.units.values() if u.parent in inside} - inside
            inside |= more
            grew = bool(more)
        return sorted((a for a in self.accounts.values() if a.parent in inside), key=lambda a: a.id)

    def ous_of(self, account: str) -> list[str]:
        """The units above ``account``, nearest first."""
        found = self.accounts.get(account)
        chain: list[str] = []
        unit = found.parent if found else ""
        while unit and unit in self.units and unit not in chain:
            chain.append(unit)
            unit = self.units[unit].parent
        return chain


def _pages(client: Any, operation: str, key: str, doing: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    paginator = client.get_paginator(operation)
    for page in call(doing, lambda: list(paginator.paginate(**kwargs))):
        yield from page.get(key) or []


def _units(orgs: Any) -> dict[str, Unit]:
    units: dict[str, Unit] = {}
    queue: list[str] = []
    for root in _pages(orgs, "list_roots", "Roots", "listing the organization's roots"):
        units[str(root["Id"])] = Unit(str(root["Id"]), str(root.get("Name") or "Root"), "")
        queue.append(str(root["Id"]))
    while queue:
        parent = queue.pop(0)
        for ou in _pages(
            orgs,
            "list_organizational_units_for_parent",
            "OrganizationalUnits",
            f"listing the OUs under {parent}",
            ParentId=parent,
        ):
            units[str(ou["Id"])] = Unit(str(ou["Id"]), str(ou.get("Name") or ""), parent)
            queue.append(str(ou["Id"]))
    return units


def _accounts(orgs: Any, units: Iterable[str]) -> dict[str, Account]:
    accounts: dict[str, Account] = {}
    for unit in units:
        for found in _pages(
            orgs, "list_accounts_for_parent", "Accounts", f"listing the accounts in {unit}", ParentId=unit
        ):
            account = str(found["Id"])
            accounts[account] = Account(
                account, str(found.get("Name") or ""), str(found.get("Status") or "ACTIVE"), unit
            )
    return accounts


def discover(orgs: Any, ec2: Any, caller_account: str, cloudtrail: Any = None) -> Topology:
    """Read the organization (``orgs``: an Organizations client; ``ec2``: for the regions;
    ``cloudtrail``: for the organization trails)."""
    from botocore.exceptions import ClientError

    try:
        organization = orgs.describe_organization()["Organization"]
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code == "AWSOrganizationsNotInUseException":
            raise DeployError(
                "this account is not in an organization: create one (aws organizations "
                "create-organization --feature-set ALL) or deploy one account with `trailguard deploy`"
            ) from exc
        raise DeployError(f"describing the organization: {exc}") from exc
    units = _units(orgs)
    accounts = _accounts(orgs, list(units))
    trusted = frozenset(
        str(s["ServicePrincipal"])
        for s in _pages(
            orgs,
            "list_aws_service_access_for_organization",
            "EnabledServicePrincipals",
            "listing the organization's trusted services",
        )
    )
    regions = {
        str(r["RegionName"]): str(r.get("OptInStatus") or "opt-in-not-required")
        for r in call("listing the regions (ec2 describe-regions)", ec2.describe_regions, AllRegions=True)[
            "Regions"
        ]
    }
    topology = Topology(
        organization_id=str(organization["Id"]),
        management_id=str(organization["MasterAccountId"]),
        caller_account=caller_account,
        feature_set=str(organization.get("FeatureSet") or ""),
        trusted_services=trusted,
        units=units,
        accounts=accounts,
        regions=regions,
    )
    try:
        admins = orgs.list_delegated_administrators(ServicePrincipal=CLOUDTRAIL_PRINCIPAL)
        topology.cloudtrail_admins = tuple(str(a["Id"]) for a in admins.get("DelegatedAdministrators") or [])
    except ClientError as exc:  # an endpoint without it: the check becomes a note, never a pass
        topology.cloudtrail_admins = None
        topology.notes.append(f"could not list CloudTrail's delegated administrators: {exc}")
    if cloudtrail is not None:
        try:
            trails = cloudtrail.describe_trails(includeShadowTrails=True).get("trailList") or []
            topology.organization_trails = tuple(
                sorted(
                    {str(t["TrailARN"]) for t in trails if t.get("IsOrganizationTrail") and t.get("TrailARN")}
                )
            )
        except ClientError as exc:
            topology.organization_trails = None
            topology.notes.append(f"could not list the organization trails: {exc}")
    return topology
