"""The guard's topic repair (``remediate/topic.py``) on the real stack on moto: the topic re-created with the
same ARN and its subscriber, an unsubscribed contact subscribed again."""

from __future__ import annotations

from worlds import Deployed

from .guard_support import aws_region, call, check_permissions, incident_of, outcome_of

__all__ = ["aws_region"]  # the deployed stack's region, a fixture


def test_deleted_topic_is_recreated_with_the_same_arn_and_its_subscriber(deployed: Deployed) -> None:
    sns, arn = deployed.client("sns"), deployed.outputs["TopicArn"]
    sns.delete_topic(TopicArn=arn)
    result = deployed.call(call("sns", "DeleteTopic", {"topicArn": arn}))
    incident = incident_of(result)
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
    incident = incident_of(
        deployed.call(call("sns", "Unsubscribe", {"subscriptionArn": email["SubscriptionArn"]}))
    )
    assert incident["resource"] == arn and incident["status"] == "remediated"
    endpoints = [s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]]
    assert "security@example.com" in endpoints
    outcome = outcome_of(deployed)
    assert "must be confirmed again" in outcome["summary"]
    check_permissions(outcome)
