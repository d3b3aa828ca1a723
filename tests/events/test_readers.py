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
    entries_from_object,
    iter_path,
    readers,
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


@pytest.mark.parametrize(
    "body",
    [b"", b"  \n\n", gzip.compress(b"", mtime=0), b"\xef\xbb\xbf"],
    ids=["empty", "blank-lines", "empty-gzip", "bom-only"],  # stable ids: xdist workers must agree
)
def test_an_empty_file_is_said_to_be_empty(tmp_path: Path, body: bytes):
    """Issue 9 item 11: an empty file printed nothing; it is reported (and so cannot pass for clean)."""
    (tmp_path / "empty.json").write_bytes(body)
    with pytest.raises(MalformedEvent, match="the file is empty"):
        list(iter_path(tmp_path / "empty.json"))


def test_a_log_file_with_no_records_holds_none(tmp_path: Path):
    (tmp_path / "none.json").write_text('{"Records": []}')
    assert list(iter_path(tmp_path / "none.json")) == []


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


# -- each entry on its own (issue 9 items 8 and 11) -------------------------------------------------------


def _stop_logging() -> dict[str, Any]:
    return load("tamper/cloudtrail_stoplogging_stratus.json")


def test_one_bad_entry_of_a_log_file_hides_no_other_record():
    """Issue 9 item 8: one entry that is no record made the whole log file unreadable, hiding the
    StopLogging in it; now that entry is reported with its index and why, the others are records."""
    stop = _stop_logging()
    got = entries_from_object({"Records": [stop, "junk", {"hello": 1}, stop]})
    assert [type(e) for e in got] == [CloudTrailRecord, MalformedEvent, MalformedEvent, CloudTrailRecord]
    assert str(got[1]) == "Records[1] is not a JSON object (str)"
    assert str(got[2]) == "Records[2] is not a CloudTrail record (keys: hello)"
    assert records_from_object({"Records": [stop, "junk", stop]}) == [got[0], got[3]]


def test_a_finding_that_is_not_an_object_is_reported_in_its_place():
    hub = load("findings/securityhub_imported_guardduty_cloudtrailloggingdisabled_awssamples.json")
    event = dict(hub, detail={"findings": [7, *hub["detail"]["findings"]]})
    got = entries_from_object(event)
    assert str(got[0]) == "findings[0] is not a JSON object (int)"
    assert all(isinstance(e, SecurityHubFinding) for e in got[1:]) and len(got) > 1


def test_a_log_file_with_a_bad_entry_is_streamed_entry_by_entry(tmp_path: Path):
    stop = _stop_logging()
    body = json.dumps({"Records": [stop, 5, stop]}).encode()
    for name, data in (("log.json", body), ("log.json.gz", gzip.compress(body))):
        (tmp_path / name).write_bytes(data)
        got = list(iter_path(tmp_path / name))
        assert [type(e) for e in got] == [CloudTrailRecord, MalformedEvent, CloudTrailRecord]
        assert "Records[1]" in str(got[1])


def test_a_truncated_log_file_yields_every_record_before_the_cut(tmp_path: Path):
    stop = _stop_logging()
    body = json.dumps({"Records": [stop, stop, stop]})
    (tmp_path / "cut.json").write_text(body[: len(body) - 40])
    got = list(iter_path(tmp_path / "cut.json"))
    assert [type(e) for e in got] == [CloudTrailRecord, CloudTrailRecord, MalformedEvent]
    assert "Records[2]" in str(got[2]) and "the rest of the file was not read" in str(got[2])


