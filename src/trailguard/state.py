"""trailguard's durable state: one DynamoDB table of JSON documents (baselines, incidents, counters).

Why DynamoDB and why one ``doc`` string attribute: see ``docs/internals.md`` ("State"). Keeping the
document as JSON text means callers put and get plain dicts (floats, nesting, ``None``) with no Decimal
conversion, while the few attributes DynamoDB itself must see (``pk``, ``sk``, ``expires_at``, counters)
stay native.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trailguard import aws

TTL_ATTRIBUTE = "expires_at"
DOC_ATTRIBUTE = "doc"


@dataclass(frozen=True)
class StoredItem:
    """One item as stored: its key, the document's exact JSON text and its other string attributes
    (``trailguard.integrity`` keeps a record's MAC there, computed over exactly this text)."""

    pk: str
    sk: str
    text: str
    attributes: Mapping[str, str] = field(default_factory=dict)

    @property
    def doc(self) -> dict[str, Any]:
        return _parse(self.text)


class StateStore:
    """Get, put, query and count items of the state table (keys ``pk``/``sk``)."""

    def __init__(
        self,
        table_name: str,
        region: str | None = None,
        *,
        profile: str | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        if not table_name:
            raise ValueError("StateStore needs a table name")
        self.table_name = table_name
        self.region = region
        self._profile = profile
        self._endpoint_url = endpoint_url

    @property
    def _client(self) -> Any:
        # Per call, not cached on the instance: aws.client honours the bound environment of the caller.
        return aws.client("dynamodb", self.region, profile=self._profile, endpoint_url=self._endpoint_url)

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        """The document stored under (pk, sk); None when absent or expired (TTL deletion lags)."""
        item = self._client.get_item(TableName=self.table_name, Key=_key(pk, sk), ConsistentRead=True).get(
            "Item"
        )
        if not item or _expired(item):
            return None
        return _document(item)

    def put(
        self,
        pk: str,
        sk: str,
        doc: dict[str, Any],
        *,
        ttl_seconds: int | None = None,
        if_absent: bool = False,
        attributes: Mapping[str, str] | None = None,
        text: str | None = None,
    ) -> bool:
        """Store ``doc``; with ``if_absent`` only when no live item exists (False when one did).

        An item whose TTL has passed but which DynamoDB has not swept yet counts as absent.
        ``attributes``: extra string attributes beside the document (a MAC); ``text``: the document's
        JSON text exactly as to be stored (default :func:`dump` of ``doc``), for a MAC made over it.
        """
        item: dict[str, Any] = {**_key(pk, sk), DOC_ATTRIBUTE: {"S": dump(doc) if text is None else text}}
        for name, value in (attributes or {}).items():
            if name in ("pk", "sk", DOC_ATTRIBUTE, TTL_ATTRIBUTE):
                raise ValueError(f"attribute {name!r} is reserved")
            item[name] = {"S": str(value)}
        if ttl_seconds is not None:
            item[TTL_ATTRIBUTE] = {"N": str(int(time.time()) + int(ttl_seconds))}
        request: dict[str, Any] = {"TableName": self.table_name, "Item": item}
        if if_absent:
            request["ConditionExpression"] = "attribute_not_exists(pk) OR #ttl < :now"
            request["ExpressionAttributeNames"] = {"#ttl": TTL_ATTRIBUTE}
            request["ExpressionAttributeValues"] = {":now": {"N": str(int(time.time()))}}
        try:
            self._client.put_item(**request)
        except Exception as exc:
            if if_absent and aws.error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get_item(self, pk: str, sk: str) -> StoredItem | None:
        """The item under (pk, sk) as stored (text and string attributes); None when absent or expired."""
        item = self._client.get_item(TableName=self.table_name, Key=_key(pk, sk), ConsistentRead=True).get(
            "Item"
        )
        if not item or _expired(item):
            return None
        return _stored(item)

    def query_items(self, pk: str) -> list[StoredItem]:
        """Every live item under ``pk``, as stored, by ``sk``."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ConsistentRead": True,
        }
        out: list[StoredItem] = []
        while True:
            response = self._client.query(**request)
            out.extend(_stored(item) for item in response.get("Items", []) if not _expired(item))
            last = response.get("LastEvaluatedKey")
            if not last:
                return out
            request["ExclusiveStartKey"] = last

    def query(self, pk: str, sk_prefix: str | None = None) -> list[dict[str, Any]]:
        """Every live document under ``pk`` (optionally ``sk`` starting with ``sk_prefix``), by ``sk``.

        Each document gets ``_sk`` (its sort key) added so callers can tell items apart.
        """
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ConsistentRead": True,
        }
        if sk_prefix:
            request["KeyConditionExpression"] += " AND begins_with(sk, :prefix)"
            request["ExpressionAttributeValues"][":prefix"] = {"S": sk_prefix}
        out: list[dict[str, Any]] = []
        while True:
            response = self._client.query(**request)
            for item in response.get("Items", []):
                if _expired(item):
                    continue
                doc = _document(item)
                doc["_sk"] = item["sk"]["S"]
                out.append(doc)
            last = response.get("LastEvaluatedKey")
            if not last:
                return out
            request["ExclusiveStartKey"] = last

    def delete(self, pk: str, sk: str) -> None:
        """Remove one item (an authorised deletion retires a baseline); absent items are fine."""
        self._client.delete_item(TableName=self.table_name, Key=_key(pk, sk))

    def add(
        self,
        pk: str,
        sk: str,
        counter: str,
        amount: int = 1,
        *,
        ttl_seconds: int | None = None,
    ) -> int:
        """Atomically add ``amount`` to the numeric attribute ``counter`` (created at 0); the new value.

        The counter is a native number attribute beside ``doc`` so DynamoDB's ADD makes concurrent
        increments exact (storm detection relies on it). ``ttl_seconds`` (re)sets the item's expiry.
        """
        names = {"#c": counter}
        values: dict[str, Any] = {":n": {"N": str(int(amount))}}
        expression = "ADD #c :n"
        if ttl_seconds is not None:
            names["#ttl"] = TTL_ATTRIBUTE
            values[":exp"] = {"N": str(int(time.time()) + int(ttl_seconds))}
            expression += " SET #ttl = :exp"
        response = self._client.update_item(
            TableName=self.table_name,
            Key=_key(pk, sk),
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"][counter]["N"])


def dump(doc: Mapping[str, Any]) -> str:
    """A document's JSON text as the table keeps it (sorted keys: the same document, the same text)."""
    return json.dumps(dict(doc), sort_keys=True)


def _parse(text: str) -> dict[str, Any]:
    doc = json.loads(text) if text else {}
    return doc if isinstance(doc, dict) else {"value": doc}


def _stored(item: Mapping[str, Any]) -> StoredItem:
    attributes = {
        name: str(value["S"])
        for name, value in item.items()
        if name not in ("pk", "sk", DOC_ATTRIBUTE) and isinstance(value, Mapping) and "S" in value
    }
    text = item.get(DOC_ATTRIBUTE, {}).get("S")
    return StoredItem(str(item["pk"]["S"]), str(item["sk"]["S"]), str(text or ""), attributes)


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _expired(item: dict[str, Any]) -> bool:
    raw = item.get(TTL_ATTRIBUTE, {}).get("N")
    return raw is not None and int(raw) < int(time.time())


def _document(item: dict[str, Any]) -> dict[str, Any]:
    """The item's JSON document; an item with only counters reads as those counters."""
    doc = _parse(item.get(DOC_ATTRIBUTE, {}).get("S") or "")
    for name, value in item.items():
        if name not in ("pk", "sk", DOC_ATTRIBUTE, TTL_ATTRIBUTE) and "N" in value:
            doc.setdefault(name, int(value["N"]) if "." not in value["N"] else float(value["N"]))
    return doc
