"""The shared envelope builder (``tests/envelopes.py``) fills the envelope as EventBridge does, so the
tests that use it deliver what AWS would."""

from __future__ import annotations

import envelopes
from corpus import load
from trailguard.events import CLOUDTRAIL_DETAIL_TYPE, GUARDDUTY_DETAIL_TYPE, SECURITYHUB_DETAIL_TYPES

KEYS = ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]


def test_envelope_is_exactly_what_it_is_given():
    detail = {"a": 1}
    built = envelopes.envelope("X", "aws.x", detail, event_id="i", account="1", region="r", time="t")
    assert list(built) == KEYS
    assert built == {
        "version": "0",
        "id": "i",
        "detail-type": "X",
        "source": "aws.x",
        "account": "1",
        "time": "t",
        "region": "r",
        "resources": [],
        "detail": {"a": 1},
    }
    assert built["detail"] is not detail  # a copy: a test may change one without the other


def test_api_call_takes_source_account_region_and_time_from_the_record():
    record = load("tamper/cloudtrail_stoplogging_stratus.json")
    built = envelopes.api_call(record)
    assert built["detail-type"] == CLOUDTRAIL_DETAIL_TYPE and built["source"] == "aws.cloudtrail"
    assert (built["account"], built["region"], built["time"]) == (
        record["recipientAccountId"],
        record["awsRegion"],
        record["eventTime"],
    )
    assert envelopes.api_call({"eventName": "X"})["account"] == envelopes.ACCOUNT
    assert envelopes.api_call(record, region="eu-west-1")["region"] == "eu-west-1"


def test_guardduty_delivers_the_event_spelling():
    finding = load("findings/guardduty_finding_cloudtrailloggingdisabled_deletetrail_stixshifter.json")
    built = envelopes.guardduty(finding)
    assert built["detail-type"] == GUARDDUTY_DETAIL_TYPE and built["source"] == "aws.guardduty"
    detail = built["detail"]
    assert detail["type"] == finding["Type"] and "Type" not in detail
    action = detail["service"]["action"]["awsApiCallAction"]
    assert "AWS::CloudTrail::Trail" in action["affectedResources"]  # a resource type is a name, kept
    assert (built["account"], built["region"]) == (finding["AccountId"], finding["Region"])
    assert envelopes.guardduty(finding, keep_spelling=True)["detail"] == finding


def test_securityhub_lists_each_findings_arn_as_a_resource():
    hub = load("findings/securityhub_imported_guardduty_cloudtrailloggingdisabled_awssamples.json")
    (finding,) = hub["detail"]["findings"]
    built = envelopes.securityhub(finding)
    assert built["detail-type"] == SECURITYHUB_DETAIL_TYPES[0] and built["source"] == "aws.securityhub"
    assert built["resources"] == [finding["ProductFields"]["aws/securityhub/FindingId"]]
    assert envelopes.securityhub(finding, custom_action=True)["detail-type"] == SECURITYHUB_DETAIL_TYPES[1]
