"""A verdict: the policy's one judgement of one record, and its ``trailguard classify`` line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from trailguard.events import Record

VerdictName = Literal["tamper", "attempt", "allowed", "benign"]
VERDICTS: tuple[VerdictName, ...] = ("tamper", "attempt", "allowed", "benign")

OUTPUT_KEYS = (
    "source",
    "index",
    "event_id",
    "event_name",
    "verdict",
    "technique",
    "resource",
    "principal",
    "reason",
)


@dataclass(frozen=True)
class Verdict:
    """``technique`` is None exactly when ``verdict`` is benign (detection-policy.md, "classify output")."""

    verdict: VerdictName
    technique: str | None
    resource: str | None
    principal: str | None
    reason: str
    record: Record | None = field(default=None, compare=False, repr=False)

    @property
    def actionable(self) -> bool:
        """Whether anyone needs to hear about it (every verdict but benign)."""
        return self.verdict != "benign"

    def to_output(self, source: str, index: int) -> dict[str, Any]:
        """One line of ``trailguard classify``: exactly the documented keys, in the documented order."""
        record = self.record
        return {
            "source": source,
            "index": index,
            "event_id": record.event_id if record is not None else None,
            "event_name": record.event_name if record is not None else None,
            "verdict": self.verdict,
            "technique": self.technique if self.verdict != "benign" else None,
            "resource": self.resource,
            "principal": self.principal,
            "reason": self.reason,
        }
