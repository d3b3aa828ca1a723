"""The resource registry: every kind module is discovered, and the lookups others use answer from it."""

from __future__ import annotations

import pkgutil

import pytest

from trailguard import resources
from trailguard.policy import TECHNIQUES


def test_every_kind_module_is_registered() -> None:
    modules = {m.name for m in pkgutil.iter_modules(resources.__path__)} - {"base"}
    assert set(resources.KINDS) == modules
    assert all(resources.kind(name).name == name for name in resources.KINDS)


def test_sweep_order_puts_the_alert_path_first_and_the_trail_after_what_it_needs() -> None:
    order = resources.ORDER
    assert order.index("topic") < order.index("rule") < order.index("function")
    assert order.index("key") < order.index("trail") and order.index("bucket") < order.index("trail")
    assert order.index("trail") < order.index("store")
    assert len(set(k.sweep_order for k in resources.KINDS.values())) == len(resources.KINDS)


def test_baseline_kinds_are_those_with_a_capture() -> None:
    assert resources.BASELINE_KINDS == (
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
    assert {k.name for k in resources.KINDS.values() if k.capture is not None} == set(
        resources.BASELINE_KINDS
    )


def test_lookups_for_messages_and_security_hub() -> None:
    assert resources.noun("key") == "KMS key"
    assert resources.noun("store") == "event data store"
    assert resources.noun(None) == "resource"
    assert resources.securityhub_type("bucket") == "AwsS3Bucket"
    assert resources.securityhub_type("store") == "Other"
    assert resources.securityhub_type("nonsense") == "Other"
    with pytest.raises(ValueError, match="unknown resource kind"):
        resources.kind("nonsense")


def test_every_technique_protects_a_registered_kind() -> None:
    for technique in TECHNIQUES.values():
        assert resources.KINDS[technique.kind.name] is technique.kind, technique.id
