"""trailguard's state table (baselines, incidents): ids are table names (table ARNs read too)."""

from __future__ import annotations

from trailguard.resources.base import Kind, last_segment


def name_of(ref: str) -> str:
    """``trailguard-StateTable-X`` of ``arn:aws:dynamodb:r:a:table/trailguard-StateTable-X``."""
    return last_segment(ref)


KIND = Kind(
    name="table",
    noun="state table",
    sweep_order=12,
    securityhub_type="AwsDynamoDbTable",
    ident=name_of,
    gone_codes=frozenset({"ResourceNotFoundException"}),
    # dynamodb:* of the runtime (trailguard.permissions) already scopes every call to the state table.
)
