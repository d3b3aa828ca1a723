"""Security Hub ``BatchUpdateFindings`` for the local cloud: a stand-in for a moto gap.

moto (5.2) stores findings imported with ``BatchImportFindings`` and serves ``GetFindings``, but has no
``BatchUpdateFindings`` (``PATCH /findings/batchupdate`` answers 404), which trailguard's finding handler
calls on AWS to resolve the Security Hub finding that raised an incident (docs/local-cloud.md, "Known
moto gaps"). While a :class:`~trailguard.local.server.LocalCloud` runs, :func:`install` adds:

- the route ``/findings/batchupdate`` to ``moto.securityhub.urls.url_paths`` (read when the server builds
  its Flask app, so install before the server starts);
- ``SecurityHubBackend.batch_update_findings``: updates the stored findings matched by
  ``FindingIdentifiers`` (``Id`` and ``ProductArn``) with the customer-owned fields AWS lets this API set
  (``Workflow.Status``, ``Note``, ``Severity``, ``VerificationState``, ``Confidence``, ``Criticality``,
  ``Types``, ``UserDefinedFields``, ``RelatedFindings``) and reports each one as processed or
  unprocessed (``FindingNotFound``, ``DuplicatedFindingIdentifier``) as AWS does;
- ``SecurityHubResponse.batch_update_findings``: the HTTP action in front of it.

:func:`uninstall` (``LocalCloud.stop()``) removes all three. If moto ever implements the call itself,
nothing is patched. :func:`import_finding` puts an ASFF finding into moto's backend the way
``BatchImportFindings`` would, so the emulated GuardDuty finding exists in Security Hub as on AWS.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

ROUTE = "{0}/findings/batchupdate$"
OPERATION = "BatchUpdateFindings"
WORKFLOW_STATUSES = frozenset({"NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED"})
VERIFICATION_STATES = frozenset({"UNKNOWN", "TRUE_POSITIVE", "FALSE_POSITIVE", "BENIGN_POSITIVE"})
SEVERITY_LABELS = frozenset({"INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"})
MAX_IDENTIFIERS = 100
NOTE_MAX = 512


class _State:
    installed = False
    lock = threading.Lock()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _invalid(message: str) -> Exception:
    from moto.securityhub.exceptions import InvalidInputException

    return InvalidInputException(op=OPERATION, msg=message)


def _validate(identifiers: Any, updates: Mapping[str, Any]) -> None:
    """Request-level checks AWS makes before looking at any finding (400 InvalidInputException)."""
    if not isinstance(identifiers, list) or not identifiers:
        raise _invalid("FindingIdentifiers must contain at least one finding identifier")
    if len(identifiers) > MAX_IDENTIFIERS:
        raise _invalid(f"FindingIdentifiers can contain at most {MAX_IDENTIFIERS} finding identifiers")
    if not any(updates.get(k) is not None for k in UPDATABLE):
        raise _invalid("the request must update at least one field")
    note = updates.get("Note")
    if note is not None:
        if not note.get("Text") or not note.get("UpdatedBy"):
            raise _invalid("Note requires Text and UpdatedBy")
        if len(str(note["Text"])) > NOTE_MAX:
            raise _invalid(f"Note.Text is longer than {NOTE_MAX} characters")
    status = (updates.get("Workflow") or {}).get("Status")
    if status is not None and status not in WORKFLOW_STATUSES:
        raise _invalid(f"Workflow.Status must be one of {', '.join(sorted(WORKFLOW_STATUSES))}")
    state = updates.get("VerificationState")
    if state is not None and state not in VERIFICATION_STATES:
        raise _invalid(f"VerificationState must be one of {', '.join(sorted(VERIFICATION_STATES))}")
    label = (updates.get("Severity") or {}).get("Label")
    if label is not None and label not in SEVERITY_LABELS:
        raise _invalid(f"Severity.Label must be one of {', '.join(sorted(SEVERITY_LABELS))}")


UPDATABLE = (
    "Note",
    "Severity",
    "VerificationState",
    "Confidence",
    "Criticality",
    "Types",
    "UserDefinedFields",
    "Workflow",
    "RelatedFindings",
)


def _apply(data: dict[str, Any], updates: Mapping[str, Any], now: str) -> None:
    """Set the customer-owned fields of one stored finding. ``UpdatedAt`` is the provider's and stays;
    ``Note.UpdatedAt`` and ``ProcessedAt`` say when this update happened."""
    if updates.get("Note") is not None:
        note = updates["Note"]
        data["Note"] = {"Text": str(note["Text"]), "UpdatedBy": str(note["UpdatedBy"]), "UpdatedAt": now}
    if updates.get("Workflow") is not None and updates["Workflow"].get("Status"):
        data["Workflow"] = {**(data.get("Workflow") or {}), "Status": updates["Workflow"]["Status"]}
    if updates.get("Severity") is not None:
        data["Severity"] = {**(data.get("Severity") or {}), **updates["Severity"]}
    if updates.get("UserDefinedFields") is not None:
        data["UserDefinedFields"] = {**(data.get("UserDefinedFields") or {}), **updates["UserDefinedFields"]}
    for key in ("VerificationState", "Confidence", "Criticality", "Types", "RelatedFindings"):
        if updates.get(key) is not None:
            data[key] = updates[key]
    data["ProcessedAt"] = now


def batch_update_findings(
    backend: Any, finding_identifiers: list[dict[str, str]], **updates: Any
) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """``SecurityHubBackend.batch_update_findings`` (local-cloud stand-in; moto lacks the call).

    Returns ``(ProcessedFindings, UnprocessedFindings)`` as AWS shapes them.
    """
    _validate(finding_identifiers, updates)
    now = _now()
    processed: list[dict[str, str]] = []
    unprocessed: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for ident in finding_identifiers:
        key = (str(ident.get("Id", "")), str(ident.get("ProductArn", "")))
        identifier = {"Id": key[0], "ProductArn": key[1]}
        if key in seen:
            unprocessed.append(
                {
                    "FindingIdentifier": identifier,
                    "ErrorCode": "DuplicatedFindingIdentifier",
                    "ErrorMessage": "Finding Identifier is duplicated",
                }
            )
            continue
        seen.add(key)
        finding = next(
            (f for f in backend.findings if f.id == key[0] and f.data.get("ProductArn") == key[1]), None
        )
        if finding is None:
            unprocessed.append(
                {
                    "FindingIdentifier": identifier,
                    "ErrorCode": "FindingNotFound",
                    "ErrorMessage": "Finding Not Found",
                }
            )
            continue
        _apply(finding.data, updates, now)
        processed.append(identifier)
    return processed, unprocessed


def _respond(response: Any) -> str:
    """``SecurityHubResponse.batch_update_findings`` (local-cloud stand-in; moto lacks the call)."""
    body = response.body
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    params = json.loads(body) if body else {}
    updates = {k: params[k] for k in UPDATABLE if k in params}
    processed, unprocessed = response.securityhub_backend.batch_update_findings(
        params.get("FindingIdentifiers"), **updates
    )
    return json.dumps({"ProcessedFindings": processed, "UnprocessedFindings": unprocessed})


def install() -> bool:
    """Add ``BatchUpdateFindings`` to moto's Security Hub; False when moto already has it (no patch)."""
    from moto.securityhub import urls
    from moto.securityhub.models import SecurityHubBackend
    from moto.securityhub.responses import SecurityHubResponse

    with _State.lock:
        if _State.installed:
            return True
        if hasattr(SecurityHubResponse, "batch_update_findings") or ROUTE in urls.url_paths:
            return False
        urls.url_paths[ROUTE] = SecurityHubResponse.dispatch
        setattr(SecurityHubBackend, "batch_update_findings", batch_update_findings)  # noqa: B010
        setattr(SecurityHubResponse, "batch_update_findings", _respond)  # noqa: B010
        _State.installed = True
        return True


