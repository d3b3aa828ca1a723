"""The registry: every technique of detection-policy.md, by id, and the index the classifier walks.

Family modules (``techniques/<family>.py``, each with a ``TECHNIQUES`` tuple) are discovered, not listed:
a new family is one new file. The registry's order is the one detection-policy.md's table uses.

A CloudTrail call needs only the families that judge it: :data:`CALL_FAMILIES`, a static index of each
call to its families, lets :func:`techniques_for_call` import just those (a StopLogging imports the trail
family, not the registry's every family and the actions and kinds they bring). The whole registry
(:data:`TECHNIQUES`, :data:`CALL_INDEX`, :data:`BY_EVENT`, :data:`FINDING_TECHNIQUES`) is built on first
use of any of them. ``tests/structure/test_lazy_registries.py`` checks that the index equals the
registry's (and prints the index to write when a family changes its calls).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from trailguard.permissions import RUNTIME_PERMISSIONS
from trailguard.policy.technique import Technique, base_event_name

# The order families are listed in (docs, ``trailguard techniques``); a new family not named here
# follows them in name order.
_FAMILY_ORDER = ("trail", "lake", "bucket", "key", "guard", "org", "finding")

CALL_FAMILIES: Mapping[tuple[str, str], tuple[str, ...]] = MappingProxyType(
    {
        ("cloudformation.amazonaws.com", "DeleteStack"): ("self",),
        ("cloudformation.amazonaws.com", "ExecuteChangeSet"): ("self",),
        ("cloudformation.amazonaws.com", "UpdateStack"): ("self",),
        ("cloudtrail.amazonaws.com", "CreateTrail"): ("trail",),
        ("cloudtrail.amazonaws.com", "DeleteEventDataStore"): ("lake",),
        ("cloudtrail.amazonaws.com", "DeleteTrail"): ("trail",),
        ("cloudtrail.amazonaws.com", "DeregisterOrganizationDelegatedAdmin"): ("org",),
        ("cloudtrail.amazonaws.com", "PutEventSelectors"): ("trail",),
        ("cloudtrail.amazonaws.com", "StopEventDataStoreIngestion"): ("lake",),
        ("cloudtrail.amazonaws.com", "StopLogging"): ("trail",),
        ("cloudtrail.amazonaws.com", "UpdateEventDataStore"): ("lake",),
        ("cloudtrail.amazonaws.com", "UpdateTrail"): ("trail",),
        ("dynamodb.amazonaws.com", "DeleteTable"): ("self",),
        ("dynamodb.amazonaws.com", "UpdateTable"): ("self",),
        ("events.amazonaws.com", "DeleteRule"): ("guard",),
        ("events.amazonaws.com", "DisableRule"): ("guard",),
        ("events.amazonaws.com", "PutRule"): ("guard",),
        ("events.amazonaws.com", "PutTargets"): ("guard",),
        ("events.amazonaws.com", "RemoveTargets"): ("guard",),
        ("guardduty.amazonaws.com", "CreateFilter"): ("detection",),
        ("guardduty.amazonaws.com", "DeleteDetector"): ("guard",),
        ("guardduty.amazonaws.com", "UpdateDetector"): ("guard",),
        ("guardduty.amazonaws.com", "UpdateFilter"): ("detection",),
        ("iam.amazonaws.com", "AttachRolePolicy"): ("role",),
        ("iam.amazonaws.com", "DeleteRole"): ("role",),
        ("iam.amazonaws.com", "DeleteRolePermissionsBoundary"): ("role",),
        ("iam.amazonaws.com", "DeleteRolePolicy"): ("role",),
        ("iam.amazonaws.com", "DetachRolePolicy"): ("role",),
        ("iam.amazonaws.com", "PutRolePermissionsBoundary"): ("role",),
        ("iam.amazonaws.com", "PutRolePolicy"): ("role",),
        ("iam.amazonaws.com", "UpdateAssumeRolePolicy"): ("role",),
        ("kms.amazonaws.com", "DisableKey"): ("key",),
        ("kms.amazonaws.com", "PutKeyPolicy"): ("key",),
        ("kms.amazonaws.com", "ScheduleKeyDeletion"): ("key",),
        ("lambda.amazonaws.com", "CreateFunction"): ("self",),
        ("lambda.amazonaws.com", "DeleteFunction"): ("guard",),
        ("lambda.amazonaws.com", "PutFunctionConcurrency"): ("guard",),
        ("lambda.amazonaws.com", "RemovePermission"): ("guard",),
        ("lambda.amazonaws.com", "UpdateFunctionCode"): ("guard",),
        ("lambda.amazonaws.com", "UpdateFunctionConfiguration"): ("guard",),
        ("logs.amazonaws.com", "DeleteLogGroup"): ("logs",),
        ("logs.amazonaws.com", "PutRetentionPolicy"): ("logs",),
        ("organizations.amazonaws.com", "DeletePolicy"): ("org",),
        ("organizations.amazonaws.com", "DeregisterDelegatedAdministrator"): ("org",),
        ("organizations.amazonaws.com", "DetachPolicy"): ("org",),
        ("organizations.amazonaws.com", "DisableAWSServiceAccess"): ("org",),
        ("organizations.amazonaws.com", "LeaveOrganization"): ("org",),
        ("organizations.amazonaws.com", "RemoveAccountFromOrganization"): ("org",),
        ("organizations.amazonaws.com", "UpdatePolicy"): ("org",),
        ("s3.amazonaws.com", "DeleteBucket"): ("bucket",),
        ("s3.amazonaws.com", "DeleteBucketEncryption"): ("bucket",),
        ("s3.amazonaws.com", "DeleteBucketPolicy"): ("bucket",),
        ("s3.amazonaws.com", "DeleteBucketPublicAccessBlock"): ("bucket",),
        ("s3.amazonaws.com", "DeleteObject"): ("bucket",),
        ("s3.amazonaws.com", "DeleteObjects"): ("bucket",),
        ("s3.amazonaws.com", "PutBucketAcl"): ("bucket",),
        ("s3.amazonaws.com", "PutBucketEncryption"): ("bucket",),
        ("s3.amazonaws.com", "PutBucketLifecycle"): ("bucket",),
        ("s3.amazonaws.com", "PutBucketPolicy"): ("bucket",),
        ("s3.amazonaws.com", "PutBucketPublicAccessBlock"): ("bucket",),
        ("s3.amazonaws.com", "PutBucketVersioning"): ("bucket",),
        ("securityhub.amazonaws.com", "BatchUpdateAutomationRules"): ("detection",),
        ("securityhub.amazonaws.com", "CreateAutomationRule"): ("detection",),
        ("securityhub.amazonaws.com", "DisableImportFindingsForProduct"): ("detection",),
        ("securityhub.amazonaws.com", "DisableSecurityHub"): ("guard",),
        ("securityhub.amazonaws.com", "UpdateAutomationRules"): ("detection",),
        ("sns.amazonaws.com", "DeleteTopic"): ("guard",),
        ("sns.amazonaws.com", "RemovePermission"): ("guard",),
        ("sns.amazonaws.com", "SetSubscriptionAttributes"): ("guard",),
        ("sns.amazonaws.com", "SetTopicAttributes"): ("guard",),
        ("sns.amazonaws.com", "Subscribe"): ("guard",),
        ("sns.amazonaws.com", "Unsubscribe"): ("guard",),
        ("sqs.amazonaws.com", "DeleteQueue"): ("self",),
        ("sqs.amazonaws.com", "PurgeQueue"): ("self",),
        ("sqs.amazonaws.com", "SetQueueAttributes"): ("self",),
    }
)
"""(event source, base event name) -> the families whose techniques judge that call, in registry order."""


def _family_names() -> list[str]:
    names = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    names.sort(key=lambda n: (_FAMILY_ORDER.index(n) if n in _FAMILY_ORDER else len(_FAMILY_ORDER), n))
    return names


@cache
def family(name: str) -> tuple[Technique, ...]:
    """The techniques one family module declares (importing it, once)."""
    module = importlib.import_module(f"{__name__}.{name}")
    declared = getattr(module, "TECHNIQUES", None)
    if not isinstance(declared, tuple) or not all(isinstance(t, Technique) for t in declared):
        raise TypeError(f"{module.__name__} declares no TECHNIQUES tuple of Technique")
    return declared


def _discover() -> tuple[Technique, ...]:
    found: list[Technique] = []
    for name in _family_names():
        found.extend(family(name))
    return tuple(found)


def _registry(techniques: tuple[Technique, ...]) -> Mapping[str, Technique]:
    by_id: dict[str, Technique] = {}
    for technique in techniques:
        if technique.id in by_id:
            raise ValueError(f"technique id {technique.id} declared twice")
        by_id[technique.id] = technique
    return MappingProxyType(by_id)


def _event_index(techniques: tuple[Technique, ...]) -> Mapping[tuple[str, str], tuple[Technique, ...]]:
    index: dict[tuple[str, str], tuple[Technique, ...]] = {}
    for technique in techniques:
        for trigger in technique.triggers:
            claimed = index.get(trigger, ())
            if claimed and not (technique.shares_calls and all(t.shares_calls for t in claimed)):
                raise ValueError(f"{trigger} maps to both {claimed[0].id} and {technique.id}")
            index[trigger] = (*claimed, technique)
    return MappingProxyType(index)


@cache
def _built() -> dict[str, Any]:
    """The whole registry and its indexes, built once on first use."""
    every = _discover()
    index = _event_index(every)
    return {
        "_ALL": every,
        "TECHNIQUES": _registry(every),
        "CALL_INDEX": index,
        "BY_EVENT": MappingProxyType({k: v[0] for k, v in index.items()}),
        "FINDING_TECHNIQUES": tuple(t for t in every if t.kinds - {"cloudtrail"}),
    }


if TYPE_CHECKING:
    _ALL: tuple[Technique, ...]
    TECHNIQUES: Mapping[str, Technique]
    CALL_INDEX: Mapping[tuple[str, str], tuple[Technique, ...]]
    """Every technique that judges a trigger, in registry order (more than one only when they share
    calls)."""
    BY_EVENT: Mapping[tuple[str, str], Technique]
    FINDING_TECHNIQUES: tuple[Technique, ...]


def __getattr__(name: str) -> Any:
    """The registry's names, built on first use (PEP 562)."""
    if name in ("_ALL", "TECHNIQUES", "CALL_INDEX", "BY_EVENT", "FINDING_TECHNIQUES"):
        return _built()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def techniques_for_call(event_source: str | None, event_name: str | None) -> tuple[Technique, ...]:
    """Every technique that judges this CloudTrail call (usually one), in registry order."""
    if not event_source or not event_name:
        return ()
    key = (event_source, base_event_name(event_name))
    return _for_call(key) if key in CALL_FAMILIES else ()


