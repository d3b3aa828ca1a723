"""Trail KMS key repairs end to end on moto, driven by every real DisableKey / ScheduleKeyDeletion record
re-aimed at the trail's key (in the form the record used: id or ARN)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from moto.kms.models import KmsBackend

from .conftest import EVENTS, REGION, Stack, remediation_of, tamper_event

DISABLE_FILES = sorted(p.name for p in (EVENTS / "tamper").glob("kms_disablekey_*.json"))
SCHEDULE_FILES = sorted(p.name for p in (EVENTS / "tamper").glob("kms_schedulekeydeletion_*.json"))


def test_the_real_records_are_there() -> None:
    assert len(DISABLE_FILES) >= 3 and len(SCHEDULE_FILES) >= 4


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
