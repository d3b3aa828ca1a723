"""The IAM actions trailguard declares are the ones it calls: the template grants exactly
``required_permissions()``, so a missing one breaks a repair on AWS and an extra one widens the role."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from trailguard import aws, handlers
from trailguard.config import Config
from trailguard.inventory import build
from trailguard.permissions import RUNTIME_PERMISSIONS
from trailguard.policy import TECHNIQUES, Verdict, required_permissions
from trailguard.remediate import ACTIONS, NOTIFY_ONLY, Context, remediate

from .conftest import Cloud, load_records
from .test_handlers import EVENTS, STOP_LOGGING_TAMPER, TRAIL_DISABLED_FINDINGS, _setup_stopped_trail


def test_each_action_uses_only_what_its_techniques_grant() -> None:
    used_by = {t.remediation for t in TECHNIQUES.values()}
    assert ACTIONS, "no remediation action is registered"
    for name, action in ACTIONS.items():
        assert name in used_by, f"{name} is registered but no technique names it"
        for technique in TECHNIQUES.values():
            if technique.remediation == name:
                missing = action.permissions - set(technique.permissions)
                assert not missing, f"{technique.id} does not grant {sorted(missing)} that {name} calls"


def test_runtime_permissions_are_granted_and_scoped() -> None:
    assert required_permissions() >= RUNTIME_PERMISSIONS
    assert all(":" in p and "*" not in p for p in RUNTIME_PERMISSIONS)
    dynamodb = {p for p in RUNTIME_PERMISSIONS if p.startswith("dynamodb:")}
    assert dynamodb <= {  # the state table: items only, never table management or scans
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
    }


def test_every_technique_without_an_action_is_escalated_not_dropped() -> None:
    """Dispatching each technique: built ones run, the rest come back as an escalation, never silence."""
    live = build(Config(), "us-east-1", [])
    unbuilt = [t for t in TECHNIQUES.values() if t.remediation not in ACTIONS]
    assert unbuilt, "every remediation is built: this test has nothing left to check"
    for technique in unbuilt:
        verdict = Verdict("tamper", technique.id, "some-resource", None, "Test.")
        outcome = remediate(Context(live), verdict)
        assert not outcome.ok and outcome.calls == [], technique.id
        if technique.remediation == NOTIFY_ONLY:
            assert outcome.status == "notify-only"
        else:
            assert outcome.status == "not-implemented"
            assert "not repaired automatically yet" in outcome.summary


@pytest.fixture
def recorded_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """Every IAM action (``service:Operation``) made through trailguard's client factory."""
    calls: set[str] = set()
    real = aws.client

    def record(model: Any, **_: Any) -> None:
        calls.add(f"{model.service_model.signing_name}:{model.name}")

    def client(*args: Any, **kwargs: Any) -> Any:
        made = real(*args, **kwargs)
        made.meta.events.register("before-call.*.*", record, unique_id="trailguard-permissions-test")
        return made

    monkeypatch.setattr(aws, "client", client)
    yield calls


def test_a_real_run_calls_nothing_the_template_does_not_grant(cloud: Cloud, recorded_calls: set[str]) -> None:
    path = STOP_LOGGING_TAMPER[0]
    (record,) = load_records(path)
    _name, _region, handler_region = _setup_stopped_trail(cloud, record)
    cloud.invoke(handlers.api_call, json.loads(path.read_text()), handler_region)
    finding_name, event = TRAIL_DISABLED_FINDINGS[0]
    (finding,) = [r for r in load_records(EVENTS / "findings" / finding_name) if r.is_trail_disabled_finding]
    _, _, finding_region = _setup_stopped_trail(cloud, finding)
    cloud.invoke(handlers.finding, event, finding_region)

    assert recorded_calls <= required_permissions()
    # Without a state table (as here) only the inventory and the alert of the runtime's permissions run;
    # tests/baseline exercises the state table and baseline captures.
    basic_runtime = {"cloudtrail:DescribeTrails", "sns:Publish"}
    assert basic_runtime <= RUNTIME_PERMISSIONS
    assert recorded_calls >= basic_runtime | ACTIONS["trail.start_logging"].permissions
