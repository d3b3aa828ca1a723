"""The one interface every input shape is read through: :class:`Record`.

A record is a thin, frozen, read-only view over the raw dict (the habit of aws-powertools' event data
classes): it copies nothing and never raises on missing or oddly typed fields, because real CloudTrail is
messy (``requestParameters: null``, trails named by ARN, odd account ids, several time formats).

Each shape has its own view (:mod:`.cloudtrail`, :mod:`.guardduty`, :mod:`.securityhub`) that answers
the properties that mean something for it; this base answers every other one neutrally (``None``,
``{}``, ``()``, ``False``), so callers that type-hint ``Record`` need no ``isinstance`` checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Self, cast

RecordKind = Literal["cloudtrail", "guardduty", "securityhub"]


# The EventBridge detail types of the finding shapes, here so the readers tell an envelope's shape without
# importing the finding modules (loaded on the first finding: a CloudTrail event never needs them).
GUARDDUTY_DETAIL_TYPE = "GuardDuty Finding"
SECURITYHUB_DETAIL_TYPES = ("Security Hub Findings - Imported", "Security Hub Findings - Custom Action")
ANSWERED_FIELD = "trailguard/answered"
"""The ``UserDefinedFields`` key trailguard sets when it answers a finding (``BatchUpdateFindings``): the
version it answered (``SecurityHubFinding.finding_version``, with the workflow status it set). Here, not
in ``.securityhub``, so ``notify.securityhub`` names it without loading the ASFF shape."""


def get_path(obj: Any, *path: str) -> Any:
    """``obj[a][b]...``, or ``None`` as soon as a step is not a mapping."""
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def text(value: Any) -> str | None:
    """A scalar as a non-empty string; ``None`` for missing, empty, objects and lists."""
    if type(value) is str:  # the usual case, first
        return value or None
    if value is None or isinstance(value, (dict, list)):
        return None
    out = str(value)
    return out or None


def mapping(value: Any) -> Mapping[str, Any]:
    """The value if it is a mapping, else ``{}`` (CloudTrail writes ``null`` for absent objects)."""
    return value if isinstance(value, Mapping) else {}


def flag(value: Any) -> bool | None:
    """``true``/``false`` as CloudTrail writes them (a bool or the string), else ``None``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() == "true"
    return None


