"""GuardDuty's finding that a trail was disabled, bare or imported into Security Hub: the second path
that catches what the API-call rule missed."""

from __future__ import annotations

from trailguard.events import TRAIL_DISABLED_ASFF_TYPE, TRAIL_DISABLED_FINDING, Record
from trailguard.policy.inventory import Inventory
from trailguard.policy.technique import Match, Sweep, Technique
from trailguard.policy.techniques._common import TAMPER_MITRE
from trailguard.remediate import trail as repair
from trailguard.resources.trail import KIND


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
    if inventory.knows_trails:
        found = inventory.trail(trail)
        if found is None:
            return Match.harmless(
                trail, f"the finding names trail {trail}, which trailguard does not protect"
            )
        arn = found.get("TrailARN")
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
