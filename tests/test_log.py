"""Structured log lines (``trailguard.log``): one JSON object per line, and a setup that makes INFO
visible without doubling handlers."""

from __future__ import annotations

import json
import logging
from datetime import datetime

import pytest

from trailguard.log import ROOT, log_event, setup


@pytest.fixture
def logger(monkeypatch: pytest.MonkeyPatch) -> logging.Logger:
    """trailguard's logger with its level and handlers restored after the test."""
    log = logging.getLogger(ROOT)
    monkeypatch.setattr(log, "handlers", [])
    monkeypatch.setattr(log, "level", logging.NOTSET)
    return log


def test_one_json_line_with_the_fixed_keys_first(logger, caplog):
    caplog.set_level(logging.INFO, logger=ROOT)
    child = logging.getLogger(f"{ROOT}.handlers")
    log_event(child, logging.WARNING, "notify.sent", incident={"id": 1}, when=datetime(2024, 1, 1))
    (record,) = [r for r in caplog.records if r.name == child.name]
    assert record.levelno == logging.WARNING
    line = json.loads(record.getMessage())
    assert list(line)[:4] == ["level", "time", "logger", "event"]
    assert line["level"] == "WARNING" and line["logger"] == child.name and line["event"] == "notify.sent"
    assert line["incident"] == {"id": 1}
    assert line["when"] == "2024-01-01 00:00:00"  # what JSON cannot hold is written as text
    assert datetime.fromisoformat(line["time"]).tzinfo is not None


def test_a_disabled_level_logs_nothing(logger, caplog):
    caplog.set_level(logging.WARNING, logger=ROOT)
    log_event(logger, logging.INFO, "quiet", big=object())
    assert not [r for r in caplog.records if r.name == ROOT]


def test_setup_lowers_the_level_to_info_once_and_never_raises_it(logger):
    setup()
    assert logger.level == logging.INFO
    logger.setLevel(logging.DEBUG)
    setup()
    assert logger.level == logging.DEBUG


def test_setup_adds_a_stderr_handler_only_where_nothing_would_print(logger, monkeypatch):
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [logging.NullHandler()])  # Lambda's runtime handler
    setup()
    assert logger.handlers == []
    monkeypatch.setattr(root, "handlers", [])
    setup()
    setup()
    (handler,) = logger.handlers
    assert isinstance(handler, logging.StreamHandler)
