"""CloudTrail Lake event data stores: ids are store ARNs (calls may use the ARN, the id or the name)."""

from __future__ import annotations

from typing import Any

from trailguard.aws import region_of_arn as region_of
from trailguard.resources.base import Clients, Kind, clean, last_segment, meta


def store_id(ref: str) -> str:
    """The store's id: the last segment of its ARN (``arn:...:eventdatastore/ID``), else ``ref``."""
    return last_segment(ref)


def capture(arn: str, clients: Clients, source: str) -> dict[str, Any]:
    """One store's ``GetEventDataStore`` answer, read in the ARN's region."""
    doc = clean(clients("cloudtrail", region_of(arn)).get_event_data_store(EventDataStore=arn))
    doc["_meta"] = meta(source)
    return doc


def capture_region(clients: Clients, *, source: str) -> list[dict[str, Any]]:
    """Every event data store in the clients' region (``GetEventDataStore`` for each)."""
    cloudtrail = clients("cloudtrail")
    out: list[dict[str, Any]] = []
    request: dict[str, Any] = {}
    while True:
        page = cloudtrail.list_event_data_stores(**request)
        for store in page.get("EventDataStores") or []:
            detail = clean(cloudtrail.get_event_data_store(EventDataStore=store["EventDataStoreArn"]))
            detail["_meta"] = meta(source)
            out.append(detail)
        if not page.get("NextToken"):
            return out
        request["NextToken"] = page["NextToken"]


KIND = Kind(
    name="store",
    noun="event data store",
    sweep_order=70,
    gone_codes=frozenset({"EventDataStoreNotFoundException"}),
    summary_fields=("Status", "Name"),
    iam_actions=("cloudtrail:*EventDataStore*",),
    iam_reason="CloudTrail Lake event data stores of the account.",
    iam_resources=("arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:eventdatastore/*",),
    capture=capture,
    baseline_order=4,
)
