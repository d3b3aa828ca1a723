"""The lake family's conditions (``policy/techniques/lake.py``): the event data store by ARN, id or name."""

from __future__ import annotations

import pytest
from policy_support import PROTECTING

from trailguard.policy import Inventory, classify

STOP = "tamper/cloudtrail_stoplogging_stratus.json"

STORE_ARN = "arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE"


@pytest.mark.parametrize("event_name", ["StopEventDataStoreIngestion", "DeleteEventDataStore"])
@pytest.mark.parametrize("ref", [STORE_ARN, "EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE", "org-lake"])
def test_lake_store_by_arn_id_or_name(modified, event_name, ref):
    record = modified(STOP, params={"eventDataStore": ref}, eventName=event_name)
    verdict = classify(record, Inventory.from_dict(PROTECTING))
    assert verdict.verdict == "tamper"
    assert verdict.technique_id == {"StopEventDataStoreIngestion": "lake.stop-ingestion"}.get(
        event_name, "lake.delete"
    )
    assert verdict.resource == STORE_ARN
    other = modified(STOP, params={"eventDataStore": "someone-elses"}, eventName=event_name)
    assert classify(other, Inventory.from_dict(PROTECTING)).verdict == "benign"
    assert classify(other, Inventory()).verdict == "tamper"
