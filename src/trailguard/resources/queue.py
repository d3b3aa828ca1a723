"""trailguard's dead-letter and on-failure queues: ids are queue URLs (names and ARNs read too)."""

from __future__ import annotations

from trailguard.resources.base import Kind


def name_of(ref: str) -> str:
    """The queue name of a URL (``https://sqs.r.amazonaws.com/1/name``), an ARN or a name."""
    return ref.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]


KIND = Kind(
    name="queue",
    noun="queue",
    sweep_order=14,
    securityhub_type="AwsSqsQueue",
    short=name_of,
    gone_codes=frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}),
)
