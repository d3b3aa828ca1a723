"""The recorder writes the CloudTrail record real CloudTrail would for calls made with boto3."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from typing import Any

import botocore.exceptions
import pytest
from localcloud_support import TRUST, creds, unique

from trailguard.local.server import LocalCloud

pytestmark = pytest.mark.integration


def last(cloud: LocalCloud, event_name: str) -> dict[str, Any]:
    found = [r for r in cloud.recorder.records if r["eventName"] == event_name]
    assert found, f"no {event_name} record among {[r['eventName'] for r in cloud.recorder.records[-10:]]}"
    return found[-1]


def test_iam_user_call_has_cloudtrail_fields(
    cloud: LocalCloud, trail: str, user_keys: dict[str, str]
) -> None:
    ct = cloud.client("cloudtrail", creds(user_keys))
    ct.stop_logging(Name=trail)
    record = last(cloud, "StopLogging")
    assert record["userIdentity"] == {
        "type": "IAMUser",
        "principalId": record["userIdentity"]["principalId"],
        "arn": user_keys["arn"],
        "accountId": "123456789012",
        "accessKeyId": user_keys["AWS_ACCESS_KEY_ID"],
        "userName": user_keys["name"],
    }
    assert record["userIdentity"]["principalId"]
    assert record["eventSource"] == "cloudtrail.amazonaws.com"
    assert record["requestParameters"] == {"name": trail}
    assert record["sourceIPAddress"] == "127.0.0.1"
    assert record["userAgent"].startswith(("Boto3/", "Botocore/")) and "trailguard" in record["userAgent"]
    assert record["awsRegion"] == "us-east-1"
    assert record["recipientAccountId"] == "123456789012"
    assert record["readOnly"] is False
    assert record["eventType"] == "AwsApiCall"
    assert record["managementEvent"] is True
    assert record["eventCategory"] == "Management"
    assert "errorCode" not in record
    assert record["eventTime"].endswith("Z") and len(record["eventTime"]) == 20
    envelope = next(e for e in cloud.recorder.envelopes if e["detail"] is record)
    assert envelope["detail-type"] == "AWS API Call via CloudTrail"
    assert envelope["source"] == "aws.cloudtrail"
    assert envelope["account"] == "123456789012" and envelope["region"] == "us-east-1"
    assert envelope["id"] != record["eventID"]


def test_region_comes_from_the_signature(cloud: LocalCloud, user_keys: dict[str, str]) -> None:
    from trailguard import aws

    with aws.using_environ({**cloud.admin_environ, **creds(user_keys)}):
        ct = aws.client("cloudtrail", "eu-west-1", endpoint_url=cloud.endpoint)
    with pytest.raises(botocore.exceptions.ClientError):
        ct.stop_logging(Name="no-such-trail-in-eu")
    record = last(cloud, "StopLogging")
    assert record["awsRegion"] == "eu-west-1"
    assert record["errorCode"] == "TrailNotFoundException"


def test_failed_call_has_error_code_and_message(cloud: LocalCloud, user_keys: dict[str, str]) -> None:
    ct = cloud.client("cloudtrail", creds(user_keys))
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        ct.stop_logging(Name="missing-trail")
    record = last(cloud, "StopLogging")
    assert record["errorCode"] == raised.value.response["Error"]["Code"] == "TrailNotFoundException"
    assert "missing-trail" in record["errorMessage"]
    assert record["responseElements"] is None


def test_assumed_role_names_its_session_issuer(cloud: LocalCloud, trail: str) -> None:
    iam, sts = cloud.client("iam"), cloud.client("sts")
    role = iam.create_role(RoleName=unique("ops"), AssumeRolePolicyDocument=TRUST)["Role"]
    c = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="alice")["Credentials"]
    session = {
        "AWS_ACCESS_KEY_ID": c["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": c["SecretAccessKey"],
        "AWS_SESSION_TOKEN": c["SessionToken"],
    }
    cloud.client("cloudtrail", session).stop_logging(Name=trail)
    identity = last(cloud, "StopLogging")["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["arn"] == f"arn:aws:sts::123456789012:assumed-role/{role['RoleName']}/alice"
    assert identity["principalId"] == f"{role['RoleId']}:alice"
    assert identity["accessKeyId"] == c["AccessKeyId"]
    issuer = identity["sessionContext"]["sessionIssuer"]
    assert issuer == {
        "type": "Role",
        "principalId": role["RoleId"],
        "arn": role["Arn"],
        "accountId": "123456789012",
        "userName": role["RoleName"],
    }
    assert "AssumeRole" not in [r["eventName"] for r in cloud.recorder.records]  # read-only, not recorded


def test_unknown_key_is_the_account_root(cloud: LocalCloud, trail: str) -> None:
    cloud.client("cloudtrail").stop_logging(Name=trail)
    identity = last(cloud, "StopLogging")["userIdentity"]
    assert identity["type"] == "Root"
    assert identity["arn"] == "arn:aws:iam::123456789012:root"


def test_read_only_calls_are_not_recorded(cloud: LocalCloud, trail: str) -> None:
    before = len(cloud.recorder.records)
    ct = cloud.client("cloudtrail")
    ct.get_trail_status(Name=trail)
    ct.describe_trails()
    cloud.client("s3").list_buckets()
    assert len(cloud.recorder.records) == before


def test_query_protocol_parameters_are_camel_case(cloud: LocalCloud) -> None:
    name = unique("u")
    cloud.client("iam").create_user(UserName=name, Tags=[{"Key": "team", "Value": "sec"}])
    params = last(cloud, "CreateUser")["requestParameters"]
    assert params == {"userName": name, "tags": [{"key": "team", "value": "sec"}]}
    assert last(cloud, "CreateUser")["eventSource"] == "iam.amazonaws.com"


def test_json_protocol_parameters_are_camel_case(cloud: LocalCloud) -> None:
    key_id = cloud.client("kms").create_key()["KeyMetadata"]["KeyId"]
    cloud.client("kms").disable_key(KeyId=key_id)
    assert last(cloud, "DisableKey")["requestParameters"] == {"keyId": key_id}
    assert last(cloud, "DisableKey")["eventSource"] == "kms.amazonaws.com"


def test_security_hub_parameters_are_written_as_sent(cloud: LocalCloud) -> None:
    """CloudTrail keeps Security Hub's member names as the caller sent them (PascalCase), in the request
    and in the response, unlike the camelCase of the other services."""
    hub = cloud.client("securityhub")
    hub.enable_security_hub()
    criteria = {"ProductName": [{"Value": "GuardDuty", "Comparison": "EQUALS"}]}
    actions = [{"Type": "FINDING_FIELDS_UPDATE", "FindingFieldsUpdate": {"Workflow": {"Status": "RESOLVED"}}}]
    arn = hub.create_automation_rule(
        RuleName="r", RuleOrder=1, Description="d", Criteria=criteria, Actions=actions
    )["RuleArn"]
    record = last(cloud, "CreateAutomationRule")
    assert record["requestParameters"] == {
        "RuleName": "r",
        "RuleOrder": 1,
        "Description": "d",
        "Criteria": criteria,
        "Actions": actions,
    }
    assert record["responseElements"] == {"RuleArn": arn}


def test_s3_rest_calls_map_to_cloudtrail_operations(cloud: LocalCloud) -> None:
    s3 = cloud.client("s3")
    bucket = unique("bucket")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {"ID": "nuke", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}
            ]
        },
    )
    lifecycle = last(cloud, "PutBucketLifecycle")
    assert lifecycle["eventSource"] == "s3.amazonaws.com"
    params = lifecycle["requestParameters"]
    assert params["bucketName"] == bucket and params["lifecycle"] == ""
    assert params["LifecycleConfiguration"]["Rule"]["Expiration"] == {"Days": "1"}
    statement = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": f"arn:aws:s3:::{bucket}"}
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert last(cloud, "PutBucketPolicy")["requestParameters"]["bucketPolicy"] == policy
    s3.delete_bucket_policy(Bucket=bucket)
    assert last(cloud, "DeleteBucketPolicy")["requestParameters"]["bucketName"] == bucket
    s3.delete_bucket_lifecycle(Bucket=bucket)
    assert last(cloud, "DeleteBucketLifecycle")["requestParameters"]["bucketName"] == bucket
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"data")  # a data event: not a management record
    assert "PutObject" not in [r["eventName"] for r in cloud.recorder.records]
    s3.delete_object(Bucket=bucket, Key="a.txt")
    s3.delete_bucket(Bucket=bucket)
    deleted = last(cloud, "DeleteBucket")
    assert deleted["requestParameters"]["bucketName"] == bucket
    assert "errorCode" not in deleted
    with pytest.raises(botocore.exceptions.ClientError):
        s3.delete_bucket(Bucket=bucket)
    assert last(cloud, "DeleteBucket")["errorCode"] == "NoSuchBucket"


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("x.py", "")
    return buf.getvalue()


def test_lambda_event_names_carry_the_api_version(cloud: LocalCloud) -> None:
    iam, lam = cloud.client("iam"), cloud.client("lambda")
    role = iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    name = unique("fn")
    lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="x.h", Code={"ZipFile": _zip()}
    )
    lam.add_permission(
        FunctionName=name, StatementId="s1", Action="lambda:InvokeFunction", Principal="events.amazonaws.com"
    )
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    lam.update_function_configuration(FunctionName=name, Timeout=30)
    lam.remove_permission(FunctionName=name, StatementId="s1")
    lam.delete_function(FunctionName=name)
    names = [r["eventName"] for r in cloud.recorder.records if r["eventSource"] == "lambda.amazonaws.com"]
    for expected in (
        "CreateFunction20150331",
        "AddPermission20150331v2",
        "PutFunctionConcurrency20171031",
        "UpdateFunctionConfiguration20150331v2",
        "RemovePermission20150331v2",
        "DeleteFunction20150331",
    ):
        assert expected in names
    concurrency = last(cloud, "PutFunctionConcurrency20171031")["requestParameters"]
    assert concurrency == {"functionName": name, "reservedConcurrentExecutions": 0}
    assert last(cloud, "DeleteFunction20150331")["requestParameters"] == {"functionName": name}


def test_journal_holds_every_envelope(tmp_path: Any) -> None:
    """The ``--records`` file: one envelope per line, in order (a separate cloud with a journal)."""
    from trailguard.local.recorder import Recorder

    journal = tmp_path / "records.jsonl"
    recorder = Recorder(journal=journal, limit=2)
    seen: list[str] = []
    recorder.listeners.append(lambda env: seen.append(env["detail"]["eventName"]))
    from trailguard.local.operations import Signature
    from trailguard.local.recorder import Call

    for name in ("StopLogging", "DeleteTrail", "StartLogging"):
        headers = {"x-amz-target": f"CloudTrail_20131101.{name}", "user-agent": "t"}
        call = Call("POST", "/", {}, headers, b'{"Name": "t"}', "127.0.0.1", datetime.now(UTC))
        call.signature = Signature("AKIAUNKNOWN", "us-east-1", "cloudtrail")
        from trailguard.local.operations import identify

        call.operation = identify(call.signature, "POST", "/", {}, headers=call.headers, body=call.body)
        call.status = 200
        recorder(call)
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [line["detail"]["eventName"] for line in lines] == ["StopLogging", "DeleteTrail", "StartLogging"]
    assert seen == ["StopLogging", "DeleteTrail", "StartLogging"]
    assert [r["eventName"] for r in recorder.records] == ["DeleteTrail", "StartLogging"]  # bounded
