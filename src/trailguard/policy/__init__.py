"""The detection policy (``docs/detection-policy.md``): techniques, the inventory model, the classifier.

Pure on purpose: no boto3, no I/O, so the Lambda handlers, ``trailguard classify`` over recorded logs
and the tests all run the very same judgement.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trailguard.policy import techniques as _techniques
from trailguard.policy.classify import classify
from trailguard.policy.inventory import Guard, Inventory
from trailguard.policy.technique import Match, Sweep, Technique
from trailguard.policy.techniques import required_permissions, technique_for_call
from trailguard.policy.verdict import Verdict

if TYPE_CHECKING:
    from collections.abc import Mapping

    TECHNIQUES: Mapping[str, Technique]

__all__ = [
    "TECHNIQUES",
    "Guard",
    "Inventory",
    "Match",
    "Sweep",
    "Technique",
    "Verdict",
    "action_permissions",
    "classify",
    "required_permissions",
    "technique_for_call",
]


def action_permissions(action: str) -> frozenset[str]:
    """The IAM actions the remediation ``action`` (by name) declares; empty for an unknown name."""
    for technique in _techniques.TECHNIQUES.values():
        if technique.action.name == action:
            return technique.action.permissions
    return frozenset()


def __getattr__(name: str) -> Any:
    """``TECHNIQUES``, the whole registry, built on first use (the first event needs only its family)."""
    if name == "TECHNIQUES":
        return _techniques.TECHNIQUES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
