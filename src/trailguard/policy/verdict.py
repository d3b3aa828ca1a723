"""A verdict: the policy's one judgement of one record, and its ``trailguard classify`` line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from trailguard.events import Record
from trailguard.policy import techniques
from trailguard.policy.technique import Technique

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
    """``technique`` is None exactly when ``verdict`` is benign (detection-policy.md, "classify output").

    ``technique`` is the :class:`Technique` itself (given its id, the registry's is looked up), so the
    handler, the repair and the message all read the same unit; its output line prints the id.
    """

    verdict: VerdictName
    technique: Technique | None
    resource: str | None
    principal: str | None
    reason: str
    record: Record | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        named: object = self.technique
        if isinstance(named, str):  # a convenience for callers that name it: the registry's unit, or none
            registry = techniques.TECHNIQUES  # the whole registry, built on first use
            if named not in registry:
                raise ValueError(f"no technique {named!r} in the registry")
            object.__setattr__(self, "technique", registry[named])

    @property
    def technique_id(self) -> str | None:
        """The technique's id (the ``technique`` of the output line), None for none."""
        return self.technique.id if self.technique is not None else None

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
            "technique": self.technique_id if self.verdict != "benign" else None,
            "resource": self.resource,
            "principal": self.principal,
            "reason": self.reason,
        }
