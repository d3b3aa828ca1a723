"""``notify.bound``: whatever the incident, what is published fits SNS's 256 KB, says it was shortened and
where the whole incident is kept. The two reported cases run through the real handlers on moto (moto's
SNS refuses a message over 262,144 characters, as SNS does): a lifecycle change of 300 rules on a trail's
log bucket, and a backstop sweep that finds 40 drifted trails."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from aws_support import ACCOUNT, REGION, TABLE, Account
from trailguard.notify import Drift, Message, SweepFindings, bound, render
from trailguard.notify.bound import BUDGET, MESSAGE_MAX, Pointer, compact, fit
from trailguard.remediate import Outcome
from trailguard.state import StateStore
from worlds import Deployed, RepairStack, delivery_policy

WEST = RepairStack.REGION


def _rules(n: int) -> list[dict[str, Any]]:
    """``n`` lifecycle rules as the S3 API takes them (a real bucket may have up to 1,000)."""
    return [
        {
            "ID": f"expire-cloudtrail-logs-quickly-rule-number-{i:04d}",
            "Filter": {"Prefix": f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2024/{i % 12 + 1:02d}/"},
            "Status": "Enabled",
            "Expiration": {"Days": 1},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        }
        for i in range(n)
    ]


@pytest.fixture
def aws_region() -> str:
    return WEST  # the repair stack (its log bucket is a recorded trail bucket) lives in us-west-2


def test_a_lifecycle_change_of_300_rules_is_repaired_and_its_alert_fits(stack: RepairStack) -> None:
    rules = _rules(300)
    stack.s3.put_bucket_lifecycle_configuration(Bucket=stack.BUCKET, LifecycleConfiguration={"Rules": rules})
    event = RepairStack.tamper_event(
        "s3_putbucketlifecycle_1day_expiry_trail_bucket_panther.json",
        {
            "bucketName": stack.BUCKET,
            "Host": f"{stack.BUCKET}.s3.{WEST}.amazonaws.com",
            "LifecycleConfiguration": {"Rule": rules, "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"},
        },
    )

    result = stack.invoke(event)  # before the fix: NotificationError, SNS refused "Message too long"

    (incident,) = result["incidents"]
    assert incident["status"] == "remediated" and stack.lifecycle() == RepairStack.BASELINE_RULES
    assert incident["published"] is True and incident["shortened"] is True
    (message,) = stack.messages()
    text = message["text"]
    assert message["truncated"]["original_bytes"] > MESSAGE_MAX
    assert "shortened to fit SNS's 256 KB limit" in text
    full = message["truncated"]["full"]
    assert f"state table {TABLE}, item pk={full['pk']} sk={full['sk']}" in text
    assert full["security_hub_finding"].startswith(f"finding trailguard/{ACCOUNT}/")
    kept = StateStore(TABLE, WEST).get(full["pk"], full["sk"])
    assert kept is not None
    request = kept["document"]["incident"]["event"]["request_parameters"]
    assert len(request["LifecycleConfiguration"]["Rule"]) == 300  # nothing lost: the whole incident


def _many_trails(account: Account, n: int) -> Deployed:
    bucket = account.bucket("many-trails-logs", policy=delivery_policy("many-trails-logs"))
    for i in range(n):
        account.trail(f"org-trail-{i:02d}-{'x' * 40}", bucket, IsMultiRegionTrail=True)
    return Deployed.build(account)


@pytest.mark.parametrize("aws_region", [REGION])
def test_a_sweep_of_40_drifted_trails_is_repaired_and_its_alert_fits(
    account: Account, moto_env: None, aws_region: str
) -> None:
    deployed = _many_trails(account, 39)  # and Deployed's own: 40
    cloudtrail = boto3.client("cloudtrail", region_name=REGION)
    names = [t["Name"] for t in cloudtrail.describe_trails()["trailList"]]
    assert len(names) == 40
    for name in names:
        cloudtrail.update_trail(Name=name, S3KeyPrefix="elsewhere", IncludeGlobalServiceEvents=False)
        cloudtrail.stop_logging(Name=name)

    report = deployed.sweep()["sweep"]  # before the fix: the message was refused (too long)

    assert len(report["drift"]) == 40 and report["publish_error"] is None
    assert all(cloudtrail.get_trail_status(Name=n)["IsLogging"] for n in names)
    (message,) = deployed.messages()
    assert message["subject"].startswith("[trailguard] REPAIRED: backstop found drift on 40 resource(s)")
    assert "shortened to fit SNS's 256 KB limit" in message["text"]
    full = message["doc"]["truncated"]["full"]
    assert full["state_table"] == deployed.env["TRAILGUARD_STATE_TABLE"]
    kept = StateStore(full["state_table"], REGION).get(full["pk"], full["sk"])
    assert kept is not None and len(kept["document"]["drift"]) == 40


# ------------------------------------------------------------------------------ the steps, without AWS


def _big(text_lines: int, blob: str) -> Message:
    text = "\n".join(f"line {i}: {blob}" for i in range(text_lines))
    return Message("s", text, {"schema": "x/1", "kind": "incident", "text": text, "blob": [blob] * 50})


def test_a_message_that_fits_is_left_as_it_is() -> None:
    message = Message("s", "short", {"schema": "x/1", "text": "short"})
    assert fit(message) is message


@pytest.mark.parametrize("blob", ["a" * 3000, '"\\' * 1500, "\u00e9\u4e2d" * 1500, "\ud800" * 3000])
def test_any_message_is_shortened_until_it_fits(blob: str) -> None:
    message = _big(400, blob)  # quotes, backslashes and non-ASCII grow several times when escaped
    assert bound.size(message) > MESSAGE_MAX
    shortened = fit(message, Pointer("t", "incident#a/b", "full#e", "finding f"))
    assert bound.size(shortened) <= BUDGET
    assert shortened.document["truncated"]["original_bytes"] == bound.size(message)
    assert "item pk=incident#a/b sk=full#e" in shortened.text
    assert json.loads(shortened.sns_payload())["email"] == shortened.text


def test_compact_bounds_strings_lists_and_depth() -> None:
    deep: Any = "leaf"
    for _ in range(20):
        deep = {"d": deep}
    out = compact({"s": "x" * 5000, "l": list(range(100)), "m": [{"a": 1}] * 30, "deep": deep})
    assert out["s"].endswith("(5000 characters)") and len(out["s"]) < 1100
    assert out["l"][-1] == "... 80 more" and out["m"][-1] == {"_omitted_items": 10}
    assert "keys left out" in json.dumps(out["deep"])


def test_a_sweep_message_keeps_its_schema_when_shortened() -> None:
    drift = [
        Drift(
            "trail",
            f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/t{i}",
            [Outcome("a", "x", "remediated", "y" * 4000)],
        )
        for i in range(200)
    ]
    message = render(SweepFindings(ACCOUNT, REGION, {"trail": 200}, drift))
    assert message is not None and bound.size(message) > MESSAGE_MAX
    shortened = fit(message)
    assert bound.size(shortened) <= BUDGET and shortened.document["schema"] == "trailguard.sweep/1"
