"""The guard's own repairs (``guard.restore_rule``, ``guard.restore_function``, ``guard.restore_topic``)
run by the finding function on the CloudTrail call the guard-calls rule delivers, against the real
stack on moto: restored from the baselines ``deploy`` recorded, verified, and escalated when they
cannot be restored in place. Every call they make is one they declare (and the template grants)."""

from __future__ import annotations

import json
from typing import Any

from permissions_support import assert_declared

from .conftest import ACCOUNT, REGION, Deployed

ATTACKER = f"arn:aws:iam::{ACCOUNT}:user/attacker"


def call(source: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """An ``AWS API Call via CloudTrail`` envelope of the attacker's call, as EventBridge delivers it."""
    return {
        "version": "0",
        "id": "c0ffee00-0000-4000-8000-000000000001",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws." + source,
        "account": ACCOUNT,
        "time": "2024-01-01T00:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "IAMUser",
                "arn": ATTACKER,
                "accountId": ACCOUNT,
                "accessKeyId": "AKIAATTACKER00000001",
                "userName": "attacker",
            },
            "eventTime": "2024-01-01T00:00:00Z",
            "eventSource": f"{source}.amazonaws.com",
            "eventName": name,
            "awsRegion": REGION,
            "sourceIPAddress": "203.0.113.9",
            "userAgent": "aws-cli/2.15.0",
            "requestParameters": params,
            "eventID": f"{name}-0001",
            "readOnly": False,
            "eventType": "AwsApiCall",
            "recipientAccountId": ACCOUNT,
        },
    }


def _incident(result: dict[str, Any]) -> dict[str, Any]:
    (incident,) = result["incidents"]
    assert incident["verdict"] == "tamper"
    return incident


def _outcome(deployed: Deployed) -> dict[str, Any]:
    (message,) = deployed.messages()
    remediation: dict[str, Any] = message["doc"]["incident"]["remediation"]
    return remediation


def _check_permissions(outcome: dict[str, Any]) -> None:
    assert_declared(outcome["action"], outcome["calls"])


def test_deleted_rule_is_recreated_with_its_pattern_targets_retries_and_dlq(deployed: Deployed) -> None:
    events, name = deployed.client("events"), deployed.outputs["ApiCallRuleName"]
    before = events.describe_rule(Name=name)
    (target,) = events.list_targets_by_rule(Rule=name)["Targets"]
    events.remove_targets(Rule=name, Ids=[target["Id"]])
    events.delete_rule(Name=name)

    incident = _incident(deployed.call(call("events", "DeleteRule", {"name": name})))
    assert incident["technique"] == "guard.rule" and incident["status"] == "remediated"
    after = events.describe_rule(Name=name)
    assert after["State"] == "ENABLED"
    assert json.loads(after["EventPattern"]) == json.loads(before["EventPattern"])
    assert events.list_targets_by_rule(Rule=name)["Targets"] == [target]
    outcome = _outcome(deployed)
    assert [
        c["operation"] for c in outcome["calls"] if not c["operation"].startswith(("Describe", "List"))
    ] == [
        "PutRule",
        "PutTargets",
    ]
    _check_permissions(outcome)


def test_retargeted_rule_gets_its_baseline_targets_back_and_loses_the_attackers(deployed: Deployed) -> None:
    events, name = deployed.client("events"), deployed.outputs["ApiCallRuleName"]
    (target,) = events.list_targets_by_rule(Rule=name)["Targets"]
    assert target["Id"] == "api-call" and "RetryPolicy" in target and "DeadLetterConfig" in target
    loot = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:loot"
    events.put_targets(
        Rule=name,
        Targets=[{"Id": "api-call", "Arn": loot}, {"Id": "exfil", "Arn": f"{loot}-copy"}],
    )
    params = {
        "rule": name,
        "targets": [{"id": "api-call", "arn": loot}, {"id": "exfil", "arn": f"{loot}-copy"}],
    }

    incident = _incident(deployed.call(call("events", "PutTargets", params)))
    assert incident["technique"] == "guard.rule" and incident["status"] == "remediated"
    assert incident["resource"] == name
    assert events.list_targets_by_rule(Rule=name)["Targets"] == [target]
    assert events.describe_rule(Name=name)["State"] == "ENABLED"
    outcome = _outcome(deployed)
    changes = [c for c in outcome["calls"] if not c["operation"].startswith(("Describe", "List"))]
    assert [c["operation"] for c in changes] == ["PutTargets", "RemoveTargets"]
    assert "removed target(s) exfil" in outcome["summary"]
    _check_permissions(outcome)


