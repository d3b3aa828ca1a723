"""The backstop sweep (``handlers.finding`` on a ``Scheduled Event``): drift in each kind of recorded
resource is found and repaired with one message per sweep, nothing is sent when all is well, and a
fresh stack gets its baseline recorded."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from aws_support import ACCOUNT, REGION, Account
from trailguard import resources, sweep
from trailguard.events import is_schedule
from trailguard.notify import delivery, ledger
from trailguard.notify.ledger import SWEEP_WINDOW_SECONDS
from trailguard.resources import BASELINE_KINDS
from worlds import Deployed

BUCKET, SCHEDULED, TRAIL = Deployed.BUCKET, Deployed.SCHEDULED, Deployed.TRAIL


def test_no_drift_no_message(deployed: Deployed) -> None:
    result = deployed.sweep()
    report = result["sweep"]
    assert report["drift"] == [] and report["errors"] == []
    assert report["checked"] == {
        "topic": 1,
        "rule": 4,
        "function": 2,
        "key": 1,
        "bucket": 1,
        "trail": 1,
        "store": 0,
        "filter": 0,
        "product": 0,
        "automation": 0,
        "loggroup": 0,
        "organization": 0,
        "role": 0,  # a trail's CloudWatch Logs delivery role: this trail has none
    }
    assert deployed.messages() == []


def test_fresh_stack_records_the_baseline_once(account: Account, moto_env: None) -> None:
    stack = Deployed.build(account, baseline=False)
    first = stack.sweep()["sweep"]
    assert first["recorded_baseline"]["recorded"]["trail"] == [stack.trail_arn]
    assert len(first["recorded_baseline"]["recorded"]["rule"]) == 4
    (message,) = stack.messages()
    assert "Backstop recorded the baseline" in message["subject"]
    assert "recorded baselines: 1 trail" in message["text"]
    second = stack.sweep()["sweep"]
    assert second["recorded_baseline"] is None and second["drift"] == []
    assert stack.messages() == []


def _stop_logging(d: Deployed) -> Callable[[], bool]:
    ct = d.client("cloudtrail")
    ct.stop_logging(Name=TRAIL)
    return lambda: bool(ct.get_trail_status(Name=TRAIL)["IsLogging"])


def _lifecycle(d: Deployed) -> Callable[[], bool]:
    s3 = d.client("s3")
    rule = {"ID": "x", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 1}}
    s3.put_bucket_lifecycle_configuration(Bucket=BUCKET, LifecycleConfiguration={"Rules": [rule]})

    def restored() -> bool:
        try:
            s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)
        except s3.exceptions.ClientError as exc:  # the baseline has none; a missing bucket is no repair
            return bool(exc.response["Error"]["Code"] == "NoSuchLifecycleConfiguration")
        return False

    return restored


def _disable_key(d: Deployed) -> Callable[[], bool]:
    kms = d.client("kms")
    kms.disable_key(KeyId=d.key_id)
    return lambda: kms.describe_key(KeyId=d.key_id)["KeyMetadata"]["KeyState"] == "Enabled"


def _retarget_rule(d: Deployed) -> Callable[[], bool]:
    """The API-call rule disabled and pointed elsewhere with no event delivered: the sweep sees it."""
    events, rule = d.client("events"), d.outputs["ApiCallRuleName"]
    events.disable_rule(Name=rule)
    events.put_targets(Rule=rule, Targets=[{"Id": "api-call", "Arn": "arn:aws:sqs:us-east-1:123456789012:x"}])

    def restored() -> bool:
        (target,) = events.list_targets_by_rule(Rule=rule)["Targets"]
        enabled = events.describe_rule(Name=rule)["State"] == "ENABLED"
        return enabled and target["Arn"].endswith(":function:tg-api-call") and "DeadLetterConfig" in target

    return restored


def _throttle_function(d: Deployed) -> Callable[[], bool]:
    lam, name = d.client("lambda"), d.outputs["ApiCallFunctionName"]
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    # the template reserves ReservedConcurrency (default 5): the baseline the repair restores
    return lambda: lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions") == 5


def _topic_attribute(d: Deployed) -> Callable[[], bool]:
    sns, arn = d.client("sns"), d.outputs["TopicArn"]
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="muted")
    return lambda: sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "trailguard"


DRIFTS: dict[str, tuple[Callable[[Deployed], Callable[[], bool]], str]] = {
    "trail": (_stop_logging, f"trail {TRAIL}"),
    "bucket": (_lifecycle, f"bucket {BUCKET}"),
    "key": (_disable_key, "KMS key"),
    "rule": (_retarget_rule, "rule tg-api-calls"),
    "function": (_throttle_function, "function tg-api-call"),
    "topic": (_topic_attribute, "topic tg-alerts"),
}


@pytest.mark.parametrize("kind", sorted(DRIFTS))
def test_drift_in_each_kind_is_repaired_and_reported(deployed: Deployed, kind: str) -> None:
    make, label = DRIFTS[kind]
    restored = make(deployed)
    assert not restored()
    report = deployed.sweep()["sweep"]
    assert [d["kind"] for d in report["drift"]] == [kind]
    assert all(d["ok"] for d in report["drift"]), json.dumps(report["drift"], indent=1)
    assert restored()
    (message,) = deployed.messages()
    assert message["subject"].startswith("[trailguard] REPAIRED: backstop found drift on 1 resource(s)")
    assert label in message["text"]
    assert deployed.sweep()["sweep"]["drift"] == []  # the repair holds: the next sweep is quiet
    assert deployed.messages() == []


def test_drift_everywhere_gives_one_message(deployed: Deployed) -> None:
    checks = [make(deployed) for make, _ in DRIFTS.values()]
    report = deployed.sweep()["sweep"]
    assert sorted(d["kind"] for d in report["drift"]) == sorted(DRIFTS)
    assert all(check() for check in checks)
    (message,) = deployed.messages()
    assert "drift on 6 resource(s)" in message["subject"]
    assert all(label in message["text"] for _, label in DRIFTS.values())


def _delete_function_and_its_code(deployed: Deployed) -> None:
    """Drift the sweep cannot repair: the api-call function deleted, and the stack's code object too
    (a deleted function alone is recreated from that object, tests/remediate/test_function.py)."""
    (stack,) = deployed.client("cloudformation").describe_stacks(StackName=deployed.STACK)["Stacks"]
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    deployed.client("s3").delete_object(Bucket=params["CodeS3Bucket"], Key=params["CodeS3Key"])
    deployed.client("lambda").delete_function(FunctionName=deployed.outputs["ApiCallFunctionName"])


def test_what_cannot_be_repaired_is_escalated(deployed: Deployed) -> None:
    _delete_function_and_its_code(deployed)
    report = deployed.sweep()["sweep"]
    (drift,) = report["drift"]
    assert drift["kind"] == "function" and not drift["ok"]
    (message,) = deployed.messages()
    assert message["subject"].startswith("[ACTION REQUIRED] NEEDS A PERSON")
    assert "redeploy the stack with trailguard deploy" in message["text"]


def test_only_the_backstop_schedule_is_a_sweep() -> None:
    assert is_schedule(SCHEDULED)
    assert not is_schedule({**SCHEDULED, "source": "custom.app"})
    assert not is_schedule({**SCHEDULED, "detail-type": "AWS API Call via CloudTrail"})
    assert not is_schedule([SCHEDULED])


def test_a_spoofed_schedule_is_still_malformed_input(deployed: Deployed) -> None:
    result: dict[str, Any] = deployed.call({**SCHEDULED, "source": "custom.app"})
    assert "sweep" not in result
    assert result["skipped"] and "scheduled event" in result["skipped"][0]["reason"]


# ------------------------------------------------------------------ the same findings are told once


class _Clock:
    """The ledger's clock for the sweep's window, moved by hand (the repairs run on real time)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = time.time()
        real = ledger.ledger_for
        monkeypatch.setattr(sweep, "ledger_for", lambda config, region: real(config, region, self))

    def __call__(self) -> float:
        return self.now


