"""The guard's rule repair (``remediate/rule.py``) run by the finding function on the call the guard-calls
rule delivers, against the real stack on moto: restored from the baselines ``deploy`` recorded,
verified, and every call it makes one it declares (and the template grants)."""

from __future__ import annotations

import json
import threading
from typing import Any

from trailguard import aws
from worlds import ACCOUNT, REGION, Deployed

from .guard_support import ATTACKER, aws_region, call, check_permissions, incident_of, outcome_of

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
        c["operation"] for c in outcome["calls"] if not c["operation"].startswith(("Describe", "List", "Get"))
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
    changes = [c for c in outcome["calls"] if not c["operation"].startswith(("Describe", "List", "Get"))]
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


# -- item 16: both API-call rules disabled in parallel ------------------------------------------------


SECOND_ID = "c0ffee00-0000-4000-8000-0000000000b2"


def _api_call(deployed: Deployed, event: dict[str, Any]) -> dict[str, Any]:
    """An envelope delivered to the api-call function (the API-call rule's target), with its own
    environment."""
    from trailguard import handlers

    function = deployed.client("lambda").get_function_configuration(
        FunctionName=deployed.outputs["ApiCallFunctionName"]
    )
    env = {**deployed.env, **function["Environment"]["Variables"]}
    with aws.using_environ(env):
        result: dict[str, Any] = handlers.api_call(event, None)
    return result


def _disable_both_then_stop_logging(deployed: Deployed) -> tuple[str, str]:
    """The attacker's parallel DisableRule on both API-call rules, then StopLogging while both are off
    (matched by no enabled rule, so never delivered)."""
    events = deployed.client("events")
    api, guard = deployed.outputs["ApiCallRuleName"], deployed.outputs["GuardRuleName"]
    events.disable_rule(Name=api)
    events.disable_rule(Name=guard)
    deployed.client("cloudtrail").stop_logging(Name=deployed.trail_arn)
    return api, guard


def _states(deployed: Deployed) -> dict[str, str]:
    events = deployed.client("events")
    names = [deployed.outputs[k] for k in ("ApiCallRuleName", "GuardRuleName", "FindingRuleName")]
    return {name: str(events.describe_rule(Name=name)["State"]) for name in names}


def test_one_delivered_disable_puts_both_rules_back_and_repairs_the_stop_logging_it_missed(
    deployed: Deployed,
) -> None:
    """The DisableRule of the guard-calls rule got through (the API-call rule was still on when it was
    matched); the one of the API-call rule did not (the guard-calls rule was already off). Without the
    fix the API-call rule stays off until the sweep and the StopLogging is neither repaired nor told."""
    api, guard = _disable_both_then_stop_logging(deployed)

    incident = incident_of(_api_call(deployed, call("events", "DisableRule", {"name": guard})))

    assert incident["status"] == "remediated"
    assert set(_states(deployed).values()) == {"ENABLED"}
    assert deployed.client("cloudtrail").get_trail_status(Name=deployed.trail_arn)["IsLogging"] is True
    (message,) = deployed.messages()
    summary = message["doc"]["incident"]["remediation"]["summary"]
    assert f"rule {guard} was off from 2024-01-01T00:00:00Z (DisableRule by {ATTACKER})" in summary
    assert f"rule {api} was off from " in summary
    assert "checked the live state of every protected trail" in summary
    assert "StartLogging" in [c["operation"] for c in message["doc"]["incident"]["remediation"]["calls"]]
    check_permissions(message["doc"]["incident"]["remediation"])


def test_both_disables_delivered_at_once_to_both_functions_restart_the_trail_before_any_sweep(
    deployed: Deployed,
) -> None:
    """Both events delivered, each to the other rule's function, on two real threads at the same time:
    both rules come back, and the StopLogging made while they were off is repaired and told."""
    api, guard = _disable_both_then_stop_logging(deployed)
    start = threading.Barrier(2)
    results: dict[str, dict[str, Any]] = {}

    def deliver(which: str, run: Any, event: dict[str, Any]) -> None:
        start.wait()
        results[which] = run(event)

    threads = [
        threading.Thread(
            target=deliver,
            args=("finding", deployed.call, call("events", "DisableRule", {"name": api})),
        ),
        threading.Thread(
            target=deliver,
            args=(
                "api_call",
                lambda e: _api_call(deployed, e),
                {**call("events", "DisableRule", {"name": guard}), "id": SECOND_ID},
            ),
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert set(results) == {"finding", "api_call"}
    assert all(not r["skipped"] for r in results.values())
    assert set(_states(deployed).values()) == {"ENABLED"}
    assert deployed.client("cloudtrail").get_trail_status(Name=deployed.trail_arn)["IsLogging"] is True
    remediations = [m["doc"]["incident"]["remediation"] for m in deployed.messages()]
    told = [
        r
        for r in remediations
        if "checked the live state of every protected trail" in r["summary"]
        and "StartLogging" in [c["operation"] for c in r["calls"]]
    ]
    assert told, [r["summary"] for r in remediations]


def test_a_rule_found_off_by_the_sweep_says_since_when_and_the_same_sweep_restarts_the_trail(
    deployed: Deployed,
) -> None:
    api, _ = _disable_both_then_stop_logging(deployed)

    report = deployed.sweep()["sweep"]

    assert set(_states(deployed).values()) == {"ENABLED"}
    assert deployed.client("cloudtrail").get_trail_status(Name=deployed.trail_arn)["IsLogging"] is True
    rules = [d for d in report["drift"] if d["kind"] == "rule"]
    assert {d["id"] for d in rules} >= {api}
    summaries = " ".join(o["summary"] for d in rules for o in d["outcomes"])
    assert f"rule {api} was off from " in summaries and "this sweep checks the protected trails" in summaries
