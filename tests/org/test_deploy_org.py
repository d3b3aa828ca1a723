"""``trailguard deploy --org`` as a person runs it (a separate process, management-account credentials)
against a standalone moto server on 127.0.0.1: issue 12's "Done when", the dry run, and preflight
failures that change nothing.

moto gaps met here, stated where they matter: moto's service-managed stack sets create each instance's
resources in the member account but never list the instance's stack in DescribeStacks, and they would
include the management account if it sat in a targeted OU (AWS skips it; here it sits in the root,
outside the OUs). Parameter overrides are stored but not applied to the instance's resources, and
AutoDeployment, CallAs and operation failures are not emulated (tests/org/test_deploy_org_stackset.py
covers those with botocore's Stubber). moto evaluates no bucket or bus policy: the tests read the
documents.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aws_support import moto_server, reset_moto_server

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]

REGIONS = ("us-east-1", "eu-west-1")
ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/trailguard-test-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/trailguard-test-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}
CENTRAL = Path(__file__).resolve().parents[2] / "src" / "trailguard" / "data" / "central.yaml"


def central_template() -> str:
    """The central template the command deploys: ``TRAILGUARD_CENTRAL_TEMPLATE`` or the packaged one."""
    given = os.environ.get("TRAILGUARD_CENTRAL_TEMPLATE")
    path = Path(given) if given else CENTRAL
    assert path.is_file(), f"no central template at {path}"
    return str(path)


def run(*args: str, endpoint: str) -> subprocess.CompletedProcess[str]:
    env = {**ENV, "TRAILGUARD_CENTRAL_TEMPLATE": central_template()}
    return subprocess.run(
        [sys.executable, "-m", "trailguard", "deploy", "--org", *args, "--endpoint-url", endpoint],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        input="",
        check=False,
    )


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def endpoint(server: str) -> str:
    """The module's server, emptied: each test builds its own organization."""
    return reset_moto_server(server)


def client(endpoint: str, service: str, region: str = "us-east-1", creds: Any = None) -> Any:
    import boto3

    keys = (
        {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }
        if creds
        else {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    )
    return boto3.client(service, endpoint_url=endpoint, region_name=region, **keys)


def assume(endpoint: str, account: str) -> Any:
    role = f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
    return client(endpoint, "sts").assume_role(RoleArn=role, RoleSessionName="test-reader")["Credentials"]


@dataclass
class Org:
    id: str
    management: str
    ou1: str
    ou2: str
    members: dict[str, str]  # account id -> the OU it is in
    security: str
    suspended: str


def organization(endpoint: str, *, trusted: tuple[str, ...]) -> Org:
    """OU1 (member-a, the security account), OU2 (member-b and a suspended account); the management
    account, in the root, owns a multi-region organization trail."""
    orgs = client(endpoint, "organizations")
    made = orgs.create_organization(FeatureSet="ALL")["Organization"]
    root = orgs.list_roots()["Roots"][0]["Id"]
    ou1 = orgs.create_organizational_unit(ParentId=root, Name="OU1")["OrganizationalUnit"]["Id"]
    ou2 = orgs.create_organizational_unit(ParentId=root, Name="OU2")["OrganizationalUnit"]["Id"]

    def account(name: str, ou: str) -> str:
        status = orgs.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
        found = orgs.describe_create_account_status(CreateAccountRequestId=status["Id"])
        account_id = str(found["CreateAccountStatus"]["AccountId"])
        orgs.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=ou)
        return account_id

    members = {account("member-a", ou1): ou1, account("member-b", ou2): ou2}
    security = account("security", ou1)
    members[security] = ou1
    suspended = account("closed", ou2)
    orgs.close_account(AccountId=suspended)
    for principal in trusted:
        orgs.enable_aws_service_access(ServicePrincipal=principal)
    s3 = client(endpoint, "s3")
    s3.create_bucket(Bucket="org-trail-logs")
    trail = client(endpoint, "cloudtrail").create_trail(
        Name="org-trail", S3BucketName="org-trail-logs", IsMultiRegionTrail=True, IsOrganizationTrail=True
    )
    client(endpoint, "cloudtrail").start_logging(Name=trail["TrailARN"])
    return Org(str(made["Id"]), str(made["MasterAccountId"]), ou1, ou2, members, security, suspended)


TRUSTED = ("member.org.stacksets.cloudformation.amazonaws.com", "cloudtrail.amazonaws.com")


