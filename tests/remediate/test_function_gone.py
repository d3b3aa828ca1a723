"""Issue 9 item 14: a deleted function that cannot be recreated (here: its baseline item was deleted
from the state table) is escalated, and the message must not claim what is false. The two functions
are not alike: with the api-call function gone, calls on the trails reach no function (only GuardDuty's
finding and the backstop sweep, both on the finding function, still catch a stopped trail); with the
finding function gone, the api-call function still repairs the calls it gets, but no finding and no
sweep is handled. Before, both said "the other trailguard function keeps detecting and alerting"."""

from __future__ import annotations

import pytest

from worlds import Deployed

from .guard_support import aws_region, call, incident_of

__all__ = ["aws_region"]  # the deployed stack's region, a fixture


@pytest.mark.parametrize(
    ("output", "says"),
    [
        ("ApiCallFunctionName", "calls on the protected trails reach no trailguard function"),
        ("FindingFunctionName", "no GuardDuty finding and no backstop sweep is handled"),
    ],
    ids=["api-call", "finding"],
)
def test_a_deleted_function_that_cannot_be_recreated_is_told_truthfully(
    deployed: Deployed, output: str, says: str
) -> None:
    name = deployed.outputs[output]
    ddb, key = deployed.client("dynamodb"), {"pk": {"S": "baseline#function"}, "sk": {"S": name}}
    table = deployed.env["TRAILGUARD_STATE_TABLE"]
    assert "Item" in ddb.get_item(TableName=table, Key=key)
    ddb.delete_item(TableName=table, Key=key)
    deployed.client("lambda").delete_function(FunctionName=name)

    incident = incident_of(deployed.call(call("lambda", "DeleteFunction20150331", {"functionName": name})))

    assert incident["status"] == "failed", incident["status"]
    (message,) = deployed.messages()
    text = message["text"]
    assert "keeps detecting and alerting" not in text, text
    assert says in text, text
    assert "backstop-missing" in text, text  # who alerts if both are gone
