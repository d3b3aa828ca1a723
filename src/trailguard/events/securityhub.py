"""A Security Hub finding (AWS Security Finding Format, ASFF) as a read-only view.

GuardDuty's findings reach Security Hub with the API call they saw flattened into ``ProductFields``
(``aws/guardduty/service/action/awsApiCallAction/api``, or without the prefix); :meth:`_product_field`
reads them whatever the prefix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trailguard.events.record import (
    ANSWERED_FIELD,
    SECURITYHUB_DETAIL_TYPES,
    FindingRecord,
    RecordKind,
    get_path,
    mapping,
    text,
)

DETAIL_TYPES = SECURITYHUB_DETAIL_TYPES  # defined in .record, where the readers tell the shapes apart
TRAIL_DISABLED_ASFF_TYPE = "TTPs/Defense Evasion/Stealth:IAMUser-CloudTrailLoggingDisabled"
_TRAIL_FIELD = "affectedResources/AWS::CloudTrail::Trail"


@dataclass(frozen=True)
class SecurityHubFinding(FindingRecord):
    """One ASFF finding (bare, in a ``findings`` list, or in a Security Hub envelope's ``detail``)."""

    kind: RecordKind = "securityhub"

    @staticmethod
    def is_shape(obj: Mapping[str, Any]) -> bool:
        """A bare ASFF finding has a schema version and types or a product."""
        return "SchemaVersion" in obj and ("Types" in obj or "ProductArn" in obj)

    def _product_field(self, suffix: str) -> Any:
        """An ASFF ``ProductFields`` value, whatever prefix (``aws/guardduty/service/``) its key has."""
        fields = mapping(self.raw.get("ProductFields"))
        if suffix in fields:
            return fields[suffix]
        for name, value in fields.items():
            if name.endswith("/" + suffix):
                return value
        return None

    @property
    def event_id(self) -> str | None:
        return text(self.raw.get("Id"))

    @property
    def event_name(self) -> str | None:
        return text(self._product_field("action/awsApiCallAction/api"))

    @property
    def event_source(self) -> str | None:
        return text(self._product_field("action/awsApiCallAction/serviceName"))

    @property
    def region(self) -> str | None:
        return text(self.raw.get("Region")) or self._envelope("region")

    @property
    def account_id(self) -> str | None:
        return text(self.raw.get("AwsAccountId")) or self._envelope("account")

    @property
    def event_time(self) -> str | None:
        return text(self.raw.get("LastObservedAt") or self.raw.get("UpdatedAt"))

    @property
    def source_ip(self) -> str | None:
        return text(self._product_field("action/awsApiCallAction/remoteIpDetails/ipAddressV4"))

    @property
    def finding_types(self) -> tuple[str, ...]:
        """ASFF ``Types`` (several)."""
        types = self.raw.get("Types")
        return tuple(str(t) for t in types) if isinstance(types, list) else ()

    @property
    def is_trail_disabled_finding(self) -> bool:
        return TRAIL_DISABLED_ASFF_TYPE in self.finding_types

    @property
    def finding_active(self) -> bool:
        """Record state ACTIVE, workflow neither RESOLVED nor SUPPRESSED, and not archived."""
        if (text(self.raw.get("RecordState")) or "ACTIVE").upper() != "ACTIVE":
            return False
        workflow = text(get_path(self.raw, "Workflow", "Status")) or text(self.raw.get("WorkflowState"))
        if workflow and workflow.upper() in ("RESOLVED", "SUPPRESSED"):
            return False
        return str(self._product_field("archived")).lower() != "true"

    @property
    def workflow_status(self) -> str:
        """``NEW``, ``NOTIFIED``, ``RESOLVED`` or ``SUPPRESSED`` (``NEW`` when the finding has none)."""
        workflow = text(get_path(self.raw, "Workflow", "Status")) or text(self.raw.get("WorkflowState"))
        return (workflow or "NEW").upper()

    @property
    def finding_version(self) -> str | None:
        """``<UpdatedAt> <workflow status>``: its provider's last update and where its workflow stands.

        ``BatchUpdateFindings`` never changes ``UpdatedAt`` (only the provider's own import does), and
        Security Hub emits the finding again after every update: so a new ``UpdatedAt`` is the provider
        reporting again, a new workflow status is someone's decision, and neither is trailguard's note.
        """
        updated = text(self.raw.get("UpdatedAt"))
        if updated is None and not get_path(self.raw, "Workflow", "Status"):
            return None
        return f"{updated or ''} {self.workflow_status}"

    @property
    def answered_by_trailguard(self) -> bool:
        """trailguard already answered exactly this version: its own ``BatchUpdateFindings`` (workflow
        and note) coming back as a new ``Security Hub Findings - Imported`` event."""
        answered = mapping(self.raw.get("UserDefinedFields")).get(ANSWERED_FIELD)
        return (
            isinstance(answered, str)
            and self.finding_version is not None
            and answered == self.finding_version
        )

    def _title(self) -> str | None:
        return text(self.raw.get("Title"))

    def _description(self) -> str | None:
        return text(self.raw.get("Description"))

    def _affected_trail(self) -> str | None:
        for name, value in mapping(self.raw.get("ProductFields")).items():
            if name.endswith(_TRAIL_FIELD) and text(value):
                return text(value)
        return None
