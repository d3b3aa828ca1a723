"""CloudTrail Lake event data stores."""

from __future__ import annotations

from trailguard.resources import store

ARN = "arn:aws:cloudtrail:us-east-1:1:eventdatastore/EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE"


def test_store_id_and_label() -> None:
    assert store.store_id(ARN) == "EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE"
    assert store.KIND.label(ARN) == "event data store EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE"
    assert store.KIND.is_gone("EventDataStoreNotFoundException")
    assert store.KIND.securityhub_type == "Other"
