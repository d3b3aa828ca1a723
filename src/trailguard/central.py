"""The central function's Lambda entry point (``trailguard.central.handler``, stack
``trailguard-central`` in the security account), thin: the work is in :mod:`trailguard.org.central_run`
and the decisions in :mod:`trailguard.org.central` (whose docstring says what reaches this function and
why)."""

from __future__ import annotations

import logging
import time
from typing import Any

from trailguard.log import log_event, setup
from trailguard.notify import NotificationError
from trailguard.org.central_run import handle

LOG = logging.getLogger("trailguard.central")


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Forwarded CloudTrail calls, findings, members' incidents (SNS) and the organization backstop.

    A message that could not be published is raised after every repair (as the member functions do), so
    Lambda retries and the failure shows in the function's error metrics."""
    setup()
    started = time.monotonic()
    summary = handle(event)
    failed = [
        str(line.get("publish_error"))
        for line in (*summary["incidents"], *summary["escalations"])
        if line.get("publish_error")
    ]
    backstop = (summary.get("backstop") or {}).get("notification") or {}
    if backstop.get("publish_error"):
        failed.append(f"the organization backstop's message: {backstop['publish_error']}")
    log_event(
        LOG,
        logging.INFO,
        "central.done",
        request_id=getattr(context, "aws_request_id", None),
        records=summary["records"],
        incidents=len(summary["incidents"]),
        escalations=len(summary["escalations"]),
        skipped=len(summary["skipped"]),
        elapsed_ms=round((time.monotonic() - started) * 1000, 1),
    )
    if failed:
        raise NotificationError(f"{len(failed)} alert(s) not published: {'; '.join(failed)}")
    return summary
