"""The resource model: one module per kind of resource trailguard protects, each a :class:`Kind`.

A kind owns every fact about its resources that used to live in tables spread over the code: how its
identifiers and ARNs read, which AWS error codes mean "gone", its noun in messages, its Security Hub type,
its place in the sweep, what ``trailguard baseline show`` summarises, the ARN patterns the role grants on
it, and how its baseline is captured. The modules are discovered (``pkgutil``), not listed, so a new kind
is one new file. Pure at import: no boto3, no I/O (captures take a clients object).

A kind is looked up by name from its own module (``resources/<name>.py``; :func:`kind`), so the first
event imports the kinds it touches, not all of them; the whole model (:data:`KINDS`, :data:`ORDER`) is
discovered on first use. :data:`BASELINE_KINDS` is static (read at import by the baseline store) and
``tests/structure/test_lazy_registries.py`` checks it against the discovered model.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from trailguard.aws import region_of_arn as region_of
from trailguard.resources.base import Clients, Kind, arn_resource

__all__ = [
    "BASELINE_KINDS",
    "KINDS",
    "ORDER",
    "Clients",
    "Kind",
    "arn_resource",
    "find",
    "kind",
    "noun",
    "region_of",
    "securityhub_type",
]


@cache
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


if TYPE_CHECKING:
    KINDS: Mapping[str, Kind]
    """name -> kind, in sweep order."""
    ORDER: tuple[str, ...]
    """Repair order of the backstop sweep: the topic first (so the message can go out), the pipeline,
    then what a trail needs (its key and bucket) before the trail itself."""


def __getattr__(name: str) -> Any:
    """``KINDS`` and ``ORDER``, the whole model, discovered on first use (PEP 562)."""
    if name == "KINDS":
        return _discover()
    if name == "ORDER":
        return tuple(_discover())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


BASELINE_KINDS: tuple[str, ...] = (
    "trail",
    "bucket",
    "key",
    "store",
    "rule",
    "function",
    "topic",
    "loggroup",
    "filter",
    "product",
    "automation",
    "role",
    "organization",
)
"""The kinds a baseline is recorded for, in the order reports list them (``Kind.baseline_order``)."""


@cache
def _named(name: str) -> Kind | None:
    """The kind called ``name`` from the module of that name, else from the whole model; None if none."""
    if name.isidentifier() and not name.startswith("_") and name != "base":
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
        else:
            declared = getattr(module, "KIND", None)
            if isinstance(declared, Kind) and declared.name == name:
                return declared
    return _discover().get(name)


def find(name: str | None) -> Kind | None:
    """The kind called ``name``, None when there is none (or no name)."""
    return _named(name) if isinstance(name, str) and name else None


def kind(name: str) -> Kind:
    """The kind called ``name``; a ValueError names the known ones."""
    found = _named(name) if isinstance(name, str) else None
    if found is None:
        raise ValueError(f"unknown resource kind {name!r} (one of {', '.join(_discover())})")
    return found


def noun(name: str | None) -> str:
    """What messages call a resource of kind ``name`` ("KMS key"); the name itself when unknown."""
    found = find(name)
    return found.noun if found is not None else str(name or "resource")


def securityhub_type(name: str | None) -> str:
    """The ASFF ``Resources[].Type`` of kind ``name`` (``Other`` when ASFF has none)."""
    found = find(name)
    return found.securityhub_type if found is not None else "Other"
