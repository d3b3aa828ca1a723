"""The stack's authenticated configuration item and signed baselines, on the real stack deployed to
in-process moto (its ``StateKey`` is a real HMAC_256 KMS key: moto's CloudFormation model gets
``KeySpec``/``KeyUsage`` through ``trailguard.local.kms_patch``, installed by tests/conftest.py).

``trailguard deploy`` signs the baselines and writes ``config/stack`` with the deployer's credentials
(passing their ARN as ``StateSignerArns``); :func:`read_deployed` trusts it only when it verifies, and
a sweep never applies a baseline the attacker rewrote."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from aws_support import ACCOUNT, REGION
from trailguard import aws
from trailguard.baseline import Baselines
from trailguard.baseline.deployed import PK, SK, read_deployed, signer_arns
from trailguard.config import Config
from trailguard.integrity import MAC_ATTRIBUTE, TAMPERED
from worlds import Deployed

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]


def _table(deployed: Deployed) -> str:
    return deployed.outputs["StateTableName"]


def _item(deployed: Deployed, pk: str, sk: str) -> dict[str, Any]:
    ddb = boto3.client("dynamodb", region_name=REGION)
    return dict(ddb.get_item(TableName=_table(deployed), Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"])


def _rewrite(deployed: Deployed, pk: str, sk: str, old: str, new: str) -> None:
    """What the attacker does: one PutItem with the document edited and the MAC kept."""
    item = _item(deployed, pk, sk)
    item["doc"] = {"S": item["doc"]["S"].replace(old, new)}
    boto3.client("dynamodb", region_name=REGION).put_item(TableName=_table(deployed), Item=item)


def _config(deployed: Deployed) -> Config:
    return Config.from_env(deployed.env)


def test_deploy_makes_an_hmac_state_key_the_deployer_may_sign_with(deployed: Deployed) -> None:
    key = boto3.client("kms", region_name=REGION).describe_key(KeyId=deployed.outputs["StateKeyArn"])
    assert key["KeyMetadata"]["KeySpec"] == "HMAC_256"
    assert key["KeyMetadata"]["KeyUsage"] == "GENERATE_VERIFY_MAC"
    assert deployed.env["TRAILGUARD_STATE_KEY"] == deployed.outputs["StateKeyArn"]
    stack = boto3.client("cloudformation", region_name=REGION).describe_stacks(StackName=Deployed.STACK)
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Stacks"][0]["Parameters"]}
    caller = boto3.client("sts", region_name=REGION).get_caller_identity()["Arn"]
    assert params["StateSignerArns"] == ",".join(signer_arns(caller))


def test_deploy_writes_a_signed_config_item_read_instead_of_the_environment(deployed: Deployed) -> None:
    assert _item(deployed, PK, SK)[MAC_ATTRIBUTE]["S"]
    with aws.using_environ(deployed.env):
        found = read_deployed(_config(deployed), REGION)
    assert found.status == "verified" and found.trusted
    out = deployed.outputs
    assert found.topic_arn == out["TopicArn"]
    assert set(found.function_names) == {out["ApiCallFunctionName"], out["FindingFunctionName"]}
    assert f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{Deployed.STACK}-backstop" in found.rule_arns
    assert found.alert_endpoints == (("email", "security@example.com"),)
    assert found.role_arns == (out["RoleArn"],)
    assert found.state_key == out["StateKeyArn"]
    assert found.recorded["trail"] == (deployed.trail_arn,)
    assert found.written_by and found.written_at


def test_a_rewritten_config_item_is_tampered_and_trusted_for_nothing(deployed: Deployed) -> None:
    assert '"function_names": [' in _item(deployed, PK, SK)["doc"]["S"]
    _rewrite(deployed, PK, SK, '"function_names": [', '"function_names": ["attacker-fn", ')
    with aws.using_environ(deployed.env):
        found = read_deployed(_config(deployed), REGION)
    assert found.status == "tampered" and not found.trusted
    assert found.function_names == () and found.recorded == {}
    assert (
        found.tampered is not None
        and TAMPERED in found.tampered.text()
        and "pk=config sk=stack" in found.tampered.text()
    )


def test_missing_and_unsigned_config_items() -> None:
    assert read_deployed(Config()).status == "unavailable"


def test_a_rewritten_trail_baseline_is_not_applied_and_the_sweep_says_so(deployed: Deployed) -> None:
    ct = boto3.client("cloudtrail", region_name=REGION)
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="attacker-loot")
    _rewrite(deployed, "baseline#trail", deployed.trail_arn, Deployed.BUCKET, "attacker-loot")
    deployed.messages()  # what deploy sent

    result = deployed.sweep()

    (live,) = [t for t in ct.describe_trails()["trailList"] if t["TrailARN"] == deployed.trail_arn]
    assert live["S3BucketName"] == Deployed.BUCKET
    sweep = result["sweep"]
    assert any(e.startswith(TAMPERED) and deployed.trail_arn in e for e in sweep["errors"]), sweep
    (message,) = deployed.messages()
    assert message["subject"].startswith("[ACTION REQUIRED] trailguard's state was tampered with: 1 item(s)")
    assert f"pk=baseline#trail sk={deployed.trail_arn}" in message["text"]
    # the records that verify are still checked
    assert sweep["checked"]["rule"] >= 4 and sweep["checked"]["function"] == 2
    # and a tampered baseline is not replaced by the live state as if the trail were new
    with aws.using_environ(deployed.env):
        assert Baselines.from_config(_config(deployed), REGION).get("trail", deployed.trail_arn) is None
    assert "attacker-loot" in _item(deployed, "baseline#trail", deployed.trail_arn)["doc"]["S"]


def test_a_deleted_baseline_of_a_trail_recorded_at_deploy_is_reported_not_re_recorded(
    deployed: Deployed,
) -> None:
    boto3.client("dynamodb", region_name=REGION).delete_item(
        TableName=_table(deployed), Key={"pk": {"S": "baseline#trail"}, "sk": {"S": deployed.trail_arn}}
    )
    sweep = deployed.sweep()["sweep"]
    assert any(e.startswith(TAMPERED) and "recorded at deploy" in e for e in sweep["errors"]), sweep
    with aws.using_environ(deployed.env):
        assert Baselines.from_config(_config(deployed), REGION).get("trail", deployed.trail_arn) is None


def test_a_trail_created_after_deploy_is_baselined_first_seen(deployed: Deployed) -> None:
    s3, ct = boto3.client("s3", region_name=REGION), boto3.client("cloudtrail", region_name=REGION)
    s3.create_bucket(Bucket="later-logs")
    arn = ct.create_trail(Name="later-trail", S3BucketName="later-logs")["TrailARN"]
    deployed.messages()

    sweep = deployed.sweep()["sweep"]

    drift = {(d["kind"], d["id"]): d for d in sweep["drift"]}
    assert drift[("trail", arn)]["outcomes"][0]["status"] == "recorded"
    assert "first seen at" in drift[("trail", arn)]["outcomes"][0]["summary"]
    assert ("bucket", "later-logs") in drift
    with aws.using_environ(deployed.env):
        doc = Baselines.from_config(_config(deployed), REGION).get("trail", arn)
    assert doc is not None and doc["S3BucketName"] == "later-logs" and doc["_meta"]["first_seen_at"]
    (message,) = deployed.messages()
    assert "BASELINED: first seen at" in message["text"]
    # a first-seen baseline is not one the trail-redirect floor restores from (recorded at deploy or by
    # a confirmed change): a later redirect is escalated, never written back from it
    ct.update_trail(Name=arn, S3BucketName=Deployed.BUCKET)
    later = deployed.sweep()["sweep"]
    (line,) = [d for d in later["drift"] if d["id"] == arn]
    assert line["ok"] is False


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        (
            "arn:aws:sts::123456789012:assumed-role/deployer/session-1",
            ["arn:aws:iam::123456789012:role/deployer", "arn:aws:iam::123456789012:role/*/deployer"],
        ),
        ("arn:aws:iam::123456789012:user/alice", ["arn:aws:iam::123456789012:user/alice"]),
        ("arn:aws:iam::123456789012:root", ["arn:aws:iam::123456789012:root"]),
        ("not an arn", []),
    ],
)
def test_signer_arns(caller: str, expected: list[str]) -> None:
    assert signer_arns(caller) == expected


def test_config_item_json_has_no_secret_fields(deployed: Deployed) -> None:
    doc = json.loads(_item(deployed, PK, SK)["doc"]["S"])
    assert set(doc) == {
        "schema",
        "protected_trails",
        "alert_endpoints",
        "topic_arn",
        "function_names",
        "rule_names",
        "rule_arns",
        "role_arns",
        "state_key",
        "org_trail_role",
        "recorded",
        "_meta",
    }


def test_an_event_meeting_a_tampered_baseline_says_so_in_its_alert(deployed: Deployed) -> None:
    """An event whose repair reads the baseline (event selectors; a StopLogging reads none: the sweep
    finds its tampered state) meets the forged record: never applied, the alert says so."""
    from worlds import ConfiguredTrail

    _rewrite(deployed, "baseline#trail", deployed.trail_arn, Deployed.BUCKET, "attacker-loot")
    ct = boto3.client("cloudtrail", region_name=REGION)
    ct.put_event_selectors(
        TrailName=deployed.trail_arn,
        EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": False}],
    )
    deployed.messages()
    envelope = ConfiguredTrail.api_call_envelope(
        "cloudtrail_puteventselectors_no_mgmt_events_stratus.json",
        {
            "trailName": deployed.trail_arn,
            "eventSelectors": [{"readWriteType": "All", "includeManagementEvents": False}],
        },
    )

    deployed.call(envelope)

    (live,) = [t for t in ct.describe_trails()["trailList"] if t["TrailARN"] == deployed.trail_arn]
    assert live["S3BucketName"] == Deployed.BUCKET  # the forged baseline is never applied
    (message,) = deployed.messages()
    assert TAMPERED in message["text"] and f"pk=baseline#trail sk={deployed.trail_arn}" in message["text"]
