"""The readers (``trailguard.events.readers``): every real record read into the view of its shape, bare
or in an envelope, from plain or gzip files, JSON or JSON Lines; malformed input said, never fatal to
the records around it."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

import envelopes
from corpus import EVENTS, ids, load, manifest
from trailguard.events import (
    CLOUDTRAIL_DETAIL_TYPE,
    GUARDDUTY_DETAIL_TYPE,
    SECURITYHUB_DETAIL_TYPES,
    CloudTrailRecord,
    GuardDutyFinding,
    MalformedEvent,
    Record,
    SecurityHubFinding,
    iter_path,
    records_from_object,
)

ROWS = manifest()
VIEW_OF = {
    "cloudtrail-record": CloudTrailRecord,
    "eventbridge-envelope": CloudTrailRecord,  # the manifest's envelopes are API-call envelopes
    "guardduty-finding": GuardDutyFinding,
    "securityhub-finding": SecurityHubFinding,
}
CLOUDTRAIL_ROWS = manifest("cloudtrail-record")


def test_the_manifest_kinds_are_the_shapes_this_test_knows():
    assert {row["kind"] for row in ROWS} <= set(VIEW_OF)


@pytest.mark.parametrize("row", ROWS, ids=ids(ROWS))
def test_every_real_record_is_read_into_the_view_of_its_shape(row):
    records = list(iter_path(EVENTS / row["file"]))
    assert records, "no record read"
    assert all(type(r) is VIEW_OF[row["kind"]] for r in records), records
    obj = load(row["file"])
    assert all(r.envelope == (obj if "detail-type" in obj else None) for r in records)


@pytest.mark.parametrize("row", ROWS, ids=ids(ROWS))
def test_every_real_record_reads_the_same_in_the_envelope_eventbridge_delivers(row):
    obj = load(row["file"])
    event = envelopes.wrap(obj)
    assert event["detail-type"] and event["detail"]
    wrapped = records_from_object(event)
    assert [type(r) for r in wrapped] == [type(r) for r in records_from_object(obj)]
    assert all(r.envelope == event for r in wrapped)
    for record in wrapped:
        assert record.region and record.account_id  # what a record lacks, its envelope says


def _cloudtrail_records() -> list[dict[str, Any]]:
    return [load(row["file"]) for row in CLOUDTRAIL_ROWS]


def _names(items: list[Record | MalformedEvent]) -> list[str | None]:
    return [r.event_name if isinstance(r, Record) else None for r in items]


def test_a_cloudtrail_log_file_plain_and_gzip(tmp_path: Path):
    records = _cloudtrail_records()
    body = json.dumps({"Records": records}).encode()
    (tmp_path / "log.json").write_bytes(body)
    (tmp_path / "log.json.gz").write_bytes(gzip.compress(body))
    plain = list(iter_path(tmp_path / "log.json"))
    assert [r.raw for r in plain if isinstance(r, Record)] == records
    assert list(iter_path(tmp_path / "log.json.gz")) == plain


def test_json_lines_plain_and_gzip_keep_order_and_say_which_line_is_bad(tmp_path: Path):
    records = _cloudtrail_records()
    lines = [json.dumps(r) for r in records]
    lines[1:1] = ["{not json", ""]  # a bad line and a blank one after the first record
    text = "\n".join(lines) + "\n"
    (tmp_path / "records.jsonl").write_text(text)
    (tmp_path / "records.jsonl.gz").write_bytes(gzip.compress(text.encode()))
    for name in ("records.jsonl", "records.jsonl.gz"):
        got = list(iter_path(tmp_path / name))
        assert len(got) == len(records) + 1
        assert isinstance(got[1], MalformedEvent) and "line 2 is not JSON" in str(got[1])
        assert _names(got[:1] + got[2:]) == [r["eventName"] for r in records]


def test_json_lines_of_log_files_and_envelopes(tmp_path: Path):
    records = _cloudtrail_records()
    lines = [json.dumps({"Records": records[:2]}), json.dumps(envelopes.api_call(records[2]))]
    (tmp_path / "mixed.jsonl").write_text("\n".join(lines))
    got = list(iter_path(tmp_path / "mixed.jsonl"))
    assert _names(got) == [r["eventName"] for r in records[:3]]
    assert got[2].envelope is not None and got[0].envelope is None


def test_a_json_array_and_a_byte_order_mark(tmp_path: Path):
    records = _cloudtrail_records()[:3]
    (tmp_path / "array.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(records).encode())
    assert _names(list(iter_path(tmp_path / "array.json"))) == [r["eventName"] for r in records]


def test_an_unknown_object_is_yielded_in_its_place(tmp_path: Path):
    records = _cloudtrail_records()[:2]
    (tmp_path / "x.jsonl").write_text(
        "\n".join(json.dumps(o) for o in [records[0], {"hello": 1}, records[1]])
    )
    got = list(iter_path(tmp_path / "x.jsonl"))
    assert isinstance(got[1], MalformedEvent) and "keys: hello" in str(got[1])
    assert _names([got[0], got[2]]) == [r["eventName"] for r in records]


def test_a_file_that_is_not_json_at_all_raises(tmp_path: Path):
    (tmp_path / "garbage.txt").write_text("this is\nnot json\n")
    with pytest.raises(MalformedEvent, match="neither JSON nor JSON Lines"):
        list(iter_path(tmp_path / "garbage.txt"))


def test_an_empty_file_holds_no_record(tmp_path: Path):
    (tmp_path / "empty.json").write_text("")
    assert list(iter_path(tmp_path / "empty.json")) == []


def test_a_missing_file_raises_oserror(tmp_path: Path):
    with pytest.raises(OSError):
        list(iter_path(tmp_path / "absent.json"))


@pytest.mark.parametrize(
    ("obj", "says"),
    [
        ([], "expected a JSON object, got list"),
        ("StopLogging", "expected a JSON object, got str"),
        ({"Records": {"eventName": "x"}}, "'Records' is not a list"),
        ({"detail-type": CLOUDTRAIL_DETAIL_TYPE}, "has no detail object"),
        ({"detail-type": GUARDDUTY_DETAIL_TYPE, "detail": "not an object"}, "has no detail object"),
        ({"detail-type": CLOUDTRAIL_DETAIL_TYPE, "detail": {"eventSource": "x"}}, "no eventName"),
        ({"detail-type": SECURITYHUB_DETAIL_TYPES[0], "detail": {"findings": "none"}}, "no findings list"),
        ({"detail-type": "Scheduled Event", "detail": {}}, "a scheduled event carries no record"),
        ({"detail-type": "EC2 Instance State-change Notification", "detail": {}}, "unsupported"),
        ({"eventVersion": "1.08", "awsRegion": "us-east-1"}, "keys: awsRegion, eventVersion"),
    ],
)
def test_malformed_inputs_say_why(obj, says):
    with pytest.raises(MalformedEvent, match=says):
        records_from_object(obj)


def test_a_finding_list_body_skips_what_is_not_a_finding():
    hub = load("findings/securityhub_imported_guardduty_cloudtrailloggingdisabled_awssamples.json")
    findings = hub["detail"]["findings"]
    got = records_from_object({"findings": [*findings, "junk", None]})
    assert [r.raw for r in got] == findings
    assert all(isinstance(r, SecurityHubFinding) and r.envelope is None for r in got)


def test_a_cloudtrail_record_in_any_envelope_is_a_cloudtrail_record():
    (row, *_) = CLOUDTRAIL_ROWS
    record = load(row["file"])
    event = envelopes.envelope("Some Future Detail Type", "aws.cloudtrail", record)
    (got,) = records_from_object(event)
    assert isinstance(got, CloudTrailRecord) and got.raw == record


def test_a_bare_guardduty_finding_in_either_spelling_is_a_guardduty_finding():
    (row, *_) = manifest("guardduty-finding")
    obj = load(row["file"])
    finding = obj.get("detail", obj)
    for spelled in (finding, envelopes.event_spelling(finding)):
        (got,) = records_from_object(spelled)
        assert isinstance(got, GuardDutyFinding)
