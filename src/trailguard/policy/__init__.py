"""The detection policy (``docs/detection-policy.md``): techniques, the inventory model, the classifier.

Pure on purpose: no boto3, no I/O, so the Lambda handlers, ``trailguard classify`` over recorded logs
and the tests all run the very same judgement.
"""

from __future__ import annotations

from trailguard.permissions import RUNTIME_PERMISSIONS
from trailguard.policy.classify import classify
from trailguard.policy.inventory import Guard, Inventory
from trailguard.policy.technique import Match, Sweep, Technique
from trailguard.policy.techniques import TECHNIQUES, technique_for_call
from trailguard.policy.verdict import Verdict

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


def required_permissions() -> frozenset[str]:
    """Every IAM action trailguard needs: the union of what each technique's action declares beside
    its calls, plus what the runtime itself needs (``trailguard.permissions``). The template grants
    exactly this set."""
    actions: set[str] = set(RUNTIME_PERMISSIONS)
    for technique in TECHNIQUES.values():
        actions.update(technique.action.permissions)
    return frozenset(actions)


def action_permissions(action: str) -> frozenset[str]:
    """The IAM actions the remediation ``action`` (by name) declares; empty for an unknown name."""
    for technique in TECHNIQUES.values():
        if technique.action.name == action:
            return technique.action.permissions
    return frozenset()
