"""Which techniques the sweep runs for a baseline of each kind: declared on the techniques, not a table."""

from __future__ import annotations

from trailguard import resources, sweep
from trailguard.resources import BASELINE_KINDS


def _plan(kind: str) -> list[str]:
    return [t.id for t in sweep._swept(resources.kind(kind))]


def test_every_baseline_kind_is_restored_by_some_technique() -> None:
    for kind in BASELINE_KINDS:
        assert _plan(kind), kind


def test_the_plans_are_todays() -> None:
    assert _plan("trail") == ["finding.trail-disabled"]
    assert _plan("bucket") == ["bucket.delete", "bucket.policy-change", "bucket.lifecycle-expire"]
    assert _plan("key") == ["key.schedule-deletion", "key.policy-change"]
    assert _plan("store") == ["lake.delete", "lake.stop-ingestion"]
    assert _plan("rule") == ["guard.rule"] and _plan("function") == ["guard.function"]
    assert _plan("topic") == ["guard.topic"]


def test_conditions_on_the_baseline() -> None:
    key, policy = sweep._swept(resources.kind("key"))
    assert key.sweep is not None
    assert key.sweep.applies({"KeyState": "Enabled"}) and not key.sweep.applies({"KeyState": "Disabled"})
    assert key.sweep.target("id", {"Arn": "arn:aws:kms:r:1:key/id"}) == "arn:aws:kms:r:1:key/id"
    assert policy.sweep is not None and policy.sweep.applies({"KeyPolicy": "{}"})
    assert not policy.sweep.applies({"KeyState": "Enabled"})  # recorded before key policies were
    stop = next(t for t in sweep._swept(resources.kind("store")) if t.id == "lake.stop-ingestion")
    assert stop.sweep is not None and not stop.sweep.applies({"Status": "STOPPED_INGESTION"})
