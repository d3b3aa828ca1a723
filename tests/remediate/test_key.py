"""Trail KMS key repairs end to end on moto, driven by every real DisableKey / ScheduleKeyDeletion record
re-aimed at the trail's key (in the form the record used: id or ARN)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from moto.kms.models import KmsBackend

import corpus
from permissions_support import assert_declared
from trailguard import aws, sweep
from trailguard.config import Config
from trailguard.resources.key import cloudtrail_key_policy

from .conftest import ACCOUNT, EVENTS, REGION, Stack, remediation_of, tamper_event

DISABLE_FILES = sorted(p.name for p in (EVENTS / "tamper").glob("kms_disablekey_*.json"))
SCHEDULE_FILES = sorted(p.name for p in (EVENTS / "tamper").glob("kms_schedulekeydeletion_*.json"))


def test_the_real_records_are_there() -> None:
    """Every DisableKey / ScheduleKeyDeletion tamper record the manifest lists is driven below."""
    tamper = corpus.rows_in("tamper")
    assert corpus.names([r for r in tamper if r["eventName"] == "DisableKey"]) == DISABLE_FILES
    assert corpus.names([r for r in tamper if r["eventName"] == "ScheduleKeyDeletion"]) == SCHEDULE_FILES
    assert DISABLE_FILES and SCHEDULE_FILES


def _event(stack: Stack, name: str) -> dict[str, Any]:
    """Aim the record at the trail's key, keeping whether it named the key by id or by ARN."""
    original = json.loads((Path(EVENTS) / "tamper" / name).read_text())["requestParameters"]["keyId"]
    ref = stack.key_arn if str(original).startswith("arn:") else stack.key_id
    return tamper_event(name, {"keyId": ref}, resource_arn=stack.key_arn)


def _outcome(stack: Stack, result: dict[str, Any], technique: str) -> dict[str, Any]:
    """The published outcome of the one incident, checked to name the key and act in its region."""
    assert result["skipped"] == []
    (incident,) = result["incidents"]
    assert incident["technique"] == technique
    (message,) = stack.messages()
    assert stack.key_id in message["text"]
    outcome = remediation_of(message)
    assert {c["region"] for c in outcome["calls"]} == {REGION}
    assert incident["status"] == outcome["status"]
    return outcome


@pytest.mark.parametrize("name", DISABLE_FILES)
def test_disabled_key_is_enabled_and_verified(stack: Stack, name: str) -> None:
    stack.kms.disable_key(KeyId=stack.key_id)
    event = _event(stack, name)

    outcome = _outcome(stack, stack.invoke(event), "key.disable")

    assert stack.key_state() == "Enabled"
    assert outcome["status"] == "remediated" and outcome["verified"] is True
    assert [c["operation"] for c in outcome["calls"]] == ["DescribeKey", "EnableKey", "DescribeKey"]
    assert outcome["calls"][1]["params"] == {"KeyId": stack.key_id}  # the id, never the ARN

    (incident,) = stack.invoke(event)["incidents"]
    assert incident["status"] == "already-restored"
    assert [c.operation for c in stack.outcomes[-1].calls] == ["DescribeKey"]


@pytest.mark.parametrize("name", SCHEDULE_FILES)
def test_scheduled_deletion_is_cancelled_and_the_key_enabled(stack: Stack, name: str) -> None:
    stack.kms.schedule_key_deletion(KeyId=stack.key_id, PendingWindowInDays=7)
    event = _event(stack, name)

    outcome = _outcome(stack, stack.invoke(event), "key.schedule-deletion")

    assert stack.key_state() == "Enabled"
    assert outcome["status"] == "remediated" and outcome["verified"] is True
    assert [c["operation"] for c in outcome["calls"]] == [
        "DescribeKey",
        "CancelKeyDeletion",
        "EnableKey",
        "DescribeKey",
    ]
    assert "cancelled the scheduled deletion" in outcome["summary"]

    (incident,) = stack.invoke(event)["incidents"]
    assert incident["status"] == "already-restored"
    assert [c.operation for c in stack.outcomes[-1].calls] == ["DescribeKey"]