def test_disabled_rule_is_enabled_and_a_second_delivery_changes_nothing(deployed: Deployed) -> None:
    events, name = deployed.client("events"), deployed.outputs["ApiCallRuleName"]
    events.disable_rule(Name=name)
    envelope = call("events", "DisableRule", {"name": name})
    assert _incident(deployed.call(envelope))["status"] == "remediated"
    assert events.describe_rule(Name=name)["State"] == "ENABLED"
    second = deployed.call({**envelope, "id": "c0ffee00-0000-4000-8000-000000000002"})
    assert second["incidents"][0]["status"] == "already-restored"


def test_zero_concurrency_is_lifted_and_a_removed_permission_added_back(deployed: Deployed) -> None:
    lam, name = deployed.client("lambda"), deployed.outputs["ApiCallFunctionName"]
    (statement,) = json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    lam.remove_permission(FunctionName=name, StatementId=statement["Sid"])

    params = {"functionName": name, "reservedConcurrentExecutions": 0}
    incident = _incident(deployed.call(call("lambda", "PutFunctionConcurrency20171031", params)))
    assert incident["technique"] == "guard.function" and incident["status"] == "remediated"
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    (restored,) = json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]
    assert restored["Sid"] == statement["Sid"]
    assert restored["Condition"] == statement["Condition"]  # SourceArn: only the API-call rule may invoke
    _check_permissions(_outcome(deployed))


def test_new_code_cannot_be_restored_in_place_and_says_redeploy(deployed: Deployed) -> None:
    lam, name = deployed.client("lambda"), deployed.outputs["ApiCallFunctionName"]
    lam.update_function_configuration(FunctionName=name, Handler="evil.handler")
    params = {"functionName": name, "handler": "evil.handler"}
    incident = _incident(deployed.call(call("lambda", "UpdateFunctionConfiguration20150331v2", params)))
    assert incident["status"] == "failed" and incident["action_required"]
    (message,) = deployed.messages()
    assert "ACTION REQUIRED: redeploy the stack with trailguard deploy" in message["text"]
    assert "Handler" in message["text"]


def test_deleted_topic_is_recreated_with_the_same_arn_and_its_subscriber(deployed: Deployed) -> None:
    sns, arn = deployed.client("sns"), deployed.outputs["TopicArn"]
    sns.delete_topic(TopicArn=arn)
    result = deployed.call(call("sns", "DeleteTopic", {"topicArn": arn}))
    incident = _incident(result)
    assert incident["technique"] == "guard.topic" and incident["status"] == "remediated"
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "trailguard"
    subs = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [("email", "security@example.com")]
    # The alert went to the re-created topic: its only subscriber is the e-mail address (not our queue).
    assert deployed.messages() == []


def test_unsubscribed_contact_is_subscribed_again_and_told_to_confirm(deployed: Deployed) -> None:
    sns, arn = deployed.client("sns"), deployed.outputs["TopicArn"]
    (email,) = [
        s for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] if s["Protocol"] == "email"
    ]
    sns.unsubscribe(SubscriptionArn=email["SubscriptionArn"])
    incident = _incident(
        deployed.call(call("sns", "Unsubscribe", {"subscriptionArn": email["SubscriptionArn"]}))
    )
    assert incident["resource"] == arn and incident["status"] == "remediated"
    endpoints = [s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]]
    assert "security@example.com" in endpoints
    outcome = _outcome(deployed)
    assert "must be confirmed again" in outcome["summary"]
    _check_permissions(outcome)
