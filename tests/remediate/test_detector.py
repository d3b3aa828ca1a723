"""The second detection path switched back on, end to end on moto: moto's GuardDuty implements
Create/Delete/Get/List/UpdateDetector and its Security Hub Enable/Disable/DescribeHub, so no call here
is stubbed. Only the DeleteDetector record is public; the UpdateDetector and DisableSecurityHub events
are that record with the other call's name and parameters."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto.core.exceptions import JsonRESTError
from moto.guardduty.models import GuardDutyBackend

from .conftest import REGION, Stack, remediation_of, tamper_event

RECORD = "guardduty_deletedetector_elastic.json"


def _guardduty() -> Any:
    return boto3.client("guardduty", region_name=REGION)


def _enabled_detectors() -> list[str]:
    gd = _guardduty()
    return [
        d for d in gd.list_detectors()["DetectorIds"] if gd.get_detector(DetectorId=d)["Status"] == "ENABLED"
    ]


def _published(stack: Stack, result: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    assert result["skipped"] == []
    (incident,) = result["incidents"]
    assert incident["technique"] == "guard.detector"
    (message,) = stack.messages()
    return incident, message


def test_deleted_detector_is_replaced_by_an_enabled_one(stack: Stack) -> None:
    old = _guardduty().create_detector(Enable=True)["DetectorId"]
    _guardduty().delete_detector(DetectorId=old)
    event = tamper_event(RECORD, {"detectorId": old})

    incident, message = _published(stack, stack.invoke(event))

    assert incident["status"] == "remediated" and incident["verified"] is True
    (new,) = _enabled_detectors()
    assert new != old
    assert old in message["text"]
    outcome = remediation_of(message)
    assert [c["operation"] for c in outcome["calls"]] == [
        "GetDetector",
        "ListDetectors",
        "CreateDetector",
        "GetDetector",
    ]
    assert {c["region"] for c in outcome["calls"]} == {REGION}
    assert "not restored" in outcome["summary"]  # the old detector's settings are gone

    (again,) = stack.invoke(event)["incidents"]
    assert again["status"] == "already-restored"
    assert [c.operation for c in stack.outcomes[-1].calls] == ["GetDetector", "ListDetectors", "GetDetector"]
    assert _enabled_detectors() == [new]  # no second detector


def test_disabled_detector_is_enabled_again(stack: Stack) -> None:
    detector = _guardduty().create_detector(Enable=True)["DetectorId"]
    _guardduty().update_detector(DetectorId=detector, Enable=False)
    event = tamper_event(RECORD, {"detectorId": detector, "enable": False}, event_name="UpdateDetector")

    incident, message = _published(stack, stack.invoke(event))

    assert incident["status"] == "remediated"
    assert _enabled_detectors() == [detector]
    operations = [c["operation"] for c in remediation_of(message)["calls"]]
    assert operations == ["GetDetector", "UpdateDetector", "GetDetector"]


def test_disabled_security_hub_is_enabled_again(stack: Stack) -> None:
    hub = boto3.client("securityhub", region_name=REGION)
    hub.enable_security_hub()
    hub.disable_security_hub()
    record = tamper_event(RECORD, {}, event_name="DisableSecurityHub")
    record["detail"]["eventSource"] = "securityhub.amazonaws.com"
    record["detail"]["requestParameters"] = None  # as CloudTrail writes it for this call
    record["source"] = "aws.securityhub"

    incident, message = _published(stack, stack.invoke(record))

    assert incident["status"] == "remediated" and incident["verified"] is True
    assert hub.describe_hub()["HubArn"].endswith(":hub/default")
    outcome = remediation_of(message)
    assert [c["operation"] for c in outcome["calls"]] == ["DescribeHub", "EnableSecurityHub", "DescribeHub"]
    assert "standards" in outcome["summary"]

    (again,) = stack.invoke(record)["incidents"]
    assert again["status"] == "already-restored"


def test_refused_create_detector_fails_with_the_error(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise JsonRESTError("AccessDeniedException", "not authorized to perform guardduty:CreateDetector")

    monkeypatch.setattr(GuardDutyBackend, "create_detector", refuse)
    event = tamper_event(RECORD, {"detectorId": "82c919daa523bc69d203c24868c06849"})

    incident, message = _published(stack, stack.invoke(event))

    assert incident["status"] == "failed" and incident["action_required"] is True
    outcome = remediation_of(message)
    assert outcome["calls"][-1]["operation"] == "CreateDetector"
    assert outcome["errors"] and outcome["errors"][0].startswith("AccessDeniedException")
    assert _enabled_detectors() == []


def test_forged_delete_of_a_live_detector_changes_nothing(stack: Stack) -> None:
    """Issue 9 item 10: a DeleteDetector record about a detector that is alive and enabled (a forged
    invocation) creates nothing and changes nothing."""
    live = _guardduty().create_detector(Enable=True)["DetectorId"]
    event = tamper_event(RECORD, {"detectorId": live})

    (incident,) = stack.invoke(event)["incidents"]

    assert incident["status"] == "already-restored", incident
    assert _enabled_detectors() == [live]
    assert "CreateDetector" not in [c.operation for c in stack.outcomes[-1].calls]
