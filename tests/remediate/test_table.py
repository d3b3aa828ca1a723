"""The state table repair (``remediate/table.py``) on the real stack on moto: deletion protection turned off
is turned on again and read back; a deleted table is escalated (issue 9, item 9)."""

from __future__ import annotations

from worlds import Deployed

from .guard_support import aws_region, call, check_permissions, incident_of, outcome_of

__all__ = ["aws_region"]


def test_deletion_protection_switched_off_is_switched_on_again(deployed: Deployed) -> None:
    ddb, table = deployed.client("dynamodb"), deployed.outputs["StateTableName"]
    assert ddb.describe_table(TableName=table)["Table"]["DeletionProtectionEnabled"] is True  # the template
    ddb.update_table(TableName=table, DeletionProtectionEnabled=False)
    params = {"tableName": table, "deletionProtectionEnabled": False}
    incident = incident_of(deployed.call(call("dynamodb", "UpdateTable", params)))
    assert incident["technique"] == "guard.table" and incident["status"] == "remediated"
    assert ddb.describe_table(TableName=table)["Table"]["DeletionProtectionEnabled"] is True
    check_permissions(outcome_of(deployed))


def test_a_deleted_state_table_is_escalated(deployed: Deployed) -> None:
    ddb, table = deployed.client("dynamodb"), deployed.outputs["StateTableName"]
    ddb.update_table(TableName=table, DeletionProtectionEnabled=False)
    ddb.delete_table(TableName=table)
    incident = incident_of(deployed.call(call("dynamodb", "DeleteTable", {"tableName": table})))
    assert incident["technique"] == "guard.table"
    assert incident["status"] == "failed" and incident["action_required"]
    (message,) = deployed.messages()
    assert "was deleted" in message["text"] and "point-in-time" in message["text"]
    assert table not in ddb.list_tables()["TableNames"]