@dataclass(frozen=True)
class Record:
    """One CloudTrail record, GuardDuty finding or ASFF finding; ``envelope`` is the EventBridge
    envelope it came in, if any.

    ``Record.of(raw, kind, envelope)`` (or, as before the views were split, ``Record(raw, kind,
    envelope)``) returns the view of that kind; the views can also be built directly
    (``CloudTrailRecord(raw)``).
    """

    raw: Mapping[str, Any]
    kind: RecordKind
    envelope: Mapping[str, Any] | None = field(default=None, compare=False)

    _views: ClassVar[dict[str, type[Record]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A view declares its kind as the default of ``kind``; that registers it for :meth:`of`."""
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("kind")
        if isinstance(kind, str):
            Record._views[kind] = cls

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        """``Record(raw, kind, envelope)`` builds the view of that kind (a view builds itself)."""
        if cls is not Record:
            return super().__new__(cls)
        if "kind" not in kwargs and len(args) < 2:
            raise TypeError("Record() needs a kind: Record(raw, kind, envelope=None)")
        view = Record._view_of(kwargs["kind"] if "kind" in kwargs else args[1])
        return cast(Self, object.__new__(view))

    def __post_init__(self) -> None:
        own = type(self).__dict__.get("kind", self.kind)
        if self.kind != own:
            raise ValueError(f"{type(self).__name__} is kind {own!r}, not {self.kind!r}")

    @staticmethod
    def of(raw: Mapping[str, Any], kind: RecordKind, envelope: Mapping[str, Any] | None = None) -> Record:
        """The view of ``kind`` over ``raw``."""
        return Record._view_of(kind)(raw, kind, envelope)

    @staticmethod
    def _view_of(kind: object) -> type[Record]:
        view = Record._views.get(kind) if isinstance(kind, str) else None
        if view is None:
            raise ValueError(f"no record view of kind {kind!r}")
        return view

    def _envelope(self, key: str) -> str | None:
        """A field of the EventBridge envelope (``id``, ``region``, ``account``, ``time``)."""
        return text(get_path(self.envelope, key))

    # -- every shape --------------------------------------------------------------------------------
    @property
    def event_id(self) -> str | None:
        return None

    @property
    def event_name(self) -> str | None:
        """The API call (``StopLogging``); for a finding, the API it saw, if it says."""
        return None

    @property
    def event_source(self) -> str | None:
        """``cloudtrail.amazonaws.com``; for a finding, the service of the API it saw."""
        return None

    @property
    def region(self) -> str | None:
        return None

    @property
    def account_id(self) -> str | None:
        return None

    @property
    def event_time(self) -> str | None:
        return None

    @property
    def principal_type(self) -> str | None:
        return None

    @property
    def principal_name(self) -> str | None:
        return None

    @property
    def source_ip(self) -> str | None:
        return None

    @property
    def user_agent(self) -> str | None:
        return None

    # -- CloudTrail ---------------------------------------------------------------------------------
    @property
    def error_code(self) -> str | None:
        return None

    @property
    def error_message(self) -> str | None:
        return None

    @property
    def failed(self) -> bool:
        """The call was refused or failed (CloudTrail wrote an ``errorCode``)."""
        return self.error_code is not None

    @property
    def request_parameters(self) -> Mapping[str, Any]:
        return {}

    @property
    def user_identity(self) -> Mapping[str, Any]:
        return {}

    @property
    def principal_arn(self) -> str | None:
        return None

    @property
    def issuer_arn(self) -> str | None:
        return None

    @property
    def access_key_id(self) -> str | None:
        return None

    @property
    def mfa_authenticated(self) -> bool | None:
        return None

    @property
    def vpc_endpoint_id(self) -> str | None:
        return None

    # -- findings -----------------------------------------------------------------------------------
    @property
    def finding_types(self) -> tuple[str, ...]:
        return ()

    @property
    def is_trail_disabled_finding(self) -> bool:
        return False

    @property
    def finding_active(self) -> bool:
        return False

    @property
    def finding_trail(self) -> str | None:
        return None

    @property
    def finding_version(self) -> str | None:
        """What distinguishes one state of a finding from the next under the same Id (None if nothing)."""
        return None

    @property
    def answered_by_trailguard(self) -> bool:
        """The finding, as it arrives, is trailguard's own answer to it coming back (no news)."""
        return False


@dataclass(frozen=True)
class FindingRecord(Record):
    """What GuardDuty and Security Hub findings share: a title and description that may name a trail."""

    def _title(self) -> str | None:
        return None

    def _description(self) -> str | None:
        return None

    def _affected_trail(self) -> str | None:
        """The trail named in the finding's affected-resources field, if any."""
        return None

    @property
    def finding_trail(self) -> str | None:
        """The trail a finding names (ARN or name): affected-resources field first, then the title."""
        return (
            self._affected_trail() or trail_from_text(self._title()) or trail_from_text(self._description())
        )


def trail_from_text(value: str | None) -> str | None:
    """``AWS CloudTrail trail arn:aws:cloudtrail:...:trail/x was disabled.`` -> the ARN (or name)."""
    if not value:
        return None
    for word in value.replace(",", " ").split():
        token = word.rstrip(".")
        if token.startswith("arn:") and ":trail/" in token:
            return token
    # "AWS CloudTrail trail NAME was disabled ..." names the trail only when a word follows "trail"
    # that is not the verb ("A CloudTrail trail was disabled." names none).
    marker = "CloudTrail trail "
    if marker in value:
        candidate = value.split(marker, 1)[1].split(" ", 1)[0].rstrip(".")
        if candidate and candidate.lower() not in ("was", "has", "is", "in", "of"):
            return candidate
    return None
