"""``trailguard audit --org`` against an in-process moto organization (:mod:`org.audit_world`).

moto's ``AssumeRole`` works into any account, so members are reached as on AWS. What moto cannot do
is refuse: an AssumeRole denied and a timeout are injected with botocore event hooks on the audit's one
session (``before-call`` returning an error response, or raising botocore's timeout), said in each
test. moto shows members no shadow of the organization trail; the audit reads it from its owner.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError

from org import audit_world
from org.audit_world import REGIONS, Org
from trailguard.cli import main
from trailguard.org import audit, checks
from trailguard.org import audit_facts as facts
from trailguard.org.checks import Row
from trailguard.org.scp import Options as ScpOptions
from trailguard.org.scp import policies

pytestmark = pytest.mark.integration


@pytest.fixture
def org(moto_aws: dict[str, str]) -> Org:
    return audit_world.build()


def options(**kw: Any) -> audit.Options:
    kw.setdefault("regions", REGIONS)
    return audit.Options(home_region="us-east-1", org=True, workers=4, **kw)


def factory_with(*hooks: tuple[str, Callable[..., Any]]) -> audit.Factory:
    made = audit.Factory(None, None, 4)
    for event, handler in hooks:
        made.session.events.register(event, handler)
    return made


def by(rows: list[Row], **where: str) -> list[Row]:
    return [r for r in rows if all(getattr(r, k) == v for k, v in where.items())]


def test_rows_for_every_active_account_and_region_with_cloudtrail_1_to_7(org: Org) -> None:
    report = audit.run(options())
    for account in org.active:
        for region in REGIONS:
            present = {r.check for r in by(report.rows, account=account, region=region)}
            assert set(checks.REGION_CHECKS) <= present, (account, region, present)
        assert [r.check for r in by(report.rows, account=account, region=checks.ANYWHERE)] == (
            ["TG.scp", "TG.org"] if account == org.management else ["TG.scp"]
        )
    assert not by(report.rows, account=org.suspended)
    assert any(org.suspended in n and "SUSPENDED" in n for n in report.notes)
    # the organization trail counts for CloudTrail.1 everywhere, though moto lists it to its owner only
    for row in by(report.rows, check="CloudTrail.1"):
        assert row.status == checks.PASS and "org-trail (organization)" in row.detail, row
    # a trail is judged in its home region of its own account, a bucket where it lives
    assert by(report.rows, account=org.members[0], region="us-east-1", check="CloudTrail.2")[0].resource == (
        org.member_trail
    )
    assert by(report.rows, account=org.members[1], check="CloudTrail.2")[0].status == checks.NA
    sixes = by(report.rows, check="CloudTrail.6", status=checks.PASS)
    assert {(r.account, r.region, r.resource) for r in sixes} == {
        (org.management, "us-east-1", "org-trail-logs-bucket"),
        (org.members[0], "us-east-1", "member-a-trail-logs"),
    }
    # only the organization trail logs in member b: the WARN; member a has its own trail too
    assert by(report.rows, account=org.members[1], check="TG.only-trail")[0].status == checks.WARN
    assert by(report.rows, account=org.members[0], check="TG.only-trail")[0].status == checks.PASS
    assert report.rows == checks.sort_rows(report.rows)


def test_a_member_trail_that_loses_its_kms_key_and_validation_fails(org: Org) -> None:
    wanted = options(checks=("CloudTrail.2", "CloudTrail.4"))
    before = audit.run(wanted)
    assert not before.failing("low"), before.failing("low")
    org.session(org.members[0]).client("cloudtrail", "us-east-1").update_trail(
        Name="local-trail", KmsKeyId="", EnableLogFileValidation=False
    )
    after = audit.run(wanted)
    failed = {(r.account, r.check, r.resource) for r in after.failing("low")}
    assert failed == {
        (org.members[0], "CloudTrail.2", org.member_trail),
        (org.members[0], "CloudTrail.4", org.member_trail),
    }
    assert not after.failing("high")  # MEDIUM and LOW controls: below --fail-on high


def test_an_assume_role_denied_is_an_error_row_for_every_check_never_a_pass(org: Org) -> None:
    """moto lets every AssumeRole through: a before-call hook answers AccessDenied for member b's role."""
    denied = org.members[1]

    def deny(params: dict[str, Any], **_: Any) -> Any:
        if f":{denied}:" in params["body"].get("RoleArn", ""):
            error = {"Error": {"Code": "AccessDenied", "Message": "not authorized to perform sts:AssumeRole"}}
            return (_Http(403), error)
        return None

    report = audit.run(options(), factory=factory_with(("before-call.sts.AssumeRole", deny)))
    rows = [r for r in by(report.rows, account=denied) if r.region != checks.ANYWHERE]
    assert rows and {r.status for r in rows} == {checks.ERROR}
    assert {(r.region, r.check) for r in rows} == {(g, c) for g in REGIONS for c in checks.REGION_CHECKS}
    assert all("AccessDenied" in r.detail and "AssumeRole" in r.detail for r in rows)
    assert set(report.failing("critical")) >= set(rows)  # an ERROR fails at any level
    # the others are audited as before
    assert (
        by(report.rows, account=org.members[0], check="CloudTrail.2", region="us-east-1")[0].status
        == checks.PASS
    )
    assert [a.to_dict()["audited"] for a in report.accounts if a.id == denied] == [False]


