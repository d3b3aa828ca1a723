"""The CloudTrail record view (``trailguard.events.cloudtrail``) over the real records, bare and in
their EventBridge envelopes, and over the messy fields real CloudTrail writes."""

from __future__ import annotations

import pytest

import envelopes
from corpus import EVENTS, column, ids, load, manifest
from trailguard.events import CloudTrailRecord, Record, iter_path, records_from_object

ROWS = manifest("cloudtrail-record", "eventbridge-envelope")


@pytest.mark.parametrize("row", ROWS, ids=ids(ROWS))
def test_each_real_record_reads_as_its_manifest_says(row):
    (record,) = iter_path(EVENTS / row["file"])
    assert isinstance(record, CloudTrailRecord)
    assert record.kind == "cloudtrail"
    assert record.event_name == column(row, "eventName")
    assert record.event_source == column(row, "eventSource")
    assert record.error_code == column(row, "errorCode")
    assert record.failed is (column(row, "errorCode") is not None)
    raw = record.raw
    assert record.event_time == (raw.get("eventTime") or None)
    assert record.source_ip == (raw.get("sourceIPAddress") or None)
    assert record.user_agent == (raw.get("userAgent") or None)
    params = raw.get("requestParameters")
    assert record.request_parameters == (params if isinstance(params, dict) else {})
    assert record.user_identity == raw.get("userIdentity", {})
    assert record.principal_type == record.user_identity.get("type")
    assert record.finding_types == () and record.finding_trail is None and not record.finding_active


@pytest.mark.parametrize("row", ROWS, ids=ids(ROWS))
def test_the_envelope_fills_in_only_what_the_record_lacks(row):
    obj = load(row["file"])
    bare = obj.get("detail", obj)
    event = envelopes.api_call(bare, event_id="env-id", account="999999999999", region="xx-test-1")
    (record,) = records_from_object(event)
    assert record.envelope == event
    assert record.event_id == (bare.get("eventID") or "env-id")
    assert record.region == (bare.get("awsRegion") or "xx-test-1")
    ident = bare.get("userIdentity") or {}
    assert record.account_id == (bare.get("recipientAccountId") or ident.get("accountId") or "999999999999")
    assert record.event_time == (bare.get("eventTime") or event["time"])


def test_a_bare_record_without_an_envelope_has_no_fallbacks():
    record = CloudTrailRecord({"eventName": "StopLogging"})
    assert (record.event_id, record.region, record.account_id, record.event_time) == (None,) * 4


def test_account_comes_from_the_recipient_then_the_caller_then_the_envelope():
    ident = {"accountId": "222222222222"}
    envelope = {"account": "333333333333"}
    both = {"recipientAccountId": "111111111111", "userIdentity": ident}
    assert CloudTrailRecord(both, envelope=envelope).account_id == "111111111111"
    assert CloudTrailRecord({"userIdentity": ident}, envelope=envelope).account_id == "222222222222"
    assert CloudTrailRecord({"userIdentity": None}, envelope=envelope).account_id == "333333333333"


def test_null_request_parameters_of_a_denied_call_read_as_empty():
    (record,) = iter_path(EVENTS / "failed-tamper/s3_putbucketpolicy_accessdenied_panther.json")
    record = CloudTrailRecord({**record.raw, "requestParameters": None})
    assert record.request_parameters == {}
    assert record.failed and record.error_code == "AccessDenied"


def test_an_error_message_without_a_code_is_not_a_failure():
    record = CloudTrailRecord({"eventName": "StopLogging", "errorMessage": "odd", "errorCode": ""})
    assert record.error_message == "odd"
    assert record.error_code is None and not record.failed


ASSUMED_ROLE = {
    "type": "AssumedRole",
    "arn": "arn:aws:sts::111122223333:assumed-role/Admin/alice",
    "accessKeyId": "ASIAEXAMPLE",
    "sessionContext": {
        "sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/Admin", "userName": "Admin"},
        "attributes": {"mfaAuthenticated": "true"},
    },
}


def test_an_assumed_role_session_names_its_issuer():
    record = CloudTrailRecord({"eventName": "StopLogging", "userIdentity": ASSUMED_ROLE})
    assert record.principal_arn == "arn:aws:sts::111122223333:assumed-role/Admin/alice"
    assert record.issuer_arn == "arn:aws:iam::111122223333:role/Admin"
    assert record.principal_name == "Admin"
    assert record.principal_type == "AssumedRole"
    assert record.access_key_id == "ASIAEXAMPLE"
    assert record.mfa_authenticated is True


def test_a_session_without_a_caller_arn_is_named_by_its_issuer():
    ident = {k: v for k, v in ASSUMED_ROLE.items() if k != "arn"}
    record = CloudTrailRecord({"eventName": "StopLogging", "userIdentity": ident})
    assert record.principal_arn == record.issuer_arn == "arn:aws:iam::111122223333:role/Admin"


def test_an_iam_user_is_its_own_issuer():
    ident = {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/bob", "userName": "bob"}
    record = CloudTrailRecord({"eventName": "StopLogging", "userIdentity": ident})
    assert record.principal_arn == record.issuer_arn == "arn:aws:iam::111122223333:user/bob"
    assert record.principal_name == "bob"
    assert record.mfa_authenticated is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), ("true", True), ("FALSE", False), (None, None), (1, None)],
)
def test_mfa_is_read_as_cloudtrail_writes_it(value, expected):
    ident = {"sessionContext": {"attributes": {"mfaAuthenticated": value}}}
    assert CloudTrailRecord({"userIdentity": ident}).mfa_authenticated is expected


def test_a_call_through_a_vpc_endpoint_names_it():
    (record,) = iter_path(EVENTS / "tamper/cloudtrail_updatetrail_disable_multiregion_via_vpce_panther.json")
    assert record.vpc_endpoint_id == record.raw["vpcEndpointId"]
    assert CloudTrailRecord({"eventName": "StopLogging"}).vpc_endpoint_id is None


def test_findings_properties_answer_neutrally():
    record = Record(
        {"eventName": "StopLogging", "Title": "AWS CloudTrail trail t was disabled."}, "cloudtrail"
    )
    assert (
        record.finding_trail is None and record.finding_types == () and not record.is_trail_disabled_finding
    )


def test_a_log_entry_view_is_the_view_the_constructor_builds():
    """``of_log_entry`` (the log file's fast way) builds exactly ``CloudTrailRecord(raw)``."""
    raw = {"eventName": "StopLogging", "eventSource": "cloudtrail.amazonaws.com", "eventID": "e1"}
    fast, slow = CloudTrailRecord.of_log_entry(raw), CloudTrailRecord(raw)
    assert type(fast) is type(slow) and fast == slow and repr(fast) == repr(slow)
    assert (
        (fast.raw, fast.kind, fast.envelope)
        == (slow.raw, slow.kind, slow.envelope)
        == (raw, "cloudtrail", None)
    )
    assert (fast.event_name, fast.event_id, fast.region) == ("StopLogging", "e1", None)
    with pytest.raises(AttributeError):
        fast.kind = "guardduty"  # type: ignore[misc]
