"""Compatibility shim; callers move to trailguard.notify.X (``deliver``, ``ledger_for``, ``Ledger``,
``Decision``, ``SweepDecision`` and the ledger's constants now live in ``trailguard.notify.ledger`` /
``trailguard.notify.delivery``). Delete once no caller imports it."""

from trailguard.notify.delivery import deliver
from trailguard.notify.ledger import (
    BURST_QUIET_SECONDS,
    EVENT_TTL_SECONDS,
    FINDING_WINDOW_SECONDS,
    FOLLOWUP_INTERVAL_SECONDS,
    FOLLOWUP_THRESHOLD,
    IN_FLIGHT_SECONDS,
    ROW_TTL_SECONDS,
    ROWS_PREFIX,
    SWEEP_TTL_SECONDS,
    SWEEP_WINDOW_SECONDS,
    Decision,
    Ledger,
    SweepDecision,
    ledger_for,
)

__all__ = [
    "BURST_QUIET_SECONDS",
    "EVENT_TTL_SECONDS",
    "FINDING_WINDOW_SECONDS",
    "FOLLOWUP_INTERVAL_SECONDS",
    "FOLLOWUP_THRESHOLD",
    "IN_FLIGHT_SECONDS",
    "ROWS_PREFIX",
    "ROW_TTL_SECONDS",
    "SWEEP_TTL_SECONDS",
    "SWEEP_WINDOW_SECONDS",
    "Decision",
    "Ledger",
    "SweepDecision",
    "deliver",
    "ledger_for",
]
