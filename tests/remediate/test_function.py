"""The guard's function repair (``remediate/function.py``) on the real stack on moto: lifted concurrency and
re-added permissions verified, new code escalated (it cannot be restored in place)."""

from __future__ import annotations

import json

from worlds import Deployed

from .guard_support import aws_region, call, check_permissions, incident_of, outcome_of
from .test_floors import forge

__all__ = ["aws_region"]  # the deployed stack's region, a fixture


def test_zero_concurrency_is_lifted_and_a_removed_permission_added_back(deployed: Deployed) -> None:
    lam, name = deployed.client("lambda"), deployed.outputs["ApiCallFunctionName"]
    (statement,) = json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    lam.remove_permission(FunctionName=name, StatementId=statement["Sid"])

    params = {"functionName": name, "reservedConcurrentExecutions": 0}
    incident = incident_of(deployed.call(call("lambda", "PutFunctionConcurrency20171031", params)))
    assert incident["technique"] == "guard.function" and incident["status"] == "remediated"
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    (restored,) = json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]
    assert restored["Sid"] == statement["Sid"]
    assert restored["Condition"] == statement["Condition"]  # SourceArn: only the API-call rule may invoke
    check_permissions(outcome_of(deployed))


def test_changed_handler_is_restored_and_read_back(deployed: Deployed) -> None:
    lam, name = deployed.client("lambda"), deployed.outputs["ApiCallFunctionName"]
    handler = lam.get_function_configuration(FunctionName=name)["Handler"]
    lam.update_function_configuration(FunctionName=name, Handler="evil.handler")
    params = {"functionName": name, "handler": "evil.handler"}
    incident = incident_of(deployed.call(call("lambda", "UpdateFunctionConfiguration20150331v2", params)))
    assert incident["status"] == "remediated", incident
    assert lam.get_function_configuration(FunctionName=name)["Handler"] == handler
    (message,) = deployed.messages()
    assert f"Handler evil.handler -> {handler}" in message["text"]
    check_permissions(message["doc"]["incident"]["remediation"])


def test_self_allow_listing_in_the_environment_is_undone_and_says_what_changed(deployed: Deployed) -> None:
    """Issue 9 item 15 / issue 10: the attacker puts themselves in the function's allow-list variable
    and a decoy protected-trail list; the environment is put back from the baseline, and the message
    names each variable before -> after."""
    lam, name = deployed.client("lambda"), deployed.outputs["ApiCallFunctionName"]
    variables = dict(lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"])
    attacker = "arn:aws:iam::123456789012:user/attacker"
    edited = {
        **variables,
        "TRAILGUARD_ALLOWED_PRINCIPAL_ARNS": attacker,
        "TRAILGUARD_PROTECTED_TRAILS": "decoy",
    }
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": edited})
    params = {"functionName": name, "environment": {"variables": {"TRAILGUARD_PROTECTED_TRAILS": "decoy"}}}

    incident = incident_of(deployed.call(call("lambda", "UpdateFunctionConfiguration20150331v2", params)))

    assert incident["status"] == "remediated", incident
    assert lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"] == variables
    (message,) = deployed.messages()
    assert f"TRAILGUARD_ALLOWED_PRINCIPAL_ARNS '{attacker}' -> ''" in message["text"], message["text"]
    assert "TRAILGUARD_PROTECTED_TRAILS 'decoy' -> ''" in message["text"]


def test_forged_environment_baseline_cannot_allow_list_the_attacker(deployed: Deployed) -> None:
    """The floor before UpdateFunctionConfiguration: a baseline item rewritten to allow-list the attacker
    (one PutItem) is never applied by the sweep; the refusal is escalated."""
    name = deployed.outputs["ApiCallFunctionName"]
    attacker = "arn:aws:iam::123456789012:user/attacker"

    def change(doc: dict[str, object]) -> None:
        env = doc["Environment"]
        assert isinstance(env, dict)
        env["Variables"]["TRAILGUARD_ALLOWED_PRINCIPAL_ARNS"] = attacker

    forge(deployed, "function", name, change)

    deployed.sweep()

    variables = deployed.client("lambda").get_function_configuration(FunctionName=name)["Environment"][
        "Variables"
    ]
    assert attacker not in variables.get("TRAILGUARD_ALLOWED_PRINCIPAL_ARNS", "")
    (message,) = deployed.messages()
    assert message["subject"].startswith("[ACTION REQUIRED]")
    assert "refused UpdateFunctionConfiguration" in message["text"] and "allow-list" in message["text"]


def test_new_code_cannot_be_restored_in_place_and_says_redeploy(deployed: Deployed) -> None:
    name = deployed.outputs["ApiCallFunctionName"]
    forge(deployed, "function", name, lambda doc: doc.update({"CodeSha256": "not-the-deployed-code"}))

    deployed.sweep()

    (message,) = deployed.messages()
    assert "ACTION REQUIRED: redeploy the stack with trailguard deploy" in message["text"]
    assert "CodeSha256" in message["text"]
