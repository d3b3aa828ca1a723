"""``notify.securityhub``: an ASFF finding per CloudTrail incident (moto implements BatchImportFindings
and GetFindings, so that runs against moto), the answer on the finding that raised an incident (moto does
not implement BatchUpdateFindings, so those tests use botocore's Stubber on a real client), and one
finding per resource a backstop sweep found drifted (Stubber here; through the handler in
``tests/test_sweep.py``)."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto.cloudtrail.models import CloudTrailBackend

from trailguard import aws, handlers
from trailguard.events import Record, records_from_object
from trailguard.notify import Drift, Incident, SweepFindings, securityhub
from trailguard.policy import Verdict
from trailguard.remediate import Outcome

from .conftest import REGION, Cloud, event, records

STOP = "tamper/cloudtrail_stoplogging_assumedrole_panther.json"
FINDING = "findings/securityhub_imported_guardduty_cloudtrailloggingdisabled_awssamples.json"


def test_a_cloudtrail_incident_is_imported_beside_guardduty_findings(cloud: Cloud) -> None:
    (record,) = records(STOP)
    cloud.trail_for(record)
    result = cloud.invoke(handlers.api_call, event(STOP), "us-west-2")

    assert result["incidents"][0]["security_hub"]["imported"]
    hub = boto3.client("securityhub", region_name="us-west-2")
    (finding,) = hub.get_findings()["Findings"]
    account = record.account_id
    assert finding["ProductArn"] == f"arn:aws:securityhub:us-west-2:{account}:product/{account}/default"
    assert finding["GeneratorId"] == "trailguard/trail.stop-logging"
    assert finding["Types"] == ["TTPs/Defense Evasion/trailguard-trail.stop-logging"]
    assert finding["Severity"]["Label"] == "HIGH"
    assert finding["Workflow"]["Status"] == "RESOLVED" and finding["RecordState"] == "ACTIVE"
    assert finding["Resources"][0]["Type"] == "AwsCloudTrailTrail"
    assert "trail.start_logging: remediated (verified)" in finding["Remediation"]["Recommendation"]["Text"]
    assert finding["ProductFields"]["trailguard/principal"] == record.principal_arn
    assert finding["ProductFields"]["trailguard/sourceIp"] == record.source_ip
    assert finding["Title"].startswith("[trailguard] REPAIRED: StopLogging on trail example-trail")


def test_security_hub_can_be_switched_off(cloud: Cloud) -> None:
    (record,) = records(STOP)
    cloud.trail_for(record)
    result = cloud.invoke(handlers.api_call, event(STOP), "us-west-2", TRAILGUARD_SECURITY_HUB="false")
    assert "security_hub" not in result["incidents"][0]
    assert boto3.client("securityhub", region_name="us-west-2").get_findings()["Findings"] == []
    assert len(cloud.messages()) == 1


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """A real Security Hub client whose responses are stubbed; trailguard's factory hands it out."""
    client = boto3.client(
        "securityhub", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    real = aws.client
    monkeypatch.setattr(
        aws, "client", lambda service, *a, **k: client if service == "securityhub" else real(service, *a, **k)
    )
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def _finding_incident(verified: bool | None, status: str = "remediated") -> Incident:
    (record,) = records_from_object(event(FINDING))
    verdict = Verdict("tamper", "finding.trail-disabled", record.finding_trail, None, "Disabled.", record)
    outcome = Outcome("trail.reconcile", record.finding_trail, status, "restarted logging", verified)  # type: ignore[arg-type]
    return Incident(verdict, record, "finding", REGION, outcome=outcome)


@pytest.mark.parametrize(
    ("verified", "status", "workflow"), [(True, "remediated", "RESOLVED"), (False, "failed", "NOTIFIED")]
)
def test_the_finding_that_raised_an_incident_is_updated(
    stubbed: Stubber, verified: bool, status: str, workflow: str
) -> None:
    incident = _finding_incident(verified, status)
    raw = incident.record.raw
    stubbed.add_response(
        "batch_update_findings",
        {
            "ProcessedFindings": [{"Id": raw["Id"], "ProductArn": raw["ProductArn"]}],
            "UnprocessedFindings": [],
        },
        {
            "FindingIdentifiers": [{"Id": raw["Id"], "ProductArn": raw["ProductArn"]}],
            "Workflow": {"Status": workflow},
            "Note": {"Text": securityhub.note_for(incident), "UpdatedBy": "trailguard"},
            "UserDefinedFields": {"trailguard/answered": f"{raw['UpdatedAt']} {workflow}"},
        },
    )
    line: dict[str, Any] = {}
    securityhub.report(incident, line)
    assert line["security_hub"] == {"updated": raw["Id"], "workflow": workflow}
    assert securityhub.note_for(incident).startswith(f"trailguard: {status}. restarted logging")


def test_a_refused_update_is_logged_loudly_and_not_raised(
    stubbed: Stubber, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="trailguard")
    stubbed.add_client_error("batch_update_findings", "AccessDeniedException", "not authorized")
    line: dict[str, Any] = {}
    securityhub.report(_finding_incident(True), line)
    assert "AccessDeniedException" in line["security_hub"]["error"]
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == "trailguard.securityhub"]
    assert [entry["event"] for entry in logged] == ["securityhub.failed"]
    assert logged[0]["level"] == "ERROR" and logged[0]["incident"]["technique"] == "finding.trail-disabled"


