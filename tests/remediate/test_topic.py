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
    # Item 17: the e-mail subscription made again stays pending on AWS until its owner confirms it, so
    # the repair is never "REPAIRED, verified" (before the fix it was).
    assert incident["technique"] == "guard.topic" and incident["status"] == "failed"
    assert incident["action_required"]
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
    assert incident["resource"] == arn and incident["status"] == "failed" and incident["action_required"]
    endpoints = [s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]]
    assert "security@example.com" in endpoints
    outcome = outcome_of(deployed)
    assert "subscribed security@example.com to topic" in outcome["summary"]
    assert "pending confirmation" in outcome["summary"] and not outcome["verified"]
    check_permissions(outcome)


def test_an_added_subscriber_is_unsubscribed(deployed: Deployed) -> None:
    """Item 13: an attacker who subscribes can read every alert; the subscription is removed."""
    sns, arn = deployed.client("sns"), deployed.outputs["TopicArn"]
    spy = "arn:aws:sqs:us-east-1:123456789012:spy"
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=spy)
    params = {"topicArn": arn, "protocol": "sqs", "endpoint": spy}
    incident = incident_of(deployed.call(call("sns", "Subscribe", params)))
    assert incident["technique"] == "guard.topic" and incident["status"] == "remediated", incident
    endpoints = [s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]]
    assert spy not in endpoints and "security@example.com" in endpoints
    check_permissions(outcome_of(deployed))


def test_an_added_subscriber_past_the_first_page_is_unsubscribed(deployed: Deployed) -> None:
    """ListSubscriptionsByTopic answers 100 a page: a spy hidden behind 100 decoys is still found."""
    sns, arn = deployed.client("sns"), deployed.outputs["TopicArn"]
    deployed_with = len(sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"])
    for n in range(100):
        sns.subscribe(TopicArn=arn, Protocol="sms", Endpoint=f"+1555555{n:04d}")
    spy = "arn:aws:sqs:us-east-1:123456789012:spy"
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=spy)
    first = sns.list_subscriptions_by_topic(TopicArn=arn)
    assert "NextToken" in first and spy not in [s["Endpoint"] for s in first["Subscriptions"]]
    params = {"topicArn": arn, "protocol": "sqs", "endpoint": spy}
    incident = incident_of(deployed.call(call("sns", "Subscribe", params)))
    assert incident["technique"] == "guard.topic" and incident["status"] == "remediated", incident
    assert f"unsubscribed {spy}" in outcome_of(deployed)["summary"]
    request: dict[str, str] = {"TopicArn": arn}
    endpoints: list[str] = []
    while True:
        page = sns.list_subscriptions_by_topic(**request)
        endpoints += [s["Endpoint"] for s in page["Subscriptions"]]
        if "NextToken" not in page:
            break
        request["NextToken"] = page["NextToken"]
    assert (
        spy not in endpoints and "security@example.com" in endpoints and len(endpoints) == deployed_with + 100
    )


def test_a_filter_policy_that_mutes_alerts_is_removed(deployed: Deployed) -> None:
    """Item 13: a FilterPolicy on the security subscription drops every alert on AWS."""
    sns, arn = deployed.client("sns"), deployed.outputs["TopicArn"]
    (email,) = [
        s for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] if s["Protocol"] == "email"
    ]
    mute = '{"nothing": ["ever"]}'
    sns.set_subscription_attributes(
        SubscriptionArn=email["SubscriptionArn"], AttributeName="FilterPolicy", AttributeValue=mute
    )
    params = {
        "subscriptionArn": email["SubscriptionArn"],
        "attributeName": "FilterPolicy",
        "attributeValue": mute,
    }
    incident = incident_of(deployed.call(call("sns", "SetSubscriptionAttributes", params)))
    assert incident["technique"] == "guard.topic" and incident["status"] == "remediated", incident
    attributes = sns.get_subscription_attributes(SubscriptionArn=email["SubscriptionArn"])["Attributes"]
    assert attributes.get("FilterPolicy") in (None, "", "{}")
    check_permissions(outcome_of(deployed))
