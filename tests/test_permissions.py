"""The IAM actions trailguard declares are the ones it calls: the template grants exactly
``required_permissions()``, so a missing one breaks a repair on AWS and an extra one widens the role."""

from __future__ import annotations

import json

import pytest

import permissions_support
from aws_support import Cloud
from permissions_support import assert_granted, iam_action, recorded_calls, uncalled_permissions
from test_handlers import (
    EVENTS,
    STOP_LOGGING_TAMPER,
    TRAIL_DISABLED_FINDINGS,
    _setup_stopped_trail,
    load_records,
)
from trailguard import handlers
from trailguard.config import Config
from trailguard.inventory import build
from trailguard.permissions import RUNTIME_PERMISSIONS
from trailguard.policy import TECHNIQUES, Verdict, action_permissions, required_permissions
from trailguard.remediate import ACTIONS, NOTIFY_ONLY, Context, remediate

__all__ = ["recorded_calls"]  # the shared fixture, imported for the tests below


def test_an_action_declares_its_permissions_and_its_techniques_hold_it() -> None:
    """Declared once, beside the calls (on the action); a technique holds the Action object itself."""
    assert ACTIONS, "no remediation action is registered"
    used = {t.action.name: t.action for t in TECHNIQUES.values()}
    for name, action in ACTIONS.items():
        assert used.get(name) is action, f"{name} is registered but no technique holds it"
        assert action.permissions, f"{name} is granted nothing"
        assert action_permissions(name) == action.permissions
        for technique in (t for t in TECHNIQUES.values() if t.action is action):
            assert technique.permissions == action.permissions and technique.remediation == name
            assert action.restores is technique.kind, f"{technique.id} protects another kind than {name}"
    assert action_permissions("no.such_action") == frozenset()
    assert required_permissions() == RUNTIME_PERMISSIONS | {
        p for t in TECHNIQUES.values() for p in t.action.permissions
    }


def test_every_granted_permission_is_called_somewhere() -> None:
    """Least privilege: each granted IAM action names an API operation the source calls."""
    assert not uncalled_permissions(), f"granted but never called: {sorted(uncalled_permissions())}"


def test_the_unused_permission_check_sees_one(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = required_permissions() | {"s3:PutBucketWebsite", "kms:DisableKeyRotation"}
    monkeypatch.setattr(permissions_support, "required_permissions", lambda: fake)
    assert uncalled_permissions() == {"s3:PutBucketWebsite", "kms:DisableKeyRotation"}


def test_api_names_map_to_iam_names() -> None:
    assert iam_action("s3", "GetBucketLifecycleConfiguration") == "s3:GetLifecycleConfiguration"
    assert iam_action("s3", "DeleteBucketLifecycle") == "s3:PutLifecycleConfiguration"
    assert iam_action("s3", "PutPublicAccessBlock") == "s3:PutBucketPublicAccessBlock"
    assert iam_action("s3", "GetBucketEncryption") == "s3:GetEncryptionConfiguration"
    assert iam_action("s3", "DeleteBucketPolicy") == "s3:DeleteBucketPolicy"
    assert iam_action("cloudtrail", "StartLogging") == "cloudtrail:StartLogging"


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
    unbuilt = [t for t in TECHNIQUES.values() if t.action.function is None]
    assert unbuilt, "every remediation is built: this test has nothing left to check"
    for technique in unbuilt:
        verdict = Verdict("tamper", technique.id, "some-resource", None, "Test.")
        outcome = remediate(Context(live), verdict)
        assert not outcome.ok and outcome.calls == [], technique.id
        if technique.action is NOTIFY_ONLY:
            assert outcome.status == "notify-only"
        else:
            assert outcome.status == "not-implemented"
            assert "not repaired automatically yet" in outcome.summary


def test_a_real_run_calls_nothing_the_template_does_not_grant(cloud: Cloud, recorded_calls: set[str]) -> None:
    path = STOP_LOGGING_TAMPER[0]
    (record,) = load_records(path)
    _name, _region, handler_region = _setup_stopped_trail(cloud, record)
    cloud.invoke(handlers.api_call, json.loads(path.read_text()), handler_region)
    finding_name, event = TRAIL_DISABLED_FINDINGS[0]
    (finding,) = [r for r in load_records(EVENTS / "findings" / finding_name) if r.is_trail_disabled_finding]
    _, _, finding_region = _setup_stopped_trail(cloud, finding)
    cloud.invoke(handlers.finding, event, finding_region)

    assert_granted(recorded_calls)
    # Without a state table (as here) only the inventory and the alert of the runtime's permissions run;
    # tests/baseline exercises the state table and baseline captures.
    basic_runtime = {"cloudtrail:DescribeTrails", "sns:Publish"}
    assert basic_runtime <= RUNTIME_PERMISSIONS
    assert recorded_calls >= basic_runtime | ACTIONS["trail.start_logging"].permissions
