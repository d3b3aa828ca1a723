"""The organization: what keeps its organization trails and trailguard's SCPs working, watched in the
management account (Organizations records its calls there, in us-east-1).

Leaving the organization or being removed from it takes an account out of the organization trail, which
nothing can undo (notify only). Disabling CloudTrail's trusted access, deregistering CloudTrail's
delegated administrator and detaching, deleting or rewriting trailguard's SCPs are undone from the
organization's baseline (``resources.organization``).

DetachPolicy and DeletePolicy name the policy by id only, so the call cannot tell whether the SCP is one
of trailguard's: it counts as tampering (the classifier's "unknown"), and the repair, which reads the
signed baseline, says "nothing to restore" for an SCP that is not trailguard's.
"""

from __future__ import annotations

from collections.abc import Mapping

from trailguard.events import Record
from trailguard.policy.inventory import Inventory
from trailguard.policy.technique import Match, Sweep, Technique, param
from trailguard.policy.techniques._common import NOTIFIED, TAMPER_MITRE
from trailguard.remediate import NOTIFY_ONLY
from trailguard.remediate import org as org_repair
from trailguard.resources import organization as org_kind
from trailguard.resources.account import KIND
from trailguard.resources.organization import CLOUDTRAIL

ORGANIZATIONS = "organizations.amazonaws.com"
CLOUDTRAIL_SOURCE = "cloudtrail.amazonaws.com"


def _management(record: Record, inventory: Inventory) -> str | None:
    """The organization baseline's id: the management account the call was made in."""
    return record.account_id or inventory.account


def _leave(record: Record, inventory: Inventory) -> Match:
    account = record.account_id or inventory.account
    who = f"account {account}" if account else "the account"
    return Match.tamper(
        account, f"takes {who} (and its logging by the organization trail) out of its organization"
    )


def _removed(record: Record, inventory: Inventory) -> Match:
    account = param(record, "accountId", "AccountId")
    who = f"account {account}" if account else "an account"
    return Match.tamper(
        _management(record, inventory),
        f"removes {who} from the organization, and so from the organization trail and its SCPs",
    )


def _trusted_access(record: Record, inventory: Inventory) -> Match:
    principal = param(record, "servicePrincipal", "ServicePrincipal")
    if principal is None:
        return Match.unknown(
            _management(record, inventory), "does not say which service's trusted access it disables"
        )
    if principal != CLOUDTRAIL:
        return Match.harmless(
            None, f"disabling {principal}'s trusted access leaves organization trails alone"
        )
    return Match.tamper(
        _management(record, inventory),
        "disables CloudTrail's trusted access in the organization, so organization trails stop logging "
        "member accounts",
    )


def _delegated_admin(record: Record, inventory: Inventory) -> Match:
    account = param(record, "accountId", "delegatedAdminAccountId", "AccountId", "DelegatedAdminAccountId")
    which = f"account {account}" if account else "the account"
    if record.event_source == ORGANIZATIONS:
        principal = param(record, "servicePrincipal", "ServicePrincipal")
        if principal is None:
            return Match.unknown(
                _management(record, inventory),
                "does not say which service's delegated administrator it removes",
            )
        if principal != CLOUDTRAIL:
            return Match.harmless(
                None, f"deregistering {principal}'s delegated administrator leaves CloudTrail alone"
            )
    return Match.tamper(
        _management(record, inventory),
        f"deregisters {which} as CloudTrail's delegated administrator, which repairs organization trails",
    )


def _renamed_or_unnamed(record: Record) -> str | None:
    """The SCP's name when the call proves it (UpdatePolicy's answer, no rename); else None."""
    if param(record, "name", "Name"):
        return None
    response = record.raw.get("responseElements")
    policy = response.get("policy") if isinstance(response, Mapping) else None
    summary = policy.get("policySummary") if isinstance(policy, Mapping) else None
    name = summary.get("name") if isinstance(summary, Mapping) else None
    return name if isinstance(name, str) and name else None


def _scp_change(record: Record, inventory: Inventory) -> Match:
    management = _management(record, inventory)
    policy = param(record, "policyId", "PolicyId")
    if policy is None:
        return Match.unknown(management, "does not say which SCP it changes")
    if policy == org_kind.FULL_ACCESS:
        return Match.harmless(None, "FullAWSAccess is not one of trailguard's SCPs")
    if record.event_name == "UpdatePolicy":
        name = _renamed_or_unnamed(record)
        if name is not None and not org_kind.is_trailguard_policy(name):
            return Match.harmless(None, f"SCP {name} is not one of trailguard's")
        if name is not None:
            return Match.tamper(management, f"rewrites trailguard's SCP {name} ({policy})")
        return Match.unknown(management, f"rewrites SCP {policy}, which may be one of trailguard's")
    if record.event_name == "DetachPolicy":
        target = param(record, "targetId", "TargetId") or "a target"
        return Match.unknown(
            management, f"detaches SCP {policy} from {target}; it may be one of trailguard's"
        )
    return Match.unknown(management, f"deletes SCP {policy}, which may be one of trailguard's")


