"""The EventBridge rules deliver every tamper call (successful or failed) and the trail-disabled finding,
and nothing read-only or merely similar, judged on the real records of tests/data/events."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest

import corpus
import envelopes

Envelope = dict[str, Any]
Matches = Callable[..., bool]
API_VERSION = re.compile(r"\d{8}(v\d+)?$")


def _base(name: str) -> str:
    return API_VERSION.sub("", name)


def _triggers() -> set[tuple[str, str]]:
    """(eventSource, eventName) of every CloudTrail technique in the policy."""
    from trailguard.policy import TECHNIQUES

    pairs: set[tuple[str, str]] = set()
    for technique in TECHNIQUES.values():
        if "cloudtrail" not in getattr(technique, "kinds", {"cloudtrail"}):
            continue
        pairs |= {(technique.event_source, name) for name in technique.event_names}
        pairs |= set(getattr(technique, "extra_events", ()))
    assert pairs, "the policy declares no CloudTrail techniques"
    return pairs


def _call(source: str, name: str, **extra: Any) -> Envelope:
    """A minimal ``AWS API Call via CloudTrail`` envelope for one call."""
    record = {
        "eventVersion": "1.09",
        "eventSource": source,
        "eventName": name,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "awsRegion": "us-east-1",
        **extra,
    }
    return envelopes.api_call(record, event_id="00000000-0000-4000-8000-000000000002")


@pytest.mark.parametrize("kind", ["tamper", "failed-tamper"])
def test_api_call_rule_matches_every_real_tamper_and_failed_tamper_call(
    kind: str, real_envelopes: Callable[[str], list[tuple[str, Envelope]]], matches: Matches
) -> None:
    records = real_envelopes(kind)
    assert records and [name for name, _ in records] == corpus.names(corpus.rows_in(kind))
    missed = [name for name, env in records if not matches("ApiCallRule", env)]
    assert missed == []


def test_failed_calls_are_delivered_too(
    real_envelopes: Callable[[str], list[tuple[str, Envelope]]], matches: Matches
) -> None:
    failed = [env for _, env in real_envelopes("failed-tamper")]
    assert failed and len(failed) == len(corpus.rows_in("failed-tamper"))
    assert all(env["detail"].get("errorCode") for env in failed)
    assert all(matches("ApiCallRule", env) for env in failed)


def test_api_call_rule_on_benign_records_agrees_with_the_policy(
    real_envelopes: Callable[[str], list[tuple[str, Envelope]]], matches: Matches
) -> None:
    """A benign record is delivered only when the policy judges its call (the classifier then says
    benign, e.g. PutEventSelectors that keeps management events); everything else is not."""
    triggers = _triggers()
    records = real_envelopes("benign")
    assert records and [name for name, _ in records] == corpus.names(corpus.rows_in("benign"))
    wrong = []
    for name, env in records:
        detail = env["detail"]
        judged = (detail.get("eventSource"), _base(str(detail.get("eventName")))) in triggers
        if matches("ApiCallRule", env) != judged:
            wrong.append(name)
    assert wrong == []


def test_read_only_records_never_match(
    real_envelopes: Callable[[str], list[tuple[str, Envelope]]], matches: Matches
) -> None:
    read_only = [
        (name, env)
        for name, env in real_envelopes("benign")
        if env["detail"].get("readOnly") is True
        or re.match(r"(Describe|Get|List)", str(env["detail"].get("eventName")))
    ]
    names = {str(env["detail"]["eventName"]) for _, env in read_only}
    assert {"DescribeTrails", "GetTrailStatus", "GetEventSelectors"} <= names
    assert [name for name, env in read_only if matches("ApiCallRule", env)] == []


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("cloudtrail.amazonaws.com", "DescribeTrails"),
        ("cloudtrail.amazonaws.com", "GetTrailStatus"),
        ("cloudtrail.amazonaws.com", "GetEventSelectors"),
        ("cloudtrail.amazonaws.com", "ListTrails"),
        ("cloudtrail.amazonaws.com", "StartLogging"),
        ("cloudtrail.amazonaws.com", "StartEventDataStoreIngestion"),
        ("kms.amazonaws.com", "EnableKey"),
        ("kms.amazonaws.com", "CancelKeyDeletion"),
        ("events.amazonaws.com", "EnableRule"),
        ("events.amazonaws.com", "DescribeRule"),
        ("lambda.amazonaws.com", "DeleteFunctionConcurrency20171031"),
        ("lambda.amazonaws.com", "DeleteFunctionUrlConfig20211031"),
        ("lambda.amazonaws.com", "GetFunction20150331v2"),
        ("s3.amazonaws.com", "GetBucketPolicy"),
        ("s3.amazonaws.com", "PutBucketTagging"),
        ("sns.amazonaws.com", "Publish"),
        ("guardduty.amazonaws.com", "CreateDetector"),
        ("securityhub.amazonaws.com", "EnableSecurityHub"),
        ("elasticloadbalancing.amazonaws.com", "DeleteRule"),
        ("ec2.amazonaws.com", "StopInstances"),
        ("config.amazonaws.com", "StopConfigurationRecorder"),
    ],
)
def test_look_alikes_do_not_match(source: str, name: str, matches: Matches) -> None:
    assert not matches("ApiCallRule", _call(source, name))


def test_every_technique_event_is_delivered_successful_or_failed(matches: Matches) -> None:
    triggers = _triggers()
    missed = []
    for source, name in sorted(triggers):
        variants = [name]
        if source == "lambda.amazonaws.com":  # CloudTrail appends the API version
            variants += [f"{name}20150331", f"{name}20150331v2", f"{name}20171031"]
        for variant in variants:
            ok = _call(source, variant)
            failed = _call(source, variant, errorCode="AccessDenied", requestParameters=None)
            if not (matches("ApiCallRule", ok) and matches("ApiCallRule", failed)):
                missed.append((source, variant))
    assert missed == []


def test_rule_lists_only_technique_events(rule_pattern: Callable[[str], dict[str, Any]]) -> None:
    """Nothing in the pattern that no technique judges: each delivery costs an invocation."""
    triggers = _triggers()
    extra = []
    for branch in rule_pattern("ApiCallRule")["detail"]["$or"]:
        (source,) = branch["eventSource"]
        for flt in branch["eventName"]:
            name = flt["prefix"] if isinstance(flt, dict) else flt
            if (source, _base(name).rstrip("2")) not in triggers and (source, name) not in triggers:
                extra.append((source, name))
    assert extra == []


def test_api_call_rule_is_enabled_without_read_only_management_events(template: dict[str, Any]) -> None:
    props = template["Resources"]["ApiCallRule"]["Properties"]
    # ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS would also deliver read-only calls.
    assert props["State"] == "ENABLED"
    pattern = props["EventPattern"]
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert "errorCode" not in pattern["detail"]


# ------------------------------------------------------------------------------------- findings


def test_finding_rule_matches_the_real_guardduty_findings(
    real_envelopes: Callable[[str], list[tuple[str, Envelope]]], matches: Matches
) -> None:
    gd = [
        (name, env)
        for name, env in real_envelopes("findings")
        if env["detail-type"] == "GuardDuty Finding"
        and env["detail"].get("type") == "Stealth:IAMUser/CloudTrailLoggingDisabled"
    ]
    # the bare findings, API and event shape, wrapped: every one the manifest lists
    listed = [
        r
        for r in corpus.rows_in("findings", "guardduty-finding")
        if r["eventSource"] == "guardduty:Stealth:IAMUser/CloudTrailLoggingDisabled"
    ]
    assert gd and sorted(name for name, _ in gd) == corpus.names(listed)
    assert [name for name, env in gd if not matches("FindingRule", env)] == []


def test_finding_rule_matches_the_real_security_hub_import(
    real_envelopes: Callable[[str], list[tuple[str, Envelope]]], matches: Matches
) -> None:
    """moto's matcher cannot look inside ``detail.findings[]`` (an array of objects), so this case is
    judged by EventBridge's documented semantics only."""
    sh = [
        env
        for _, env in real_envelopes("findings")
        if env["detail-type"] == "Security Hub Findings - Imported"
    ]
    assert sh
    assert all(matches("FindingRule", env, moto_can_judge=False) for env in sh)


