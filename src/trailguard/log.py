"""Structured log lines: one JSON object per line, through the stdlib ``logging`` module.

CloudWatch Logs Insights and a person with ``grep`` can both read them; no logging framework is pulled
into the Lambda's cold start for it.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

ROOT = "trailguard"


def log_event(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    """Log ``{"level", "time", "logger", "event", **fields}`` as one JSON line."""
    if not logger.isEnabledFor(level):
        return
    line: dict[str, Any] = {
        "level": logging.getLevelName(level),
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "logger": logger.name,
        "event": event,
    }
    line.update(fields)
    logger.log(level, json.dumps(line, default=str, sort_keys=False))


def setup(level: int = logging.INFO) -> None:
    """Make trailguard's INFO lines visible once (Lambda's root logger defaults to WARNING).

    Outside Lambda, where the root logger has no handler, lines go to stderr as they are.
    """
    logger = logging.getLogger(ROOT)
    if logger.level == logging.NOTSET or logger.level > level:
        logger.setLevel(level)
    if not logging.getLogger().handlers and not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
