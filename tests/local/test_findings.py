"""Findings arrive a delay after a trail is disabled by someone other than the guard, shaped like the
real GuardDuty and Security Hub events, and trailguard's parser reads them as trail-disabled findings."""

from __future__ import annotations

import threading
import time

import botocore.exceptions
import pytest
from localcloud_support import TRUST, creds

from trailguard.events import records_from_object
from trailguard.local.server import LocalCloud

pytestmark = pytest.mark.integration


def emitted_for(cloud: LocalCloud, trail: str) -> list[dict[str, object]]:
    assert cloud.findings is not None
    return [
        e
        for e in cloud.findings.emitted
        if trail in str(e["detail"])  # both events name the trail ARN
    ]


def test_stop_logging_raises_both_findings_after_the_delay(
    cloud: LocalCloud, trail: str, user_keys: dict[str, str]
) -> None:
    started = time.monotonic()
    cloud.client("cloudtrail", creds(user_keys)).stop_logging(Name=trail)
    assert emitted_for(cloud, trail) == []  # not before the delay (0.2 s here)
    assert cloud.wait_idle(10)
    assert time.monotonic() - started >= 0.2
    guardduty, hub = emitted_for(cloud, trail)
    assert guardduty["detail-type"] == "GuardDuty Finding" and guardduty["source"] == "aws.guardduty"
    assert hub["detail-type"] == "Security Hub Findings - Imported" and hub["source"] == "aws.securityhub"
    arn = f"arn:aws:cloudtrail:us-east-1:123456789012:trail/{trail}"
    for envelope in (guardduty, hub):
        [record] = records_from_object(envelope)
        assert record.is_trail_disabled_finding
        assert record.finding_trail == arn
        assert record.event_name == "StopLogging"
        assert record.account_id == "123456789012" and record.region == "us-east-1"
    product = hub["detail"]["findings"][0]["ProductFields"]  # type: ignore[index]
    assert product["action/awsApiCallAction/affectedResources/AWS::CloudTrail::Trail"] == arn
    assert product["action/awsApiCallAction/remoteIpDetails/ipAddressV4"] == "127.0.0.1"
    detail = guardduty["detail"]
    assert detail["type"] == "Stealth:IAMUser/CloudTrailLoggingDisabled"  # type: ignore[index]
    assert detail["resource"]["accessKeyDetails"]["userName"] == user_keys["name"]  # type: ignore[index]


def test_no_finding_for_a_failed_call_or_the_guard_itself(cloud: LocalCloud, trail: str) -> None:
    iam, sts = cloud.client("iam"), cloud.client("sts")

    role = iam.create_role(RoleName="guard-" + trail[-8:], AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    cloud.extra_guard_roles.add(role)
    c = sts.assume_role(RoleArn=role, RoleSessionName="guard")["Credentials"]
    guard = {
        "AWS_ACCESS_KEY_ID": c["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": c["SecretAccessKey"],
        "AWS_SESSION_TOKEN": c["SessionToken"],
    }
    cloud.client("cloudtrail", guard).stop_logging(Name=trail)
    with pytest.raises(botocore.exceptions.ClientError):
        cloud.client("cloudtrail").stop_logging(Name=trail + "-missing")
    assert cloud.wait_idle(10)
    assert emitted_for(cloud, trail) == []


def test_a_due_finding_waits_until_trailguard_has_handled_the_call(
    cloud: LocalCloud, trail: str, user_keys: dict[str, str]
) -> None:
    """GuardDuty is minutes late on AWS: a finding never overtakes the handling of its own call, however
    short the emulated delay and however slow the call's handler."""
    from trailguard.local.findings import FindingEmitter

    gate, asked = threading.Event(), []
    sent: list[dict[str, object]] = []

    def handled(event_id: str, timeout: float) -> bool:
        asked.append(event_id)
        return gate.wait(timeout)

    emitter = FindingEmitter(sent.append, set, delay=0.0, handled=handled)
    try:
        cloud.recorder.listeners.append(emitter)
        try:
            cloud.client("cloudtrail", creds(user_keys)).stop_logging(Name=trail)
        finally:
            cloud.recorder.listeners.remove(emitter)
        time.sleep(0.5)
        assert sent == [] and len(asked) == 1  # due at once, held while the call is being handled
        envelope = next(
            e for e in reversed(cloud.recorder.envelopes) if e["detail"]["eventName"] == "StopLogging"
        )
        assert asked == [envelope["id"]]
        gate.set()
        deadline = time.monotonic() + 5
        while len(sent) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [e["detail-type"] for e in sent] == ["GuardDuty Finding", "Security Hub Findings - Imported"]
    finally:
        gate.set()
        emitter.close()
    assert cloud.wait_idle(10)