def test_a_gzip_cut_mid_stream_raises_after_the_records_before_it(tmp_path: Path):
    stop = _stop_logging()
    many = [dict(stop, eventID=str(i)) for i in range(3000)]
    data = gzip.compress(json.dumps({"Records": many}).encode())
    (tmp_path / "cut.json.gz").write_bytes(data[: len(data) // 2])
    read: list[Any] = []
    with pytest.raises((EOFError, OSError)):
        read.extend(iter_path(tmp_path / "cut.json.gz"))
    assert len(read) > 100 and all(isinstance(e, CloudTrailRecord) for e in read)


def test_a_line_that_is_not_utf8_is_one_bad_entry(tmp_path: Path):
    """Before, one byte that is not UTF-8 made the whole file unreadable (UnicodeDecodeError)."""
    stop = json.dumps(_stop_logging()).encode()
    (tmp_path / "x.jsonl").write_bytes(stop + b"\n" + b'{"eventName": "\xff\xfe"}\n' + stop + b"\n")
    got = list(iter_path(tmp_path / "x.jsonl"))
    assert [type(e) for e in got] == [CloudTrailRecord, MalformedEvent, CloudTrailRecord]
    assert str(got[1]) == "line 2 is not valid UTF-8"


def test_a_record_that_is_not_utf8_inside_a_log_file(tmp_path: Path):
    stop = json.dumps(_stop_logging()).encode()
    body = b'{"Records": [' + stop + b', {"eventName": "\xc3"}, ' + stop + b"]}"
    (tmp_path / "x.json").write_bytes(body)
    got = list(iter_path(tmp_path / "x.json"))
    assert [type(e) for e in got] == [CloudTrailRecord, MalformedEvent, CloudTrailRecord]
    assert str(got[1]) == "Records[1] is not valid UTF-8"


def test_lone_surrogates_escaped_in_json_are_read_as_they_are(tmp_path: Path):
    (tmp_path / "s.json").write_text('{"eventName": "StopLogging", "eventID": "\\ud800x"}')
    (got,) = list(iter_path(tmp_path / "s.json"))
    assert isinstance(got, CloudTrailRecord) and got.event_id == "\ud800x"


def test_a_cloudtrail_digest_file_is_said_to_be_one(tmp_path: Path):
    digest = {
        "awsAccountId": "123456789012",
        "digestStartTime": "2024-01-01T00:00:00Z",
        "digestEndTime": "2024-01-01T01:00:00Z",
        "logFiles": [],
    }
    (tmp_path / "d.json.gz").write_bytes(gzip.compress(json.dumps(digest).encode()))
    (got,) = list(iter_path(tmp_path / "d.json.gz"))
    assert isinstance(got, MalformedEvent) and "digest file" in str(got)


def test_a_pretty_printed_document_is_one_value(tmp_path: Path):
    (tmp_path / "p.json").write_text(json.dumps(_stop_logging(), indent=2))
    (got,) = list(iter_path(tmp_path / "p.json"))
    assert isinstance(got, CloudTrailRecord)
    (tmp_path / "bad.json").write_text(json.dumps(_stop_logging(), indent=2)[:-3])
    with pytest.raises(MalformedEvent, match="neither JSON nor JSON Lines"):
        list(iter_path(tmp_path / "bad.json"))


def test_two_values_on_one_line_are_not_json_lines(tmp_path: Path):
    stop = json.dumps(_stop_logging())
    (tmp_path / "two.jsonl").write_text(f"{stop}\n{stop} {stop}\n{stop}\n")
    got = list(iter_path(tmp_path / "two.jsonl"))
    assert [type(e) for e in got] == [CloudTrailRecord, MalformedEvent, CloudTrailRecord]
    assert str(got[1]).startswith("line 2 is not JSON")


def test_memory_is_bounded_by_one_record_not_by_the_file(tmp_path: Path):
    """Issue 9 item 11: a 300 KB gzip took 637 MB. Reading a log file of 5,000 records (about 6 MB of
    JSON) now holds one record at a time: the peak traced allocation stays under 2 MB."""
    import tracemalloc

    stop = _stop_logging()
    records = [dict(stop, eventID=f"{i:08d}") for i in range(5_000)]
    data = gzip.compress(json.dumps({"Records": records}).encode())
    del records
    (tmp_path / "big.json.gz").write_bytes(data)
    tracemalloc.start()
    try:
        count = 0
        for entry in iter_path(tmp_path / "big.json.gz"):
            assert isinstance(entry, CloudTrailRecord)
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 5_000
    assert peak < 2 * 1024 * 1024, peak


def test_deep_nesting_is_a_bad_entry_not_a_crash(tmp_path: Path):
    stop = json.dumps(_stop_logging())
    (tmp_path / "deep.jsonl").write_text(f"{stop}\n{'[' * 100_000}\n{stop}\n")
    got = list(iter_path(tmp_path / "deep.jsonl"))
    assert isinstance(got[0], CloudTrailRecord) and isinstance(got[1], MalformedEvent)


# -- the log file's fast path (issue 13: classify at log scale) ----------------------------------------
# A log file's Records are decoded in place when an element starts and ends inside the buffer, and read
# the general way otherwise. These show the two agree: whatever the chunk size (so every element, number,
# string and separator is cut by a chunk boundary somewhere), the entries, their order and every error
# with its index, line and reason are the same.


def _spelled(record: dict[str, Any]) -> str:
    """``record`` as JSON with every odd spelling JSON allows: escapes in keys and values, whitespace
    of every kind between tokens, keys in reverse order."""
    text = json.dumps(dict(reversed(list(record.items()))), indent="\t", separators=(" ,\r\n", " :  "))
    return text.replace('"eventName"', '"event\\u004eame"').replace("StopLogging", "Stop\\u004cogging")


def _reads(path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int) -> list[Any]:
    monkeypatch.setattr(readers, "CHUNK_BYTES", chunk)
    return [str(e) if isinstance(e, MalformedEvent) else (type(e), e.raw) for e in iter_path(path)]


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 64, 1000, 64 * 1024])
def test_log_file_entries_do_not_depend_on_where_the_chunks_end(tmp_path: Path, monkeypatch, chunk: int):
    records = _cloudtrail_records()
    stop = _stop_logging()
    items = [*records[:3], _spelled(stop), json.dumps(stop), '"not an object"', '{"hello": 1}', "1.5e3"]
    body = '{"Records": [' + ", \n".join(json.dumps(r) if isinstance(r, dict) else r for r in items) + "]}"
    (tmp_path / "log.json").write_text(body)
    got = _reads(tmp_path / "log.json", monkeypatch, chunk)
    assert got == _reads(tmp_path / "log.json", monkeypatch, 64 * 1024)
    assert got[:3] == [(CloudTrailRecord, r) for r in records[:3]]
    assert got[3] == (CloudTrailRecord, stop) and got[4] == (CloudTrailRecord, stop)  # the spelling is JSON's
    assert got[5:] == [
        "Records[5] is not a JSON object (str)",
        "Records[6] is not a CloudTrail record (keys: hello)",
        "Records[7] is not a JSON object (float)",
    ]