def uninstall() -> None:
    """Undo :func:`install`, leaving moto as found."""
    from moto.securityhub import urls
    from moto.securityhub.models import SecurityHubBackend
    from moto.securityhub.responses import SecurityHubResponse

    with _State.lock:
        if not _State.installed:
            return
        urls.url_paths.pop(ROUTE, None)
        delattr(SecurityHubBackend, "batch_update_findings")
        delattr(SecurityHubResponse, "batch_update_findings")
        _State.installed = False


def import_finding(finding: Mapping[str, Any]) -> dict[str, Any] | None:
    """Store an ASFF finding in moto's Security Hub as ``BatchImportFindings`` would (for the finding's
    account and the region of its ``ProductArn``), so ``GetFindings`` and ``BatchUpdateFindings`` see it.
    Returns the finding as stored (automation rules applied), or None when the product's integration is
    disabled and Security Hub would not import it."""
    from moto.securityhub.models import securityhub_backends

    from trailguard.local import securityhub_config_patch as config

    account = str(finding["AwsAccountId"])
    region = str(finding["ProductArn"]).split(":")[3]
    backend = securityhub_backends[account][region]
    stored = copy.deepcopy(dict(finding))
    if config.installed():
        # As on AWS: a product whose integration is disabled imports nothing, and the hub's enabled
        # automation rules rewrite the finding on arrival (local/securityhub_config_patch.py).
        if not config.import_allowed(backend, stored):
            return None
        config.apply_automation_rules(backend, stored)
    failed, _, failures = backend.batch_import_findings([stored])
    if failed:
        raise RuntimeError(f"moto refused the Security Hub finding {finding.get('Id')}: {failures}")
    return stored
