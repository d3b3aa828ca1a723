"""The AWS Organization, seen from its management account: what keeps organization trails and
trailguard's SCPs working. Ids are the management account's id (one organization per management
account); a baseline is recorded only there (a member cannot list the organization's roots).

The baseline document records CloudTrail's trusted access, CloudTrail's delegated administrators and
trailguard's SCPs (``trailguard-protect-*``: id, name, description, content and targets), so the
``org.*`` techniques can put them back. Organizations is a global service: its calls go to the clients'
region and botocore sends them to the service's one endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from trailguard.aws import error_code
from trailguard.resources.base import Clients, Kind, meta

CLOUDTRAIL = "cloudtrail.amazonaws.com"
"""The service principal whose trusted access and delegated administrators organization trails need."""
SCP = "SERVICE_CONTROL_POLICY"
POLICY_PREFIX = "trailguard-protect-"
"""trailguard's SCPs are named so (``trailguard scp``; :mod:`trailguard.org.scp` keeps the same prefix)."""
FULL_ACCESS = "p-FullAWSAccess"
_ACCOUNT = re.compile(r"^\d{12}$")
TARGET = re.compile(r"^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|\d{12})$")
"""A root, OU or account id: the only targets an SCP is attached to."""


def ident(ref: str) -> str:
    """The management account id of an Organizations ARN (``arn:aws:organizations::ACCOUNT:...``) or of
    an id; ``ref`` otherwise."""
    if ref.startswith("arn:"):
        parts = ref.split(":", 5)
        if len(parts) == 6 and _ACCOUNT.match(parts[4]):
            return parts[4]
    return ref


def is_trailguard_policy(name: Any) -> bool:
    return isinstance(name, str) and name.startswith(POLICY_PREFIX)


def _pages(call: Any, key: str, **params: Any) -> list[Any]:
    found: list[Any] = []
    while True:
        page = call(**params)
        found.extend(page.get(key) or [])
        if not page.get("NextToken"):
            return found
        params["NextToken"] = page["NextToken"]


def trailguard_policies(org: Any) -> list[dict[str, Any]]:
    """trailguard's SCPs with their content and targets, sorted by name."""
    out = []
    for summary in _pages(org.list_policies, "Policies", Filter=SCP):
        if not is_trailguard_policy(summary.get("Name")):
            continue
        policy = org.describe_policy(PolicyId=summary["Id"])["Policy"]
        targets = _pages(org.list_targets_for_policy, "Targets", PolicyId=summary["Id"])
        out.append(
            {
                "Id": str(summary["Id"]),
                "Name": str(summary["Name"]),
                "Description": str(summary.get("Description") or ""),
                "Content": str(policy.get("Content") or ""),
                "Targets": sorted(str(t["TargetId"]) for t in targets),
            }
        )
    return sorted(out, key=lambda p: p["Name"])


def capture(ref: str, clients: Clients, source: str) -> dict[str, Any]:
    org = clients("organizations")
    described = org.describe_organization()["Organization"]
    notes: list[str] = []
    doc: dict[str, Any] = {
        "ManagementAccountId": str(described.get("MasterAccountId") or ident(ref)),
        "OrganizationId": str(described.get("Id") or ""),
        "FeatureSet": str(described.get("FeatureSet") or ""),
        "TrustedAccess": sorted(
            str(s["ServicePrincipal"])
            for s in _pages(org.list_aws_service_access_for_organization, "EnabledServicePrincipals")
        ),
    }
    try:
        admins = _pages(
            org.list_delegated_administrators, "DelegatedAdministrators", ServicePrincipal=CLOUDTRAIL
        )
        doc["DelegatedAdmins"] = {CLOUDTRAIL: sorted(str(a["Id"]) for a in admins)}
    except Exception as exc:  # moto knows no CloudTrail delegated admin (InvalidInputException)
        notes.append(f"CloudTrail's delegated administrators not listed: {error_code(exc) or exc}")
    doc["Policies"] = trailguard_policies(org)
    doc["_meta"] = meta(source, notes)
    return doc


def discover(clients: Clients, source: str) -> list[tuple[str, dict[str, Any]]]:
    """The organization's baseline, from its management account only; nothing elsewhere."""
    org = clients("organizations")
    try:
        described = org.describe_organization()["Organization"]
        org.list_roots()  # a member may describe its organization, only the management account lists roots
    except Exception as exc:
        if error_code(exc) in ("AWSOrganizationsNotInUseException", "AccessDeniedException", "AccessDenied"):
            return []
        raise
    management = str(described["MasterAccountId"])
    return [(management, capture(management, clients, source))]


def recorded_policies(baseline: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The baseline's trailguard SCPs (only well-formed entries with a trailguard name)."""
    listed = (baseline or {}).get("Policies")
    if not isinstance(listed, list):
        return []
    return [p for p in listed if isinstance(p, Mapping) and is_trailguard_policy(p.get("Name"))]


def recorded_admins(baseline: Mapping[str, Any] | None) -> list[str] | None:
    """CloudTrail's delegated administrators as recorded; None when the baseline does not say."""
    admins = (baseline or {}).get("DelegatedAdmins")
    listed = admins.get(CLOUDTRAIL) if isinstance(admins, Mapping) else None
    if not isinstance(listed, list):
        return None
    return [str(a) for a in listed if isinstance(a, str) and _ACCOUNT.match(a)]


KIND = Kind(
    name="organization",
    noun="organization",
    sweep_order=88,
    ident=ident,
    short=lambda ident: f"of management account {ident}",
    gone_codes=frozenset({"PolicyNotFoundException"}),
    summary_fields=("OrganizationId", "TrustedAccess", "DelegatedAdmins"),
    iam_actions=("organizations:*",),
    iam_reason="The management account's own organization.",
    iam_resources=("arn:${AWS::Partition}:organizations::${AWS::AccountId}:*",),
    capture=capture,
    discover=discover,
    baseline_order=12,
)
