"""``notify.text`` and the rendering that cannot fail: a lone surrogate anywhere in a record (JSON allows
``"\\ud800"``; Python's ``json`` reads it into a string UTF-8 cannot encode) used to make rendering raise
(``quote`` of the event id for the console link), and the alert was lost. Through the real handler on
moto: the record is parsed from JSON text, as Lambda's runtime parses the event."""

from __future__ import annotations

import json
from typing import Any

import pytest

from trailguard import handlers
from trailguard.notify import renderer
from trailguard.notify.text import REPLACEMENT, clean, quote

from .conftest import Cloud, event, records

STOP = "tamper/cloudtrail_stoplogging_stratus.json"


def _with_surrogates() -> dict[str, Any]:
    """The StopLogging record with lone surrogates in its event id, user agent and a request value."""
    text = json.dumps(event(STOP))
    raw = event(STOP)
    text = text.replace(raw["eventID"], raw["eventID"] + "\\ud800", 1)
    text = text.replace(json.dumps(raw["userAgent"])[1:-1], "agent\\udfff/1.0", 1)
    parsed: dict[str, Any] = json.loads(text)
    parsed["requestParameters"]["note"] = json.loads('"x\\udc80y"')
    return parsed


def test_a_lone_surrogate_in_an_event_id_renders_and_is_emailed(cloud: Cloud, clock: Any) -> None:
    raw = _with_surrogates()
    assert "\ud800" in raw["eventID"]
    (record,) = records(STOP)
    name, region = cloud.trail_for(record)

    result = cloud.invoke(handlers.api_call, raw)  # before the fix: UnicodeEncodeError, alert lost

    assert cloud.is_logging(name, region)
    (incident,) = result["incidents"]
    assert incident["published"] is True
    (message,) = cloud.messages()
    assert message["_sns_subject"].startswith("[trailguard] REPAIRED: StopLogging")
    assert f"id {record.event_id}{REPLACEMENT}" in message["text"]
    assert f"agent{REPLACEMENT}/1.0" in message["text"]
    assert "%EF%BF%BD" in message["incident"]["links"]["event"]  # U+FFFD, percent-encoded


def test_a_rendering_bug_still_sends_a_plain_alert(
    cloud: Cloud, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (record,) = records(STOP)
    cloud.trail_for(record)

    def broken(incident: Any) -> Any:
        raise KeyError("a field the renderer did not expect")

    monkeypatch.setattr(renderer, "render_incident", broken)
    result = cloud.invoke(handlers.api_call, event(STOP))
    assert result["incidents"][0]["published"] is True
    (message,) = cloud.messages()
    assert message["kind"] == "fallback"
    assert message["_sns_subject"].startswith(
        "[trailguard] REPAIRED: trail.stop-logging on arn:aws:cloudtrail"
    )
    assert "could not render an incident's message (KeyError" in message["text"]
    assert f"event_id: {record.event_id}" in message["text"]


def test_clean_replaces_lone_surrogates_everywhere() -> None:
    dirty = {"k\ud800": ["a\udfff", {"n": 1, "s": "\udc00"}], "t": ("\ud83d",)}
    assert clean(dirty) == {
        f"k{REPLACEMENT}": [f"a{REPLACEMENT}", {"n": 1, "s": REPLACEMENT}],
        "t": [REPLACEMENT],
    }
    assert clean("caf\u00e9 \U0001f600") == "caf\u00e9 \U0001f600"  # real characters are kept
    assert quote("e\ud800/1") == "e%EF%BF%BD%2F1"
    json.dumps(clean(dirty), ensure_ascii=False).encode("utf-8")  # encodable now