@cache  # bounded: only the index's keys come here
def _for_call(key: tuple[str, str]) -> tuple[Technique, ...]:
    """The call's techniques from its families alone (:data:`CALL_FAMILIES`), in registry order."""
    return tuple(t for name in CALL_FAMILIES.get(key, ()) for t in family(name) if key in t.triggers)


def delivered_twice(event_source: str | None, event_name: str | None) -> bool:
    """Whether the guard-calls rule also delivers this call, so both functions judge and repair it at once
    (a call on trailguard's own rules, functions, topic or role: ``Technique.guard``)."""
    return any(t.guard for t in techniques_for_call(event_source, event_name))


def technique_for_call(event_source: str | None, event_name: str | None) -> Technique | None:
    """The first technique that judges this CloudTrail call, if any."""
    found = techniques_for_call(event_source, event_name)
    return found[0] if found else None


@cache
def required_permissions() -> frozenset[str]:
    """Every IAM action trailguard needs: the union of what each technique's action declares beside
    its calls, plus what the runtime itself needs (``trailguard.permissions``). The template grants
    exactly this set."""
    actions: set[str] = set(RUNTIME_PERMISSIONS)
    for technique in _built()["TECHNIQUES"].values():
        actions.update(technique.action.permissions)
    return frozenset(actions)
