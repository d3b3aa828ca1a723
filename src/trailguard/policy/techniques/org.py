"""Leaving the organization takes the account out of the organization trail; nothing can undo it."""

from __future__ import annotations

from trailguard.events import Record
from trailguard.policy.inventory import Inventory
from trailguard.policy.technique import Match, Technique
from trailguard.policy.techniques._common import NOTIFIED, TAMPER_MITRE
from trailguard.remediate import NOTIFY_ONLY
from trailguard.resources.account import KIND


def _leave(record: Record, inventory: Inventory) -> Match:
    account = record.account_id or inventory.account
    who = f"account {account}" if account else "the account"
    return Match.tamper(
        account, f"takes {who} (and its logging by the organization trail) out of its organization"
    )


LEAVE = Technique(
    id="org.leave",
    tamper_when="always (the account leaves the organization trail)",
    repair_summary="notify only",
    title="Account left the organization",
    mitre=TAMPER_MITRE,
    kind=KIND,
    event_source="organizations.amazonaws.com",
    event_names=frozenset({"LeaveOrganization"}),
    condition=_leave,
    action=NOTIFY_ONLY,
    verification=NOTIFIED,
)

TECHNIQUES = (LEAVE,)
