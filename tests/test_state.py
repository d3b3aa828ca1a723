"""StateStore on moto's DynamoDB: JSON documents, conditional puts, TTL, atomic counters, prefix queries."""

from __future__ import annotations

import time

import boto3
import pytest

from aws_support import REGION, TABLE
from trailguard.state import StateStore

pytestmark = pytest.mark.integration


def test_documents_round_trip_as_json(store: StateStore) -> None:
    doc = {"nested": {"list": [1, 2.5, None, "x"]}, "flag": True, "ratio": 0.1}
    assert store.put("baseline#trail", "arn:t", doc) is True
    assert store.get("baseline#trail", "arn:t") == doc
    assert store.get("baseline#trail", "missing") is None
    raw = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=TABLE, Key={"pk": {"S": "baseline#trail"}, "sk": {"S": "arn:t"}}
    )["Item"]
    assert set(raw) == {"pk", "sk", "doc"} and "S" in raw["doc"]


def test_if_absent_writes_once(store: StateStore) -> None:
    assert store.put("incident#x", "e1", {"n": 1}, if_absent=True) is True
    assert store.put("incident#x", "e1", {"n": 2}, if_absent=True) is False
    assert store.get("incident#x", "e1") == {"n": 1}
    assert store.put("incident#x", "e1", {"n": 3}) is True  # unconditional put overwrites
    assert store.get("incident#x", "e1") == {"n": 3}


def test_ttl_sets_expires_at_and_expired_items_read_as_absent(store: StateStore) -> None:
    before = int(time.time())
    store.put("incident#x", "live", {"a": 1}, ttl_seconds=3600)
    raw = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=TABLE, Key={"pk": {"S": "incident#x"}, "sk": {"S": "live"}}
    )["Item"]
    assert before + 3600 <= int(raw["expires_at"]["N"]) <= int(time.time()) + 3600
    store.put("incident#x", "old", {"a": 2}, ttl_seconds=-10)  # expired, not yet swept by DynamoDB
    assert store.get("incident#x", "old") is None
    assert [d["_sk"] for d in store.query("incident#x")] == ["live"]
    assert store.put("incident#x", "old", {"a": 3}, if_absent=True) is True


def test_counter_is_one_server_side_add(store: StateStore) -> None:
    """Storm counting relies on DynamoDB's ADD being atomic on the server, so each increment must be a
    single UpdateItem with an ADD expression (never read-then-write in Python). moto's in-process
    backend is not thread-safe, so concurrency itself is not asserted here: that guarantee is DynamoDB's.
    """
    sent: list[dict[str, object]] = []
    store._client.meta.events.register(
        "provide-client-params.dynamodb.UpdateItem", lambda params, **_: sent.append(dict(params))
    )
    values = [store.add("storm#k", "window", "count") for _ in range(20)]
    assert values == list(range(1, 21))
    assert store.add("storm#k", "window", "count", 5, ttl_seconds=60) == 25
    assert store.get("storm#k", "window") == {"count": 25}
    assert len(sent) == 21
    assert all(str(p["UpdateExpression"]).startswith("ADD #c :n") for p in sent)
    assert "SET #ttl = :exp" in str(sent[-1]["UpdateExpression"])


def test_query_by_prefix_in_key_order(store: StateStore) -> None:
    for sk in ("2024-01-02#b", "2024-01-01#a", "2023-12-31#z"):
        store.put("incident#trail", sk, {"sk": sk})
    store.put("incident#other", "2024-01-01#x", {})
    assert [d["_sk"] for d in store.query("incident#trail")] == [
        "2023-12-31#z",
        "2024-01-01#a",
        "2024-01-02#b",
    ]
    assert [d["sk"] for d in store.query("incident#trail", "2024-")] == ["2024-01-01#a", "2024-01-02#b"]
    store.delete("incident#trail", "2024-01-01#a")
    assert [d["_sk"] for d in store.query("incident#trail", "2024-")] == ["2024-01-02#b"]