def test_unrepairable_drift_is_mailed_once_then_reminded_after_the_window(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = _Clock(monkeypatch)
    _delete_function_and_its_code(deployed)
    first = deployed.sweep()["sweep"]
    assert [(d["kind"], d["ok"]) for d in first["drift"]] == [("function", False)]
    assert first["notification"]["action"] == "publish" and first["message_id"]
    (message,) = deployed.messages()
    assert message["subject"].startswith("[ACTION REQUIRED] NEEDS A PERSON: backstop found drift on 1")

    clock.now += 300
    second = deployed.sweep()["sweep"]  # the same drift, still unrepairable: logged, not mailed
    assert [(d["kind"], d["ok"]) for d in second["drift"]] == [("function", False)]
    assert second["notification"]["action"] == "suppress" and second["notification"]["repeats"] == 1
    assert second["message_id"] is None
    assert deployed.messages() == []
    assert "sweep.notification-suppressed" in caplog.text

    clock.now += SWEEP_WINDOW_SECONDS - 301  # one second short of the window
    assert deployed.sweep()["sweep"]["notification"]["action"] == "suppress"
    assert deployed.messages() == []

    clock.now += 1
    reminder = deployed.sweep()["sweep"]
    assert reminder["notification"]["action"] == "reminder" and reminder["notification"]["repeats"] == 3
    assert reminder["notification"]["since"] == first["notification"]["since"]
    (message,) = deployed.messages()
    since = first["notification"]["since"][11:16]
    assert message["subject"].startswith(f"[ACTION REQUIRED] STILL BROKEN since {since} UTC: backstop found")
    assert message["text"].startswith(
        f"REMINDER: every backstop sweep since {since} UTC has found exactly this"
    )
    assert "redeploy the stack with trailguard deploy" in message["text"]
    assert message["doc"]["schema"] == "trailguard.sweep/1"
    assert message["doc"]["notification"]["action"] == "reminder"
    # The reminder starts a new window: the next sweep is quiet again.
    clock.now += 300
    assert deployed.sweep()["sweep"]["notification"]["action"] == "suppress"
    assert deployed.messages() == []


def test_new_drift_beside_a_known_failure_is_mailed_and_repaired(deployed: Deployed) -> None:
    _delete_function_and_its_code(deployed)
    deployed.sweep()
    assert len(deployed.messages()) == 1
    deployed.sweep()
    assert deployed.messages() == []

    restored = _stop_logging(deployed)  # something new drifts: the findings differ, so it is news
    report = deployed.sweep()["sweep"]
    assert sorted((d["kind"], d["ok"]) for d in report["drift"]) == [("function", False), ("trail", True)]
    assert report["notification"]["action"] == "publish"
    assert "differ from the message" in report["notification"]["reason"]
    assert restored()
    (message,) = deployed.messages()
    assert "drift on 2 resource(s)" in message["subject"] and f"trail {TRAIL}" in message["text"]

    # The trail repair held: back to the function alone, which differs from the last message again.
    back = deployed.sweep()["sweep"]
    assert [d["kind"] for d in back["drift"]] == ["function"]
    assert back["notification"]["action"] == "publish"
    (message,) = deployed.messages()
    assert "drift on 1 resource(s)" in message["subject"]


def test_repaired_drift_that_comes_back_after_a_clean_sweep_is_mailed_again(deployed: Deployed) -> None:
    make, _ = DRIFTS["function"]
    for _ in range(2):
        restored = make(deployed)
        report = deployed.sweep()["sweep"]
        assert report["notification"]["action"] == "publish" and restored()
        assert len(deployed.messages()) == 1
        quiet = deployed.sweep()["sweep"]
        assert quiet["drift"] == [] and quiet["notification"] is None
        assert deployed.messages() == []


def test_a_failed_publish_is_kept_and_the_next_sweep_sends_it_once(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    _delete_function_and_its_code(deployed)
    real = delivery.publish

    def broken(*_: Any, **__: Any) -> str:
        raise RuntimeError("topic unreachable")

    monkeypatch.setattr(delivery, "publish", broken)
    with pytest.raises(Exception, match="topic unreachable"):
        deployed.sweep()
    monkeypatch.setattr(delivery, "publish", real)
    again = deployed.sweep()["sweep"]
    (subject,) = again["outbox"]["resent"]  # the kept message goes out first...
    assert subject.startswith("[ACTION REQUIRED]") and again["outbox"]["pending"] == 0
    assert again["notification"]["action"] == "suppress"  # ...so the same findings are not sent twice
    (message,) = deployed.messages()
    assert message["subject"] == subject


# ------------------------------------------------------------------------------------ Security Hub


def test_each_drifted_resource_is_a_security_hub_finding_updated_in_place(deployed: Deployed) -> None:
    hub = deployed.client("securityhub")
    _delete_function_and_its_code(deployed)
    restored = _stop_logging(deployed)
    first = deployed.sweep()["sweep"]
    assert restored()
    ids = sorted(first["security_hub"]["imported"])
    assert ids == [
        f"trailguard/{ACCOUNT}/backstop/{REGION}/function/tg-api-call",
        f"trailguard/{ACCOUNT}/backstop/{REGION}/trail/{deployed.trail_arn}",
    ]
    findings = {f["Id"]: f for f in hub.get_findings()["Findings"]}
    assert sorted(findings) == ids
    function, trail = (findings[i] for i in ids)
    assert (function["Severity"]["Label"], function["Workflow"]["Status"]) == ("CRITICAL", "NOTIFIED")
    assert (trail["Severity"]["Label"], trail["Workflow"]["Status"]) == ("HIGH", "RESOLVED")
    assert trail["Resources"][0]["Type"] == "AwsCloudTrailTrail"

    assert len(deployed.messages()) == 1
    actions = []
    for _ in range(2):  # the function is still gone: its finding is refreshed, never duplicated
        again = deployed.sweep()["sweep"]
        actions.append(again["notification"]["action"])
        assert again["security_hub"]["imported"] == [ids[0]]
        assert sorted(f["Id"] for f in hub.get_findings()["Findings"]) == ids
    assert actions == ["publish", "suppress"]  # fewer findings is news once; Security Hub every time
    assert len(deployed.messages()) == 1


def test_security_hub_can_be_switched_off_for_the_sweep(deployed: Deployed) -> None:
    _throttle_function(deployed)
    deployed.env["TRAILGUARD_SECURITY_HUB"] = "false"
    report = deployed.sweep()["sweep"]
    assert [d["kind"] for d in report["drift"]] == ["function"] and "security_hub" not in report
    assert deployed.client("securityhub").get_findings()["Findings"] == []
    assert len(deployed.messages()) == 1


def test_a_clean_sweep_reports_nothing_to_security_hub(deployed: Deployed) -> None:
    report = deployed.sweep()["sweep"]
    assert "security_hub" not in report
    assert deployed.client("securityhub").get_findings()["Findings"] == []


# Which techniques the sweep runs for a baseline of each kind: declared on the techniques, not a table.


def _plan(kind: str) -> list[str]:
    return [t.id for t in sweep._swept(resources.kind(kind))]


def test_every_baseline_kind_is_restored_by_some_technique() -> None:
    for kind in BASELINE_KINDS:
        assert _plan(kind), kind


def test_the_plans_are_todays() -> None:
    assert _plan("trail") == ["finding.trail-disabled"]
    assert _plan("bucket") == [
        "bucket.delete",
        "bucket.policy-change",
        "bucket.lifecycle-expire",
        "bucket.versioning-suspend",
        "bucket.public-access",
        "bucket.encryption-change",
        "bucket.objects-delete",
    ]
    assert _plan("loggroup") == ["logs.group-delete", "logs.retention-cut"]
    assert _plan("key") == ["key.schedule-deletion", "key.policy-change"]
    assert _plan("store") == ["lake.delete", "lake.stop-ingestion", "lake.update-degrade"]
    assert _plan("filter") == ["guardduty.suppression"]
    assert _plan("product") == ["securityhub.import-disabled"]
    assert _plan("automation") == ["securityhub.suppression"]
    assert _plan("organization") == ["org.trusted-access", "org.delegated-admin", "org.scp-change"]
    assert _plan("rule") == ["guard.rule"] and _plan("function") == ["guard.function"]
    assert _plan("topic") == ["guard.topic"]


def test_conditions_on_the_baseline() -> None:
    key, policy = sweep._swept(resources.kind("key"))
    assert key.sweep is not None
    assert key.sweep.applies({"KeyState": "Enabled"}) and not key.sweep.applies({"KeyState": "Disabled"})
    assert key.sweep.target("id", {"Arn": "arn:aws:kms:r:1:key/id"}) == "arn:aws:kms:r:1:key/id"
    assert policy.sweep is not None and policy.sweep.applies({"KeyPolicy": "{}"})
    assert not policy.sweep.applies({"KeyState": "Enabled"})  # recorded before key policies were
    stop = next(t for t in sweep._swept(resources.kind("store")) if t.id == "lake.stop-ingestion")
    assert stop.sweep is not None and not stop.sweep.applies({"Status": "STOPPED_INGESTION"})