def test_disable_event_on_a_key_also_scheduled_for_deletion_still_ends_enabled(stack: Stack) -> None:
    """Events can arrive out of order: the DisableKey repair finds the key pending deletion."""
    stack.kms.disable_key(KeyId=stack.key_id)
    stack.kms.schedule_key_deletion(KeyId=stack.key_id, PendingWindowInDays=7)

    outcome = _outcome(stack, stack.invoke(_event(stack, DISABLE_FILES[0])), "key.disable")

    assert outcome["status"] == "remediated"
    assert stack.key_state() == "Enabled"


def test_refused_enable_fails_with_the_error(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.kms.exceptions import AccessDeniedException

    def refuse(*_: Any, **__: Any) -> None:
        raise AccessDeniedException("User is not authorized to perform: kms:EnableKey")

    stack.kms.disable_key(KeyId=stack.key_id)
    monkeypatch.setattr(KmsBackend, "enable_key", refuse)

    outcome = _outcome(stack, stack.invoke(_event(stack, DISABLE_FILES[0])), "key.disable")

    assert outcome["status"] == "failed" and outcome["verified"] is False
    assert outcome["calls"][-1]["operation"] == "EnableKey"
    assert outcome["errors"] and outcome["errors"][0].startswith("AccessDeniedException")
    assert "AccessDeniedException" in outcome["summary"] and stack.key_arn in outcome["summary"]
    assert stack.key_state() == "Disabled"


# -- key.policy-change: the baseline key policy put back, on the event path and by the sweep -------------

RECORD = "kms_putkeypolicy_awsdocs.json"
ROOT = {
    "Sid": "Enable IAM User Permissions",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": "kms:*",
    "Resource": "*",
}


def baseline_policy(trail_arn: str) -> dict[str, Any]:
    """A key policy that lets CloudTrail encrypt the trail's logs (the one CloudTrail documents)."""
    return cloudtrail_key_policy(ACCOUNT, [trail_arn])


ATTACK = {"Version": "2012-10-17", "Id": "key-default-1", "Statement": [ROOT]}


@pytest.fixture
def keyed(stack: Stack) -> Stack:
    """The stack with a key policy that grants CloudTrail, recorded as the key's baseline."""
    stack.kms.put_key_policy(
        KeyId=stack.key_id,
        PolicyName="default",
        Policy=json.dumps(baseline_policy(stack.trail_arn), indent=2),
    )
    stack.forget_baseline("key", stack.key_id)
    baselines = stack.record_baselines()
    recorded = baselines.get("key", stack.key_id)
    assert recorded is not None and json.loads(recorded["KeyPolicy"]) == baseline_policy(stack.trail_arn)
    return stack


def live_policy(stack: Stack) -> Any:
    return json.loads(stack.kms.get_key_policy(KeyId=stack.key_id, PolicyName="default")["Policy"])


def attack(stack: Stack, policy: dict[str, Any] = ATTACK) -> dict[str, Any]:
    """The attacker's PutKeyPolicy, and its CloudTrail record (the documented one, re-aimed) as delivered."""
    text = json.dumps(policy)
    stack.kms.put_key_policy(KeyId=stack.key_id, PolicyName="default", Policy=text)
    return tamper_event(RECORD, {"keyId": stack.key_id, "policy": text}, resource_arn=stack.key_arn)


def test_the_baseline_policy_is_put_back_and_verified(keyed: Stack) -> None:
    result = keyed.invoke(attack(keyed))

    (incident,) = result["incidents"]
    assert incident["technique"] == "key.policy-change" and incident["status"] == "remediated"
    assert live_policy(keyed) == baseline_policy(keyed.trail_arn)
    (message,) = keyed.messages()
    outcome = remediation_of(message)
    assert outcome["verified"] is True and keyed.key_id in message["text"]
    assert [c["operation"] for c in outcome["calls"]] == [
        "DescribeKey",
        "GetKeyPolicy",
        "PutKeyPolicy",
        "GetKeyPolicy",
    ]
    put = outcome["calls"][2]
    assert put["params"]["KeyId"] == keyed.key_id and put["params"]["PolicyName"] == "default"
    assert not any("Bypass" in name for c in outcome["calls"] for name in c["params"])
    assert {c["region"] for c in outcome["calls"]} == {REGION}
    assert "put the baseline key policy back" in outcome["summary"]
    for done in keyed.outcomes:
        assert_declared(done.action, done.calls)


def test_a_repeat_finds_it_already_restored(keyed: Stack) -> None:
    event = attack(keyed)
    keyed.invoke(event)
    (incident,) = keyed.invoke(event)["incidents"]
    assert incident["status"] == "already-restored"
    assert [c.operation for c in keyed.outcomes[-1].calls] == ["DescribeKey", "GetKeyPolicy"]


def test_a_deny_for_cloudtrail_is_repaired(keyed: Stack) -> None:
    denied = baseline_policy(keyed.trail_arn)
    denied["Statement"].append(
        {"Sid": "x", "Effect": "Deny", "Principal": "*", "Action": "kms:GenerateDataKey*", "Resource": "*"}
    )
    (incident,) = keyed.invoke(attack(keyed, denied))["incidents"]
    assert incident["status"] == "remediated"
    assert live_policy(keyed) == baseline_policy(keyed.trail_arn)
    assert "explicitly denies" in keyed.outcomes[-1].summary


def test_no_baseline_escalates_and_invents_nothing(keyed: Stack) -> None:
    keyed.forget_baseline("key", keyed.key_id)
    (incident,) = keyed.invoke(attack(keyed))["incidents"]

    assert incident["status"] == "failed"
    outcome = keyed.outcomes[-1]
    assert outcome.errors == ["no baseline"] and "trailguard baseline record" in outcome.summary
    assert "PutKeyPolicy" not in [c.operation for c in outcome.calls]
    assert live_policy(keyed) == ATTACK
    (message,) = keyed.messages()
    assert "ACTION REQUIRED" in message["subject"]


def _sweep(stack: Stack) -> sweep.Report:
    with aws.using_environ(stack.env):
        return sweep.sweep(Config.from_env(stack.env), REGION)


def test_the_sweep_finds_and_repairs_a_changed_policy(keyed: Stack) -> None:
    assert _sweep(keyed).drift == []
    keyed.kms.put_key_policy(KeyId=keyed.key_id, PolicyName="default", Policy=json.dumps(ATTACK))

    report = _sweep(keyed)

    (drift,) = report.drift
    assert drift.kind == "key" and drift.ident == keyed.key_id
    restored = [o for o in drift.outcomes if o.action == "key.restore_policy"]
    assert [o.status for o in restored] == ["remediated"]
    assert live_policy(keyed) == baseline_policy(keyed.trail_arn)
    assert _sweep(keyed).drift == []


def test_the_sweep_leaves_a_change_that_keeps_cloudtrail(keyed: Stack) -> None:
    kept = baseline_policy(keyed.trail_arn)
    kept["Statement"].append(
        {
            "Sid": "Audit",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/audit"},
            "Action": "kms:DescribeKey",
            "Resource": "*",
        }
    )
    keyed.kms.put_key_policy(KeyId=keyed.key_id, PolicyName="default", Policy=json.dumps(kept))

    assert _sweep(keyed).drift == []
    assert live_policy(keyed) == kept


def test_an_unreadable_key_policy_is_a_note_and_the_sweep_skips_it(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.kms.exceptions import AccessDeniedException
    from moto.kms.models import KmsBackend

    def refuse(*_: Any, **__: Any) -> None:
        raise AccessDeniedException("User is not authorized to perform: kms:GetKeyPolicy")

    monkeypatch.setattr(KmsBackend, "get_key_policy", refuse)
    stack.forget_baseline("key", stack.key_id)
    recorded = stack.record_baselines().get("key", stack.key_id)

    assert recorded is not None and recorded["KeyState"] == "Enabled" and recorded["KeyPolicy"] is None
    assert any("GetKeyPolicy" in note for note in recorded["_meta"]["notes"])
    report = _sweep(stack)
    assert report.drift == [] and report.errors == []