@pytest.mark.parametrize("chunk", [1, 3, 64, 64 * 1024])
@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        (
            '{"eventName": "X", "a": [1, 2,]}]}',
            "Records[2] (from line 5) is not JSON: ",
        ),
        ('{"eventName": "X"} {"eventName": "Y"}]}', "after Records[2] (from line 5) expected ',' or ']'"),
        ('{"eventName": "X", "n": 12', "Records[2] (from line 5) is not JSON: "),
        ('{"eventName": "X"}', "after Records[2] (from line 5) expected ',' or ']'"),
    ],
    ids=["trailing-comma", "no-separator", "cut-in-a-number", "cut-after-an-element"],
)
def test_log_file_errors_say_the_same_index_line_and_reason_whatever_the_chunks(
    tmp_path: Path, monkeypatch, chunk: int, tail: str, expected: str
):
    stop = json.dumps(_stop_logging())
    (tmp_path / "log.json").write_text('{"Records": [\n' + stop + ",\n" + stop + ",\n\n" + tail)
    got = _reads(tmp_path / "log.json", monkeypatch, chunk)
    assert got[:2] == [(CloudTrailRecord, _stop_logging())] * 2
    assert got[2:-1] in ([], [(CloudTrailRecord, {"eventName": "X"})])  # read whole before the error
    assert got[-1].startswith(expected), got[-1]
    assert got[-1].endswith("the rest of the file was not read")


@pytest.mark.parametrize("chunk", [1, 5, 64 * 1024])
def test_a_record_that_is_not_utf8_is_found_by_the_fast_path_too(tmp_path: Path, monkeypatch, chunk: int):
    stop = json.dumps(_stop_logging(), ensure_ascii=False).encode()
    bad = stop.replace(b"StopLogging", b"Stop\xffLogging")
    accented = stop.replace(b"StopLogging", "StopLoggingé".encode())  # valid UTF-8, not ASCII
    (tmp_path / "log.json").write_bytes(b'{"Records":[' + b",".join([stop, bad, accented, stop]) + b"]}")
    got = _reads(tmp_path / "log.json", monkeypatch, chunk)
    assert got[1] == "Records[1] is not valid UTF-8"
    assert [g[1]["eventName"] for g in got if isinstance(g, tuple)] == [
        "StopLogging",
        "StopLoggingé",
        "StopLogging",
    ]


def test_before_read_is_called_before_every_read_of_the_file(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(readers, "CHUNK_BYTES", 100)
    body = json.dumps({"Records": [_stop_logging()] * 5}).encode()
    (tmp_path / "log.json").write_bytes(body)
    events: list[str] = []
    for entry in iter_path(tmp_path / "log.json", lambda: events.append("read")):
        events.append(type(entry).__name__)
    assert events.count("read") >= 2 and events.count("CloudTrailRecord") == 5
    assert events[0] == "read" and events[-1] == "read"  # the last read finds the end
