"""trailguard's own pipeline: its rules, functions and topic, and the second detection path
(GuardDuty, Security Hub). Blinding the guard is tampering even though no trail changes."""

from __future__ import annotations

from trailguard.events import Record
from trailguard.policy.inventory import Inventory
from trailguard.policy.technique import (
    Match,
    Sweep,
    Technique,
    as_int,
    base_event_name,
    param,
    unnamed,
)
from trailguard.policy.techniques._common import TOOLS_MITRE
from trailguard.remediate import detector, function, rule, topic
from trailguard.resources import detector as detector_kind
from trailguard.resources import function as function_kind
from trailguard.resources import rule as rule_kind
from trailguard.resources import topic as topic_kind
from trailguard.resources.base import as_bool

_VERBS = {
    "DisableRule": "disables",
    "DeleteRule": "deletes",
    "RemoveTargets": "removes targets from",
    "PutRule": "overwrites",
    "PutTargets": "retargets",
    "DeleteFunction": "deletes",
    "PutFunctionConcurrency": "throttles to zero concurrency",
    "UpdateFunctionCode": "replaces the code of",
    "UpdateFunctionConfiguration": "reconfigures",
    "RemovePermission": "removes a permission from",
    "DeleteTopic": "deletes",
    "Unsubscribe": "removes a subscription from",
    "SetTopicAttributes": "changes the attributes of",
    "Subscribe": "adds a subscriber (who would read every alert) to",
    "SetSubscriptionAttributes": "changes a subscription (a filter policy can mute every alert) of",
}


def _verb(record: Record) -> str:
    return _VERBS.get(base_event_name(record.event_name or ""), "changes")


def _rule(record: Record, inventory: Inventory) -> Match:
    ref = param(record, "name", "rule", "Name", "Rule")
    if ref is None:
        return unnamed("EventBridge rule")
    if not inventory.guard.rule_names:
        return Match.harmless(ref, f"no inventory names trailguard's rules, so rule {ref} is not known")
    name = inventory.guard_rule(ref)
    if name is None:
        return Match.harmless(ref, f"rule {ref} is not one of trailguard's rules")
    return Match.tamper(name, f"{_verb(record)} trailguard's EventBridge rule {name}")


def _function(record: Record, inventory: Inventory) -> Match:
    ref = param(record, "functionName", "FunctionName")
    if ref is None:
        return unnamed("Lambda function")
    if not inventory.guard.function_names:
        return Match.harmless(
            ref, f"no inventory names trailguard's functions, so function {ref} is not known"
        )
    name = inventory.guard_function(ref)
    if name is None:
        return Match.harmless(ref, f"function {ref} is not one of trailguard's functions")
    if record.event_name and record.event_name.startswith("PutFunctionConcurrency"):
        params = record.request_parameters
        limit = as_int(params.get("reservedConcurrentExecutions", params.get("ReservedConcurrentExecutions")))
        if limit is None and not record.failed:
            return Match.harmless(name, f"the concurrency set on trailguard's function {name} is not shown")
        if limit is not None and limit != 0:
            return Match.harmless(name, f"trailguard's function {name} keeps {limit} reserved executions")
    return Match.tamper(name, f"{_verb(record)} trailguard's Lambda function {name}")


def _topic(record: Record, inventory: Inventory) -> Match:
    ref = param(record, "topicArn", "TopicArn", "subscriptionArn", "SubscriptionArn")
    if ref is None:
        return unnamed("SNS topic")
    if not inventory.guard.topic_arns:
        return Match.harmless(ref, f"no inventory names trailguard's topics, so topic {ref} is not known")
    arn = inventory.guard_topic(ref)
    if arn is None:
        return Match.harmless(ref, f"topic {ref} is not trailguard's alert topic")
    return Match.tamper(arn, f"{_verb(record)} trailguard's alert topic {arn}")


def _detector(record: Record, inventory: Inventory) -> Match:
    name = record.event_name or ""
    if name == "DisableSecurityHub":
        account = record.account_id
        return Match.tamper(
            account, "disables Security Hub, blinding the finding path that backs up trailguard"
        )
    detector = param(record, "detectorId", "DetectorId")
    if name == "UpdateDetector":
        enable = as_bool(record.request_parameters.get("enable", record.request_parameters.get("Enable")))
        if enable is not False and not (enable is None and record.failed):
            return Match.harmless(detector, f"GuardDuty detector {detector or '(unnamed)'} stays enabled")
        return Match.tamper(
            detector, f"disables GuardDuty detector {detector or '(unnamed)'}, blinding the finding path"
        )
    return Match.tamper(
        detector, f"deletes GuardDuty detector {detector or '(unnamed)'}, blinding the finding path"
    )


