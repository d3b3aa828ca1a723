"""What a deploy would change, said before it changes it: the change set's resource changes, and the
baselines that recording would write compared with the ones recorded now."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trailguard.baseline import capture_all
from trailguard.baseline.store import KINDS, Baselines
from trailguard.config import Config

META = "_meta"  # when and by what a baseline was captured: not a change of the resource


@dataclass
class PlannedBaselines(Baselines):
    """A Baselines that keeps what would be recorded instead of writing it (no state table needed)."""

    planned: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    @property
    def available(self) -> bool:
        return True

    def put(self, kind: str, ident: str, doc: Mapping[str, Any]) -> None:
        self.planned.setdefault(kind, {})[self.normalise(kind, ident)] = dict(doc)


@dataclass(frozen=True)
class BaselineChange:
    """One resource whose baseline would be added, changed or dropped."""

    action: str  # "add" | "change" | "remove"
    kind: str
    ident: str
    fields: tuple[str, ...] = ()  # the top-level fields that differ (change only)
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None

    def describe(self) -> str:
        sign = {"add": "+", "change": "~", "remove": "-"}[self.action]
        text = f"  {sign} {self.kind} {self.ident}"
        if self.action == "change":
            details = [
                f"{f}: {_short((self.before or {}).get(f))} -> {_short((self.after or {}).get(f))}"
                for f in self.fields
            ]
            text += " (" + "; ".join(details) + ")"
        elif self.action == "remove":
            text += " (no longer protected: its baseline stays recorded until removed)"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "kind": self.kind, "id": self.ident, "fields": list(self.fields)}


def _short(value: Any, width: int = 60) -> str:
    text = "(none)" if value is None else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= width else text[: width - 3] + "..."


def _comparable(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != META}


def planned_baselines(
    config: Config,
    region: str,
    *,
    profile: str | None,
    endpoint_url: str | None,
) -> tuple[dict[str, dict[str, dict[str, Any]]], list[str]]:
    """What recording the baselines with ``config`` would write (kind -> id -> document), read with the
    caller's credentials, written nowhere; and the errors met reading it."""
    sink = PlannedBaselines(None)
    summary = capture_all(
        config, region, profile=profile, endpoint_url=endpoint_url, source="deploy", baselines=sink
    )
    return sink.planned, list(summary.errors)


def diff(
    current: Mapping[str, Mapping[str, Mapping[str, Any]]],
    planned: Mapping[str, Mapping[str, Mapping[str, Any]]],
    *,
    kinds: tuple[str, ...] = KINDS,
) -> list[BaselineChange]:
    """The baselines ``planned`` adds, changes or no longer covers compared with ``current``."""
    changes: list[BaselineChange] = []
    for kind in kinds:
        before_all = current.get(kind) or {}
        after_all = planned.get(kind) or {}
        for ident in sorted(set(before_all) | set(after_all)):
            before, after = before_all.get(ident), after_all.get(ident)
            if before is None and after is not None:
                changes.append(BaselineChange("add", kind, ident, after=after))
            elif after is None and before is not None:
                changes.append(BaselineChange("remove", kind, ident, before=before))
            elif before is not None and after is not None:
                b, a = _comparable(before), _comparable(after)
                fields = tuple(sorted(k for k in set(b) | set(a) if b.get(k) != a.get(k)))
                if fields:
                    changes.append(BaselineChange("change", kind, ident, fields, before, after))
    return changes


def describe_diff(changes: list[BaselineChange], progress: Callable[[str], object]) -> None:
    if not changes:
        progress("baselines: no change to what is recorded")
        return
    progress(f"baselines that would be recorded ({len(changes)} change(s); + added, ~ changed, - dropped):")
    for change in changes:
        progress(change.describe())


def resource_changes(change_set: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The change set's resource changes, flattened: action, logical id, type, replacement."""
    out: list[dict[str, Any]] = []
    for change in change_set.get("Changes") or []:
        rc = change.get("ResourceChange") or {}
        out.append(
            {
                "action": str(rc.get("Action") or ""),
                "logical_id": str(rc.get("LogicalResourceId") or ""),
                "type": str(rc.get("ResourceType") or ""),
                "replacement": str(rc.get("Replacement") or ""),
            }
        )
    return out


def describe_changes(changes: list[dict[str, Any]], progress: Callable[[str], object]) -> None:
    if not changes:
        progress("change set: no resource changes listed")
        return
    progress(f"change set: {len(changes)} resource change(s)")
    for c in changes:
        replacement = f" (replacement: {c['replacement']})" if c["replacement"] else ""
        progress(f"  {c['action']:<7} {c['logical_id']:<24} {c['type']}{replacement}")