def nothing_changed(endpoint: str, org: Org) -> None:
    """No bucket, stack set, stack or central stack anywhere."""
    assert [b["Name"] for b in client(endpoint, "s3").list_buckets()["Buckets"]] == ["org-trail-logs"]
    for region in REGIONS:
        cfn = client(endpoint, "cloudformation", region)
        assert [s for s in cfn.list_stack_sets()["Summaries"] if s["Status"] != "DELETED"] == []
        assert cfn.list_stacks()["StackSummaries"] == []
        secure = client(endpoint, "cloudformation", region, assume(endpoint, org.security))
        assert secure.list_stacks()["StackSummaries"] == []


def test_deploy_org_done_when(endpoint: str) -> None:
    """The issue's "Done when": exit 0; a SERVICE_MANAGED stack set with an instance for every active
    member of OU1 and OU2 in both regions and none in the management account; functions and rules
    inside a member, every name at most 64 characters; plain stacks in the management account; the
    central stack in the security account, its bus open to the organization."""
    org = organization(endpoint, trusted=TRUSTED)
    args = ["--email", "secops@example.com", "--security-account", org.security, "--ou", "OU1"]
    args += ["--ou", org.ou2, "--region", REGIONS[0], "--region", REGIONS[1], "--output", "json"]
    done = run(*args, endpoint=endpoint)
    assert done.returncode == 0, done.stderr[-4000:]
    document = json.loads(done.stdout)
    assert document["schema"] == "trailguard.deploy-org/1" and document["status"] == "deployed"
    rows = {(r["account"], r["region"], r["stack"]): r for r in document["rows"]}
    for account in org.members:
        for region in REGIONS:
            assert rows[(account, region, "trailguard-member")]["status"] == "deployed"
            assert rows[(org.suspended, region, "trailguard-member")]["status"] == "skipped"
            assert rows[(org.management, region, "trailguard")]["status"] == "deployed"
    assert rows[(org.security, REGIONS[0], "trailguard-central")]["status"] == "deployed"
    assert "SUSPENDED" in rows[(org.suspended, REGIONS[0], "trailguard-member")]["reason"]

    cfn = client(endpoint, "cloudformation", REGIONS[0])
    stack_set = cfn.describe_stack_set(StackSetName="trailguard-member")["StackSet"]
    assert stack_set["PermissionModel"] == "SERVICE_MANAGED"
    given = {p["ParameterKey"]: p["ParameterValue"] for p in stack_set["Parameters"]}
    assert given["CodeS3Key"].startswith("trailguard/lambda-")
    central_outputs = document["central_outputs"]
    for name, value in (
        ("OrgTrailRole", "member"),
        ("AlertTopicArn", central_outputs["AlertTopicArn"]),
        ("CentralBusArn", central_outputs["OrgBusArn"]),
        ("NamePrefix", "trailguard"),
        ("CodeBucketPrefix", f"trailguard-artifacts-{org.management}"),
    ):
        if name in document["stack_set_parameters"]:  # the member template declares it
            assert given[name] == value
    # the security account's override: moto records the operation but applies nothing (the Stubber
    # test checks the request: INTERSECTION with its OU, every parameter, OrgTrailRole=delegated-admin)
    actions = [
        o["Action"] for o in cfn.list_stack_set_operations(StackSetName="trailguard-member")["Summaries"]
    ]
    overrides = 1 if "OrgTrailRole" in document["stack_set_parameters"] else 0  # a template without it
    assert actions.count("UPDATE") == overrides and actions.count("CREATE") == 1, actions
    instances = cfn.list_stack_instances(StackSetName="trailguard-member")["Summaries"]
    placed = {(i["Account"], i["Region"]) for i in instances}
    assert placed == {(a, r) for a in org.members for r in REGIONS} | {(org.suspended, r) for r in REGIONS}
    assert not any(account == org.management for account, _ in placed)

    for member in org.members:
        creds = assume(endpoint, member)
        for region in REGIONS:
            listed = client(endpoint, "lambda", region, creds).list_functions()["Functions"]
            functions = [f["FunctionName"] for f in listed]
            if "OrgTrailRole" in document["stack_set_parameters"]:  # the member template declares it
                for name in (f for f in functions if f != "trailguard-central"):  # the security account's
                    found = client(endpoint, "lambda", region, creds).get_function_configuration(
                        FunctionName=name
                    )
                    variables = found["Environment"]["Variables"]
                    assert variables["TRAILGUARD_ORG_TRAIL_ROLE"] == "member"  # moto never applies the
                    # security account's override (the Stubber test checks its request)
            rules = [r["Name"] for r in client(endpoint, "events", region, creds).list_rules()["Rules"]]
            assert len(functions) >= 2 and any(f.endswith("-api-call") for f in functions), functions
            assert any(r.endswith("-api-calls") for r in rules) and any(
                r.endswith("-backstop") for r in rules
            )
            assert all(len(name) <= 64 for name in functions + rules), functions + rules

    for region in REGIONS:
        (stack,) = client(endpoint, "cloudformation", region).describe_stacks(StackName="trailguard")[
            "Stacks"
        ]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        params = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
        if "OrgTrailRole" in params:
            assert params["OrgTrailRole"] == "owner"
            assert params["AlertTopicArn"] == central_outputs["AlertTopicArn"]
            assert params["CentralBusArn"] == central_outputs["OrgBusArn"]
            function = client(endpoint, "lambda", region).get_function_configuration(
                FunctionName="trailguard-api-call"
            )
            assert function["Environment"]["Variables"]["TRAILGUARD_ORG_TRAIL_ROLE"] == "owner"
        bucket = f"trailguard-artifacts-{org.management}-{region}"
        s3 = client(endpoint, "s3", region)
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        (reads,) = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
        assert reads["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": org.id}}
        assert reads["Action"] == "s3:GetObject" and reads["Resource"] == f"arn:aws:s3:::{bucket}/*"
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values())
        assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        s3.head_object(Bucket=bucket, Key=given["CodeS3Key"])

    secure = assume(endpoint, org.security)
    (central,) = client(endpoint, "cloudformation", REGIONS[0], secure).describe_stacks(
        StackName="trailguard-central"
    )["Stacks"]
    assert central["StackStatus"] == "CREATE_COMPLETE"
    bus = client(endpoint, "events", REGIONS[0], secure).describe_event_bus(Name="trailguard-org")
    statements = json.loads(bus["Policy"])["Statement"]
    assert any(
        s["Action"] == "events:PutEvents" and s["Condition"]["StringEquals"]["aws:PrincipalOrgID"] == org.id
        for s in statements
    )
    topic = client(endpoint, "sns", REGIONS[0], secure).get_topic_attributes(
        TopicArn=central_outputs["AlertTopicArn"]
    )
    (publish,) = [
        s
        for s in json.loads(topic["Attributes"]["Policy"])["Statement"]
        if s["Action"] == "sns:Publish" and s["Principal"] == {"AWS": "*"}  # not the alarms' statement
    ]
    assert publish["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": org.id}}
    assert "subscription confirmation" in done.stderr
    assert (
        f"organization trail(s): arn:aws:cloudtrail:us-east-1:{org.management}:trail/org-trail" in done.stderr
    )

    again = run(*args, endpoint=endpoint)  # a re-run updates in place and still succeeds
    assert again.returncode == 0, again.stderr[-4000:]
    assert json.loads(again.stdout)["status"] == "deployed"
    assert "updating stack set trailguard-member" in again.stderr
    assert "stack trailguard-central is up to date" in again.stderr


