"""Issue 9 items 9 and 17, the backstop's side: the state table is deleted (or the stack has none), so
no baseline can be read. The sweep used to give up on the spot: a trail stopped meanwhile stayed
stopped (nothing baseline-free was checked), and each sweep mailed "[ACTION REQUIRED] ... drift on 0
resource(s)" with "Checked: nothing", naming no table. What needs no baseline must still be done: every
protected trail is logging again after the sweep, the deleted table is named and escalated, and the
message counts what it is about."""

from __future__ import annotations

import time

import pytest

from worlds import Deployed

from .guard_support import aws_region

__all__ = ["aws_region"]  # the deployed stack's region, a fixture


def _delete_table(deployed: Deployed) -> str:
    ddb, table = deployed.client("dynamodb"), deployed.outputs["StateTableName"]
    ddb.update_table(TableName=table, DeletionProtectionEnabled=False)
    ddb.delete_table(TableName=table)
    return table


def test_a_sweep_after_the_state_table_is_deleted_restarts_the_trail_and_names_the_table(
    deployed: Deployed,
) -> None:
    table = _delete_table(deployed)
    cloudtrail = deployed.client("cloudtrail")
    cloudtrail.stop_logging(Name=deployed.trail_arn)

    report = deployed.sweep()["sweep"]

    assert cloudtrail.get_trail_status(Name=deployed.trail_arn)["IsLogging"] is True, report
    (message,) = deployed.messages()
    assert message["subject"].startswith("[ACTION REQUIRED]"), message["subject"]
    assert "drift on 0 resource" not in message["subject"], message["subject"]
    assert f"the state table {table} was deleted" in message["text"], message["text"]
    assert "StartLogging" in message["text"] or "started" in message["text"].lower(), message["text"]


def test_a_sweep_without_a_state_table_still_restarts_a_stopped_trail(deployed: Deployed) -> None:
    deployed.env["TRAILGUARD_STATE_TABLE"] = ""
    cloudtrail = deployed.client("cloudtrail")
    cloudtrail.stop_logging(Name=deployed.trail_arn)

    report = deployed.sweep()["sweep"]

    assert cloudtrail.get_trail_status(Name=deployed.trail_arn)["IsLogging"] is True, report
    (message,) = deployed.messages()
    assert "no state table is configured" in message["text"], message["text"]


def test_with_the_table_gone_the_same_sweep_message_is_not_mailed_again_within_the_window(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ledger can be kept without the table: before, every sweep (every 5 minutes) mailed the same
    message. The process remembers its last one: repeats are quiet for the ledger's window, then the
    message goes out again as a reminder."""
    from trailguard import sweep

    _delete_table(deployed)
    assert len(deployed.messages()) == 0
    deployed.sweep()
    assert len(deployed.messages()) == 1
    report = deployed.sweep()["sweep"]
    assert deployed.messages() == [] and report["notification"]["action"] == "suppress", report
    later = time.time() + sweep.SWEEP_WINDOW_SECONDS + 1
    monkeypatch.setattr(sweep.time, "time", lambda: later)
    deployed.sweep()
    assert len(deployed.messages()) == 1
