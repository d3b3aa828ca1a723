"""The deployed stack on the in-process local cloud: a stopped trail is repaired, and the guard's own
calls, which are recorded and routed like anyone's, end quietly instead of looping."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from trailguard.local import world
from trailguard.local.server import LocalCloud

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def deployed(cloud: LocalCloud) -> Iterator[world.World]:
    assert cloud.findings is not None
    cloud.findings.delay = 1.0  # findings come well after the API-call path, as on AWS (minutes there)
    yield world.build(cloud, progress=lambda _line: None)


def test_attack_is_repaired_once_and_the_cloud_goes_quiet(cloud: LocalCloud, deployed: world.World) -> None:
    key = deployed.attacker
    attacker = {"AWS_ACCESS_KEY_ID": key.access_key_id, "AWS_SECRET_ACCESS_KEY": key.secret_access_key}
    seen_inv, seen_rec = len(cloud.invocations), len(cloud.recorder.records)
    cloud.client("cloudtrail", attacker).stop_logging(Name=deployed.trail.name)
    assert cloud.wait_idle(15)
    assert cloud.client("cloudtrail").get_trail_status(Name=deployed.trail.name)["IsLogging"]
    invocations = cloud.invocations[seen_inv:]
    kinds = sorted(str(i.detail_type) for i in invocations)
    assert kinds == ["AWS API Call via CloudTrail", "GuardDuty Finding", "Security Hub Findings - Imported"]
    assert all(i.invoked and i.error is None for i in invocations)
    by_guard = [
        r["eventName"]
        for r in cloud.recorder.records[seen_rec:]
        if r["userIdentity"].get("sessionContext", {}).get("sessionIssuer", {}).get("arn")
        in deployed.guard.role_arns
    ]
    # One repair of the trail; the rest is reporting (Security Hub import/update) and signing its state
    # records (KMS GenerateMac/VerifyMac), never a second repair.
    signing = {"GenerateMac", "VerifyMac"}
    assert [n for n in by_guard if not n.startswith("Batch") and n not in signing] == ["StartLogging"]


def test_the_guard_role_does_not_trigger_itself(cloud: LocalCloud, deployed: world.World) -> None:
    """A call by trailguard's role from its function's session that matches its own rule and weakens
    nothing (the selector repair's PutEventSelectors) is delivered (as on AWS), judged benign, and causes
    no further call, so no loop can start. (A StopLogging by the role is no longer benign: trailguard
    never makes that call, tests/policy/test_classify.py.)"""
    api_function = next(n for n in deployed.guard.function_names if n.endswith("api-call"))
    creds = cloud.runner.credentials_for(deployed.guard.role_arns[0], api_function)
    assert cloud.findings is not None
    seen_inv, seen_rec = len(cloud.invocations), len(cloud.recorder.records)
    seen_findings = len(cloud.findings.emitted)
    selectors = [{"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": []}]
    cloud.client("cloudtrail", creds).put_event_selectors(
        TrailName=deployed.trail.name, EventSelectors=selectors
    )
    assert cloud.wait_idle(15)
    [inv] = cloud.invocations[seen_inv:]
    assert inv.invoked and inv.function_name == api_function
    assert inv.result["incidents"] == []
    assert [r["eventName"] for r in cloud.recorder.records[seen_rec:]] == ["PutEventSelectors"]
    assert len(cloud.findings.emitted) == seen_findings


def test_the_security_hub_finding_ends_resolved_with_trailguards_note(
    cloud: LocalCloud, deployed: world.World, caplog: pytest.LogCaptureFixture
) -> None:
    """The emulated GuardDuty finding is stored in Security Hub and trailguard resolves it there with a
    note, as on AWS. moto lacks ``BatchUpdateFindings``: the local cloud's stand-in
    (``trailguard.local.securityhub_patch``, docs/local-cloud.md "Known moto gaps") serves it."""
    caplog.set_level(logging.INFO, logger="trailguard")
    assert cloud.findings is not None
    key = deployed.attacker
    attacker = {"AWS_ACCESS_KEY_ID": key.access_key_id, "AWS_SECRET_ACCESS_KEY": key.secret_access_key}
    seen_inv, seen_rec, seen_findings = (
        len(cloud.invocations),
        len(cloud.recorder.records),
        len(cloud.findings.emitted),
    )
    cloud.client("cloudtrail", attacker).stop_logging(Name=deployed.trail.name)
    assert cloud.wait_idle(15)

    [hub_event] = [e for e in cloud.findings.emitted[seen_findings:] if e["source"] == "aws.securityhub"]
    [sent] = hub_event["detail"]["findings"]  # type: ignore[index]
    stored = [
        f
        for f in cloud.client("securityhub").get_findings()["Findings"]
        if f["Id"] == sent["Id"] and f["ProductArn"] == sent["ProductArn"]
    ]
    assert len(stored) == 1
    assert stored[0]["Workflow"]["Status"] == "RESOLVED"
    assert stored[0]["Note"]["UpdatedBy"] == "trailguard"
    assert stored[0]["Note"]["Text"].startswith("trailguard: ")

    [inv] = [i for i in cloud.invocations[seen_inv:] if i.detail_type == "Security Hub Findings - Imported"]
    assert inv.invoked and inv.error is None
    [incident] = inv.result["incidents"]
    assert incident["security_hub"] == {"updated": sent["Id"], "workflow": "RESOLVED"}
    updates = [r for r in cloud.recorder.records[seen_rec:] if r["eventName"] == "BatchUpdateFindings"]
    assert len(updates) == 1 and "errorCode" not in updates[0]
    assert not [r for r in caplog.records if "securityhub.failed" in r.getMessage()]
