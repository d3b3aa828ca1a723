"""GuardDuty ``ListFilters`` for the local cloud: a stand-in for a moto gap.

moto (5.2) stores findings filters (``CreateFilter``, ``GetFilter``, ``UpdateFilter``, ``DeleteFilter``)
but has no ``ListFilters`` (``GET /detector/{id}/filter`` answers with an error), which trailguard's
backstop and baseline need to find a suppression filter created while an event was missed. While a
:class:`~trailguard.local.server.LocalCloud` runs, :func:`install` adds
``GuardDutyResponse.list_filters`` (the route already exists: moto serves ``CreateFilter`` on it), which
answers ``{"filterNames": [...]}`` in creation order for the detector in the path, or GuardDuty's
``BadRequestException`` (400) for a detector the account does not own, as GetDetector answers.
:func:`uninstall` removes it; if moto ever implements the call itself, nothing is patched.

:func:`archived_by` applies the detector's ``ARCHIVE`` filters (suppression rules) to the emulated
CloudTrailLoggingDisabled finding, so a suppression filter really silences it on the local cloud.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any


class _State:
    installed = False
    lock = threading.Lock()


def _list_filters(response: Any) -> str:
    """``GuardDutyResponse.list_filters`` (local-cloud stand-in; moto lacks the call)."""
    detector_id = response.path.rstrip("/").split("/")[-2]
    detector = response.guardduty_backend.get_detector(detector_id)
    return json.dumps({"filterNames": list(detector.filters)})


def install() -> bool:
    """Add ``ListFilters`` to moto's GuardDuty; False when moto already has it (no patch)."""
    from moto.guardduty.responses import GuardDutyResponse

    with _State.lock:
        if _State.installed:
            return True
        if hasattr(GuardDutyResponse, "list_filters"):
            return False
        setattr(GuardDutyResponse, "list_filters", _list_filters)  # noqa: B010
        _State.installed = True
        return True


def uninstall() -> None:
    from moto.guardduty.responses import GuardDutyResponse

    with _State.lock:
        if not _State.installed:
            return
        delattr(GuardDutyResponse, "list_filters")
        _State.installed = False


def installed() -> bool:
    return _State.installed


def _field(finding: Mapping[str, Any], path: str) -> Any:
    value: Any = finding
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _holds(value: Any, condition: Mapping[str, Any]) -> bool:
    """One GuardDuty condition (both spellings) on one field's value; an operator it does not know
    never holds, so the emulator never archives more than GuardDuty would."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    for op, operand in condition.items():
        key = str(op).lower()
        if key in ("eq", "equals"):
            if text not in [str(v) for v in operand or []]:
                return False
        elif key in ("neq", "notequals"):
            if text in [str(v) for v in operand or []]:
                return False
        elif key in (
            "gt",
            "greaterthan",
            "gte",
            "greaterthanorequal",
            "lt",
            "lessthan",
            "lte",
            "lessthanorequal",
        ):
            try:
                number, limit = float(value), float(operand)
            except (TypeError, ValueError):
                return False
            ok = {
                "gt": number > limit,
                "greaterthan": number > limit,
                "gte": number >= limit,
                "greaterthanorequal": number >= limit,
                "lt": number < limit,
                "lessthan": number < limit,
                "lte": number <= limit,
                "lessthanorequal": number <= limit,
            }[key]
            if not ok:
                return False
        else:
            return False
    return True


def archived_by(finding: Mapping[str, Any]) -> str | None:
    """The name of the detector's ``ARCHIVE`` filter (lowest rank first) that archives ``finding`` (a
    GuardDuty finding as the emulator emits it) on arrival, or None. GuardDuty sends such findings
    neither to EventBridge nor to Security Hub. Criteria on fields the finding lacks do not match."""
    from moto.guardduty.models import guardduty_backends

    backend = guardduty_backends[str(finding["accountId"])][str(finding["region"])]
    for detector in backend.detectors.values():
        ordered = sorted(detector.filters.values(), key=lambda f: (f.rank or 1, f.name))
        for found in ordered:
            if str(found.action).upper() != "ARCHIVE":
                continue
            criteria = found.finding_criteria or {}
            criterion = criteria.get("criterion") or criteria.get("Criterion") or {}
            if all(
                isinstance(cond, Mapping)
                and _field(finding, str(path)) is not None
                and _holds(_field(finding, str(path)), cond)
                for path, cond in criterion.items()
            ):
                return str(found.name)
    return None