def test_finding_rule_ignores_unrelated_findings(
    real_envelopes: Callable[[str], list[tuple[str, Envelope]]], matches: Matches
) -> None:
    unrelated = [
        env
        for _, env in real_envelopes("findings")
        if env["detail-type"] == "Security Hub Findings - Custom Action"
        or (
            env["detail-type"] == "GuardDuty Finding"
            and env["detail"].get("type") != "Stealth:IAMUser/CloudTrailLoggingDisabled"
        )
    ]
    assert len(unrelated) >= 2
    assert not any(matches("FindingRule", env, moto_can_judge=False) for env in unrelated)


def test_finding_rule_needs_the_exact_type_and_origin(
    real_envelopes: Callable[[str], list[tuple[str, Envelope]]], matches: Matches
) -> None:
    (sh,) = [
        env
        for _, env in real_envelopes("findings")
        if env["detail-type"] == "Security Hub Findings - Imported"
    ]
    other_type = copy.deepcopy(sh)
    for finding in other_type["detail"]["findings"]:
        finding["Types"] = ["TTPs/Defense Evasion/Stealth:IAMUser-PasswordPolicyChange"]
    assert not matches("FindingRule", other_type, moto_can_judge=False)

    gd = next(
        env
        for _, env in real_envelopes("findings")
        if env["detail-type"] == "GuardDuty Finding"
        and env["detail"].get("type") == "Stealth:IAMUser/CloudTrailLoggingDisabled"
    )
    spoofed = {**gd, "source": "custom.app"}
    assert not matches("FindingRule", spoofed)
    # An API call envelope is not a finding, and a finding is not an API call.
    assert not matches("FindingRule", _call("cloudtrail.amazonaws.com", "StopLogging"))
    assert not matches("ApiCallRule", gd)


