"""S3 data events: which object-level calls a trail of the local cloud would record.

CloudTrail logs S3 object calls (``DeleteObject``, ``DeleteObjects``, ``PutObject``...) only for the
buckets and prefixes a logging trail's event selectors name. moto keeps the selectors but records
nothing, so the recorder asks :func:`selected` whether a write on ``bucket``/``key`` is a data event some
trail of the account logs, and writes the record CloudTrail would (``eventCategory: Data``), which
EventBridge then delivers as it does on AWS. Read-only object calls are never recorded here (trails of
the local cloud are only asked about writes). Reads moto's in-process CloudTrail backend.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

S3_OBJECT = "AWS::S3::Object"


def _classic_selects(selectors: Iterable[Any], arn: str) -> bool:
    for selector in selectors:
        if not isinstance(selector, Mapping):
            continue
        if str(selector.get("ReadWriteType") or "All") not in ("All", "WriteOnly"):
            continue
        for resource in selector.get("DataResources") or []:
            if not isinstance(resource, Mapping) or resource.get("Type") != S3_OBJECT:
                continue
            for value in map(str, resource.get("Values") or []):
                if value in ("arn:aws:s3", "arn:aws:s3:::") or arn.startswith(value):
                    return True
    return False


def _advanced_selects(selectors: Iterable[Any], arn: str) -> bool:
    """An advanced selector selects the write when its fields ask for S3 object data events and its
    ARN fields (``StartsWith`` / ``Equals``, if any) cover ``arn``; ``readOnly`` true excludes writes."""
    for selector in selectors:
        if not isinstance(selector, Mapping):
            continue
        fields = {
            str(f.get("Field")): f for f in selector.get("FieldSelectors") or [] if isinstance(f, Mapping)
        }
        category, kind = fields.get("eventCategory"), fields.get("resources.type")
        if not category or "Data" not in (category.get("Equals") or []):
            continue
        if not kind or S3_OBJECT not in (kind.get("Equals") or []):
            continue
        read_only = fields.get("readOnly")
        if read_only and "true" in [str(v).lower() for v in read_only.get("Equals") or []]:
            continue
        arns = fields.get("resources.ARN")
        if arns:
            starts = [str(v) for v in arns.get("StartsWith") or []]
            equals = [str(v) for v in arns.get("Equals") or []]
            if not (any(arn.startswith(v) for v in starts) or arn in equals):
                continue
        return True
    return False


def selected(account: str, bucket: str, key: str | None) -> bool:
    """Whether a logging trail of ``account`` (any region) records writes to ``bucket``/``key`` (a
    bucket-level object call such as ``DeleteObjects`` counts for the whole bucket)."""
    from moto.cloudtrail.models import cloudtrail_backends

    arn = f"arn:aws:s3:::{bucket}/{key or ''}"
    for region_backends in cloudtrail_backends.get(account, {}).values():
        for trail in list(getattr(region_backends, "trails", {}).values()):
            status = getattr(trail, "status", None)
            if not getattr(status, "is_logging", False):
                continue
            if _classic_selects(trail.event_selectors, arn) or _advanced_selects(
                trail.advanced_event_selectors, arn
            ):
                return True
    return False
