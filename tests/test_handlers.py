"""The Lambda handlers end to end against moto, driven by the real records in ``tests/data/events``."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from moto.cloudtrail.models import CloudTrailBackend
from moto.cloudtrail.responses import CloudTrailResponse
from moto.core.exceptions import JsonRESTError
from moto.sns.models import SNSBackend

import corpus
import envelopes
from aws_support import ACCOUNT, GUARD_ROLE, Cloud, moto_region, stack_allowing
from aws_support import REGION as HANDLER_REGION
from corpus import EVENTS
from trailguard import allowlist, handlers
from trailguard.events import Record, records_from_object
from trailguard.inventory import parse_trail_ref
from trailguard.notify import NotificationError


def load_records(path: Path) -> list[Record]:
    return records_from_object(json.loads(path.read_text()))


def guardduty_envelope(finding: dict[str, Any]) -> dict[str, Any]:
    """A bare GuardDuty finding as EventBridge delivers it (``GuardDuty Finding``), its keys spelled as
    the file spells them (the API's PascalCase stays PascalCase: that path is tested too)."""
    return envelopes.guardduty(
        finding, keep_spelling=True, event_id="3b1f6bd2-5e4b-4a41-9a2c-0c6f1d1d2f00", time=envelopes.TIME
    )


def _files(folder: str) -> list[Path]:
    return sorted((EVENTS / folder).glob("*.json"))


def _stop_logging_files(folder: str) -> list[Path]:
    return [p for p in _files(folder) if any(r.event_name == "StopLogging" for r in load_records(p))]


def in_this_account(path: Path) -> Any:
    """The real finding at ``path`` raised in this test world's account: the sample's own account id is
    replaced by moto's wherever it occurs (its account field, the trail's ARN in the affected resource,
    title and description). A finding of another account is never judged against a local trail of the
    same name (tests/org/test_finding_other_account.py); the world cannot take the samples' accounts
    instead, since moto's one account serves every fixture here and one sample's "10987654321" has 11
    digits, no account id at all."""
    text = path.read_text()
    for record in records_from_object(json.loads(text)):
        if record.is_trail_disabled_finding and record.account_id and record.account_id != ACCOUNT:
            text = text.replace(record.account_id, ACCOUNT)
    return json.loads(text)


def load_finding(name: str) -> Record:
    """The trail-disabled finding of file ``name``, in this account (:func:`in_this_account`)."""
    (record,) = [
        r
        for r in records_from_object(in_this_account(EVENTS / "findings" / name))
        if r.is_trail_disabled_finding
    ]
    return record


def _trail_disabled_findings() -> list[tuple[str, Any]]:
    """(file name, EventBridge event) for every CloudTrailLoggingDisabled finding, in this account
    (:func:`in_this_account`); bare GuardDuty findings are wrapped in a ``GuardDuty Finding`` envelope as
    EventBridge would deliver them."""
    found = []
    for path in _files("findings"):
        raw = in_this_account(path)
        records = records_from_object(raw)
        if not any(r.is_trail_disabled_finding for r in records):
            continue
        event = raw if "detail-type" in raw else guardduty_envelope(raw)
        found.append((path.name, event))
    return found


STOP_LOGGING_TAMPER = _stop_logging_files("tamper")
STOP_LOGGING_FAILED = _stop_logging_files("failed-tamper")
TRAIL_DISABLED_FINDINGS = _trail_disabled_findings()


def test_the_real_records_are_there() -> None:
    """Guards the parametrised tests below against passing on an empty data directory."""

    def stop_logging(folder: str) -> list[str]:
        return corpus.names([r for r in corpus.rows_in(folder) if r["eventName"] == "StopLogging"])

    trail_disabled = [
        r for r in corpus.rows_in("findings") if r["eventSource"].endswith("CloudTrailLoggingDisabled")
    ]
    assert STOP_LOGGING_TAMPER and [p.name for p in STOP_LOGGING_TAMPER] == stop_logging("tamper")
    assert STOP_LOGGING_FAILED and [p.name for p in STOP_LOGGING_FAILED] == stop_logging("failed-tamper")
    assert TRAIL_DISABLED_FINDINGS
    assert sorted(name for name, _ in TRAIL_DISABLED_FINDINGS) == corpus.names(trail_disabled)
    assert _files("benign") and [p.name for p in _files("benign")] == corpus.names(corpus.rows_in("benign"))


def _setup_stopped_trail(cloud: Cloud, record: Record) -> tuple[str, str, str]:
    """Create the trail the record names, in its region (moto's stand-in for made-up ones), and stop
    it. Returns (trail name, trail region, handler region)."""
    ref = record.request_parameters.get("name") if record.kind == "cloudtrail" else record.finding_trail
    assert isinstance(ref, str) and ref
    name, arn_region = parse_trail_ref(ref)
    region = moto_region(arn_region, record.region)
    cloud.create_trail(name, region)
    cloud.stop(name, region)
    return name, region, moto_region(record.region)


@pytest.mark.parametrize("path", STOP_LOGGING_TAMPER, ids=lambda p: p.name)
def test_stop_logging_is_restarted_verified_and_reported(cloud: Cloud, path: Path) -> None:
    event = json.loads(path.read_text())
    (record,) = load_records(path)
    name, region, handler_region = _setup_stopped_trail(cloud, record)

    result = cloud.invoke(handlers.api_call, event, handler_region)

    assert cloud.is_logging(name, region)
    assert json.loads(json.dumps(result)) == result  # the summary is JSON-able for any caller
    assert result["records"] == 1 and result["skipped"] == []
    (incident,) = result["incidents"]
    assert incident["verdict"] == "tamper"
    assert incident["technique"] == "trail.stop-logging"
    assert incident["status"] == "remediated" and incident["verified"] is True
    (message,) = cloud.messages()
    text = message["text"]
    for value in (record.principal_arn, record.source_ip, record.user_agent, name):
        assert value and value in text, value
    assert message["_sns_subject"].startswith("[trailguard] REPAIRED: ")
    calls = message["incident"]["remediation"]["calls"]
    # a StopLogging that succeeded says the trail is stopped: started at once, then verified (no pre-read)
    assert [c["operation"] for c in calls if c["error"] is None] == ["StartLogging", "GetTrailStatus"]
    assert {c["region"] for c in calls} == {region}


@pytest.mark.parametrize(
    ("name", "event"), TRAIL_DISABLED_FINDINGS, ids=[n for n, _ in TRAIL_DISABLED_FINDINGS]
)
def test_trail_disabled_finding_restarts_the_named_trail(cloud: Cloud, name: str, event: Any) -> None:
    record = load_finding(name)
    trail, region, handler_region = _setup_stopped_trail(cloud, record)

    result = cloud.invoke(handlers.finding, event, handler_region)

    assert cloud.is_logging(trail, region)
    (incident,) = result["incidents"]
    assert incident["technique"] == "finding.trail-disabled"
    assert incident["status"] == "remediated"
    (message,) = cloud.messages()
    text = message["text"]
    assert trail in text
    who = record.principal_arn or record.principal_name
    for value in (who, record.source_ip, record.user_agent):
        if value:
            assert value in text, value
    assert record.source_ip in text  # every one of these findings carries the caller's IP


def test_finding_after_the_api_path_reports_already_restored(cloud: Cloud) -> None:
    name, event = TRAIL_DISABLED_FINDINGS[-1]
    record = load_finding(name)
    trail, region, handler_region = _setup_stopped_trail(cloud, record)
    cloud.cloudtrail(region).start_logging(Name=trail)  # the API-call path got there first

    result = cloud.invoke(handlers.finding, event, handler_region)

    (incident,) = result["incidents"]
    assert incident["status"] == "already-restored"
    (message,) = cloud.messages()
    assert "already" in message["_sns_subject"].lower()
    operations = [c["operation"] for c in message["incident"]["remediation"]["calls"]]
    assert operations == ["GetTrailStatus"]


def test_finding_without_a_trail_checks_every_protected_trail(cloud: Cloud) -> None:
    _name, event = TRAIL_DISABLED_FINDINGS[-1]
    event = json.loads(json.dumps(event))
    finding = event["detail"]["findings"][0] if "findings" in event["detail"] else event["detail"]
    finding["ProductFields"] = {
        k: v for k, v in finding.get("ProductFields", {}).items() if "affectedResources" not in k
    }
    finding["Title"] = finding["Description"] = "Logging was disabled on a trail."
    cloud.create_trail("first", HANDLER_REGION)
    cloud.create_trail("second", "eu-west-1", multi_region=True)
    cloud.stop("first", HANDLER_REGION)
    cloud.stop("second", "eu-west-1")

    result = cloud.invoke(handlers.finding, event, HANDLER_REGION)

    assert cloud.is_logging("first", HANDLER_REGION) and cloud.is_logging("second", "eu-west-1")
    assert result["incidents"][0]["status"] == "remediated"
    assert len(cloud.messages()) == 1


def test_multi_region_trail_is_started_in_its_home_region(cloud: Cloud) -> None:
    """The event names the trail by name in another region: StartLogging goes to the home region. (On AWS
    a StopLogging succeeds only in the trail's home region, so the hot path starts it where the call was
    made; a record that says otherwise meets no trail there and the trail is looked up: DescribeTrails.)"""
    path = EVENTS / "tamper" / "cloudtrail_stoplogging_stratus.json"
    event = json.loads(path.read_text())
    event["awsRegion"] = HANDLER_REGION
    trail = event["requestParameters"]["name"]
    cloud.create_trail(trail, "ap-southeast-2", multi_region=True)
    cloud.stop(trail, "ap-southeast-2")

    cloud.invoke(handlers.api_call, event, HANDLER_REGION)

    assert cloud.is_logging(trail, "ap-southeast-2")
    (message,) = cloud.messages()
    calls = message["incident"]["remediation"]["calls"]
    starts = [c for c in calls if c["operation"] == "StartLogging" and c["error"] is None]
    assert [c["region"] for c in starts] == ["ap-southeast-2"]


@pytest.mark.parametrize("path", _files("benign"), ids=lambda p: p.name)
def test_benign_records_change_nothing_and_publish_nothing(cloud: Cloud, path: Path) -> None:
    cloud.create_trail("kept-running", HANDLER_REGION)
    cloud.create_trail("kept-stopped", HANDLER_REGION)
    cloud.stop("kept-stopped", HANDLER_REGION)
    for record in load_records(path):  # the trails the benign calls name exist too, and stay as they are
        ref = record.request_parameters.get("name") or record.request_parameters.get("trailName")
        if isinstance(ref, str) and ref:
            name, arn_region = parse_trail_ref(ref)
            cloud.create_trail(name, moto_region(arn_region, record.region), logging=False)

    result = cloud.invoke(handlers.api_call, json.loads(path.read_text()), HANDLER_REGION)

    assert result["incidents"] == [] and result["skipped"] == []
    assert cloud.messages() == []
    assert cloud.is_logging("kept-running", HANDLER_REGION)
    assert not cloud.is_logging("kept-stopped", HANDLER_REGION)


def test_findings_that_are_not_about_cloudtrail_publish_nothing(cloud: Cloud) -> None:
    others = [p for p in _files("findings") if not any(r.is_trail_disabled_finding for r in load_records(p))]
    assert others
    for path in others:
        raw = json.loads(path.read_text())
        event = raw if "detail-type" in raw else guardduty_envelope(raw)
        result = cloud.invoke(handlers.finding, event, HANDLER_REGION)
        assert result["incidents"] == [], path.name
    assert cloud.messages() == []


@pytest.mark.parametrize("path", STOP_LOGGING_FAILED, ids=lambda p: p.name)
def test_failed_stop_logging_is_reported_as_an_attempt_and_not_touched(cloud: Cloud, path: Path) -> None:
    (record,) = load_records(path)
    name, region, handler_region = _setup_stopped_trail(cloud, record)

    result = cloud.invoke(handlers.api_call, json.loads(path.read_text()), handler_region)

    assert not cloud.is_logging(name, region)  # trailguard only reports attempts
    (incident,) = result["incidents"]
    assert incident["verdict"] == "attempt" and incident["status"] == "attempted"
    (message,) = cloud.messages()
    assert message["_sns_subject"].startswith("[trailguard] ATTEMPT: ")
    assert "attempt" in message["text"].lower()
    assert record.error_code and record.error_code in message["text"]
    assert message["incident"]["remediation"] is None


def test_stop_logging_with_trailguards_role_is_repaired_all_the_same(cloud: Cloud) -> None:
    """Item 12: trailguard never calls StopLogging, so one made with its role (here from a session that
    is none of its functions) is tampering; before the fix every call by the role was ignored."""
    path = EVENTS / "tamper" / "cloudtrail_stoplogging_assumedrole_panther.json"
    (record,) = load_records(path)
    name, region, handler_region = _setup_stopped_trail(cloud, record)
    assert record.issuer_arn

    result = cloud.invoke(
        handlers.api_call,
        json.loads(path.read_text()),
        handler_region,
        TRAILGUARD_GUARD_ROLE_ARNS=f"{GUARD_ROLE},{record.issuer_arn}",
    )

    (incident,) = result["incidents"]
    assert incident["verdict"] == "tamper"
    assert cloud.is_logging(name, region)


def test_allow_listed_principal_is_reported_as_authorised_without_a_change(cloud: Cloud) -> None:
    """The allow-list is the stack's AllowedPrincipalArns parameter (DescribeStacks on its own stack),
    read because the function's variable (which the template writes from it) names the caller."""
    path = EVENTS / "tamper" / "cloudtrail_stoplogging_assumedrole_panther.json"
    (record,) = load_records(path)
    name, region, handler_region = _setup_stopped_trail(cloud, record)

    result = cloud.invoke(
        handlers.api_call,
        json.loads(path.read_text()),
        handler_region,
        TRAILGUARD_ALLOWED_PRINCIPAL_ARNS=str(record.issuer_arn),
        TRAILGUARD_STACK_NAME=stack_allowing(str(record.issuer_arn), handler_region),
    )

    assert not cloud.is_logging(name, region)
    assert result["incidents"][0]["status"] == "authorised"
    (message,) = cloud.messages()
    assert message["_sns_subject"].startswith("[trailguard] AUTHORISED: ")


def test_an_allow_list_in_the_function_environment_is_not_trusted(cloud: Cloud) -> None:
    """Item 15: an attacker who writes themselves into the functions' allow-list variable is still
    repaired and reported (before the fix the change was "AUTHORISED" and became the baseline)."""
    path = EVENTS / "tamper" / "cloudtrail_stoplogging_assumedrole_panther.json"
    (record,) = load_records(path)
    name, region, handler_region = _setup_stopped_trail(cloud, record)

    result = cloud.invoke(
        handlers.api_call,
        json.loads(path.read_text()),
        handler_region,
        TRAILGUARD_ALLOWED_PRINCIPAL_ARNS=str(record.issuer_arn),
        TRAILGUARD_STACK_NAME=stack_allowing("", handler_region),
    )

    (incident,) = result["incidents"]
    assert incident["verdict"] == "tamper"
    assert cloud.is_logging(name, region)


def test_a_caller_the_environment_does_not_name_is_judged_without_reading_the_stack(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hot path reads the stack's allow-list only when the variable could make the caller allowed:
    a variable that lost the caller (the stack still names it) makes trailguard stricter, never looser,
    and the StopLogging repair then makes no DescribeStacks call."""
    path = EVENTS / "tamper" / "cloudtrail_stoplogging_assumedrole_panther.json"
    (record,) = load_records(path)
    name, region, handler_region = _setup_stopped_trail(cloud, record)
    stack = stack_allowing(str(record.issuer_arn), handler_region)
    read: list[str] = []
    real = allowlist.allowed_principals

    def counted(config: Any, where: str) -> tuple[str, ...]:
        read.append(where)
        return real(config, where)

    monkeypatch.setattr(allowlist, "allowed_principals", counted)

    result = cloud.invoke(
        handlers.api_call,
        json.loads(path.read_text()),
        handler_region,
        TRAILGUARD_ALLOWED_PRINCIPAL_ARNS=f"arn:aws:iam::{record.account_id}:role/break-glass",
        TRAILGUARD_STACK_NAME=stack,
    )

    (incident,) = result["incidents"]
    assert incident["verdict"] == "tamper" and incident["status"] == "remediated"
    assert cloud.is_logging(name, region)
    assert read == []


def test_unprotected_trail_is_left_alone(cloud: Cloud) -> None:
    path = EVENTS / "tamper" / "cloudtrail_stoplogging_stratus.json"
    (record,) = load_records(path)
    name, region, handler_region = _setup_stopped_trail(cloud, record)
    cloud.create_trail("the-protected-one", HANDLER_REGION)

    result = cloud.invoke(
        handlers.api_call,
        json.loads(path.read_text()),
        handler_region,
        TRAILGUARD_PROTECTED_TRAILS="the-protected-one",
    )

    assert result["incidents"] == []
    assert cloud.messages() == []
    assert not cloud.is_logging(name, region)


@pytest.mark.parametrize(
    "event",
    [
        {},
        [],
        "StopLogging",
        None,
        {"detail-type": "AWS API Call via CloudTrail"},
        {"detail-type": "AWS API Call via CloudTrail", "detail": {"eventSource": "cloudtrail.amazonaws.com"}},
        {"detail-type": "GuardDuty Finding", "detail": "not an object"},
        {"detail-type": "Security Hub Findings - Imported", "detail": {"findings": "none"}},
        {"Records": "not a list"},
    ],
    ids=repr,
)
def test_malformed_events_are_skipped_with_a_logged_reason(
    cloud: Cloud, caplog: pytest.LogCaptureFixture, event: Any
) -> None:
    caplog.set_level(logging.INFO, logger="trailguard")
    for handler in (handlers.api_call, handlers.finding):
        caplog.clear()
        result = cloud.invoke(handler, event)
        assert result["incidents"] == []
        (skipped,) = result["skipped"]
        assert skipped["reason"]
        lines = [json.loads(r.getMessage()) for r in caplog.records if r.name.startswith("trailguard")]
        logged = [line for line in lines if line["event"] == "handler.malformed-event"]
        assert logged and logged[0]["reason"] == skipped["reason"]
    assert cloud.messages() == []


def test_a_refused_start_logging_is_escalated(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto cannot deny a call by policy here, so its backend is patched to refuse StartLogging."""

    def refuse(self: Any, name: str) -> None:
        raise JsonRESTError(
            "AccessDeniedException", "User is not authorized to perform cloudtrail:StartLogging"
        )

    path = STOP_LOGGING_TAMPER[0]
    (record,) = load_records(path)
    name, region, handler_region = _setup_stopped_trail(cloud, record)
    monkeypatch.setattr(CloudTrailBackend, "start_logging", refuse)

    result = cloud.invoke(handlers.api_call, json.loads(path.read_text()), handler_region)

    assert not cloud.is_logging(name, region)
    (incident,) = result["incidents"]
    assert incident["status"] == "failed" and incident["action_required"] is True
    (message,) = cloud.messages()
    assert message["_sns_subject"].startswith("[ACTION REQUIRED]")
    assert "AccessDeniedException" in message["text"]
    assert "REPAIR FAILED" in message["text"]
    assert "start-logging" in message["text"]  # what the responder must run by hand
    failed = [c for c in message["incident"]["remediation"]["calls"] if c["error"]]
    assert [c["operation"] for c in failed] == ["StartLogging"]


def test_a_start_that_does_not_take_is_reported_unverified(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = STOP_LOGGING_TAMPER[0]
    (record,) = load_records(path)
    _name, _region, handler_region = _setup_stopped_trail(cloud, record)
    monkeypatch.setattr(CloudTrailBackend, "start_logging", lambda self, name: None)

    result = cloud.invoke(handlers.api_call, json.loads(path.read_text()), handler_region)

    (incident,) = result["incidents"]
    assert incident["status"] == "failed" and incident["verified"] is False
    (message,) = cloud.messages()
    assert message["_sns_subject"].startswith("[ACTION REQUIRED]")
    assert "could not verify" in message["text"]
    statuses = [c for c in message["incident"]["remediation"]["calls"] if c["operation"] == "GetTrailStatus"]
    assert len(statuses) == 3  # every verification attempt (a StopLogging that succeeded needs no first look)


def test_publish_failure_does_not_prevent_the_repair(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: Any, *args: Any, **kwargs: Any) -> None:
        raise JsonRESTError("InternalError", "SNS is having a bad day")

    caplog.set_level(logging.INFO, logger="trailguard")
    path = STOP_LOGGING_TAMPER[0]
    (record,) = load_records(path)
    name, region, handler_region = _setup_stopped_trail(cloud, record)
    monkeypatch.setattr(SNSBackend, "publish", broken)

    with pytest.raises(NotificationError, match="not published"):
        cloud.invoke(handlers.api_call, json.loads(path.read_text()), handler_region)

    assert cloud.is_logging(name, region)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name.startswith("trailguard")]
    failed = [line for line in lines if line["event"] == "notify.publish-failed"]
    assert failed and failed[0]["level"] == "CRITICAL"
    assert failed[0]["incident"]["status"] == "remediated"


@pytest.mark.parametrize(
    "path",
    [
        p
        for p in _files("tamper")
        if p.name.startswith("cloudtrail_") and "stoplogging" not in p.name and "eventdatastore" not in p.name
    ],
    ids=lambda p: p.name,
)
def test_other_trail_techniques_are_escalated_not_swallowed(cloud: Cloud, path: Path) -> None:
    """DeleteTrail, UpdateTrail, PutEventSelectors without a baseline: nothing is guessed, the repair is
    escalated and the message says how to record a baseline (tests/baseline covers the repairs).

    The trail is created first, except that a deleted trail is really gone: the handler must still
    report its deletion (the event proves the trail existed)."""
    (record,) = load_records(path)
    ref = record.request_parameters.get("trailName") or record.request_parameters.get("name")
    assert isinstance(ref, str)
    name, arn_region = parse_trail_ref(ref)
    region = moto_region(arn_region, record.region)
    if record.event_name != "DeleteTrail":  # as it was before the call weakened it
        cloud.create_trail(name, region, multi_region=True, validation=True)

    result = cloud.invoke(handlers.api_call, json.loads(path.read_text()), moto_region(record.region))

    (incident,) = result["incidents"]
    assert incident["verdict"] == "tamper"
    assert incident["status"] == "failed" and incident["action_required"] is True
    (message,) = cloud.messages()
    assert message["_sns_subject"].startswith("[ACTION REQUIRED]")
    assert "no baseline recorded" in message["text"]
    assert "trailguard baseline record" in message["text"]
    who = record.principal_arn or record.user_identity.get("principalId")
    assert who and who in message["text"]
    assert message["incident"]["remediation"]["calls"] == []


def test_several_records_in_one_log_file_each_get_their_own_message(cloud: Cloud) -> None:
    raw = json.loads((EVENTS / "tamper" / "cloudtrail_stoplogging_stratus.json").read_text())
    records = []
    for name in ("trail-a", "trail-b"):
        cloud.create_trail(name, HANDLER_REGION)
        cloud.stop(name, HANDLER_REGION)
        records.append({**raw, "awsRegion": HANDLER_REGION, "requestParameters": {"name": name}})

    result = cloud.invoke(handlers.api_call, {"Records": records}, HANDLER_REGION)

    assert result["records"] == 2
    assert [i["status"] for i in result["incidents"]] == ["remediated", "remediated"]
    assert cloud.is_logging("trail-a", HANDLER_REGION) and cloud.is_logging("trail-b", HANDLER_REGION)
    assert sorted(m["incident"]["resource"].rsplit("/", 1)[-1] for m in cloud.messages()) == [
        "trail-a",
        "trail-b",
    ]


def test_trails_that_cannot_be_listed_are_still_restarted(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DescribeTrails denied: the policy gets no trail list (every named trail protected), fail safe."""

    def refuse(self: Any, *args: Any, **kwargs: Any) -> None:
        raise JsonRESTError("AccessDeniedException", "not allowed to describe trails")

    path = EVENTS / "tamper" / "cloudtrail_stoplogging_stratus.json"
    (record,) = load_records(path)
    name, region, handler_region = _setup_stopped_trail(cloud, record)
    monkeypatch.setattr(CloudTrailResponse, "describe_trails", refuse)

    result = cloud.invoke(handlers.api_call, json.loads(path.read_text()), handler_region)

    assert cloud.is_logging(name, region)
    assert result["incidents"][0]["status"] == "remediated"
    assert len(cloud.messages()) == 1


def test_a_finding_about_a_deleted_trail_asks_a_person_to_act(cloud: Cloud) -> None:
    """The trail is gone (DeleteTrail): nothing to restart, and that is said loudly. The sample's
    account becomes the stack's (:func:`in_this_account`): a finding raised in another account is only
    verified and reported (tests/org/test_finding_other_account.py)."""
    deleted = [(n, e) for n, e in TRAIL_DISABLED_FINDINGS if "deletetrail" in n]
    assert deleted
    name, event = deleted[0]
    record = load_finding(name)
    cloud.create_trail("some-other-trail", HANDLER_REGION)

    result = cloud.invoke(handlers.finding, event, moto_region(record.region))

    (incident,) = result["incidents"]
    assert incident["status"] == "failed" and incident["action_required"] is True
    (message,) = cloud.messages()
    assert message["_sns_subject"].startswith("[ACTION REQUIRED]")
    assert "TrailNotFound" in message["text"]


@pytest.mark.parametrize("junk", ["junk", 7, None, {"hello": 1}, {"eventVersion": "1.08"}], ids=repr)
def test_one_bad_entry_of_a_log_file_does_not_hide_a_stop_logging(cloud: Cloud, junk: Any) -> None:
    """Issue 9 item 8: one entry that is not a record made the handler skip the whole event, so the
    StopLogging beside it was never repaired. Now that entry is skipped with its index and why, and the
    StopLogging is repaired."""
    path = STOP_LOGGING_TAMPER[0]
    stop = json.loads(path.read_text())
    (record,) = load_records(path)
    name, region, handler_region = _setup_stopped_trail(cloud, record)

    result = cloud.invoke(handlers.api_call, {"Records": [junk, stop]}, handler_region)

    assert cloud.is_logging(name, region)
    assert result["records"] == 1
    (skipped,) = result["skipped"]
    assert skipped["index"] == 0 and skipped["reason"].startswith("Records[0] is not")
    (incident,) = result["incidents"]
    assert incident["technique"] == "trail.stop-logging" and incident["status"] == "remediated"


def test_a_finding_list_with_a_bad_entry_still_repairs(cloud: Cloud) -> None:
    (name, event) = next((n, e) for n, e in TRAIL_DISABLED_FINDINGS if "securityhub" in n)
    record = load_finding(name)
    trail, region, handler_region = _setup_stopped_trail(cloud, record)
    event = dict(event, detail={"findings": ["junk", *event["detail"]["findings"]]})

    result = cloud.invoke(handlers.finding, event, handler_region)

    assert cloud.is_logging(trail, region)
    assert result["skipped"] == [
        {"index": 0, "event_id": None, "reason": "findings[0] is not a JSON object (str)"}
    ]
    assert [i["technique"] for i in result["incidents"]] == ["finding.trail-disabled"]


def test_a_redirect_of_a_trail_whose_baseline_was_forged_is_escalated(world: Any) -> None:
    """Issue 9: the trail's signed baseline rewritten to the attacker's bucket (MAC kept), then the trail
    redirected there. The forged record is not applied and the redirect is not judged against the live
    trail (benign before the fix): [ACTION REQUIRED], naming the tampered item, and the trail untouched."""
    from trailguard.integrity import TAMPERED
    from worlds import ConfiguredTrail

    key = world.sign_then_forge_trail_baseline()
    world.cloudtrail.update_trail(Name=world.trail_arn, S3BucketName=ConfiguredTrail.OTHER_BUCKET)
    world.messages()
    event = ConfiguredTrail.api_call_envelope(
        "cloudtrail_updatetrail_disable_logfilevalidation_elastic.json",
        {"name": world.trail_arn, "s3BucketName": ConfiguredTrail.OTHER_BUCKET},
    )
    result = world.invoke(handlers.api_call, event, TRAILGUARD_STATE_KEY=key)
    (incident,) = result["incidents"]
    assert incident["verdict"] == "tamper" and incident["action_required"], incident
    assert incident["status"] != "remediated", incident
    assert world.trail()["S3BucketName"] == ConfiguredTrail.OTHER_BUCKET  # nothing applied from the forgery
    (message,) = world.messages()
    assert message["_sns_subject"].startswith("[ACTION REQUIRED]"), message["_sns_subject"]
    assert f"item pk=baseline#trail sk={world.trail_arn} failed verification" in message["text"]
    assert (
        "recorded baseline failed verification and was not applied, so trailguard cannot" in message["text"]
    )
    assert TAMPERED in message["text"]
