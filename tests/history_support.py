"""CloudTrail's event history for in-process tests: moto has no ``LookupEvents``, so a test that needs an
allow-listed event confirmed answers it with botocore's Stubber on the client ``trailguard.history``
uses (the local cloud answers it from its recorder). A uniquely named module (``tests`` is on
``pythonpath``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from aws_support import REGION
from trailguard import history


def holds(monkeypatch: pytest.MonkeyPatch, *records: Mapping[str, Any], region: str = REGION) -> Stubber:
    """CloudTrail's history answers one EventId lookup per record, with that record, in order."""
    client = boto3.client("cloudtrail", region_name=region)
    stub = Stubber(client)
    for record in records:
        stub.add_response(
            "lookup_events",
            {
                "Events": [
                    {
                        "EventId": record["eventID"],
                        "EventName": record["eventName"],
                        "EventSource": record["eventSource"],
                        "EventTime": datetime.now(UTC),
                        "CloudTrailEvent": json.dumps(dict(record)),
                    }
                ]
            },
            {
                "LookupAttributes": [{"AttributeKey": "EventId", "AttributeValue": record["eventID"]}],
                "MaxResults": 1,
            },
        )
    stub.activate()
    monkeypatch.setattr(history, "_client", lambda region: client)
    return stub