def test_an_unprocessed_update_counts_as_a_failure(stubbed: Stubber) -> None:
    incident = _finding_incident(True)
    raw = incident.record.raw
    ident = {"Id": raw["Id"], "ProductArn": raw["ProductArn"]}
    stubbed.add_response(
        "batch_update_findings",
        {
            "ProcessedFindings": [],
            "UnprocessedFindings": [{"FindingIdentifier": ident, "ErrorCode": "X", "ErrorMessage": "gone"}],
        },
    )
    line: dict[str, Any] = {}
    securityhub.report(incident, line)
    assert "did not update" in line["security_hub"]["error"]


def test_a_refused_import_never_blocks_the_repair_or_the_email(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from moto.securityhub.models import SecurityHubBackend

    def refuse(self: Any, findings: Any) -> Any:
        raise RuntimeError("Security Hub is not enabled")

    caplog.set_level(logging.INFO, logger="trailguard")
    monkeypatch.setattr(SecurityHubBackend, "batch_import_findings", refuse)
    (record,) = records(STOP)
    name, region = cloud.trail_for(record)
    result = cloud.invoke(handlers.api_call, event(STOP), "us-west-2")
    assert cloud.is_logging(name, region)
    assert len(cloud.messages()) == 1
    assert "error" in result["incidents"][0]["security_hub"]
    assert any(
        json.loads(r.getMessage())["event"] == "securityhub.failed"
        for r in caplog.records
        if r.name == "trailguard.securityhub"
    )


# ------------------------------------------------------------------------------ the backstop sweep

ACCOUNT = "123456789012"
KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd"
REPAIRED = Drift(
    "key", KEY, [Outcome("key.cancel_deletion", KEY, "remediated", "cancelled the deletion", verified=True)]
)
GONE = Drift(
    "function", "tg-api-call", [Outcome("guard.restore_function", "tg-api-call", "failed", "deleted")]
)


def _sweep(*drift: Drift, account: str | None = ACCOUNT) -> SweepFindings:
    return SweepFindings(
        account, REGION, {"key": 1, "function": 2}, list(drift), swept_at="2024-05-01T03:05:00+00:00"
    )


def test_each_drifted_resource_is_one_finding_with_a_stable_id(stubbed: Stubber) -> None:
    notice = _sweep(REPAIRED, GONE)
    stubbed.add_response("batch_import_findings", {"FailedCount": 0, "SuccessCount": 2, "FailedFindings": []})
    result = securityhub.report_sweep(notice)
    ids = [
        f"trailguard/{ACCOUNT}/backstop/{REGION}/key/{KEY}",
        f"trailguard/{ACCOUNT}/backstop/{REGION}/function/tg-api-call",
    ]
    assert result == {"imported": ids}

    now = "2024-05-01T03:05:01.000Z"
    key, function = (securityhub.drift_finding(notice, d, ACCOUNT, now) for d in notice.drift)
    assert [key["Id"], function["Id"]] == ids
    assert key["ProductArn"] == f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"
    assert key["GeneratorId"] == function["GeneratorId"] == "trailguard/backstop"
    assert key["Resources"] == [{"Type": "AwsKmsKey", "Id": KEY, "Partition": "aws", "Region": "eu-west-1"}]
    assert function["Resources"][0]["Type"] == "AwsLambdaFunction"
    assert function["Resources"][0]["Region"] == REGION
    assert (key["Severity"]["Label"], key["Workflow"]["Status"]) == ("HIGH", "RESOLVED")
    assert (function["Severity"]["Label"], function["Workflow"]["Status"]) == ("CRITICAL", "NOTIFIED")
    assert (
        key["Title"]
        == f"[trailguard] REPAIRED: backstop found KMS key 1234abcd drifted in {ACCOUNT} ({REGION})"
    )
    assert function["Title"].startswith(
        "[ACTION REQUIRED] REPAIR FAILED: backstop found function tg-api-call"
    )
    assert function["Remediation"]["Recommendation"]["Text"] == (
        "REPAIR FAILED: deleted A person must repair it (or redeploy)."
    )
    assert function["ProductFields"]["trailguard/source"] == "backstop"


def test_more_drift_than_one_call_takes_is_imported_in_chunks(stubbed: Stubber) -> None:
    many = [Drift("rule", f"r{n}", REPAIRED.outcomes) for n in range(securityhub.MAX_IMPORT + 1)]
    stubbed.add_response(
        "batch_import_findings", {"FailedCount": 0, "SuccessCount": 100, "FailedFindings": []}
    )
    stubbed.add_response("batch_import_findings", {"FailedCount": 0, "SuccessCount": 1, "FailedFindings": []})
    result = securityhub.report_sweep(_sweep(*many))
    assert result is not None and len(result["imported"]) == len(many)


def test_a_clean_sweep_reports_nothing(stubbed: Stubber) -> None:
    assert securityhub.report_sweep(_sweep()) is None


@pytest.mark.parametrize("account", [ACCOUNT, None])
def test_a_refused_sweep_import_is_logged_loudly_and_not_raised(
    stubbed: Stubber, caplog: pytest.LogCaptureFixture, account: str | None
) -> None:
    caplog.set_level(logging.INFO, logger="trailguard")
    if account:
        stubbed.add_response(
            "batch_import_findings",
            {
                "FailedCount": 1,
                "SuccessCount": 0,
                "FailedFindings": [{"Id": "x", "ErrorCode": "InvalidInput", "ErrorMessage": "no"}],
            },
        )
    result = securityhub.report_sweep(_sweep(GONE, account=account))
    assert result is not None and set(result) == {"error"}
    assert ("refused" if account else "knows no account") in result["error"]
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == "trailguard.securityhub"]
    assert [(e["event"], e["level"], e["source"]) for e in logged] == [
        ("securityhub.failed", "ERROR", "backstop")
    ]
    assert logged[0]["drift"] == ["function tg-api-call"]


