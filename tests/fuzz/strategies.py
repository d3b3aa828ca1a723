"""Hypothesis strategies for the fuzz tests: the real records of ``tests/data/events``, mutated; junk
JSON (every character, lone surrogates included); the wrappings trailguard reads (log file, JSON Lines,
array, EventBridge envelopes, findings lists); and byte-level damage (cut, flipped, not UTF-8, gzip).

``TRAILGUARD_FUZZ_EXAMPLES`` sets how many examples each fuzz test runs (``make fuzz`` sets 10,000;
``make test`` runs the default, :data:`DEFAULT_EXAMPLES`).
"""

from __future__ import annotations

import copy
import gzip
import json
import os
import time
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import corpus
import envelopes

DEFAULT_EXAMPLES = 1000


def examples(default: int = DEFAULT_EXAMPLES, scale: int = 1) -> int:
    """``TRAILGUARD_FUZZ_EXAMPLES`` divided by ``scale`` (a slow test runs a fraction), else ``default``."""
    given = os.environ.get("TRAILGUARD_FUZZ_EXAMPLES")
    return max(1, int(given) // scale) if given else default


def fuzz_settings(default: int = DEFAULT_EXAMPLES, scale: int = 1) -> settings:
    """The same settings for every fuzz test: the count from the environment, no deadline (the machine
    is shared), no example database written into the tree."""
    return settings(
        max_examples=examples(default, scale),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


_DONE: Counter[str] = Counter()
_STARTED = time.monotonic()


def progress(test: str) -> None:
    """Count one example of ``test``; with ``TRAILGUARD_FUZZ_PROGRESS`` set, append the running count to
    that file every 100 examples (and at the first), so a long ``make fuzz`` can be read while it runs:
    hypothesis prints its statistics only when a test ends."""
    _DONE[test] += 1
    where = os.environ.get("TRAILGUARD_FUZZ_PROGRESS")
    if where and (_DONE[test] == 1 or _DONE[test] % 100 == 0):
        with open(where, "a", encoding="utf-8") as out:
            out.write(f"{time.monotonic() - _STARTED:9.1f}s {test} {_DONE[test]}\n")


def _objects(kind: str) -> list[dict[str, Any]]:
    out = []
    for row in corpus.manifest(kind):
        obj = corpus.load(row["file"])
        out.append(obj.get("detail", obj) if kind == "eventbridge-envelope" else obj)
    return out


CLOUDTRAIL = _objects("cloudtrail-record") + _objects("eventbridge-envelope")
GUARDDUTY = [f for f in _objects("guardduty-finding") if "detail-type" not in f]
SECURITYHUB = [
    finding
    for row in corpus.manifest("securityhub-finding")
    for finding in (corpus.load(row["file"]).get("detail") or {}).get("findings", [])
]

# Every character, lone surrogates (category Cs) included: JSON can escape them and Python holds them.
TEXT = st.text(st.characters(exclude_categories=()), max_size=12)
KEYS = st.one_of(
    st.sampled_from(
        [
            "eventName",
            "eventSource",
            "eventID",
            "requestParameters",
            "name",
            "trailName",
            "userIdentity",
            "arn",
            "sessionContext",
            "sessionIssuer",
            "errorCode",
            "awsRegion",
            "recipientAccountId",
            "Records",
            "detail",
            "detail-type",
            "findings",
            "Types",
            "Service",
            "Action",
            "ProductFields",
            "RecordState",
            "Workflow",
            "Status",
            "SchemaVersion",
            "Type",
            "Id",
        ]
    ),
    TEXT,
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    TEXT,
    st.sampled_from(
        [
            "StopLogging",
            "DeleteTrail",
            "cloudtrail.amazonaws.com",
            "arn:aws:cloudtrail:us-east-1:1:trail/x",
            "true",
            "",
        ]
    ),
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=4)),
    max_leaves=6,
)


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with a few fields, at any depth, replaced by junk, retyped or removed."""
    obj = copy.deepcopy(base)
    for _ in range(draw(st.integers(0, 3))):
        node: Any = obj
        for _depth in range(draw(st.integers(0, 3))):
            children = [k for k, v in node.items() if isinstance(v, dict)] if isinstance(node, dict) else []
            if not children:
                break
            node = node[draw(st.sampled_from(sorted(children)))]
        if not isinstance(node, dict):
            continue
        key = draw(st.one_of(st.sampled_from(sorted(node) or ["eventName"]), KEYS))
        if draw(st.booleans()) and key in node:
            del node[key]
        else:
            node[key] = draw(JSON)
    return obj


def record_like(pool: list[dict[str, Any]]) -> st.SearchStrategy[Any]:
    """A real record of ``pool`` as it is, one mutated, or junk."""
    real = st.sampled_from(pool)
    return st.one_of(real, real.flatmap(mutated), JSON)


CLOUDTRAIL_ENTRY = record_like(CLOUDTRAIL)
FINDING_ENTRY = record_like(SECURITYHUB)


@st.composite
def events(draw: st.DrawFn) -> tuple[Any, int | None]:
    """An event as a handler may be given it, and how many entries it holds (None: not knowable here,
    the event as a whole may be refused): a CloudTrail log file, an API-call envelope, a GuardDuty or
    Security Hub envelope, or junk."""
    shape = draw(st.sampled_from(["records", "api-call", "guardduty", "securityhub", "junk"]))
    if shape == "records":
        entries = draw(st.lists(CLOUDTRAIL_ENTRY, max_size=5))
        return {"Records": entries}, len(entries)
    if shape == "api-call":
        return envelopes.api_call(draw(st.sampled_from(CLOUDTRAIL).flatmap(mutated))), None
    if shape == "guardduty":
        finding = draw(st.sampled_from(GUARDDUTY).flatmap(mutated))
        return envelopes.guardduty(finding, keep_spelling=draw(st.booleans())), None
    if shape == "securityhub":
        findings = draw(st.lists(FINDING_ENTRY, max_size=4))
        return envelopes.envelope(
            envelopes.SECURITYHUB_IMPORTED, "aws.securityhub", {"findings": findings}
        ), len(findings)
    return draw(JSON), None


def dumps(value: Any) -> str:
    """JSON text of ``value``; lone surrogates stay (as escapes), as CloudTrail or an attacker may write."""
    return json.dumps(value)


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` cut short, with bytes flipped or bytes that are not UTF-8 put in, or as it is."""
    kind = draw(st.sampled_from(["cut", "flip", "insert", "none"]))
    if not data or kind == "none":
        return data
    at = draw(st.integers(0, len(data) - 1))
    if kind == "cut":
        return data[:at]
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    return data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\n"])) + data[at:]


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)
