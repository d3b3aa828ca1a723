"""The floor a verified, notified StopLogging repair cannot go under: GetTrailStatus, StartLogging,
GetTrailStatus, Publish, with clients built once per process. No dedup, no baseline, no ledger: it
exists only to be measured beside trailguard (``make bench``), never to be deployed."""

from __future__ import annotations

import os
from typing import Any

_CLIENTS: dict[str, Any] = {}


def _client(service: str) -> Any:
    if service not in _CLIENTS:
        import boto3

        _CLIENTS[service] = boto3.client(service)
    return _CLIENTS[service]


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    trail = event["detail"]["requestParameters"]["name"]
    cloudtrail = _client("cloudtrail")
    if cloudtrail.get_trail_status(Name=trail)["IsLogging"]:
        return {"trail": trail, "restored": False}
    cloudtrail.start_logging(Name=trail)
    restored = bool(cloudtrail.get_trail_status(Name=trail)["IsLogging"])
    _client("sns").publish(
        TopicArn=os.environ["TRAILGUARD_TOPIC_ARN"],
        Subject=f"CloudTrail logging restarted: {trail}"[:100],
        Message=f"StopLogging on {trail} by {event['detail'].get('userIdentity', {}).get('arn')}; "
        f"logging {'restored' if restored else 'NOT restored'}.",
    )
    return {"trail": trail, "restored": restored}