RULE = Technique(
    id="guard.rule",
    tamper_when="the rule is one of trailguard's rules",
    repair_summary="`EnableRule`; re-create rule and targets from the baseline",
    title="trailguard EventBridge rule disabled or changed",
    mitre=TOOLS_MITRE,
    kind=rule_kind.KIND,
    sweep=Sweep(),
    guard=True,
    event_source="events.amazonaws.com",
    event_names=frozenset({"DisableRule", "DeleteRule", "RemoveTargets", "PutRule", "PutTargets"}),
    condition=_rule,
    action=rule.restore_rule,
    verification="DescribeRule shows State ENABLED and ListTargetsByRule lists the baseline targets.",
)

FUNCTION = Technique(
    id="guard.function",
    tamper_when=(
        "the function is one of trailguard's functions (event names carry an API-version suffix, e.g."
        " `PutFunctionConcurrency20171031`); `PutFunctionConcurrency` only when it sets 0"
    ),
    repair_summary=(
        "`DeleteFunctionConcurrency`; restore permission (only `events.amazonaws.com` from the stack's "
        "own rules); handler, runtime, role (the stack's own only), layers, timeout, memory and "
        "environment put back with `UpdateFunctionConfiguration` (never widening the allow-list or "
        "narrowing the protected trails); new code replaced with `UpdateFunctionCode` and a deleted "
        "function recreated (`CreateFunction`, then its concurrency, permissions and on-failure "
        "destination) from the signed baseline and the stack's code artifact (its `CodeS3Bucket` / "
        "`CodeS3Key` parameters, read with `DescribeStacks`), by the other function; both deleted: the "
        "dead-man alarm alerts"
    ),
    title="trailguard Lambda function deleted, throttled or changed",
    mitre=TOOLS_MITRE,
    kind=function_kind.KIND,
    sweep=Sweep(),
    guard=True,
    event_source="lambda.amazonaws.com",
    event_names=frozenset(
        {
            "DeleteFunction",
            "PutFunctionConcurrency",
            "UpdateFunctionCode",
            "UpdateFunctionConfiguration",
            "RemovePermission",
        }
    ),
    condition=_function,
    action=function.restore_function,
    verification=(
        "GetFunction shows the artifact's CodeSha256 and the baseline configuration; "
        "GetFunctionConcurrency, GetPolicy and GetFunctionEventInvokeConfig read back the baseline."
    ),
)

TOPIC = Technique(
    id="guard.topic",
    tamper_when="trailguard's alert topic, its subscriptions (an added subscriber, a filter policy)",
    repair_summary=(
        "recreate or restore; remove an added subscriber or filter policy; a re-created email subscription"
        " is reported pending until confirmed; if alerting is impossible, record the incident in Security"
        " Hub and the logs"
    ),
    title="trailguard alert topic deleted or changed",
    mitre=TOOLS_MITRE,
    kind=topic_kind.KIND,
    sweep=Sweep(),
    guard=True,
    event_source="sns.amazonaws.com",
    event_names=frozenset(
        {
            "DeleteTopic",
            "Unsubscribe",
            "SetTopicAttributes",
            "RemovePermission",
            "Subscribe",
            "SetSubscriptionAttributes",
        }
    ),
    condition=_topic,
    action=topic.restore_topic,
    verification="The alert is delivered; if it cannot be, the incident is recorded in Security Hub.",
)

DETECTOR = Technique(
    id="guard.detector",
    tamper_when=(
        "always (they blind the second detection path); `UpdateDetector` only when it sets enable false"
    ),
    repair_summary="re-enable",
    title="GuardDuty detector or Security Hub disabled",
    mitre=TOOLS_MITRE,
    kind=detector_kind.KIND,
    event_source="guardduty.amazonaws.com",
    event_names=frozenset({"DeleteDetector", "UpdateDetector"}),
    extra_events=frozenset({("securityhub.amazonaws.com", "DisableSecurityHub")}),
    condition=_detector,
    action=detector.enable_detector,
    verification="GetDetector reports Status ENABLED and DescribeHub answers.",
)

TECHNIQUES = (RULE, FUNCTION, TOPIC, DETECTOR)