def test_report_takes_either_notice(stubbed: Stubber) -> None:
    stubbed.add_response("batch_import_findings", {"FailedCount": 0, "SuccessCount": 1, "FailedFindings": []})
    line: dict[str, Any] = {}
    securityhub.report(_sweep(GONE), line)
    assert line == {
        "security_hub": {"imported": [f"trailguard/{ACCOUNT}/backstop/{REGION}/function/tg-api-call"]}
    }


# ------------------------------------------------------------------ no loop through Security Hub


def _emitted_again(envelope: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The finding as Security Hub emits it again after an update (``UpdatedAt`` unchanged: only its
    provider changes that)."""
    again = copy.deepcopy(envelope)
    finding = again["detail"]["findings"][0]
    finding.pop("WorkflowState", None)
    finding.update(changes)
    return again


def test_a_finding_trailguard_updated_is_not_processed_again(
    cloud: Cloud, stubbed: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The repair fails, so the finding stays active; Security Hub emits it again after trailguard's
    ``BatchUpdateFindings``; that copy is trailguard's own answer and changes nothing (before the fix it
    was repaired, updated and emitted again, without end). A workflow change of its own (someone sets
    it back to NEW) is processed once more."""
    monkeypatch.setattr(CloudTrailBackend, "start_logging", lambda self, name: None)
    envelope = event(FINDING)
    (record,) = records_from_object(envelope)
    cloud.trail_for(record)
    raw = record.raw
    answered = {"trailguard/answered": f"{raw['UpdatedAt']} NOTIFIED"}
    update = {
        "FindingIdentifiers": [{"Id": raw["Id"], "ProductArn": raw["ProductArn"]}],
        "Workflow": {"Status": "NOTIFIED"},
        "Note": ANY,
        "UserDefinedFields": answered,
    }
    done = {
        "ProcessedFindings": [{"Id": raw["Id"], "ProductArn": raw["ProductArn"]}],
        "UnprocessedFindings": [],
    }
    stubbed.add_response("batch_update_findings", done, update)

    first = cloud.invoke(handlers.finding, envelope)
    assert first["incidents"][0]["status"] == "failed"
    assert first["incidents"][0]["security_hub"]["workflow"] == "NOTIFIED"
    assert [m["_sns_subject"][:17] for m in cloud.messages()] == ["[ACTION REQUIRED]"]

    note = {"Text": "trailguard: failed.", "UpdatedBy": "trailguard", "UpdatedAt": "2019-08-26T13:00:00Z"}
    echo = _emitted_again(envelope, Workflow={"Status": "NOTIFIED"}, Note=note, UserDefinedFields=answered)
    for _ in range(3):  # however often it comes back: no repair, no update (no stub left), no email
        again = cloud.invoke(handlers.finding, echo)
        assert again["incidents"] == [] and again["skipped"] == []
    assert cloud.messages() == []

    reopened = _emitted_again(envelope, Workflow={"Status": "NEW"}, Note=note, UserDefinedFields=answered)
    stubbed.add_response("batch_update_findings", done, update)
    (incident,) = cloud.invoke(handlers.finding, reopened)["incidents"]
    assert incident["status"] == "failed"  # repaired again (and still failing)
    # back to the version first told (NEW at the same UpdatedAt): its message is not sent twice
    assert incident["notification"]["reason"].startswith("duplicate delivery of event")


def test_a_security_hub_call_is_named_security_hub_not_a_detector() -> None:
    record = Record(
        {
            "eventName": "DisableSecurityHub",
            "eventSource": "securityhub.amazonaws.com",
            "eventID": "e-2",
            "awsRegion": REGION,
            "recipientAccountId": ACCOUNT,
            "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/mallory"},
        },
        "cloudtrail",
    )
    verdict = Verdict("tamper", "guard.detector", ACCOUNT, None, "Disables Security Hub.", record)
    incident = Incident(
        verdict, record, "api_call", REGION, outcome=Outcome("a", ACCOUNT, "remediated", "ok", True)
    )
    title = securityhub.finding_for(incident, REGION, ACCOUNT, "now")["Title"]
    assert title == f"[trailguard] REPAIRED: DisableSecurityHub on Security Hub in {ACCOUNT} ({REGION})"
    assert "detector" not in title
    resource = securityhub.finding_for(incident, REGION, ACCOUNT, "now")["Resources"][0]
    assert resource["Type"] == "AwsAccount" and resource["Id"] == f"AWS::::Account:{ACCOUNT}"
