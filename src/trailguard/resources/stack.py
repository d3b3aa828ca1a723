"""trailguard's own CloudFormation stack: ids are stack names (stack ARNs read too)."""

from __future__ import annotations

from trailguard.resources.base import Kind


def name_of(ref: str) -> str:
    """``trailguard`` of ``arn:aws:cloudformation:r:a:stack/trailguard/uuid``, or the name itself."""
    if ref.startswith("arn:") and ":stack/" in ref:
        return ref.split(":stack/", 1)[1].split("/", 1)[0]
    return ref


KIND = Kind(
    name="stack",
    noun="stack",
    sweep_order=8,
    securityhub_type="Other",
    ident=name_of,
    short=name_of,
    gone_codes=frozenset({"ValidationError"}),
)
