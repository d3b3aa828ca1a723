"""Fixtures of the template tests: the real records wrapped the way EventBridge delivers them
(``envelopes.wrap``), an EventBridge pattern matcher, and the template as a single-account stack reads
its names (``names.single_account``). The parsed template's file and rule patterns are fixtures of
tests/conftest.py."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

import corpus
import envelopes
from template.names import single_account

Envelope = dict[str, Any]


# ------------------------------------------------------------------------------------------ records


@pytest.fixture(scope="session")
def template(template: dict[str, Any]) -> dict[str, Any]:
    """The decoded template with its name expressions as the default parameters make them
    (``${AWS::StackName}-api-call``; tests/org/test_member_template.py checks the prefixed ones)."""
    return single_account(template)


def envelopes_in(directory: Path) -> list[tuple[str, Envelope]]:
    """Every file of a tests/data/events directory, as the envelope EventBridge would deliver."""
    return [
        (path.name, envelopes.wrap(corpus.load(str(path.relative_to(corpus.EVENTS)))))
        for path in sorted(directory.glob("*.json"))
    ]


@pytest.fixture(scope="session")
def real_envelopes(events_dir: Path) -> Callable[[str], list[tuple[str, Envelope]]]:
    """``real_envelopes("tamper")``: (file name, envelope) for each record of that directory."""

    def get(kind: str) -> list[tuple[str, Envelope]]:
        directory = events_dir / kind
        assert directory.is_dir(), f"{directory} missing: tests/data/events must hold the real records"
        return envelopes_in(directory)

    return get


# ------------------------------------------------------------------------------ pattern matching

_MISSING: list[Any] = []


def _values(node: Any, path: list[str]) -> list[Any]:
    """Every leaf value at ``path``, descending through arrays as EventBridge does."""
    if isinstance(node, list):
        return [v for item in node for v in _values(item, path)]
    if not path:
        return [node]
    if not isinstance(node, dict) or path[0] not in node:
        return _MISSING
    return _values(node[path[0]], path[1:])


def _filter_matches(flt: Any, values: list[Any]) -> bool:
    if not isinstance(flt, dict):
        return any(v == flt and type(v) is type(flt) for v in values)
    (name, arg), *_ = flt.items()
    if name == "exists":
        return bool(values) == bool(arg)
    if name == "prefix":
        return any(isinstance(v, str) and v.startswith(arg) for v in values)
    if name == "suffix":
        return any(isinstance(v, str) and v.endswith(arg) for v in values)
    if name == "anything-but":
        banned = arg if isinstance(arg, list) else [arg]
        return bool(values) and all(v not in banned for v in values)
    if name == "wildcard":
        rx = re.compile("^" + ".*".join(re.escape(p) for p in str(arg).split("*")) + "$")
        return any(isinstance(v, str) and rx.match(v) for v in values)
    raise AssertionError(f"filter {name} not supported by this test matcher")


def eventbridge_matches(pattern: Mapping[str, Any], event: Any, path: tuple[str, ...] = ()) -> bool:
    """EventBridge content filtering, including arrays of objects (``detail.findings[].Types``).

    moto's ``EventPattern`` flattens only nested objects, not arrays of objects, so it cannot match
    a Security Hub envelope; this small matcher follows EventBridge's documented semantics and is
    cross-checked against moto wherever moto can judge.
    """
    for key, sub in pattern.items():
        if key == "$or":
            if not any(eventbridge_matches(branch, event, path) for branch in sub):
                return False
        elif isinstance(sub, dict):
            if not eventbridge_matches(sub, event, (*path, key)):
                return False
        else:
            values = _values(event, [*path, key])
            if not any(_filter_matches(flt, values) for flt in sub):
                return False
    return True


@pytest.fixture(scope="session")
def matches(rule_pattern: Callable[[str], dict[str, Any]]) -> Callable[..., bool]:
    """``matches("ApiCallRule", envelope)``: moto's matcher, and ours where moto cannot judge.

    The local cloud's router (moto's matcher over an envelope whose arrays of objects it flattens) must
    agree on every envelope too, so the end-to-end tests route events the way these tests judge them.
    """
    from moto.events.models import EventPattern

    from trailguard.local.router import flatten_arrays

    def match(logical_id: str, envelope: Envelope, *, moto_can_judge: bool = True) -> bool:
        pattern = rule_pattern(logical_id)
        ours = eventbridge_matches(pattern, envelope)
        loaded = EventPattern.load(json.dumps(pattern))
        if moto_can_judge:
            theirs = loaded.matches_event(envelope)
            assert theirs == ours, f"moto says {theirs}, the EventBridge semantics say {ours}"
        routed = loaded.matches_event(flatten_arrays(dict(envelope)))
        assert routed == ours, f"the local cloud's router says {routed}, the EventBridge semantics say {ours}"
        return ours

    return match