def test_a_timeout_is_the_error_row_of_what_it_would_have_shown(org: Org) -> None:
    """A before-call hook raises botocore's ReadTimeoutError for one account's DescribeTrails in
    eu-west-1 (moto never times out): those rows are ERROR, the rest of the account is audited."""
    slow = org.members[0]

    def timeout(context: Any, **_: Any) -> None:
        if audit.calling_account() == slow and context.get("client_region") == "eu-west-1":
            raise ReadTimeoutError(endpoint_url="https://cloudtrail.eu-west-1.amazonaws.com")

    report = audit.run(options(), factory=factory_with(("before-call.cloudtrail.DescribeTrails", timeout)))
    errors = by(report.rows, account=slow, region="eu-west-1", status=checks.ERROR)
    assert {r.check for r in errors} == {*checks.CLOUDTRAIL_CHECKS, "TG.only-trail"}
    assert all("Read timeout" in r.detail for r in errors)
    assert not by(report.rows, account=slow, region="us-east-1", status=checks.ERROR)
    assert report.failing("critical")


class _Http:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.content = b""
        self.text = ""
        self.raw = io.BytesIO()


def test_the_output_is_sorted_whatever_order_the_work_completes_in(org: Org) -> None:
    """The same audit twice, each account's DescribeTrails delayed (a before-call hook that sleeps) so
    that the accounts finish in opposite orders: the rows are the same, sorted, both times."""
    order = org.active

    def run_with(delay_of: Callable[[int], float]) -> tuple[list[Row], list[str]]:
        finished: list[str] = []
        lock = threading.Lock()

        def sleep(**_: Any) -> None:
            time.sleep(delay_of(order.index(audit.calling_account())))

        def done(**_: Any) -> None:
            with lock:
                finished.append(audit.calling_account())

        made = factory_with(
            ("before-call.cloudtrail.DescribeTrails", sleep), ("after-call.cloudtrail.DescribeTrails", done)
        )
        report = audit.run(
            audit.Options(home_region="us-east-1", org=True, regions=REGIONS, workers=8), factory=made
        )
        return report.rows, finished[1:]  # the first: the caller's own, read alone before the pool

    first, first_order = run_with(lambda i: 0.3 * i)
    second, second_order = run_with(lambda i: 0.3 * (len(order) - i))
    assert first_order != second_order  # the work really completed in another order
    assert first_order[0] == order[0] and second_order[0] == order[-1], (order, first_order, second_order)
    assert first == second == checks.sort_rows(first)


