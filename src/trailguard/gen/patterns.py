"""The EventBridge event patterns of the template's rules, from the techniques' trigger calls.

Four rules: the API-call rule (every call any technique judges, to the api-call function), the
guard-calls rule (the calls on trailguard's own rules, functions and topic, also to the finding function),
the findings rule (the finding types the finding techniques judge) and, in an organization, the forward
rule (the trail techniques' calls, to the central bus). Lists are sorted, so the same registry always
gives the same text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from trailguard.gen.techniques import (
    GUARDDUTY,
    SECURITY_HUB,
    all_techniques,
    call_triggers,
    finding_types,
    is_guard,
)
from trailguard.gen.yamltext import Flow, Node, Note

API_CALL = "AWS API Call via CloudTrail"
TRAIL_KIND = "trail"
# CloudTrail appends an API version to these services' event names (DeleteFunction20150331,
# UpdateFunctionCode20150331v2); the pattern then takes the name alone or followed by the version's year.
VERSIONED_SOURCES = frozenset({"lambda.amazonaws.com"})
_VERSIONED_NOTE = (
    "CloudTrail appends API versions (DeleteFunction20150331, UpdateFunctionCode20150331v2);",
    'the name alone or followed by "2" (the year) keeps DeleteFunctionConcurrency and the like out.',
)


@dataclass(frozen=True)
class FindingEnvelope:
    """How EventBridge delivers one kind of finding: its source, detail-type and where the type sits."""

    source: str
    detail_type: str
    type_path: tuple[str, ...]


FINDING_ENVELOPES: Mapping[str, FindingEnvelope] = {
    GUARDDUTY: FindingEnvelope("aws.guardduty", "GuardDuty Finding", ("type",)),
    SECURITY_HUB: FindingEnvelope(
        "aws.securityhub", "Security Hub Findings - Imported", ("findings", "Types")
    ),
}


def event_source_of(service_host: str) -> str:
    """The EventBridge ``source`` of a service's CloudTrail calls: ``aws.<service>``."""
    return "aws." + service_host.split(".", 1)[0]


def api_call_pattern() -> dict[str, Node]:
    """Every call a technique judges, successful or failed (no ``errorCode`` filter)."""
    return _calls_pattern(t for technique in all_techniques() for t in call_triggers(technique))


def guard_calls_pattern() -> dict[str, Node]:
    """The calls on trailguard's own pipeline: the same branches as the API-call rule's for them."""
    return _calls_pattern(
        t for technique in all_techniques() if is_guard(technique) for t in call_triggers(technique)
    )


def forward_pattern() -> dict[str, Node]:
    """What the central stack must see of every account: the calls the trail techniques judge,
    successful or failed (a member's attempt on the organization trail, a stop in the owner's account),
    and trailguard's own alarms going into ALARM (their actions notify the stack's own topic, which has
    no subscriber in an organization: :data:`trailguard.org.central.MEMBER_ALARMS`)."""
    from trailguard.org.central import ALARM_DETAIL_TYPE, ALARM_SOURCE, ALARM_STATE, alarm_suffixes

    calls = _calls_pattern(
        t
        for technique in all_techniques()
        if technique.kind.name == TRAIL_KIND
        for t in call_triggers(technique)
    )
    detail = calls["detail"]
    if isinstance(detail, dict) and len(detail["$or"]) == 1:  # one service: its branch, no nested $or
        calls["detail"] = detail["$or"][0]
    alarms: dict[str, Node] = {
        "detail-type": Flow((ALARM_DETAIL_TYPE,)),
        "source": Flow((ALARM_SOURCE,)),
        "detail": {
            "alarmName": [{"suffix": suffix} for suffix in alarm_suffixes()],
            "state": {"value": Flow((ALARM_STATE,))},
        },
    }
    return {"$or": [calls, alarms]}


def findings_pattern() -> dict[str, Node]:
    """The finding types of the finding techniques, each from the service that delivers it."""
    by_kind: dict[str, set[str]] = {}
    for technique in all_techniques():
        for kind, types in finding_types(technique).items():
            by_kind.setdefault(kind, set()).update(types)
    if not by_kind:
        raise ValueError("no technique judges a finding: the findings rule would match nothing")
    branches: list[Node] = []
    for kind in sorted(by_kind):
        envelope = FINDING_ENVELOPES[kind]
        detail: Node = Flow(tuple(sorted(by_kind[kind])))
        for key in reversed(envelope.type_path):
            detail = {key: detail}
        branches.append(
            {
                "source": Flow((envelope.source,)),
                "detail-type": Flow((envelope.detail_type,)),
                "detail": detail,
            }
        )
    return {"$or": branches}


def _calls_pattern(triggers: Iterable[tuple[str, str]]) -> dict[str, Node]:
    by_source: dict[str, set[str]] = {}
    for service_host, name in triggers:
        by_source.setdefault(service_host, set()).add(name)
    if not by_source:
        raise ValueError("no technique judges a CloudTrail call: the rule would match nothing")
    branches: list[Node] = []
    for service_host in sorted(by_source):
        names = sorted(by_source[service_host])
        event_name: Node
        if service_host in VERSIONED_SOURCES:
            event_name = Note(_VERSIONED_NOTE, [f for n in names for f in (n, {"prefix": f"{n}2"})])
        else:
            event_name = Flow(tuple(names))
        branches.append({"eventSource": Flow((service_host,)), "eventName": event_name})
    return {
        "detail-type": Flow((API_CALL,)),
        "source": Flow(tuple(sorted({event_source_of(s) for s in by_source}))),
        "detail": {"$or": branches},
    }
