"""GuardDuty and Security Hub switched on in the emulator's world, as a careful account has them, so the
attacks on them (a suppression filter, GuardDuty's integration disabled, an automation rule) hit
something real and trailguard's baseline records them at deploy."""

from __future__ import annotations

from collections.abc import Mapping

from trailguard.local.server import LocalCloud


def enable(cloud: LocalCloud, environ: Mapping[str, str] | None = None) -> str:
    """Enable a GuardDuty detector and Security Hub (GuardDuty's integration on, as AWS turns it on);
    returns the detector id (the ready file's ``detector_id``)."""
    guardduty = cloud.client("guardduty", environ)
    existing = guardduty.list_detectors().get("DetectorIds") or []
    detector = str(existing[0]) if existing else str(guardduty.create_detector(Enable=True)["DetectorId"])
    hub = cloud.client("securityhub", environ)
    try:
        hub.describe_hub()
    except Exception:
        hub.enable_security_hub(EnableDefaultStandards=False)
    return detector
