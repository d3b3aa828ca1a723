"""The resource model: one module per kind of resource trailguard protects, each a :class:`Kind`.

A kind owns every fact about its resources that used to live in tables spread over the code: how its
identifiers and ARNs read, which AWS error codes mean "gone", its noun in messages, its Security Hub type,
its place in the sweep, what ``trailguard baseline show`` summarises, the ARN patterns the role grants on
it, and how its baseline is captured. The modules are discovered (``pkgutil``), not listed, so a new kind
is one new file. Pure at import: no boto3, no I/O (captures take a clients object).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from types import MappingProxyType

from trailguard.aws import region_of_arn as region_of
from trailguard.resources.base import Clients, Kind, arn_resource

__all__ = [
    "BASELINE_KINDS",
    "KINDS",
    "ORDER",
    "Clients",
    "Kind",
    "arn_resource",
    "kind",
    "noun",
    "region_of",
    "securityhub_type",
]


def _discover() -> Mapping[str, Kind]:
    found: dict[str, Kind] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        declared = getattr(module, "KIND", None)
        if not isinstance(declared, Kind):
            raise TypeError(f"{module.__name__} declares no KIND")
        if declared.name in found:
            raise ValueError(f"resource kind {declared.name} declared twice")
        found[declared.name] = declared
    return MappingProxyType(dict(sorted(found.items(), key=lambda item: item[1].sweep_order)))


KINDS: Mapping[str, Kind] = _discover()
"""name -> kind, in sweep order."""
ORDER: tuple[str, ...] = tuple(KINDS)
"""Repair order of the backstop sweep: the topic first (so the message can go out), the pipeline, then
what a trail needs (its key and bucket) before the trail itself."""
BASELINE_KINDS: tuple[str, ...] = tuple(
    k.name
    for k in sorted(KINDS.values(), key=lambda k: k.baseline_order or 0)
    if k.baseline_order is not None
)
"""The kinds a baseline is recorded for, in the order reports list them."""


def kind(name: str) -> Kind:
    """The kind called ``name``; a ValueError names the known ones."""
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown resource kind {name!r} (one of {', '.join(KINDS)})") from None


def noun(name: str | None) -> str:
    """What messages call a resource of kind ``name`` ("KMS key"); the name itself when unknown."""
    found = KINDS.get(name or "")
    return found.noun if found is not None else str(name or "resource")


def securityhub_type(name: str | None) -> str:
    """The ASFF ``Resources[].Type`` of kind ``name`` (``Other`` when ASFF has none)."""
    found = KINDS.get(name or "")
    return found.securityhub_type if found is not None else "Other"