# ------------------------------------------------------------------------- the guard guards itself

GUARD_SOURCES = {
    "events.amazonaws.com",
    "lambda.amazonaws.com",
    "sns.amazonaws.com",
    "dynamodb.amazonaws.com",
    "sqs.amazonaws.com",
    "cloudformation.amazonaws.com",
    "iam.amazonaws.com",
}


def test_guard_calls_rule_delivers_every_guard_technique_call_successful_or_failed(matches: Matches) -> None:
    """Each call that could disable the API-call path reaches the finding function too."""
    guard = sorted((s, n) for s, n in _triggers() if s in GUARD_SOURCES)
    assert len(guard) >= 12
    missed = []
    for source, name in guard:
        variants = [name] + (
            [f"{name}20150331", f"{name}20150331v2", f"{name}20171031"]
            if source == "lambda.amazonaws.com"
            else []
        )
        for variant in variants:
            ok = _call(source, variant)
            failed = _call(source, variant, errorCode="AccessDenied", requestParameters=None)
            if not (matches("GuardCallsRule", ok) and matches("GuardCallsRule", failed)):
                missed.append((source, variant))
    assert missed == []


def test_guard_calls_rule_ignores_trail_calls_and_look_alikes(matches: Matches) -> None:
    for source, name in [
        ("cloudtrail.amazonaws.com", "StopLogging"),
        ("kms.amazonaws.com", "DisableKey"),
        ("s3.amazonaws.com", "PutBucketLifecycle"),
        ("events.amazonaws.com", "EnableRule"),
        ("lambda.amazonaws.com", "DeleteFunctionConcurrency20171031"),
        ("sns.amazonaws.com", "Publish"),
    ]:
        assert not matches("GuardCallsRule", _call(source, name)), name


def test_guard_calls_rule_branches_equal_the_api_call_rules(
    rule_pattern: Callable[[str], dict[str, Any]],
) -> None:
    """The same calls as the API-call rule's guard branches, so neither path is narrower."""
    api = [b for b in rule_pattern("ApiCallRule")["detail"]["$or"] if b["eventSource"][0] in GUARD_SOURCES]
    guard = rule_pattern("GuardCallsRule")["detail"]["$or"]
    assert guard == api


def test_both_rules_deliver_put_targets_on_a_rule_successful_or_failed(matches: Matches) -> None:
    """Retargeting the API-call rule reaches the api-call function (if it still can) and the finding
    function; PutEvents and PutPermission on the bus stay out."""
    params = {"rule": "tg-api-calls", "targets": [{"id": "api-call", "arn": "arn:aws:lambda:::x"}]}
    ok = _call("events.amazonaws.com", "PutTargets", requestParameters=params)
    failed = _call("events.amazonaws.com", "PutTargets", errorCode="AccessDenied", requestParameters=None)
    for rule in ("ApiCallRule", "GuardCallsRule"):
        assert matches(rule, ok) and matches(rule, failed), rule
        assert not matches(rule, _call("events.amazonaws.com", "PutEvents")), rule
        assert not matches(rule, _call("events.amazonaws.com", "PutPermission")), rule
        assert not matches(rule, _call("elasticloadbalancing.amazonaws.com", "PutTargets")), rule
    assert not matches("FindingRule", ok)


def test_backstop_rule_is_a_schedule_on_the_finding_function(template: dict[str, Any]) -> None:
    props = template["Resources"]["BackstopRule"]["Properties"]
    assert props["ScheduleExpression"] == {"Ref": "BackstopSchedule"}
    assert "EventPattern" not in props
    assert template["Parameters"]["BackstopSchedule"]["Default"] == "rate(5 minutes)"
    (target,) = props["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["FindingFunction", "Arn"]}
    assert "Input" not in target  # the function must see the Scheduled Event itself