def _records_trusted_access(baseline: Mapping[str, object]) -> bool:
    listed = baseline.get("TrustedAccess")
    return isinstance(listed, list) and CLOUDTRAIL in listed


def _records_admins(baseline: Mapping[str, object]) -> bool:
    return bool(org_kind.recorded_admins(baseline))


def _records_policies(baseline: Mapping[str, object]) -> bool:
    return bool(org_kind.recorded_policies(baseline))


LEAVE = Technique(
    id="org.leave",
    tamper_when="always (the account leaves the organization trail)",
    repair_summary="notify only",
    title="Account left the organization",
    mitre=TAMPER_MITRE,
    kind=KIND,
    event_source=ORGANIZATIONS,
    event_names=frozenset({"LeaveOrganization"}),
    condition=_leave,
    action=NOTIFY_ONLY,
    verification=NOTIFIED,
)

REMOVE_ACCOUNT = Technique(
    id="org.remove-account",
    tamper_when="always (the account leaves the organization trail and trailguard's SCPs)",
    repair_summary="notify only",
    title="Account removed from the organization",
    mitre=TAMPER_MITRE,
    kind=org_kind.KIND,
    event_source=ORGANIZATIONS,
    event_names=frozenset({"RemoveAccountFromOrganization"}),
    condition=_removed,
    action=NOTIFY_ONLY,
    verification=NOTIFIED,
)

TRUSTED_ACCESS = Technique(
    id="org.trusted-access",
    tamper_when="the service principal is `cloudtrail.amazonaws.com`",
    repair_summary="`EnableAWSServiceAccess` for `cloudtrail.amazonaws.com`",
    title="CloudTrail's trusted access disabled in the organization",
    mitre=TAMPER_MITRE,
    kind=org_kind.KIND,
    sweep=Sweep(order=1, when=_records_trusted_access),
    event_source=ORGANIZATIONS,
    event_names=frozenset({"DisableAWSServiceAccess"}),
    condition=_trusted_access,
    action=org_repair.enable_trusted_access,
    verification="ListAWSServiceAccessForOrganization lists cloudtrail.amazonaws.com.",
    stops_delivery=True,
)

DELEGATED_ADMIN = Technique(
    id="org.delegated-admin",
    tamper_when=(
        "Organizations' call names `cloudtrail.amazonaws.com`, or CloudTrail's own "
        "`DeregisterOrganizationDelegatedAdmin`"
    ),
    repair_summary="`RegisterOrganizationDelegatedAdmin` for each account the baseline records",
    title="CloudTrail's delegated administrator deregistered",
    mitre=TAMPER_MITRE,
    kind=org_kind.KIND,
    sweep=Sweep(order=2, when=_records_admins),
    event_source=ORGANIZATIONS,
    event_names=frozenset({"DeregisterDelegatedAdministrator"}),
    extra_events=frozenset({(CLOUDTRAIL_SOURCE, "DeregisterOrganizationDelegatedAdmin")}),
    condition=_delegated_admin,
    action=org_repair.register_delegated_admin,
    verification="ListDelegatedAdministrators lists every recorded account for cloudtrail.amazonaws.com.",
)

SCP_CHANGE = Technique(
    id="org.scp-change",
    tamper_when=(
        "the SCP is one of trailguard's (`trailguard-protect-*`); DetachPolicy and DeletePolicy do not "
        "name it, so any but FullAWSAccess counts"
    ),
    repair_summary="re-attach, recreate or restore the content from the baseline",
    title="trailguard's SCP detached, deleted or changed",
    mitre=TAMPER_MITRE,
    kind=org_kind.KIND,
    sweep=Sweep(order=3, when=_records_policies),
    event_source=ORGANIZATIONS,
    event_names=frozenset({"DetachPolicy", "DeletePolicy", "UpdatePolicy"}),
    condition=_scp_change,
    action=org_repair.restore_scp,
    verification="DescribePolicy and ListTargetsForPolicy match the baseline.",
)

TECHNIQUES = (LEAVE, REMOVE_ACCOUNT, TRUSTED_ACCESS, DELEGATED_ADMIN, SCP_CHANGE)
