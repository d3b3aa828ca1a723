"""Baselines: the configuration trailguard restores, captured while it is known to be good.

A tamper repair must put a resource back the way it was, and after the tamper the live state is the
degraded one. So the good state is snapshotted ahead of time (by ``trailguard deploy``, ``trailguard
baseline record`` and when an allow-listed principal makes an authorised change) and kept in the state
table as ``pk = "baseline#<kind>"``, ``sk = <id>`` (``docs/internals.md``, "State").

Document shapes (each also carries ``_meta``: ``captured_at``, ``source``, ``notes``):

- ``trail`` (id: trail ARN): the ``DescribeTrails`` entry as returned, plus ``HomeRegion``,
  ``EventSelectors`` or ``AdvancedEventSelectors`` (whichever the trail uses; neither when CloudTrail
  reported none), ``InsightSelectors`` (``[]`` when insights are off; absent when unreadable),
  ``TagsList`` (``[{"Key", "Value"}]``) and ``IsLogging``. Being DescribeTrails-shaped, it doubles as the
  policy's inventory entry for the trail.
- ``bucket`` (id: name): ``Name``, ``Region``, ``Policy`` (JSON text or None), ``Lifecycle`` (the
  ``Rules`` list or None), ``Versioning`` (``{"Status", "MFADelete"}``, ``{}`` when never enabled),
  ``Encryption`` (``ServerSideEncryptionConfiguration`` or None). None means "absent", not "unknown".
- ``key`` (id: key id): ``KeyId``, ``Arn``, ``KeyState``, ``Enabled``, ``KeyManager``, ``Region``,
  ``Aliases``.
- ``store`` (id: ARN): the ``GetEventDataStore`` answer.
- ``rule`` (id: name): the ``DescribeRule`` answer (``EventPattern``, ``State``, ...) plus ``Targets``.
- ``function`` (id: name): configuration essentials incl. ``CodeSha256``, ``ReservedConcurrentExecutions``
  (None when unreserved) and ``Policy`` (resource policy JSON text or None).
- ``topic`` (id: ARN): ``Attributes`` and ``Subscriptions``.

The package splits the work by job: :mod:`.capture` reads resources (each kind's capture lives in
``trailguard.resources``), :mod:`.store` keeps them in the state table, :mod:`.rebaseline` records an
allow-listed change. (Rebuilding a deployed handler's configuration from outside the stack is the
deployer's job: ``trailguard.deploy.config``.)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from trailguard.baseline.store import KINDS, Baselines
from trailguard.resources.trail import PROPERTIES as TRAIL_PROPERTIES

if TYPE_CHECKING:
    from trailguard.baseline.capture import Clients, Summary, capture_all, capture_one, protected_trails
    from trailguard.baseline.rebaseline import kind_for

# Reading and recording resources is the sweep's, the deployer's and an allow-listed change's work, not a
# repair's: those modules load on first use, so a StopLogging's first event reads only the store. (The
# function ``rebaseline`` is imported from its module, ``trailguard.baseline.rebaseline``: as a lazy name
# here it would be shadowed by that submodule once loaded.)
_LAZY = {
    "Clients": "capture",
    "Summary": "capture",
    "capture_all": "capture",
    "capture_one": "capture",
    "protected_trails": "capture",
    "kind_for": "rebaseline",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "KINDS",
    "TRAIL_PROPERTIES",
    "Baselines",
    "Clients",
    "Summary",
    "capture_all",
    "capture_one",
    "kind_for",
    "protected_trails",
]
