"""trailguard's state table: deletion protection put back; a deleted table is escalated (its point-in-time
backups outlive it, but a restore makes a new table the stack must be pointed at)."""

from __future__ import annotations

from trailguard.remediate.base import (
    REDEPLOY,
    Context,
    Gone,
    Outcome,
    RepairRequest,
    action,
    target,
    verify_until,
)
from trailguard.resources.table import KIND, name_of


@action(
    "guard.restore_table",
    permissions=("dynamodb:DescribeTable", "dynamodb:UpdateTable"),
    restores=KIND,
    manual_steps=(
        "Restore the state table {resource} from its point-in-time backups "
        "(aws dynamodb restore-table-to-point-in-time) or redeploy trailguard, then record the baselines "
        "again (trailguard baseline record)."
    ),
)
def restore_table(ctx: Context, request: RepairRequest) -> Outcome:
    """``guard.table``: deletion protection switched off is switched on again and read back; a deleted
    table cannot be restored in place, so it is escalated (trailguard keeps repairing from what it can
    still read; its baselines and incidents are gone with the table)."""
    ref = target(request, "tableName", "TableName")
    outcome = Outcome("guard.restore_table", ref)
    if not ref:
        return outcome.fail("could not tell which DynamoDB table was changed, so nothing was restored")
    name = name_of(ref)
    outcome.resource = name
    region = ctx.region
    done: list[str] = []
    off: list[str] = []

    def protected() -> bool | None:
        try:
            table = outcome.call("dynamodb", region, "DescribeTable", gone=KIND, TableName=name)["Table"]
        except Gone:
            outcome.calls[-1].error, outcome.calls[-1].result = None, "table does not exist"
            return None
        value = bool(table.get("DeletionProtectionEnabled"))
        outcome.calls[-1].result = f"DeletionProtectionEnabled {str(value).lower()}"
        return value

    try:
        state = protected()
        if state is None:
            off.append(
                f"the state table {name} was deleted: its baselines and incidents are gone; {REDEPLOY} "
                "(or restore it from its point-in-time backups), then record the baselines again"
            )
        elif not state:
            outcome.call("dynamodb", region, "UpdateTable", TableName=name, DeletionProtectionEnabled=True)
            done.append(f"switched deletion protection of the state table {name} on again")
            if not verify_until(ctx, lambda: protected() is True):
                off.append(f"DescribeTable on {name} does not show deletion protection on")
    except Exception as exc:
        error = outcome.last_error(exc)
        outcome.errors.append(error)
        off.append(f"a call on the state table {name} failed: {error}")
    return outcome.finish(f"state table {name}", done, off, "DescribeTable shows deletion protection on")
