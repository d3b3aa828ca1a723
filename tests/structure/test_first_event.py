"""What the first StopLogging event costs a fresh process, beyond the handler's import: one boto3 session,
one client per service it calls (never one per call or per region), and a second event that loads no
module and makes no client the first did not. And the modules the first event needs stay within a stated
budget (the figure when it was set, plus a little room): a new module on that path is a decision, not an
accident.

Measured in a fresh interpreter against in-process moto (a logging trail, the alert topic and the state
table, as the handler tests set up), so module counts are the handler's alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

FIRST_EVENT_MODULE_BUDGET = 48  # trailguard modules after import + first event: 47 (49 before the finding
# shapes loaded on first use; 91 before issue 13)

_PROBE = r"""
import json, os, sys
os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_SESSION_TOKEN="testing",
                  AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1")
import boto3, botocore.session
from moto import mock_aws

sessions, clients = [], []
real_init, real_client = botocore.session.Session.__init__, botocore.session.Session.create_client

def init(self, *args, **kwargs):
    real_init(self, *args, **kwargs)
    if sys._getframe(1).f_globals.get("__name__", "").startswith("trailguard"):
        sessions.append(id(self))

def create_client(self, service_name, region_name=None, *args, **kwargs):
    if any(sys._getframe(i).f_globals.get("__name__", "").startswith("trailguard") for i in range(1, 8)):
        clients.append([service_name, region_name])
    return real_client(self, service_name, region_name, *args, **kwargs)

with mock_aws():
    region = "us-east-1"
    boto3.client("s3", region_name=region).create_bucket(Bucket="trail-logs")
    cloudtrail = boto3.client("cloudtrail", region_name=region)
    cloudtrail.create_trail(Name="org-trail", S3BucketName="trail-logs")
    topic = boto3.client("sns", region_name=region).create_topic(Name="trailguard-alerts")["TopicArn"]
    boto3.client("dynamodb", region_name=region).create_table(
        TableName="trailguard-state", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    os.environ.update(TRAILGUARD_TOPIC_ARN=topic, TRAILGUARD_STATE_TABLE="trailguard-state",
                      TRAILGUARD_SECURITY_HUB="true")
    botocore.session.Session.__init__ = init
    botocore.session.Session.create_client = create_client

    def event(n):
        detail = {
            "eventVersion": "1.08", "eventID": f"6d3c0d4b-1111-4c3a-9f00-00000000000{n}",
            "eventTime": "2024-01-01T00:00:00Z", "eventSource": "cloudtrail.amazonaws.com",
            "eventName": "StopLogging", "awsRegion": region, "sourceIPAddress": "198.51.100.7",
            "userAgent": "aws-cli/2", "requestParameters": {"name": "org-trail"}, "responseElements": None,
            "readOnly": False, "eventType": "AwsApiCall", "recipientAccountId": "123456789012",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/mallory",
                             "accountId": "123456789012", "userName": "mallory"},
        }
        return {"version": "0", "id": str(n), "detail-type": "AWS API Call via CloudTrail",
                "source": "aws.cloudtrail", "account": "123456789012", "time": "2024-01-01T00:00:00Z",
                "region": region, "resources": [], "detail": detail}

    def own():
        return sorted(m for m in sys.modules if m.split(".")[0] == "trailguard")

    if os.environ.get("PROBE_LAMBDA"):  # what Lambda sets before its init (the handler's import)
        os.environ["AWS_LAMBDA_FUNCTION_NAME"] = "trailguard-api-call"
    import threading
    import trailguard.handlers
    for thread in threading.enumerate():  # the init's thread, if any: done before the first event
        if thread.name == "trailguard-prepare":
            thread.join(60)
    at_import = own()
    at_init = list(clients)
    report = {}
    for n in (1, 2):
        cloudtrail.start_logging(Name="org-trail")
        cloudtrail.stop_logging(Name="org-trail")
        before, made = set(sys.modules), len(clients)
        trailguard.handlers.api_call(event(n), None)
        assert cloudtrail.get_trail_status(Name="org-trail")["IsLogging"]
        report[n] = {"new_modules": sorted(set(sys.modules) - before), "new_clients": clients[made:]}
    print(json.dumps({"at_import": at_import, "after": own(), "sessions": len(sessions),
                      "clients": clients, "at_init": at_init, "events": report}))
"""


def _run(*, on_lambda: bool) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TRAILGUARD_"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if on_lambda:
        env["PROBE_LAMBDA"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=False, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


@pytest.fixture(scope="module")
def first_event() -> dict[str, Any]:
    return _run(on_lambda=False)


def test_on_lambda_the_init_makes_every_client_the_first_event_needs() -> None:
    """Lambda's init (the handler's import with ``AWS_LAMBDA_FUNCTION_NAME`` set) makes the clients of
    the StopLogging repair, one session for all, and imports its technique family; neither event makes
    a client or loads a trailguard module (with a state table, the
    sweep imports the burst into Security Hub: no client for it on the event path)."""
    found = _run(on_lambda=True)
    made = {service for service, _ in found["at_init"]}
    assert made == {"cloudtrail", "dynamodb", "sns"}
    assert found["sessions"] == 1
    assert found["events"]["1"]["new_clients"] == [] and found["events"]["2"]["new_clients"] == []
    loaded = [m for m in found["events"]["1"]["new_modules"] if m.split(".")[0] == "trailguard"]
    assert loaded == [], loaded  # the StopLogging family too was imported by the init


def test_the_first_event_makes_one_session_and_one_client_per_service(first_event: dict[str, Any]) -> None:
    clients = [tuple(c) for c in first_event["clients"]]
    assert first_event["sessions"] == 1
    assert clients, "the probe saw no client being made"
    assert len(clients) == len(set(clients)), clients
    assert {"cloudtrail", "sns"} <= {service for service, _ in clients}


def test_a_second_event_loads_nothing_new_and_makes_no_client(first_event: dict[str, Any]) -> None:
    second = first_event["events"]["2"]
    assert second["new_clients"] == []
    assert [m for m in second["new_modules"] if m.split(".")[0] == "trailguard"] == []


def test_the_modules_the_first_event_needs_stay_within_budget(first_event: dict[str, Any]) -> None:
    after = first_event["after"]
    assert len(after) <= FIRST_EVENT_MODULE_BUDGET, (
        len(after),
        sorted(set(after) - set(first_event["at_import"])),
    )


def test_a_stop_logging_never_loads_the_finding_shapes(first_event: dict[str, Any]) -> None:
    """A CloudTrail call needs neither finding shape: each loads on the first finding."""
    unneeded = {"trailguard.events.guardduty", "trailguard.events.securityhub"}
    assert unneeded.isdisjoint(first_event["after"]), sorted(unneeded & set(first_event["after"]))
