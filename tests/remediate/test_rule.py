"""The guard's rule repair (``remediate/rule.py``) run by the finding function on the call the guard-calls
rule delivers, against the real stack on moto: restored from the baselines ``deploy`` recorded,
verified, and every call it makes one it declares (and the template grants)."""

from __future__ import annotations

import json

from worlds import ACCOUNT, REGION, Deployed

from .guard_support import aws_region, call, check_permissions, incident_of, outcome_of

__all__ = ["aws_region"]  # the deployed stack's region, a fixture


def test_deleted_rule_is_recreated_with_its_pattern_targets_retries_and_dlq(deployed: Deployed) -> None:
    events, name = deployed.client("events"), deployed.outputs["ApiCallRuleName"]
    before = events.describe_rule(Name=name)
    (target,) = events.list_targets_by_rule(Rule=name)["Targets"]
    events.remove_targets(Rule=name, Ids=[target["Id"]])
    events.delete_rule(Name=name)

    incident = incident_of(deployed.call(call("events", "DeleteRule", {"name": name})))
    assert incident["technique"] == "guard.rule" and incident["status"] == "remediated"
    after = events.describe_rule(Name=name)
    assert after["State"] == "ENABLED"
    assert json.loads(after["EventPattern"]) == json.loads(before["EventPattern"])
    assert events.list_targets_by_rule(Rule=name)["Targets"] == [target]
    outcome = outcome_of(deployed)
    assert [
        c["operation"] for c in outcome["calls"] if not c["operation"].startswith(("Describe", "List"))
    ] == [
        "PutRule",
        "PutTargets",
    ]
    check_permissions(outcome)


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

    incident = incident_of(deployed.call(call("events", "PutTargets", params)))
    assert incident["technique"] == "guard.rule" and incident["status"] == "remediated"
    assert incident["resource"] == name
    assert events.list_targets_by_rule(Rule=name)["Targets"] == [target]
    assert events.describe_rule(Name=name)["State"] == "ENABLED"
    outcome = outcome_of(deployed)
    changes = [c for c in outcome["calls"] if not c["operation"].startswith(("Describe", "List"))]
    assert [c["operation"] for c in changes] == ["PutTargets", "RemoveTargets"]
    assert "removed target(s) exfil" in outcome["summary"]
    check_permissions(outcome)


def test_disabled_rule_is_enabled_and_a_second_delivery_changes_nothing(deployed: Deployed) -> None:
    events, name = deployed.client("events"), deployed.outputs["ApiCallRuleName"]
    events.disable_rule(Name=name)
    envelope = call("events", "DisableRule", {"name": name})
    assert incident_of(deployed.call(envelope))["status"] == "remediated"
    assert events.describe_rule(Name=name)["State"] == "ENABLED"
    second = deployed.call({**envelope, "id": "c0ffee00-0000-4000-8000-000000000002"})
    assert second["incidents"][0]["status"] == "already-restored"
