"""Target resolution shared by the technique families: which protected resource a call names."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trailguard.events import Record
from trailguard.policy.inventory import Entry, Inventory
from trailguard.policy.technique import Match, param, unnamed

CLOUDTRAIL = "cloudtrail.amazonaws.com"
TAMPER_MITRE = "T1562.008"  # Impair Defenses: Disable or Modify Cloud Logs
TOOLS_MITRE = "T1562.001"  # Impair Defenses: Disable or Modify Tools
NOTIFIED = "The alert is delivered to the security contact."
"""The verification of a notify-only technique (its action is ``remediate.NOTIFY_ONLY``)."""


@dataclass(frozen=True)
class TrailTarget:
    """The trail a call names. ``baseline`` is its inventory entry; None when trails are not inventoried."""

    ref: str
    baseline: Entry | None

    @property
    def resource(self) -> str:
        arn = self.baseline.get("TrailARN") if self.baseline else None
        return arn if isinstance(arn, str) and arn else self.ref


def trail_target(record: Record, inventory: Inventory, *names: str) -> TrailTarget | Match:
    """The protected trail the call names, or the :class:`Match` that settles the case without one."""
    ref = param(record, *(names or ("name",)))
    if ref is None:
        return unnamed("trail")
    if not inventory.knows_trails:
        return TrailTarget(ref, None)
    found = inventory.trail(ref)
    if found is None:
        return Match.harmless(ref, f"trail {ref} is not one of the trails trailguard protects")
    return TrailTarget(ref, found)


def trail_names(trails: Sequence[Entry]) -> str:
    """The protected trails a message names (their names, else their ARNs), comma-separated."""
    return ", ".join(str(t.get("Name") or t.get("TrailARN")) for t in trails)


def trail_label(target: TrailTarget) -> str:
    return f"trail {target.ref}" if target.baseline is not None else f"trail {target.ref} (no inventory)"


def no_inventory(what: str, ref: str) -> Match:
    return Match.harmless(
        ref, f"no inventory names any {what}, so {what} {ref} is not known to protect a trail"
    )