def test_every_call_is_a_declared_read(org: Org) -> None:
    """Each call the audit makes (recorded by a before-call hook) is in PERMISSIONS, and none writes."""
    made: list[str] = []
    iam_names = {
        "s3:ListBuckets": "s3:ListAllMyBuckets",
        "s3:GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    }

    def record(model: Any, **_: Any) -> None:
        action = f"{model.service_model.signing_name}:{model.name}"
        made.append(iam_names.get(action, action))

    report = audit.run(options(), factory=factory_with(("before-call", record)))
    assert report.rows
    assert set(made) - set(facts.PERMISSIONS) == set()
    assert not [
        a for a in made if a.split(":")[1].startswith(("Put", "Create", "Delete", "Update", "Start", "Stop"))
    ]


def test_trailguards_scps_attached_to_the_ou_pass_for_its_members(org: Org) -> None:
    client = boto3.client("organizations", "us-east-1")
    built = policies(ScpOptions())
    for policy in built:
        made = client.create_policy(
            Name=policy.name, Description="test", Type="SERVICE_CONTROL_POLICY", Content=policy.content
        )["Policy"]["PolicySummary"]
        client.attach_policy(PolicyId=made["Id"], TargetId=org.ou)
    rows = audit.run(options(checks=("TG.scp",))).rows
    assert {(r.account, r.status) for r in rows} == {
        (org.management, checks.NA),
        *((m, checks.PASS) for m in org.members),
    }


def test_a_stack_set_instance_counts_as_the_members_stack(org: Org) -> None:
    """A service-managed stack set ``trailguard-member`` (a stand-in template: moto creates its
    resources in each member) with instances in the OU: TG.instance passes on the instance; its wiring is
    judged on the fixed names, which this template does not have."""
    cfn = boto3.client("cloudformation", "us-east-1")
    cfn.create_stack_set(
        StackSetName=facts.STACK_SET,
        TemplateBody='{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}',
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
    )
    cfn.create_stack_instances(
        StackSetName=facts.STACK_SET,
        DeploymentTargets={"OrganizationalUnitIds": [org.ou]},
        Regions=["us-east-1"],
    )
    rows = audit.run(options(checks=("TG.instance", "TG.wiring"))).rows
    for member in org.members:
        (row,) = by(rows, account=member, region="us-east-1", check="TG.instance")
        assert row.status == checks.PASS and "CURRENT" in row.detail, row
        (wired,) = by(rows, account=member, region="us-east-1", check="TG.wiring")
        assert wired.status == checks.FAIL and "rule trailguard-api-calls missing" in wired.detail
        assert by(rows, account=member, region="eu-west-1", check="TG.instance")[0].status == checks.FAIL
    assert by(rows, account=org.management, region="us-east-1", check="TG.instance")[0].status == checks.FAIL


def test_the_progress_bar_draws_only_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = audit.Progress(2, stream)
        bar.step()
        bar.step()
    assert "2/2" in tty.getvalue() and tty.getvalue().endswith("\n")
    assert pipe.getvalue() == ""


@pytest.fixture
def single(deployed: Any) -> Iterator[Any]:
    yield deployed


def test_a_deployed_stack_passes_until_its_rule_is_disabled_and_its_trail_stopped(single: Any) -> None:
    """Without --org: the caller's account, its real stack (``tg``, deployed by ``trailguard deploy`` on
    moto). The world subscribes its alert reader to the topic after deploy, a real change of the topic's
    baseline, so the baselines are recorded again first (``trailguard baseline record``). TG.baseline
    reuses deploy's comparison of recorded and live baselines."""
    assert main(["baseline", "record", "--stack-name", "tg", "--region", "us-east-1"]) == 0
    wanted = audit.Options(
        home_region="us-east-1", regions=("us-east-1",), stack_name="tg", checks=("TG",), workers=2
    )
    rows = audit.run(wanted).rows
    assert {r.check: r.status for r in rows} == {
        "TG.instance": checks.PASS,
        "TG.wiring": checks.PASS,
        "TG.baseline": checks.PASS,
        "TG.only-trail": checks.NA,
    }, rows
    boto3.client("events", "us-east-1").disable_rule(Name=single.outputs["GuardRuleName"])
    boto3.client("cloudtrail", "us-east-1").stop_logging(Name=single.trail_arn)
    rows = audit.run(wanted).rows
    (wired,) = by(rows, check="TG.wiring")
    assert wired.status == checks.FAIL and f"rule {single.outputs['GuardRuleName']} DISABLED" in wired.detail
    (base,) = by(rows, check="TG.baseline")
    assert base.status == checks.FAIL and "drifted" in base.detail and "IsLogging" in base.detail


def test_with_ou_only_its_accounts_and_the_organization_trail_still_counts(org: Org) -> None:
    """--ou: the OU's members only (the management account is not in it); the caller's organization
    trail, read once at the start, still counts for their CloudTrail.1."""
    report = audit.run(options(ous=(org.ou,), checks=("CloudTrail.1", "CloudTrail.3")))
    assert {r.account for r in report.rows} == set(org.members)
    ones = by(report.rows, check="CloudTrail.1")
    assert len(ones) == 4 and all(
        r.status == checks.PASS and "org-trail (organization)" in r.detail for r in ones
    )
    (only,) = by(ones, account=org.members[1], region="eu-west-1")
    assert only.resource == org.org_trail
    assert any(org.suspended in n for n in report.notes)


def test_a_bound_client_refuses_what_would_call_unbound(moto_aws: dict[str, str]) -> None:
    """A paginator or waiter would call the shared client outside the account's binding (the caller's
    credentials): refused, so no read can silently come from the wrong account."""
    bound = audit.Factory(None, None, 1).clients(None, "123456789012")("cloudtrail", "us-east-1")
    with pytest.raises(AttributeError, match="not bound"):
        bound.get_paginator("list_trails")
    assert bound.meta.region_name == "us-east-1"


def test_a_region_not_enabled_in_an_account_is_skipped_and_noted(org: Org) -> None:
    """moto enables every region everywhere: an after-call hook drops eu-west-1 from member b's
    DescribeRegions answer, as for a region it never opted in to."""
    late = org.members[1]

    def drop(parsed: dict[str, Any], **_: Any) -> None:
        if audit.calling_account() == late:
            parsed["Regions"] = [r for r in parsed["Regions"] if r["RegionName"] != "eu-west-1"]

    report = audit.run(options(), factory=factory_with(("after-call.ec2.DescribeRegions", drop)))
    assert {r.region for r in by(report.rows, account=late)} == {"us-east-1", checks.ANYWHERE}
    assert {r.region for r in by(report.rows, account=org.members[0])} == {*REGIONS, checks.ANYWHERE}
    assert f"account {late}: region(s) not enabled, skipped: eu-west-1" in report.notes


def test_all_enabled_regions(org: Org) -> None:
    report = audit.run(options(regions=(), all_enabled_regions=True, checks=("CloudTrail.3",)))
    regions = {r.region for r in report.rows}
    assert {"us-east-1", "eu-west-1", "ap-southeast-2"} <= regions and len(regions) > 17
    assert {r.status for r in report.rows} == {checks.PASS}  # the multi-Region organization trail


def test_a_stack_deployed_in_a_member_is_audited_with_the_members_credentials(org: Org) -> None:
    """``trailguard deploy`` run as member a (its assumed role's credentials bound for trailguard's
    clients), then ``audit --org``: the member's stack, wiring and baselines pass, read through the
    assumed role; its trail stopped, the baseline comparison names the drift."""
    from trailguard import aws
    from trailguard.deploy import deploy

    member = org.members[0]
    frozen = org.session(member).get_credentials().get_frozen_credentials()
    bound = {
        "AWS_ACCESS_KEY_ID": frozen.access_key,
        "AWS_SECRET_ACCESS_KEY": frozen.secret_key,
        "AWS_SESSION_TOKEN": frozen.token,
        "AWS_REGION": "us-east-1",
    }
    with aws.using_environ(bound):
        deploy(
            "trailguard",
            "security@example.com",
            progress=lambda _: None,
            poll_seconds=0.01,
            region="us-east-1",
        )
    wanted = options(regions=("us-east-1",), checks=("TG.instance", "TG.wiring", "TG.baseline"))
    rows = by(audit.run(wanted).rows, account=member)
    assert {r.check: r.status for r in rows} == {
        "TG.instance": checks.PASS,
        "TG.wiring": checks.PASS,
        "TG.baseline": checks.PASS,
    }, rows
    org.session(member).client("cloudtrail", "us-east-1").stop_logging(Name=org.member_trail)
    (base,) = by(audit.run(wanted).rows, account=member, check="TG.baseline")
    assert base.status == checks.FAIL and f"trail {org.member_trail} (IsLogging)" in base.detail


def test_baselines_kms_will_not_verify_are_an_error_not_tampering(
    single: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On AWS the state key's policy lets only the guard role and the signers verify; moto evaluates no
    key policy, so ``Mac.verify`` is patched to raise what a refused VerifyMac raises."""
    from trailguard import integrity

    assert main(["baseline", "record", "--stack-name", "tg", "--region", "us-east-1"]) == 0

    def refused(*_: Any, **__: Any) -> bool:
        raise integrity.UnverifiableError("AccessDeniedException: not authorized to perform kms:VerifyMac")

    monkeypatch.setattr(integrity.Mac, "verify", refused)
    wanted = audit.Options(
        home_region="us-east-1", regions=("us-east-1",), stack_name="tg", checks=("TG.baseline",), workers=1
    )
    (row,) = audit.run(wanted).rows
    assert row.status == checks.ERROR and "kms:VerifyMac" in row.detail and "tampered" not in row.detail
    assert "IAM policy" in row.detail, row.detail


def test_baselines_are_verified_with_verify_mac_alone_never_a_signers_right(
    single: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TG.baseline verifies every baseline with ``kms:VerifyMac`` and never calls ``kms:GenerateMac`` (the
    signer's right, and the one call checking a derived-key record would make), so the audit's role needs
    no place in ``StateSignerArns``. moto evaluates no key policy: after the record, integrity's two
    GenerateMac callers are made to fail as a refused call would, and the VerifyMac checks are counted."""
    from trailguard import integrity

    assert main(["baseline", "record", "--stack-name", "tg", "--region", "us-east-1"]) == 0

    def refused(*_: Any, **__: Any) -> Any:
        raise RuntimeError("AccessDeniedException: not authorized to perform kms:GenerateMac")

    monkeypatch.setattr(integrity.Mac, "sign", refused)
    monkeypatch.setattr(integrity.DerivedMac, "_derive", refused)
    checked: list[str] = []
    real_verify = integrity.Mac.verify

    def counted(self: integrity.Mac, pk: str, sk: str, text: str, mac: str) -> bool:
        checked.append(mac)
        return real_verify(self, pk, sk, text, mac)

    monkeypatch.setattr(integrity.Mac, "verify", counted)
    wanted = audit.Options(
        home_region="us-east-1", regions=("us-east-1",), stack_name="tg", checks=("TG.baseline",), workers=1
    )
    (row,) = audit.run(wanted).rows
    assert row.status == checks.PASS, row
    assert checked and not any(m.startswith(integrity.DERIVED_TAG + ".") for m in checked), checked


def test_the_state_keys_policy_leaves_verify_mac_to_iam(template: dict[str, Any]) -> None:
    """Why the audit's role needs only ``kms:VerifyMac`` in its IAM policy: the state key's account
    statement allows everything but ``kms:GenerateMac`` (so IAM decides VerifyMac for any role of the
    account), and only GenerateMac is reserved to the guard role and ``StateSignerArns``."""
    statements = template["Resources"]["StateKey"]["Properties"]["KeyPolicy"]["Statement"]
    (account,) = [
        s for s in statements if isinstance(s, dict) and s.get("Sid") == "AccountAdministersButDoesNotSign"
    ]
    assert account["Effect"] == "Allow" and account["NotAction"] == "kms:GenerateMac"
    assert facts.BASELINE_KEY_PERMISSIONS == ("kms:VerifyMac",)
