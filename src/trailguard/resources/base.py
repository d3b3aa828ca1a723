"""The shape every resource kind fills in, and the pure ARN helpers the kinds share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol


class Clients(Protocol):
    """Where captures send their calls: ``clients("s3", region)`` -> a boto3 client (made lazily)."""

    @property
    def region(self) -> str: ...

    def __call__(self, service: str, region: str | None = None) -> Any: ...


Capture = Callable[[str, Clients, str], dict[str, Any]]
"""(id, clients, source) -> the baseline document of one resource."""
Discover = Callable[[Clients, str], list[tuple[str, dict[str, Any]]]]
"""(clients, source) -> (id, baseline document) of every resource of the kind in the clients' region."""


def arn_resource(ref: str) -> str:
    """The resource part of an ARN (``trail/x`` of ``arn:aws:cloudtrail:r:a:trail/x``); ``ref`` otherwise."""
    if ref.startswith("arn:"):
        parts = ref.split(":", 5)
        if len(parts) == 6:
            return parts[5]
    return ref


def last_segment(ref: str) -> str:
    """``x`` of ``arn:...:trail/x``, ``arn:...:rule/bus/x``, ``arn:...:topic-name``; ``ref`` when plain."""
    resource = arn_resource(ref)
    if ref.startswith("arn:"):
        return resource.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return resource


def _short(ident: str) -> str:
    return ident.rsplit("/", 1)[-1] if ident.startswith("arn:") else ident


def _unchanged(ref: str) -> str:
    return ref


@dataclass(frozen=True)
class IamScope:
    """Narrows a kind's statement to the resources a deploy names in a stack parameter.

    ``parameter`` holds the ARNs, comma-separated (``trailguard deploy`` fills it from the trails it
    captures); while ``condition`` (the template condition that the parameter is not empty) is false,
    the statement keeps the kind's wide ``iam_resources`` (``fallback`` says why that is safe or needed).
    ``objects``: the statement also covers the objects in each resource (an S3 bucket's ``ARN/*``).
    """

    parameter: str
    condition: str
    fallback: str
    objects: bool = False


@dataclass(frozen=True)
class Kind:
    """Everything trailguard knows about one kind of resource.

    ``ident`` turns any reference an event, a finding or a person uses into the id baselines are kept
    under (the one parser of the kind); ``short`` is the part a message shows. ``gone_codes`` are the AWS
    error codes that mean the resource does not exist. ``iam_resources`` are the ARN patterns
    (CloudFormation ``!Sub`` strings) the role's statements for this kind are scoped to; empty when the
    API has no resource-level permissions. ``capture`` reads its baseline document (None: no baseline is
    kept for this kind); ``baseline_order`` is its place in baseline reports.
    """

    name: str
    noun: str
    sweep_order: int
    securityhub_type: str = "Other"
    ident: Callable[[str], str] = _unchanged
    short: Callable[[str], str] = _short
    gone_codes: frozenset[str] = frozenset()
    summary_fields: tuple[str, ...] = ()
    iam_resources: tuple[str, ...] = ()
    iam_actions: tuple[str, ...] = ()
    """IAM action patterns (``fnmatch``) scoped to ``iam_resources``; the most specific pattern over all
    kinds wins (``cloudtrail:*EventDataStore*`` is the store's, other ``cloudtrail:*`` the trail's)."""
    iam_condition: Mapping[str, Any] | None = None
    """A condition the statement for this kind carries (a role is only passed to CloudTrail)."""
    iam_reason: str = ""
    iam_scope: IamScope | None = None
    """Where the deploy narrows ``iam_resources`` to the protected resources (None: always as declared)."""
    """Why the statement for this kind is scoped as it is (the template prints it above the statement)."""
    capture: Capture | None = field(default=None, compare=False)
    discover: Discover | None = field(default=None, compare=False)
    """Finds and captures every resource of the kind in a region (kinds not reached from a trail, such
    as GuardDuty filters and Security Hub settings): ``baseline.capture_all`` records what it returns."""
    baseline_order: int | None = None
    id_field: str | None = None
    """The baseline document field that holds the id it is stored under (a key's ``KeyId``), when the
    reference it was captured from may differ (an alias, a name)."""

    def stored_id(self, ident: str, doc: Mapping[str, Any]) -> str:
        """The id a captured document is kept under."""
        found = doc.get(self.id_field) if self.id_field else None
        return str(found) if found else self.ident(ident)

    def label(self, ident: str) -> str:
        """How a message names one resource: ``KMS key 1234abcd``, ``topic trailguard-alerts``."""
        return f"{self.noun} {self.short(ident)}"

    def is_gone(self, code: str | None) -> bool:
        """Whether an AWS error code means this resource does not exist."""
        return bool(code) and code in self.gone_codes


# -- helpers the captures share --------------------------------------------------------------------


def meta(source: str, notes: Iterable[str] = ()) -> dict[str, Any]:
    """The ``_meta`` every baseline document carries: when, by what, and what could not be read."""
    return {
        "captured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source,
        "notes": list(notes),
    }


def clean(response: Mapping[str, Any]) -> dict[str, Any]:
    """An API answer without ``ResponseMetadata``, with datetimes as ISO text (the doc is JSON)."""
    return {k: jsonable(v) for k, v in response.items() if k != "ResponseMetadata"}


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def as_bool(value: Any) -> bool | None:
    """``True``/``False`` from a JSON bool or the strings CloudTrail sometimes writes instead."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def any_case(data: Any, name: str) -> Any:
    """``data[name]`` whatever the case of the key's first letter (``FieldSelectors`` / ``fieldSelectors``),
    for a check shared by a CloudTrail record (camelCase for GuardDuty and CloudTrail Lake) and the API's
    answer (PascalCase). None when ``data`` is not a mapping or has neither key."""
    if not isinstance(data, Mapping):
        return None
    if name in data:
        return data[name]
    return data.get(name[:1].swapcase() + name[1:])