def test_dry_run_prints_the_plan_and_changes_nothing(endpoint: str) -> None:
    org = organization(endpoint, trusted=TRUSTED)
    done = run(
        "--email", "secops@example.com", "--security-account", org.security, "--ou", org.ou1,
        "--region", REGIONS[0], "--dry-run", endpoint=endpoint,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "planned" in done.stdout and org.security in done.stdout
    assert "trailguard-member" in done.stderr and "nothing" in done.stderr
    nothing_changed(endpoint, org)


def test_all_enabled_regions_dry_run(endpoint: str) -> None:
    """--all-enabled-regions: every region the management account has enabled (not opted-in ones
    left out); the central stack in the caller's region."""
    org = organization(endpoint, trusted=TRUSTED)
    done = run(
        "--email", "secops@example.com", "--security-account", org.security, "--ou", org.ou2,
        "--all-enabled-regions", "--dry-run", "--output", "json", endpoint=endpoint,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    document = json.loads(done.stdout)
    described = client(endpoint, "ec2").describe_regions(AllRegions=True)["Regions"]
    enabled = sorted(r["RegionName"] for r in described if r["OptInStatus"] != "not-opted-in")
    assert len(enabled) > 2 and len(enabled) < len(described)
    assert document["regions"] == enabled and document["status"] == "dry-run"
    rows = document["rows"]
    assert {r["region"] for r in rows if r["stack"] == "trailguard"} == set(enabled)
    (central,) = [r for r in rows if r["stack"] == "trailguard-central"]
    assert central["region"] == "us-east-1" and central["status"] == "planned"
    member_b = [a for a, ou in org.members.items() if ou == org.ou2]
    assert {(r["account"], r["status"]) for r in rows if r["stack"] == "trailguard-member"} == {
        *((a, "planned") for a in member_b),
        (org.suspended, "skipped"),
    }
    nothing_changed(endpoint, org)


@pytest.mark.parametrize(
    ("trusted", "ous", "expected"),
    [
        ((TRUSTED[1],), ("OU1",), "activate-organizations-access"),
        ((TRUSTED[0],), ("OU1",), "enable-aws-service-access --service-principal cloudtrail.amazonaws.com"),
        (TRUSTED, ("OU1", "NoSuchOU"), "OU NoSuchOU is not in the organization"),
    ],
    ids=["no-stacksets-trusted-access", "no-cloudtrail-trusted-access", "unknown-ou"],
)
def test_preflight_failure_exits_1_and_changes_nothing(
    endpoint: str, trusted: tuple[str, ...], ous: tuple[str, ...], expected: str
) -> None:
    org = organization(endpoint, trusted=trusted)
    args = ["--email", "secops@example.com", "--security-account", org.security]
    for ou in ous:
        args += ["--ou", ou]
    done = run(*args, "--region", REGIONS[0], "--region", REGIONS[1], endpoint=endpoint)
    assert done.returncode == 1, done.stderr
    assert "nothing was changed" in done.stderr and expected in done.stderr
    nothing_changed(endpoint, org)


def test_preflight_unknown_security_account_and_role(endpoint: str) -> None:
    """An account outside the organization is refused before anything changes."""
    org = organization(endpoint, trusted=TRUSTED)
    done = run("--email", "secops@example.com", "--security-account", "999999999999", "--region", REGIONS[0],
               endpoint=endpoint)  # fmt: skip
    assert done.returncode == 1
    assert "security account 999999999999 is not in organization" in done.stderr
    nothing_changed(endpoint, org)


def test_one_failed_stack_is_a_failed_row_and_the_rest_still_deploys(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rollout in-process against the moto server, with the management account's stack in
    eu-west-1 made to fail (moto has no way to fail one: the single-account rollout is replaced
    there); that row says why, every other row is deployed, and the CLI would exit 1."""
    from aws_support import fake_credentials
    from trailguard import aws
    from trailguard.deploy import errors
    from trailguard.org import deploy as org_deploy

    fake_credentials(monkeypatch)
    monkeypatch.setenv("TRAILGUARD_CENTRAL_TEMPLATE", central_template())
    aws.clear_cache()
    org = organization(endpoint, trusted=TRUSTED)
    real = org_deploy.apply

    def apply(stack_name: str, email: str | None = None, **kwargs: Any) -> Any:
        if kwargs["region"] == "eu-west-1":
            raise errors.DeployError("stack trailguard ended ROLLBACK_COMPLETE: GuardRole: limit exceeded")
        return real(stack_name, email, **kwargs)

    monkeypatch.setattr(org_deploy, "apply", apply)
    request = org_deploy.Request(
        email="secops@example.com",
        security_account=org.security,
        ous=(org.ou2,),
        regions=REGIONS,
        endpoint_url=endpoint,
    )
    try:
        result = org_deploy.deploy_org(request, progress=lambda _: None, poll_seconds=0.1)
    finally:
        aws.clear_cache()
    (failed,) = result.failed
    assert (failed.account, failed.region, failed.stack) == (org.management, "eu-west-1", "trailguard")
    assert "limit exceeded" in failed.reason
    others = [r for r in result.rows if r is not failed]
    assert {r.status for r in others} == {"deployed", "skipped"}
    assert len([r for r in others if r.stack == "trailguard-member"]) == 4  # member-b and the closed one
    assert result.to_dict()["status"] == "failed"


def test_a_stack_set_that_cannot_be_updated_stops_it_before_any_change(endpoint: str) -> None:
    """A self-managed stack set named trailguard-member is found by the preflight (as a central or
    management stack that cannot take a change set would be): exit 1, nothing made."""
    org = organization(endpoint, trusted=TRUSTED)
    cfn = client(endpoint, "cloudformation")
    body = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
    cfn.create_stack_set(StackSetName="trailguard-member", TemplateBody=body, PermissionModel="SELF_MANAGED")
    done = run(
        "--email", "secops@example.com", "--security-account", org.security, "--ou", org.ou1,
        "--region", REGIONS[0], endpoint=endpoint,
    )  # fmt: skip
    assert done.returncode == 1
    assert "stack set trailguard-member exists with permission model SELF_MANAGED" in done.stderr
    s3 = client(endpoint, "s3")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["org-trail-logs"]
    assert (
        client(endpoint, "cloudformation", REGIONS[0], assume(endpoint, org.security)).list_stacks()[
            "StackSummaries"
        ]
        == []
    )
