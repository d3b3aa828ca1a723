"""The registry: every technique of detection-policy.md, by id, and the index the classifier walks.

Family modules (``techniques/<family>.py``, each with a ``TECHNIQUES`` tuple) are discovered, not listed:
a new family is one new file. The registry's order is the one detection-policy.md's table uses.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

from trailguard.permissions import RUNTIME_PERMISSIONS
from trailguard.policy.technique import Technique, base_event_name

# The order families are listed in (docs, ``trailguard techniques``); a new family not named here
# follows them in name order.
_FAMILY_ORDER = ("trail", "lake", "bucket", "key", "guard", "org", "finding")


def _discover() -> tuple[Technique, ...]:
    names = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    names.sort(key=lambda n: (_FAMILY_ORDER.index(n) if n in _FAMILY_ORDER else len(_FAMILY_ORDER), n))
    found: list[Technique] = []
    for name in names:
        module = importlib.import_module(f"{__name__}.{name}")
        declared = getattr(module, "TECHNIQUES", None)
        if not isinstance(declared, tuple) or not all(isinstance(t, Technique) for t in declared):
            raise TypeError(f"{module.__name__} declares no TECHNIQUES tuple of Technique")
        found.extend(declared)
    return tuple(found)


_ALL: tuple[Technique, ...] = _discover()


def _registry(techniques: tuple[Technique, ...]) -> Mapping[str, Technique]:
    by_id: dict[str, Technique] = {}
    for technique in techniques:
        if technique.id in by_id:
            raise ValueError(f"technique id {technique.id} declared twice")
        by_id[technique.id] = technique
    return MappingProxyType(by_id)


def _event_index(techniques: tuple[Technique, ...]) -> Mapping[tuple[str, str], tuple[Technique, ...]]:
    index: dict[tuple[str, str], tuple[Technique, ...]] = {}
    for technique in techniques:
        for trigger in technique.triggers:
            claimed = index.get(trigger, ())
            if claimed and not (technique.shares_calls and all(t.shares_calls for t in claimed)):
                raise ValueError(f"{trigger} maps to both {claimed[0].id} and {technique.id}")
            index[trigger] = (*claimed, technique)
    return MappingProxyType(index)


TECHNIQUES: Mapping[str, Technique] = _registry(_ALL)
CALL_INDEX: Mapping[tuple[str, str], tuple[Technique, ...]] = _event_index(_ALL)
"""Every technique that judges a trigger, in registry order (more than one only when they share calls)."""
BY_EVENT: Mapping[tuple[str, str], Technique] = MappingProxyType({k: v[0] for k, v in CALL_INDEX.items()})
FINDING_TECHNIQUES: tuple[Technique, ...] = tuple(t for t in _ALL if t.kinds - {"cloudtrail"})


def techniques_for_call(event_source: str | None, event_name: str | None) -> tuple[Technique, ...]:
    """Every technique that judges this CloudTrail call (usually one), in registry order."""
    if not event_source or not event_name:
        return ()
    return CALL_INDEX.get((event_source, base_event_name(event_name)), ())


def delivered_twice(event_source: str | None, event_name: str | None) -> bool:
    """Whether the guard-calls rule also delivers this call, so both functions judge and repair it at once
    (a call on trailguard's own rules, functions, topic or role: ``Technique.guard``)."""
    return any(t.guard for t in techniques_for_call(event_source, event_name))


def technique_for_call(event_source: str | None, event_name: str | None) -> Technique | None:
    """The first technique that judges this CloudTrail call, if any."""
    found = techniques_for_call(event_source, event_name)
    return found[0] if found else None


@cache
def required_permissions() -> frozenset[str]:
    """Every IAM action trailguard needs: the union of what each technique's action declares beside
    its calls, plus what the runtime itself needs (``trailguard.permissions``). The template grants
    exactly this set."""
    actions: set[str] = set(RUNTIME_PERMISSIONS)
    for technique in TECHNIQUES.values():
        actions.update(technique.action.permissions)
    return frozenset(actions)
