"""``notify.securityhub.import_bursts``: the backstop sweep's import of the bursts the event path left to
it, on the real stack in in-process moto (moto implements BatchImportFindings and GetFindings). Only a
burst whose signed first incident verifies reaches Security Hub."""

from __future__ import annotations

import json
import uuid
from typing import Any

import envelopes
from aws_support import ACCOUNT, REGION
from trailguard import aws, handlers
from trailguard.config import Config
from trailguard.notify.ledger import BURSTS_PK, ledger_for
from trailguard.notify.securityhub import IMPORTED_ATTRIBUTE, import_bursts
from worlds import Deployed


def _stop(deployed: Deployed) -> dict[str, Any]:
    deployed.client("cloudtrail").stop_logging(Name=deployed.trail_arn)
    record = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/mallory",
            "accountId": ACCOUNT,
        },
        "eventTime": "2026-12-01T00:00:00Z",
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": "StopLogging",
        "awsRegion": REGION,
        "sourceIPAddress": "203.0.113.7",
        "requestParameters": {"name": deployed.trail_arn},
        "responseElements": None,
        "eventID": str(uuid.uuid4()),
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
    }
    with aws.using_environ(deployed.env):
        result: dict[str, Any] = handlers.api_call(envelopes.api_call(record), None)
    return result


def _burst(deployed: Deployed) -> dict[str, Any]:
    (item,) = deployed.client("dynamodb").query(
        TableName=deployed.env["TRAILGUARD_STATE_TABLE"],
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": BURSTS_PK}},
    )["Items"]
    return dict(item)


def _import(deployed: Deployed) -> dict[str, Any]:
    with aws.using_environ(deployed.env):
        ledger = ledger_for(Config.from_env(), REGION)
        assert ledger is not None
        return import_bursts(ledger, REGION)


def test_a_recorded_burst_is_imported_once_and_marked(deployed: Deployed) -> None:
    result = _stop(deployed)
    assert "deferred" in result["incidents"][0]["security_hub"]

    done = _import(deployed)

    (finding,) = deployed.client("securityhub").get_findings()["Findings"]
    assert done == {"imported": [finding["Id"]], "failed": []}
    assert finding["ProductFields"]["trailguard/calls"] == "1"
    assert finding["Resources"][0]["Id"] == deployed.trail_arn
    assert _burst(deployed)[IMPORTED_ATTRIBUTE] == {"N": "1"}
    assert _import(deployed) == {"imported": [], "failed": []}  # nothing new: nothing imported


def test_a_forged_burst_puts_nothing_in_security_hub(deployed: Deployed) -> None:
    """Someone rewrites the burst's first incident (another principal, more calls) keeping its MAC: it
    fails verification, and Security Hub gets nothing from it."""
    _stop(deployed)
    item = _burst(deployed)
    doc = json.loads(item["doc"]["S"])
    doc["principal"] = f"arn:aws:iam::{ACCOUNT}:user/someone-else"
    item["doc"] = {"S": json.dumps(doc)}
    item["count"] = {"N": "7"}
    deployed.client("dynamodb").put_item(TableName=deployed.env["TRAILGUARD_STATE_TABLE"], Item=item)

    done = _import(deployed)

    assert done["imported"] == []
    assert deployed.client("securityhub").get_findings()["Findings"] == []
