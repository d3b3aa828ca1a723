"""Property-based fuzzing of both Lambda handlers (issue 9) on in-process moto: events built from the
real records, mutated, junk, every envelope; log files with a real StopLogging among junk entries.

Properties: a handler never raises (bad input is logged and skipped: a raise would make Lambda retry a
poison event), its summary is JSON-able, every entry of the event is either judged (counted in
``records``) or skipped with its index and a reason, the alerts that reach the topic are exactly the
ones the summaries say were published (none lost, none unreported), and a StopLogging on a protected
trail is repaired whatever sits beside it in the log file.

One moto account serves every example of a test (hypothesis runs them inside one test call), so the
function-scoped fixture health check is off: sharing it is the point (state carries over, as it does
between invocations of a real function). What an example leaves behind that would make the next one
slower is taken away by the example itself: the alert reader queue is drained (and checked), and the
clients are made once per test, not per example. The count is ``TRAILGUARD_FUZZ_EXAMPLES``; the repair
test, which makes real repairs and publishes, runs a tenth of it.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

import corpus
from aws_support import Cloud, moto_region, read_queue
from fuzz.strategies import CLOUDTRAIL_ENTRY, events, fuzz_settings, progress
from trailguard import handlers
from trailguard.events import CloudTrailRecord

STOP = corpus.load("tamper/cloudtrail_stoplogging_stratus.json")


def _shared(default: int, scale: int = 1) -> Any:
    base = fuzz_settings(default, scale)
    return type(base)(
        base, suppress_health_check=[*base.suppress_health_check, HealthCheck.function_scoped_fixture]
    )


def _check(result: Any, entries: int | None) -> None:
    assert isinstance(result, dict)
    json.dumps(result)  # JSON-able, for Lambda and the local runner
    assert set(result) >= {"records", "incidents", "skipped"}
    for skipped in result["skipped"]:
        assert isinstance(skipped["reason"], str) and skipped["reason"]
    if entries is not None:
        indexed = [s["index"] for s in result["skipped"] if s["index"] is not None]
        whole = [s for s in result["skipped"] if s["index"] is None]
        if not whole:
            assert result["records"] + len(indexed) == entries, result
            assert len(set(indexed)) == len(indexed)
            assert all(0 <= i < entries for i in indexed)


@pytest.fixture
def reader(cloud: Cloud) -> Any:
    """An SQS client for the alert queue, made once for every example of a test."""
    return boto3.client("sqs", region_name=cloud.alerts.region)


def _published(result: dict[str, Any]) -> list[str]:
    """The subjects of the alerts a handler's summary says it published."""
    return [i["subject"] for i in result["incidents"] if i.get("published")]


def _alerts(cloud: Cloud, reader: Any, published: list[str]) -> None:
    """The alerts that reached the topic are exactly those the summaries say were published (none lost,
    none unreported), each a whole message. The reader queue is left empty: moto's SQS scans every
    message it holds on each send, so a queue that only grew would make each example slower."""
    received = read_queue(cloud.alerts.queue_url, cloud.alerts.region, reader)
    assert Counter(subject for subject, _ in received) == Counter(published), (received, published)
    for subject, document in received:
        assert document.get("subject") == subject, document
        assert isinstance(document.get("text"), str) and document["text"], document


@_shared(default=200)
@given(event=events())
def test_handlers_never_raise_and_account_for_every_entry(
    cloud: Cloud, reader: Any, event: tuple[Any, int | None]
) -> None:
    progress("handlers-never-raise")
    body, entries = event
    published: list[str] = []
    for handler in (handlers.api_call, handlers.finding):
        result = cloud.invoke(handler, body)
        _check(result, entries)
        published += _published(result)
    _alerts(cloud, reader, published)


@_shared(default=40, scale=10)
@given(junk=st.lists(CLOUDTRAIL_ENTRY, max_size=4), at=st.integers(0, 4))
def test_a_stop_logging_among_any_entries_is_repaired(
    cloud: Cloud, reader: Any, junk: list[Any], at: int
) -> None:
    progress("handlers-stop-logging")
    name, region = cloud.trail_for(CloudTrailRecord(STOP))
    entries = [*junk]
    entries.insert(min(at, len(entries)), STOP)
    result = cloud.invoke(handlers.api_call, {"Records": entries}, moto_region(STOP.get("awsRegion")))
    _check(result, len(entries))
    assert cloud.is_logging(name, region), result
    assert any(i["technique"] == "trail.stop-logging" for i in result["incidents"]), result
    _alerts(cloud, reader, _published(result))
