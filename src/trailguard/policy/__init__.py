"""The detection policy (``docs/detection-policy.md``): techniques, the inventory model, the classifier.

Pure on purpose: no boto3, no I/O, so the Lambda handlers, ``trailguard classify`` over recorded logs
and the tests all run the very same judgement.
"""

from __future__ import annotations

from trailguard.policy.classify import classify
from trailguard.policy.inventory import Guard, Inventory
from trailguard.policy.technique import Match, Technique
from trailguard.policy.techniques import TECHNIQUES, technique_for_call
from trailguard.policy.verdict import Verdict

__all__ = [
    "TECHNIQUES",
    "Guard",
    "Inventory",
    "Match",
    "Technique",
    "Verdict",
    "action_permissions",
    "classify",
    "required_permissions",
    "technique_for_call",
]


def required_permissions() -> frozenset[str]:
    """Every IAM action trailguard needs: each technique's remediation and verification, plus what the
    runtime itself needs (``trailguard.permissions``). The template's policy is exactly this set."""
    from trailguard.permissions import RUNTIME_PERMISSIONS

    actions: set[str] = set(RUNTIME_PERMISSIONS)
    for technique in TECHNIQUES.values():
        actions.update(technique.permissions)
    return frozenset(actions)


def action_permissions(action: str) -> frozenset[str]:
    """The IAM actions the remediation ``action`` may call: the union of the permissions every technique
    whose ``remediation`` is ``action`` declares (the one place they are written)."""
    return frozenset(p for t in TECHNIQUES.values() if t.remediation == action for p in t.permissions)
