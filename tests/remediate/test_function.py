"""The guard's function repair (``remediate/function.py``) on the real stack on moto: lifted concurrency and
re-added permissions verified, new code escalated (it cannot be restored in place)."""

from __future__ import annotations

import json

from worlds import Deployed

from .guard_support import aws_region, call, check_permissions, incident_of, outcome_of

__all__ = ["aws_region"]  # the deployed stack's region, a fixture


def test_zero_concurrency_is_lifted_and_a_removed_permission_added_back(deployed: Deployed) -> None:
    lam, name = deployed.client("lambda"), deployed.outputs["ApiCallFunctionName"]
    (statement,) = json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    lam.remove_permission(FunctionName=name, StatementId=statement["Sid"])

    params = {"functionName": name, "reservedConcurrentExecutions": 0}
    incident = incident_of(deployed.call(call("lambda", "PutFunctionConcurrency20171031", params)))
    assert incident["technique"] == "guard.function" and incident["status"] == "remediated"
    # the template's ReservedConcurrency default, recorded in the baseline at deploy
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 5
    (restored,) = json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]
    assert restored["Sid"] == statement["Sid"]
    assert restored["Condition"] == statement["Condition"]  # SourceArn: only the API-call rule may invoke
    check_permissions(outcome_of(deployed))


def test_new_code_cannot_be_restored_in_place_and_says_redeploy(deployed: Deployed) -> None:
    lam, name = deployed.client("lambda"), deployed.outputs["ApiCallFunctionName"]
    lam.update_function_configuration(FunctionName=name, Handler="evil.handler")
    params = {"functionName": name, "handler": "evil.handler"}
    incident = incident_of(deployed.call(call("lambda", "UpdateFunctionConfiguration20150331v2", params)))
    assert incident["status"] == "failed" and incident["action_required"]
    (message,) = deployed.messages()
    assert "ACTION REQUIRED: redeploy the stack with trailguard deploy" in message["text"]
    assert "Handler" in message["text"]
