"""Compatibility shim; callers move to trailguard.notify.X (``trailguard.notify.report``, and the ASFF
builders in ``trailguard.notify.securityhub``). Delete once no caller imports it."""

from trailguard.notify.securityhub import (
    RESOURCE_TYPES,
    finding_for,
    note_for,
    product_arn,
    report,
    resource_type,
    severity,
    workflow_status,
)

__all__ = [
    "RESOURCE_TYPES",
    "finding_for",
    "note_for",
    "product_arn",
    "report",
    "resource_type",
    "severity",
    "workflow_status",
]
