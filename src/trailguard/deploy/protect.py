"""Refuse to protect nothing: every trail named for protection exists, and a deploy that would protect
no trail at all stops unless the caller says that is intended (``--allow-no-trails``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trailguard.deploy.errors import DeployError, InputError
from trailguard.resources import trail as trail_kind


def protected(
    refs: Sequence[str],
    listed: Sequence[Mapping[str, Any]],
    *,
    region: str,
    account: str,
    require_trails: bool,
    named_by: str = "--protected-trail",
) -> list[Mapping[str, Any]]:
    """The trails a stack protecting ``refs`` (empty: every trail) would protect in ``listed``
    (DescribeTrails, shadow trails included).

    A name or ARN that matches no trail is an :class:`InputError` naming it (a typo must not protect
    nothing); no trail at all is a :class:`DeployError` when ``require_trails``. ``named_by`` says where
    the names came from (the flag, or the deployed stack on an upgrade that keeps them).
    """
    missing = [ref for ref in refs if trail_kind.resolve(listed, ref) is None]
    if missing:
        known = ", ".join(sorted({str(t.get("Name")) for t in listed})) or "none"
        raise InputError(
            f"{named_by} {', '.join(missing)}: no such trail in account {account} seen from "
            f"{region} (trails there: {known}); check the name or ARN, or the region"
        )
    found = [t for t in listed if trail_kind.is_protected(t, refs)]
    if not found and require_trails:
        raise DeployError(
            f"account {account} has no CloudTrail trail visible from {region}, so this stack would protect "
            "nothing. Create the trail first (aws cloudtrail create-trail ...; see the README's "
            "prerequisites), or pass --allow-no-trails to deploy anyway"
        )
    return found
