"""GuardDuty's finding that a trail was disabled, bare or imported into Security Hub: the second path
that catches what the API-call rule missed."""

from __future__ import annotations

from trailguard.events import TRAIL_DISABLED_ASFF_TYPE, TRAIL_DISABLED_FINDING, Record
from trailguard.policy.inventory import Entry, Inventory
from trailguard.policy.technique import Match, Sweep, Technique
from trailguard.policy.techniques._common import TAMPER_MITRE
from trailguard.remediate import trail as repair
from trailguard.resources.trail import KIND, arn_account, name_of


def finding_trail_account(record: Record, trail: str) -> str | None:
    """The account the trail a finding names is in: its ARN's account, else the account the finding
    was raised in (GuardDuty's ``accountId``, Security Hub's ``AwsAccountId``). Pure."""
    return arn_account(trail) if trail.startswith("arn:") else record.account_id


def other_accounts_trail(record: Record, trail: str, found: Entry | None, stack: str | None) -> str | None:
    """The ARN of the trail a finding names when it is another account's than the stack's ``stack``, or
    None (the stack's own, or either account unknown). A GuardDuty administrator or Security Hub
    aggregator receives every member's findings, and every account of a StackSet has trails of the same
    names: a trail listed here under the same name is not that trail unless its ARN is the one named.
    A bare name becomes the ARN in the finding's account and region (partition from the listed trail's
    ARN). Pure."""
    account = finding_trail_account(record, trail)
    if not account or not stack or account == stack:
        return None
    listed = str(found.get("TrailARN") or "") if found is not None else ""
    if trail.startswith("arn:"):
        return None if listed == trail else trail
    partition = listed.split(":", 2)[1] if listed.startswith("arn:") else "aws"
    return f"arn:{partition}:cloudtrail:{record.region or ''}:{account}:trail/{name_of(trail)}"


def _trail_disabled(record: Record, inventory: Inventory) -> Match:
    trail = record.finding_trail
    if not record.finding_active:
        return Match.harmless(
            trail, "the finding that a trail was disabled is archived, resolved or suppressed"
        )
    if record.answered_by_trailguard:  # no loop: trailguard's own update of the finding came back
        return Match.harmless(
            trail, "trailguard already answered this finding; nothing about it changed since"
        )
    if trail is None:
        return Match.tamper(
            None,
            "reports that a trail was disabled without naming it, so every protected trail must be checked",
        )
    found = inventory.trail(trail) if inventory.knows_trails else None
    if inventory.knows_trails and found is None:
        return Match.harmless(trail, f"the finding names trail {trail}, which trailguard does not protect")
    other = other_accounts_trail(record, trail, found, inventory.account)
    if other is not None:
        # protected by name (a StackSet deploys one configuration everywhere), but not the trail here:
        # its own account's stack repairs it; this one verifies and reports (remediate.trail.route)
        return Match.tamper(other, f"reports that trail {other} of account {arn_account(other)} was disabled")
    arn = found.get("TrailARN") if found is not None else None
    trail = arn if isinstance(arn, str) and arn else trail
    return Match.tamper(trail, f"reports that trail {trail} was disabled")


TRAIL_DISABLED = Technique(
    id="finding.trail-disabled",
    tamper_when=(
        "the finding is active (not archived, `RecordState` ACTIVE, workflow not RESOLVED / "
        "SUPPRESSED); the trail comes from the affected-resources product field, whose key may carry "
        "the newer `aws/guardduty/service/` prefix"
    ),
    repair_summary=(
        "check the named trail (or every protected trail when none is named) against its baseline and"
        " repair what is off"
    ),
    title="GuardDuty finding: CloudTrail logging disabled",
    mitre=TAMPER_MITRE,
    kind=KIND,
    sweep=Sweep(),  # the backstop reconciles every trail baseline with this action
    event_source="guardduty.amazonaws.com",
    event_names=frozenset(),
    condition=_trail_disabled,
    action=repair.reconcile,
    verification="As for the trail techniques: the trail logs and DescribeTrails equals its baseline.",
    kinds=frozenset({"guardduty", "securityhub"}),
    finding_types=frozenset({TRAIL_DISABLED_FINDING, TRAIL_DISABLED_ASFF_TYPE}),
)

TECHNIQUES = (TRAIL_DISABLED,)
