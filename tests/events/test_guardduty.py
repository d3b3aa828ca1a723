"""The GuardDuty finding view (``trailguard.events.guardduty``) over the real findings, and the same
answers from either of GuardDuty's spellings: its API's PascalCase and its events' camelCase."""

from __future__ import annotations

from typing import Any

import pytest

import envelopes
from corpus import EVENTS, column, ids, load, manifest
from trailguard.events import (
    TRAIL_DISABLED_FINDING,
    GuardDutyFinding,
    Record,
    iter_path,
    records_from_object,
)

from .support import answers

ROWS = manifest("guardduty-finding")
TRAIL_ARN = "arn:aws:cloudtrail:us-east-1:123456789012:trail/org-trail"


def api_spelling(value: Any) -> Any:
    """A GuardDuty finding as its API spells it (PascalCase); resource-type keys kept."""
    if isinstance(value, dict):
        return {(k if "::" in k else k[:1].upper() + k[1:]): api_spelling(v) for k, v in value.items()}
    if isinstance(value, list):
        return [api_spelling(v) for v in value]
    return value


def bare(relpath: str) -> dict[str, Any]:
    obj = load(relpath)
    return dict(obj.get("detail", obj))


def spellings(relpath: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(API spelling, event spelling) of one real finding, whichever way the file spells it."""
    finding = bare(relpath)
    return api_spelling(finding), envelopes.event_spelling(finding)


@pytest.mark.parametrize("row", ROWS, ids=ids(ROWS))
def test_each_real_finding_reads_as_its_manifest_says(row):
    (record,) = iter_path(EVENTS / row["file"])
    assert isinstance(record, GuardDutyFinding)
    assert record.kind == "guardduty"
    finding_type = row["eventSource"].removeprefix("guardduty:")
    assert record.finding_types == (finding_type,)
    assert record.is_trail_disabled_finding is (finding_type == TRAIL_DISABLED_FINDING)
    assert record.event_name == column(row, "eventName")
    assert record.event_id and record.account_id and record.region and record.event_time
    assert record.finding_active
    # what only CloudTrail records have
    assert record.request_parameters == {} and record.error_code is None and not record.failed
    assert record.principal_arn is None and record.issuer_arn is None and record.user_identity == {}


@pytest.mark.parametrize("row", ROWS, ids=ids(ROWS))
def test_both_spellings_give_identical_answers(row):
    api, event = spellings(row["file"])
    assert api != event  # the two spellings really differ
    api_view, event_view = GuardDutyFinding(api), GuardDutyFinding(event)
    assert answers(api_view) == answers(event_view)


@pytest.mark.parametrize("row", ROWS, ids=ids(ROWS))
def test_both_spellings_give_identical_answers_in_an_envelope(row):
    api, event = spellings(row["file"])
    (api_view,) = records_from_object(envelopes.guardduty(api, keep_spelling=True))
    (event_view,) = records_from_object(envelopes.guardduty(api))  # respelled as EventBridge does
    assert event_view.raw == event
    assert answers(api_view) == answers(event_view)


TRAIL_DISABLED_ROWS = [r for r in ROWS if r["eventSource"] == f"guardduty:{TRAIL_DISABLED_FINDING}"]


@pytest.mark.parametrize("row", TRAIL_DISABLED_ROWS, ids=ids(TRAIL_DISABLED_ROWS))
def test_a_trail_disabled_finding_names_the_trail_caller_and_address(row):
    record = GuardDutyFinding(api_spelling(bare(row["file"])))
    assert record.finding_trail
    assert record.principal_name and record.principal_type
    assert record.source_ip and record.event_source and record.event_time


def _finding(*, title: str | None = None, affected: str | None = None, **service: Any) -> dict[str, Any]:
    call: dict[str, Any] = {"Api": "StopLogging", "ServiceName": "cloudtrail.amazonaws.com"}
    if affected:
        call["AffectedResources"] = {"AWS::CloudTrail::Trail": affected}
    finding: dict[str, Any] = {
        "Type": TRAIL_DISABLED_FINDING,
        "Service": {"Action": {"AwsApiCallAction": call}, **service},
    }
    if title:
        finding["Title"] = title
    return finding


@pytest.mark.parametrize("spell", [api_spelling, envelopes.event_spelling], ids=["api", "event"])
@pytest.mark.parametrize(
    ("finding", "trail"),
    [
        (_finding(affected=TRAIL_ARN, title="AWS CloudTrail trail other was disabled."), TRAIL_ARN),
        (_finding(title=f"AWS CloudTrail trail {TRAIL_ARN} was disabled."), TRAIL_ARN),
        (_finding(title="AWS CloudTrail trail org-trail was disabled."), "org-trail"),
        (_finding(title="A CloudTrail trail was disabled."), None),
        (_finding(), None),
    ],
)
def test_the_trail_comes_from_affected_resources_then_the_title(spell, finding, trail):
    assert GuardDutyFinding(spell(finding)).finding_trail == trail


@pytest.mark.parametrize("spell", [api_spelling, envelopes.event_spelling], ids=["api", "event"])
def test_the_trail_falls_back_to_the_description(spell):
    finding = {**_finding(), "Description": f"AWS CloudTrail trail {TRAIL_ARN} was disabled by bob."}
    assert GuardDutyFinding(spell(finding)).finding_trail == TRAIL_ARN


@pytest.mark.parametrize("spell", [api_spelling, envelopes.event_spelling], ids=["api", "event"])
@pytest.mark.parametrize(
    ("archived", "active"), [(None, True), (False, True), ("false", True), (True, False), ("TRUE", False)]
)
def test_an_archived_finding_is_not_active(spell, archived, active):
    service = {} if archived is None else {"Archived": archived}
    assert GuardDutyFinding(spell(_finding(**service))).finding_active is active


def test_the_envelope_fills_region_and_account_only_when_the_finding_lacks_them():
    envelope = {"region": "eu-west-1", "account": "999999999999"}
    assert GuardDutyFinding({"type": "x"}, envelope=envelope).region == "eu-west-1"
    assert (
        GuardDutyFinding({"Region": "us-east-2", "accountId": "1"}, envelope=envelope).region == "us-east-2"
    )
    assert GuardDutyFinding({"accountId": "111"}, envelope=envelope).account_id == "111"
    assert GuardDutyFinding({}, envelope=envelope).account_id == "999999999999"


def test_the_api_spelling_wins_when_a_finding_has_both():
    record = GuardDutyFinding({"Type": "A", "type": "B", "Id": "", "id": "camel"})
    assert record.finding_types == ("A",)
    assert record.event_id == "camel"  # an empty value counts as absent


def test_event_time_is_last_seen_then_updated():
    assert GuardDutyFinding({"service": {"eventLastSeen": "T1"}, "updatedAt": "T2"}).event_time == "T1"
    assert GuardDutyFinding({"UpdatedAt": "T2"}).event_time == "T2"


def test_built_through_the_record_interface():
    api, _ = spellings(ROWS[0]["file"])
    assert answers(Record(api, "guardduty")) == answers(GuardDutyFinding(api))
