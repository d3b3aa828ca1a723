"""The few accessors through which the generators read a technique.

Every generator reads techniques only through these functions, so when the Technique declaration
changes shape (an Action object with its permissions, a resource kind object) only this module adapts.
"""

from __future__ import annotations

from collections.abc import Mapping

from trailguard.policy import TECHNIQUES, Technique

# Record kinds that are findings, and the ASFF type namespaces that tell a Security Hub finding type
# ("TTPs/Defense Evasion/...") from a GuardDuty one ("Stealth:IAMUser/...").
GUARDDUTY = "guardduty"
SECURITY_HUB = "securityhub"
_ASFF_NAMESPACES = (
    "Software and Configuration Checks/",
    "TTPs/",
    "Effects/",
    "Unusual Behaviors/",
    "Sensitive Data Identifications/",
)


def all_techniques() -> tuple[Technique, ...]:
    """Every technique, in the registry's order (the docs keep it)."""
    return tuple(TECHNIQUES.values())


def technique_id(technique: Technique) -> str:
    return technique.id


def title(technique: Technique) -> str:
    return technique.title


def mitre(technique: Technique) -> str:
    return technique.mitre


def verification(technique: Technique) -> str:
    return technique.verification


def repair_name(technique: Technique) -> str:
    """The stable name of the repair action (``trail.start_logging``)."""
    return technique.action.name


def permissions(technique: Technique) -> tuple[str, ...]:
    """The IAM actions the technique's repair and verification need, sorted."""
    return tuple(sorted(set(technique.permissions)))


def call_triggers(technique: Technique) -> frozenset[tuple[str, str]]:
    """The (eventSource, eventName) CloudTrail calls the technique judges; none for a finding technique."""
    if "cloudtrail" not in technique.kinds:
        return frozenset()
    return technique.triggers


def finding_types(technique: Technique) -> Mapping[str, frozenset[str]]:
    """The finding types the technique judges, by record kind (``guardduty`` / ``securityhub``)."""
    by_kind: dict[str, set[str]] = {}
    for finding_type in technique.finding_types:
        kind = SECURITY_HUB if finding_type.startswith(_ASFF_NAMESPACES) else GUARDDUTY
        if kind not in technique.kinds:
            raise ValueError(f"{technique.id}: finding type {finding_type} is a {kind} type")
        by_kind.setdefault(kind, set()).add(finding_type)
    return {kind: frozenset(types) for kind, types in by_kind.items()}


def is_guard(technique: Technique) -> bool:
    """Whether the technique protects trailguard's own rules, functions or topic (the guard-calls rule
    delivers its calls to the other function too)."""
    return technique.guard


def tamper_when(technique: Technique) -> str:
    """When a call the technique judges counts as tampering (detection-policy.md's contract)."""
    return _declared(technique, technique.tamper_when, "tamper_when")


def repair_summary(technique: Technique) -> str:
    """What the repair does, in words."""
    return _declared(technique, technique.repair_summary, "repair_summary")


def _declared(technique: Technique, text: str, name: str) -> str:
    if not text:
        raise ValueError(f"{technique.id}: declares no {name} (the detection-policy table needs it)")
    return text
