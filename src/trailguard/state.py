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
TRANSACTION_TRIES = 5
"""A transaction that met another write on the same item (``TransactionConflict``) is tried again."""
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
        return [_stored(item) for item in _query_raw(self, pk) if not _expired(item)]

    def query(self, pk: str, sk_prefix: str | None = None) -> list[dict[str, Any]]:
        """Every live document under ``pk`` (optionally ``sk`` starting with ``sk_prefix``), by ``sk``.

        Each document gets ``_sk`` (its sort key) added so callers can tell items apart.
        """
        out: list[dict[str, Any]] = []
        for item in _query_raw(self, pk, sk_prefix):
            if _expired(item):
                continue
            doc = _document(item)
            doc["_sk"] = item["sk"]["S"]
            out.append(doc)
        return out

    def update_if(
        self,
        pk: str,
        sk: str,
        expression: str,
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        returns: str = "ALL_NEW",
    ) -> Conditional:
        """UpdateItem under ``condition``: one call, the new item back (``returns``: ``ALL_NEW``; ``NONE``
        when the caller needs nothing back), or the item that failed the condition."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": _key(pk, sk),
            "UpdateExpression": expression,
            "ReturnValues": returns,
        }
        if condition:
            request["ConditionExpression"] = condition
        if names:
            request["ExpressionAttributeNames"] = dict(names)
        if values:
            request["ExpressionAttributeValues"] = dict(values)
        return _conditional(self._client.update_item, request)

    def open_with_row(
        self,
        item: dict[str, Any],
        row: tuple[str, str, Mapping[str, Any]],
        *,
        condition: str,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        row_ttl_seconds: int = 90 * 86400,
    ) -> Conditional:
        """Put ``item`` under ``condition`` and, with it, the plain document ``row`` under (row_pk,
        row_sk): one ``TransactWriteItems`` call, both or neither. When the condition fails, the item that
        failed it comes back (``ReturnValuesOnConditionCheckFailure``); on success ``item`` is None."""
        put: dict[str, Any] = {
            "TableName": self.table_name,
            "Item": item,
            "ConditionExpression": condition,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if names:
            put["ExpressionAttributeNames"] = dict(names)
        if values:
            put["ExpressionAttributeValues"] = dict(values)
        row_pk, row_sk, row_doc = row
        row_item = {
            **_key(row_pk, row_sk),
            DOC_ATTRIBUTE: {"S": dump(dict(row_doc))},
            TTL_ATTRIBUTE: {"N": str(int(time.time()) + int(row_ttl_seconds))},
        }
        items = [{"Put": put}, {"Put": {"TableName": self.table_name, "Item": row_item}}]
        for attempt in range(TRANSACTION_TRIES):
            try:
                self._client.transact_write_items(TransactItems=items)
            except Exception as exc:
                if aws.error_code(exc) != "TransactionCanceledException":
                    raise
                reasons = getattr(exc, "response", {}).get("CancellationReasons") or []
                first = reasons[0] if reasons else {}
                if first.get("Code") == "ConditionalCheckFailed":
                    return Conditional(False, first.get("Item") or None)
                codes = {str(r.get("Code")) for r in reasons}
                if "TransactionConflict" not in codes or attempt == TRANSACTION_TRIES - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))  # another write on the same item was in flight
                continue
            return Conditional(True, None)
        raise AssertionError("unreachable")

    def query_raw(self, pk: str, sk_prefix: str | None = None) -> list[dict[str, Any]]:
        """Every item under ``pk`` (optionally ``sk`` starting with ``sk_prefix``) as DynamoDB returns
        it (attribute maps, expired ones included: the caller judges expiry)."""
        return _query_raw(self, pk, sk_prefix)

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


class Conditional:
    """One conditional write and what DynamoDB handed back: ``ok`` (the condition held), ``item`` (the
    item after an update, or before a put, as DynamoDB returned it: attribute maps) or, when the condition
    failed, the item that made it fail (``ReturnValuesOnConditionCheckFailure``), so the caller never reads
    it again. ``item`` is None when there was none."""

    __slots__ = ("item", "ok")

    def __init__(self, ok: bool, item: Mapping[str, Any] | None) -> None:
        self.ok = ok
        self.item = item


def _conditional(call: Any, request: dict[str, Any]) -> Conditional:
    request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    try:
        response = call(**request)
    except Exception as exc:
        if aws.error_code(exc) != "ConditionalCheckFailedException":
            raise
        held = getattr(exc, "response", {}).get("Item")
        return Conditional(False, held or None)
    return Conditional(True, response.get("Attributes") or None)


def _query_raw(store: StateStore, pk: str, sk_prefix: str | None = None) -> list[dict[str, Any]]:
    request: dict[str, Any] = {
        "TableName": store.table_name,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": pk}},
        "ConsistentRead": True,
    }
    if sk_prefix:
        request["KeyConditionExpression"] += " AND begins_with(sk, :prefix)"
        request["ExpressionAttributeValues"][":prefix"] = {"S": sk_prefix}
    out: list[dict[str, Any]] = []
    while True:
        response = store._client.query(**request)
        out.extend(response.get("Items", []))
        last = response.get("LastEvaluatedKey")
        if not last:
            return out
        request["ExclusiveStartKey"] = last


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
