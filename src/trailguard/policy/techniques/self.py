"""The rest of trailguard itself: its state table, its queues, its stack, and its role lent to a new
function. Each blinds or silences trailguard without touching a trail."""

from __future__ import annotations

from trailguard.events import Record
from trailguard.policy.inventory import Inventory, principal_matches
from trailguard.policy.technique import Match, Technique, base_event_name, param, unnamed
from trailguard.policy.techniques._common import NOTIFIED, TOOLS_MITRE
from trailguard.remediate import NOTIFY_ONLY
from trailguard.remediate.table import restore_table
from trailguard.resources import function as function_kind
from trailguard.resources import queue as queue_kind
from trailguard.resources import stack as stack_kind
from trailguard.resources import table as table_kind
from trailguard.resources.base import as_bool


def _table(record: Record, inventory: Inventory) -> Match:
    ref = param(record, "tableName", "TableName")
    if ref is None:
        return unnamed("DynamoDB table")
    name = table_kind.name_of(ref)
    if name not in {table_kind.name_of(t) for t in inventory.guard.table_names}:
        return Match.harmless(ref, f"table {ref} is not trailguard's state table")
    if base_event_name(record.event_name or "") == "DeleteTable":
        return Match.tamper(name, f"deletes trailguard's state table {name} (its baselines and incidents)")
    params = record.request_parameters
    protection = as_bool(params.get("deletionProtectionEnabled", params.get("DeletionProtectionEnabled")))
    if protection is False:
        return Match.tamper(name, f"switches deletion protection of trailguard's state table {name} off")
    if params.get("sSESpecification") or params.get("SSESpecification"):
        return Match.tamper(name, f"changes the encryption of trailguard's state table {name}")
    if record.failed and not params:
        return Match.unknown(
            name, f"changes trailguard's state table {name} in a way the record does not show"
        )
    return Match.harmless(name, f"the change keeps trailguard's state table {name} protected")


def _queue(record: Record, inventory: Inventory) -> Match:
    ref = param(record, "queueUrl", "QueueUrl")
    if ref is None:
        return unnamed("SQS queue")
    name = queue_kind.name_of(ref)
    for url in inventory.guard.queue_urls:
        if queue_kind.name_of(url) == name:
            verb = {"DeleteQueue": "deletes", "PurgeQueue": "empties"}.get(
                base_event_name(record.event_name or ""), "changes the attributes of"
            )
            return Match.tamper(url, f"{verb} trailguard's queue {name} (undelivered events and failures)")
    return Match.harmless(ref, f"queue {ref} is not one of trailguard's queues")


def _stack(record: Record, inventory: Inventory) -> Match:
    ref = param(record, "stackName", "StackName")
    if ref is None:
        return Match.harmless(None, "the call does not name a stack, so it is not known to be trailguard's")
    name = stack_kind.name_of(ref)
    if name not in inventory.guard.stack_names:
        return Match.harmless(ref, f"stack {ref} is not trailguard's stack")
    verb = {"DeleteStack": "deletes", "UpdateStack": "updates", "ExecuteChangeSet": "changes"}.get(
        base_event_name(record.event_name or ""), "changes"
    )
    return Match.tamper(name, f"{verb} trailguard's own stack {name}")


def _create_function(record: Record, inventory: Inventory) -> Match:
    role = param(record, "role", "Role")
    name = param(record, "functionName", "FunctionName")
    if role is None:
        return unnamed("role")
    if not principal_matches([role], inventory.guard.role_arns):
        return Match.harmless(name, f"function {name or '(unnamed)'} does not run with trailguard's role")
    if name and inventory.guard_function(name):
        return Match.harmless(name, f"{name} is one of trailguard's own functions")
    shown = function_kind.name_of(name) if name else "(unnamed)"
    return Match.tamper(
        name,
        f"creates function {shown} that runs with trailguard's role (its calls could pass as trailguard's)",
    )


TABLE = Technique(
    id="guard.table",
    tamper_when=(
        "trailguard's state table: `DeleteTable`; `UpdateTable` that turns deletion protection off or "
        "changes its encryption"
    ),
    repair_summary="deletion protection on again; a deleted table is escalated (restore from backups)",
    title="trailguard state table deleted or unprotected",
    mitre=TOOLS_MITRE,
    kind=table_kind.KIND,
    guard=True,
    event_source="dynamodb.amazonaws.com",
    event_names=frozenset({"DeleteTable", "UpdateTable"}),
    condition=_table,
    action=restore_table,
    verification="DescribeTable shows DeletionProtectionEnabled true.",
)

QUEUE = Technique(
    id="guard.queue",
    tamper_when="trailguard's dead-letter or on-failure queue",
    repair_summary="notify only: redeploy restores the queue",
    title="trailguard queue deleted, emptied or changed",
    mitre=TOOLS_MITRE,
    kind=queue_kind.KIND,
    guard=True,
    event_source="sqs.amazonaws.com",
    event_names=frozenset({"DeleteQueue", "PurgeQueue", "SetQueueAttributes"}),
    condition=_queue,
    action=NOTIFY_ONLY,
    verification=NOTIFIED,
)

STACK = Technique(
    id="guard.stack",
    tamper_when="trailguard's own stack, by a principal that is not allow-listed",
    repair_summary="notify only: [ACTION REQUIRED] before the stack's functions are gone",
    title="trailguard stack deleted or updated",
    mitre=TOOLS_MITRE,
    kind=stack_kind.KIND,
    guard=True,
    event_source="cloudformation.amazonaws.com",
    event_names=frozenset({"DeleteStack", "UpdateStack", "ExecuteChangeSet"}),
    condition=_stack,
    action=NOTIFY_ONLY,
    verification=NOTIFIED,
)

ROLE_USE = Technique(
    id="guard.role-use",
    tamper_when="a function other than trailguard's is created with trailguard's role",
    repair_summary="notify only (the role denies every call not made by trailguard's own functions)",
    title="trailguard's role given to another function",
    mitre=TOOLS_MITRE,
    kind=function_kind.KIND,
    guard=True,
    event_source="lambda.amazonaws.com",
    event_names=frozenset({"CreateFunction"}),
    condition=_create_function,
    action=NOTIFY_ONLY,
    verification=NOTIFIED,
)

TECHNIQUES = (TABLE, QUEUE, STACK, ROLE_USE)
