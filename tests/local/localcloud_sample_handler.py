"""A Lambda handler for the local-cloud tests: remembers each event and the environment it ran with,
and makes one AWS call so the test can see which identity the call was recorded under."""

from __future__ import annotations

from typing import Any

from trailguard import aws

CALLS: list[dict[str, Any]] = []


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    env = dict(aws.environ())
    if env.get("SAMPLE_FAIL"):
        raise RuntimeError("sample handler told to fail")
    caller = aws.client("sts").get_caller_identity()["Arn"]
    tag = env.get("SAMPLE_TAG_QUEUE")
    if tag:  # a mutating call, so its CloudTrail record (and identity) can be inspected
        aws.client("sqs").create_queue(QueueName=tag)
    CALLS.append({"event": event, "env": env, "caller": caller, "function": context.function_name})
    return {"caller": caller, "event_id": event.get("id")}
