"""The safety floors, each shown refusing the call it guards when the baseline is one an attacker wrote.

The attacker here does what issue 9 describes: one ``PutItem`` on the state table (no rule sees DynamoDB
data-plane writes) rewrites a baseline item, and then the backstop sweep runs under trailguard's role.
Every test forges the item with a raw DynamoDB client, exactly as the attacker would, sweeps the real
stack (deployed on in-process moto), and checks that the live resource is as strong as before, that the
guarded call was never made, and that the sweep's message escalates the refusal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from aws_support import ACCOUNT, REGION, Account
from trailguard.integrity import MAC_ATTRIBUTE, Mac
from trailguard.remediate import floors
from trailguard.remediate.floors import FloorRefused, Scope
from worlds import Deployed

pytestmark = pytest.mark.integration

OTHER_ACCOUNT = "999988887777"


@pytest.fixture
def aws_region() -> str:
    """The deployed stack lives in us-east-1 (tests/remediate's own stack in us-west-2)."""
    return REGION


def forge(deployed: Deployed, kind: str, ident: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Rewrite one baseline item in place with a raw PutItem AND re-sign it with the stack's state key.

    That is the attacker the MAC does not stop (one allowed ``kms:GenerateMac``, docs/threat-model.md):
    the floors are the line behind the MAC, so these tests give the forged record a valid MAC to reach
    them. An unsigned forgery never gets this far (tests/baseline, tests/e2e/test_e2e_state_tamper.py).
    """
    table = deployed.env["TRAILGUARD_STATE_TABLE"]
    dynamodb = deployed.client("dynamodb")
    pk = f"baseline#{kind}"
    key = {"pk": {"S": pk}, "sk": {"S": ident}}
    item = dynamodb.get_item(TableName=table, Key=key)["Item"]
    doc = json.loads(item["doc"]["S"])
    change(doc)
    text = json.dumps(doc)
    item["doc"] = {"S": text}
    state_key = deployed.env.get("TRAILGUARD_STATE_KEY")
    if state_key:
        mac = Mac(state_key, REGION)
        item[MAC_ATTRIBUTE] = {"S": mac.sign(pk, ident, text)}
    dynamodb.put_item(TableName=table, Item=item)


def _drift(report: dict[str, Any], kind: str) -> dict[str, Any]:
    (found,) = [d for d in report["drift"] if d["kind"] == kind]
    return found


def _trail(deployed: Deployed) -> dict[str, Any]:
    (trail,) = [
        t
        for t in deployed.client("cloudtrail").describe_trails()["trailList"]
        if t["TrailARN"] == deployed.trail_arn
    ]
    return dict(trail)


# -- trails: never weaker than found --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "forged", "check"),
    [
        ("KmsKeyId", "", lambda t: bool(t.get("KmsKeyId"))),
        ("IsMultiRegionTrail", False, lambda t: t["IsMultiRegionTrail"] is True),
    ],
    ids=["kms-key-removed", "multi-region-off"],
)
def test_forged_trail_baseline_cannot_weaken_the_trail(
    deployed: Deployed, field: str, forged: Any, check: Callable[[dict[str, Any]], bool]
) -> None:
    forge(deployed, "trail", deployed.trail_arn, lambda doc: doc.update({field: forged}))

    report = deployed.sweep()["sweep"]

    drift = _drift(report, "trail")
    assert not drift["ok"], drift
    assert check(_trail(deployed)), _trail(deployed)
    assert "UpdateTrail" not in json.dumps(drift.get("calls", []))
    text = deployed.messages()[0]["text"]
    assert "refused UpdateTrail" in text and "safety floor" in text, text


def test_a_baseline_with_validation_off_never_turns_it_off(deployed: Deployed) -> None:
    """The baseline recorded at deploy says off; someone turned validation on since: no repair undoes
    a strengthening (the floor compares with the live trail, not the baseline)."""
    ct = deployed.client("cloudtrail")
    ct.update_trail(Name=deployed.trail_arn, EnableLogFileValidation=True)
    deployed.sweep()
    assert _trail(deployed)["LogFileValidationEnabled"] is True
    (message,) = deployed.messages()
    assert "refused UpdateTrail" in message["text"] and "LogFileValidationEnabled off" in message["text"]


def test_forged_selectors_cannot_drop_management_events(deployed: Deployed) -> None:
    data_only = [
        {
            "Name": "data",
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            ],
        }
    ]

    def change(doc: dict[str, Any]) -> None:
        doc.pop("EventSelectors", None)
        doc["AdvancedEventSelectors"] = data_only

    before = deployed.client("cloudtrail").get_event_selectors(TrailName=deployed.trail_arn)
    forge(deployed, "trail", deployed.trail_arn, change)

    report = deployed.sweep()["sweep"]

    assert not _drift(report, "trail")["ok"]
    after = deployed.client("cloudtrail").get_event_selectors(TrailName=deployed.trail_arn)
    assert after.get("AdvancedEventSelectors") == before.get("AdvancedEventSelectors")
    assert after.get("EventSelectors") == before.get("EventSelectors")
    text = deployed.messages()[0]["text"]
    assert "refused PutEventSelectors" in text and "management events" in text, text


# -- trails: where logs go ---------------------------------------------------------------------------


def test_forged_key_of_another_account_is_refused(deployed: Deployed) -> None:
    foreign = f"arn:aws:kms:{REGION}:{OTHER_ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
    forge(deployed, "trail", deployed.trail_arn, lambda doc: doc.update({"KmsKeyId": foreign}))

    deployed.sweep()

    assert _trail(deployed)["KmsKeyId"].endswith(deployed.key_id)
    text = deployed.messages()[0]["text"]
    assert "refused UpdateTrail" in text and f"outside account {ACCOUNT}" in text, text


def test_forged_bucket_without_a_trusted_origin_is_refused(account: Account, deployed: Deployed) -> None:
    account.bucket("attacker-logs")

    def change(doc: dict[str, Any]) -> None:
        doc["S3BucketName"] = "attacker-logs"
        doc["_meta"]["source"] = "attacker"

    forge(deployed, "trail", deployed.trail_arn, change)

    deployed.sweep()

    assert _trail(deployed)["S3BucketName"] == Deployed.BUCKET
    text = deployed.messages()[0]["text"]
    assert "refused UpdateTrail" in text and "origin is attacker" in text, text


def test_deleted_trail_is_not_recreated_from_a_forged_destination(deployed: Deployed) -> None:
    deployed.client("cloudtrail").delete_trail(Name=Deployed.TRAIL)
    foreign_group = f"arn:aws:logs:{REGION}:{OTHER_ACCOUNT}:log-group:exfil:*"
    role = f"arn:aws:iam::{OTHER_ACCOUNT}:role/exfil"
    forge(
        deployed,
        "trail",
        deployed.trail_arn,
        lambda doc: doc.update({"CloudWatchLogsLogGroupArn": foreign_group, "CloudWatchLogsRoleArn": role}),
    )

    deployed.sweep()

    names = [t["Name"] for t in deployed.client("cloudtrail").describe_trails()["trailList"]]
    assert Deployed.TRAIL not in names
    text = deployed.messages()[0]["text"]
    assert "refused CreateTrail" in text and "outside account" in text, text


# -- trailguard's functions and rules --------------------------------------------------------------------


def test_forged_function_policy_cannot_open_the_function(deployed: Deployed) -> None:
    name = deployed.outputs["ApiCallFunctionName"]
    opened = {
        "Sid": "anyone",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "lambda:InvokeFunction",
        "Resource": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
    }

    def change(doc: dict[str, Any]) -> None:
        policy = json.loads(doc["Policy"])
        policy["Statement"].append(opened)
        doc["Policy"] = json.dumps(policy)

    forge(deployed, "function", name, change)

    report = deployed.sweep()["sweep"]

    assert not _drift(report, "function")["ok"]
    policy = json.loads(deployed.client("lambda").get_policy(FunctionName=name)["Policy"])
    assert "anyone" not in {s["Sid"] for s in policy["Statement"]}
    text = deployed.messages()[0]["text"]
    assert "refused AddPermission" in text and "principal * is not events.amazonaws.com" in text, text


def test_forged_function_policy_for_a_foreign_rule_is_refused(deployed: Deployed) -> None:
    name = deployed.outputs["ApiCallFunctionName"]
    foreign = {
        "Sid": "foreign-rule",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
        "Condition": {"ArnLike": {"AWS:SourceArn": f"arn:aws:events:{REGION}:{OTHER_ACCOUNT}:rule/x"}},
    }

    def change(doc: dict[str, Any]) -> None:
        policy = json.loads(doc["Policy"])
        policy["Statement"].append(foreign)
        doc["Policy"] = json.dumps(policy)

    forge(deployed, "function", name, change)

    deployed.sweep()

    policy = json.loads(deployed.client("lambda").get_policy(FunctionName=name)["Policy"])
    assert "foreign-rule" not in {s["Sid"] for s in policy["Statement"]}
    text = deployed.messages()[0]["text"]
    assert "refused AddPermission" in text and "is not one of the stack's rules" in text, text


def test_forged_rule_target_is_never_added(deployed: Deployed) -> None:
    rule = deployed.outputs["ApiCallRuleName"]
    bus = f"arn:aws:events:{REGION}:{OTHER_ACCOUNT}:event-bus/default"
    forge(
        deployed,
        "rule",
        rule,
        lambda doc: doc["Targets"].append({"Id": "exfil", "Arn": bus}),
    )

    report = deployed.sweep()["sweep"]

    assert not _drift(report, "rule")["ok"]
    targets = deployed.client("events").list_targets_by_rule(Rule=rule)["Targets"]
    assert bus not in {t["Arn"] for t in targets}
    text = deployed.messages()[0]["text"]
    assert "refused PutTargets" in text and f"target {bus} is not the stack's" in text, text


def test_the_stacks_own_targets_are_still_restored(deployed: Deployed) -> None:
    """The floor lets the real repair through: a removed target comes back with its dead-letter queue."""
    events, rule = deployed.client("events"), deployed.outputs["ApiCallRuleName"]
    (target,) = events.list_targets_by_rule(Rule=rule)["Targets"]
    events.remove_targets(Rule=rule, Ids=[target["Id"]])

    report = deployed.sweep()["sweep"]

    assert _drift(report, "rule")["ok"], report
    (back,) = events.list_targets_by_rule(Rule=rule)["Targets"]
    assert back["Arn"] == target["Arn"] and back["DeadLetterConfig"] == target["DeadLetterConfig"]


# -- the checks themselves ---------------------------------------------------------------------------

SCOPE = Scope(ACCOUNT, ("tg-api-calls",), ("tg-api-call",), (f"arn:aws:sqs:{REGION}:{ACCOUNT}:tg-dlq",))
RULE_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/tg-api-calls"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:tg-api-call"


def test_invoke_permission_for_the_stacks_rule_passes() -> None:
    floors.check_invoke_permission(
        SCOPE,
        REGION,
        {
            "FunctionName": "tg-api-call",
            "StatementId": "s",
            "Action": "lambda:InvokeFunction",
            "Principal": "events.amazonaws.com",
            "SourceArn": RULE_ARN,
        },
    )


@pytest.mark.parametrize(
    "change",
    [
        {"FunctionName": "other"},
        {"Principal": "*"},
        {"Principal": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
        {"Action": "lambda:*"},
        {"SourceArn": None},
        {"SourceAccount": OTHER_ACCOUNT},
        {"PrincipalOrgID": "o-123"},
    ],
)
def test_invoke_permission_floor_refuses(change: dict[str, Any]) -> None:
    params = {
        "FunctionName": "tg-api-call",
        "Action": "lambda:InvokeFunction",
        "Principal": "events.amazonaws.com",
        "SourceArn": RULE_ARN,
        **change,
    }
    with pytest.raises(FloorRefused):
        floors.check_invoke_permission(SCOPE, REGION, {k: v for k, v in params.items() if v is not None})


@pytest.mark.parametrize(
    "target",
    [
        {"Id": "x", "Arn": f"arn:aws:lambda:{REGION}:{OTHER_ACCOUNT}:function:tg-api-call"},
        {"Id": "x", "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:attacker"},
        {"Id": "x", "Arn": FUNCTION_ARN, "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r"},
        {
            "Id": "x",
            "Arn": FUNCTION_ARN,
            "DeadLetterConfig": {"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:other"},
        },
    ],
    ids=["foreign-account", "foreign-function", "role", "foreign-dlq"],
)
def test_target_floor_refuses(target: dict[str, Any]) -> None:
    with pytest.raises(FloorRefused):
        floors.check_targets(SCOPE, REGION, "tg-api-calls", [target])


def test_target_floor_passes_the_stacks_function_and_queue() -> None:
    floors.check_targets(
        SCOPE,
        REGION,
        "tg-api-calls",
        [{"Id": "a", "Arn": FUNCTION_ARN, "DeadLetterConfig": {"Arn": SCOPE.queue_arns[0]}}],
    )


def test_selector_floor_compares_with_the_live_selectors() -> None:
    live = {"EventSelectors": [{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}]}
    floors.check_selectors("trail t", {"EventSelectors": [{"ReadWriteType": "All"}]}, live)
    floors.check_selectors("trail t", {"EventSelectors": [{"ReadWriteType": "WriteOnly"}]}, live)
    with pytest.raises(FloorRefused, match="write"):
        floors.check_selectors("trail t", {"EventSelectors": [{"ReadWriteType": "ReadOnly"}]}, live)


def test_environment_floor_reads_the_security_hub_switch_as_the_function_does() -> None:
    """A value the function reads as off (any case, padded) is refused; one it keeps off stays allowed."""
    on: dict[str, str] = {}
    for off in ("false", "FALSE", "false ", " off", "0", "no"):
        with pytest.raises(FloorRefused, match="Security Hub reporting off"):
            floors.check_function_environment("tg-api-call", {"TRAILGUARD_SECURITY_HUB": off}, on, {})
    floors.check_function_environment("tg-api-call", {"TRAILGUARD_SECURITY_HUB": "true"}, on, {})
    already = {"TRAILGUARD_SECURITY_HUB": "false"}
    floors.check_function_environment("tg-api-call", {"TRAILGUARD_SECURITY_HUB": "off"}, already, {})
