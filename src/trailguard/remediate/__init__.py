"""Remediation: one small idempotent action per repair, each acting and then verifying.

An action is declared with :func:`action` in the module of the resource it restores
(``remediate/<kind>.py``), with the IAM permissions its calls need written beside them; the techniques
refer to the :class:`Action` object. The modules are discovered (``pkgutil``), not listed. Actions take
a :class:`RepairRequest`: from a tamper verdict (:func:`remediate`) or from the backstop sweep.
:func:`remediate` never raises: an action that is not written yet, a refused AWS call or a bug all come
back as an :class:`Outcome` that says so, so the message escalates it instead of the handler swallowing it
or crash-looping.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import TYPE_CHECKING, Any

from trailguard.aws import error_code
from trailguard.remediate import base as _base
from trailguard.remediate.base import (
    NO_BASELINE,
    NOTIFY_ONLY,
    VERIFY_ATTEMPTS,
    VERIFY_DELAY,
    Action,
    Call,
    Context,
    Gone,
    NoBaselines,
    Outcome,
    RepairRequest,
    Status,
    action,
    repair,
)

if TYPE_CHECKING:
    from trailguard.policy import Verdict

    ACTIONS: dict[str, Action]

__all__ = [
    "ACTIONS",
    "NOTIFY_ONLY",
    "NO_BASELINE",
    "VERIFY_ATTEMPTS",
    "VERIFY_DELAY",
    "Action",
    "Call",
    "Context",
    "Gone",
    "NoBaselines",
    "Outcome",
    "RepairRequest",
    "Status",
    "action",
    "error_code",
    "remediate",
    "repair",
]


def remediate(ctx: Context, verdict: Verdict) -> Outcome:
    """Run the verdict's technique's action for a tamper verdict. Never raises."""
    technique = verdict.technique
    if technique is None:  # a benign verdict names none
        return Outcome("unknown", verdict.resource, "not-implemented", "no technique: nothing to repair")
    return repair(ctx, technique, RepairRequest.of_verdict(verdict, technique.kind))


@cache
def _discover() -> None:
    """Import every action module, which declares its actions into :data:`ACTIONS`."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name != "base" and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


def __getattr__(name: str) -> Any:
    """``ACTIONS``, every action, its modules imported on first use (PEP 562): a technique imports the
    module of its own action, so the first event loads only the actions it may run."""
    if name == "ACTIONS":
        _discover()
        return _base.ACTIONS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
