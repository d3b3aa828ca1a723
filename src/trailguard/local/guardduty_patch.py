"""GuardDuty ``ListFilters`` for the local cloud: a stand-in for a moto gap.

moto (5.2) stores findings filters (``CreateFilter``, ``GetFilter``, ``UpdateFilter``, ``DeleteFilter``)
but has no ``ListFilters`` (``GET /detector/{id}/filter`` answers with an error), which trailguard's
backstop and baseline need to find a suppression filter created while an event was missed. While a
:class:`~trailguard.local.server.LocalCloud` runs, :func:`install` adds
``GuardDutyResponse.list_filters`` (the route already exists: moto serves ``CreateFilter`` on it), which
answers ``{"filterNames": [...]}`` in creation order for the detector in the path, or GuardDuty's
``BadRequestException`` (400) for a detector the account does not own, as GetDetector answers.
:func:`uninstall` removes it; if moto ever implements the call itself, nothing is patched.
"""

from __future__ import annotations

import json
import threading
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
