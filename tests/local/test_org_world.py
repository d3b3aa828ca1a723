"""The organization world of ``trailguard emulator --org``: its accounts and OUs, the organization
trail, each account's attacker and stack, and the ready file that lists them.

moto stores the organization (accounts, OUs, trusted access) but not what it means to CloudTrail; the
member's view of the organization trail is the local cloud's (docs/local-cloud.md, "Organization
mode"), checked in test_org_router.py. Here trailguard is deployed into the member accounts only, as
plain single-account stacks (the member template's organization parameters come later)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from trailguard.local import orgworld
from trailguard.local.org import MANAGEMENT, MEMBER, SECURITY
from trailguard.local.server import LocalCloud

pytestmark = pytest.mark.integration

# A per-account stack parameter, so a test can see each stack got its own (the last digit's period).
PERIODS = {str(d): 10 + d for d in range(10)}


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCloud, orgworld.OrgWorld]]:
    base = tmp_path_factory.mktemp("orgworld")
    cloud = LocalCloud(outbox_dir=base / "outbox", finding_delay=None).start()
    try:
        built = orgworld.build(
            cloud,
            progress=lambda _line: None,
            stacks=(MEMBER,),
            parameters=lambda account: {"BackstopSchedule": f"rate({PERIODS[account.id[-1]]} minutes)"},
        )
        yield cloud, built
    finally:
        cloud.stop()


def test_the_organization_has_all_features_a_management_a_security_and_two_members_in_an_ou(
    org: tuple[LocalCloud, orgworld.OrgWorld],
) -> None:
    cloud, world = org
    orgs = cloud.client("organizations")
    described = orgs.describe_organization()["Organization"]
    assert described["FeatureSet"] == "ALL"
    assert described["Id"] == world.organization.id
    assert described["MasterAccountId"] == cloud.account == world.organization.management
    listed = {a["Id"] for a in orgs.list_accounts()["Accounts"]}
    assert listed == {a.id for a in world.accounts}
    roles = sorted(a.role for a in world.accounts)
    assert roles == [MANAGEMENT, MEMBER, MEMBER, SECURITY]
    workloads = orgs.list_accounts_for_parent(ParentId=world.ous["Workloads"])["Accounts"]
    assert sorted(a["Id"] for a in workloads) == sorted(a.id for a in world.accounts if a.role == MEMBER)
    security = orgs.list_accounts_for_parent(ParentId=world.ous["Security"])["Accounts"]
    assert [a["Id"] for a in security] == [world.account(SECURITY).id]
    enabled = {
        s["ServicePrincipal"]
        for s in orgs.list_aws_service_access_for_organization()["EnabledServicePrincipals"]
    }
    assert "cloudtrail.amazonaws.com" in enabled


def test_the_management_account_owns_a_logging_multi_region_organization_trail_with_kms_and_validation(
    org: tuple[LocalCloud, orgworld.OrgWorld],
) -> None:
    cloud, world = org
    [trail] = world.by_id(cloud.account).trails
    assert trail == world.base.trail
    ct = cloud.client("cloudtrail")
    got = ct.get_trail(Name=trail.name)["Trail"]
    assert got["TrailARN"] == trail.arn
    assert got["IsOrganizationTrail"] is True
    assert got["IsMultiRegionTrail"] is True
    assert got["LogFileValidationEnabled"] is True
    assert got["KmsKeyId"] == trail.kms_key_id
    assert ct.get_trail_status(Name=trail.name)["IsLogging"] is True
    assert [t.arn for t in world.organization.trails] == [trail.arn]


def test_only_the_first_member_has_a_trail_of_its_own(org: tuple[LocalCloud, orgworld.OrgWorld]) -> None:
    cloud, world = org
    first, second = world.account(MEMBER, 0), world.account(MEMBER, 1)
    [local] = first.trails
    assert local.name == orgworld.MEMBER_TRAIL
    assert local.arn == f"arn:aws:cloudtrail:{cloud.region}:{first.id}:trail/{orgworld.MEMBER_TRAIL}"
    ct = cloud.client("cloudtrail", first.environ)
    assert ct.get_trail_status(Name=local.name)["IsLogging"] is True
    for account, own in ((first, [local.arn]), (second, []), (world.account(SECURITY), [])):
        trails = cloud.client("cloudtrail", account.environ).describe_trails(includeShadowTrails=False)
        assert [t["TrailARN"] for t in trails["trailList"]] == own
        assert [t.arn for t in account.trails] == own


def test_each_accounts_attacker_and_admin_act_in_that_account(
    org: tuple[LocalCloud, orgworld.OrgWorld],
) -> None:
    cloud, world = org
    for account in world.accounts:
        attacker = {
            "AWS_ACCESS_KEY_ID": account.attacker.access_key_id,
            "AWS_SECRET_ACCESS_KEY": account.attacker.secret_access_key,
        }
        me = cloud.client("sts", attacker).get_caller_identity()
        assert (me["Account"], me["Arn"]) == (account.id, f"arn:aws:iam::{account.id}:user/attacker")
        admin = cloud.client("sts", account.environ).get_caller_identity()
        assert admin["Account"] == account.id
    assert len({a.attacker.access_key_id for a in world.accounts}) == len(world.accounts)


def test_trailguard_runs_in_the_member_accounts_as_a_plain_stack(
    org: tuple[LocalCloud, orgworld.OrgWorld],
) -> None:
    """Deployed with each member's own credentials and the parameters given for that account: its
    functions and rules exist in that account, and in no account where no stack was asked for."""
    cloud, world = org
    for account in world.accounts:
        env = None if account.role == MANAGEMENT else account.environ
        functions = {f["FunctionName"] for f in cloud.client("lambda", env).list_functions()["Functions"]}
        if account.role == MEMBER:
            assert account.outputs and set(account.guard.function_names) <= functions
            assert account.guard.role_arns[0].split(":")[4] == account.id
            assert all(len(name) <= 64 for name in account.guard.function_names + account.guard.rule_names)
            assert account.outputs["TopicArn"].split(":")[4] == account.id
            rules = cloud.client("events", env).list_rules()["Rules"]
            schedules = {r.get("ScheduleExpression") for r in rules} - {None}
            assert schedules == {f"rate({PERIODS[account.id[-1]]} minutes)"}
        else:
            assert not account.outputs and functions == set()


def test_the_ready_file_lists_every_account_beside_the_single_account_fields(
    org: tuple[LocalCloud, orgworld.OrgWorld],
) -> None:
    cloud, world = org
    doc = json.loads(json.dumps(world.ready()))
    assert doc["endpoint"] == cloud.endpoint and doc["account"] == cloud.account
    assert doc["trail"]["arn"] == world.base.trail.arn
    assert doc["attacker"]["access_key_id"] == world.by_id(cloud.account).attacker.access_key_id
    assert doc["organization"]["id"] == world.organization.id
    assert doc["organization"]["management_account"] == cloud.account
    assert doc["organization"]["security_account"] == world.account(SECURITY).id
    assert doc["organization"]["ous"] == world.ous
    assert [t["arn"] for t in doc["organization"]["organization_trails"]] == [world.base.trail.arn]
    by_role: dict[str, list[dict[str, Any]]] = {}
    for entry in doc["accounts"]:
        by_role.setdefault(str(entry["role"]), []).append(entry)
        assert set(entry) >= {"id", "role", "attacker", "admin", "trails", "stack", "topic_arn", "guard"}
        assert set(entry["attacker"]) >= {"access_key_id", "secret_access_key", "arn"}
    assert [len(by_role[r]) for r in (MANAGEMENT, SECURITY, MEMBER)] == [1, 1, 2]
    assert [t["name"] for t in by_role[MANAGEMENT][0]["trails"]] == [world.base.trail.name]
    assert [[t["name"] for t in m["trails"]] for m in by_role[MEMBER]] == [[orgworld.MEMBER_TRAIL], []]
    assert [m["stack"] for m in by_role[MEMBER]] == [True, True]
    assert by_role[SECURITY][0]["stack"] is False


def test_a_plain_member_stack_cannot_restart_the_organization_trail_and_says_so(
    org: tuple[LocalCloud, orgworld.OrgWorld],
) -> None:
    """Today's single-account stack in a member sees the organization trail (a shadow trail, as on
    AWS) and its backstop tries to restart it: refused (the local cloud's AccessDeniedException, which
    moto lacks), nothing changes, and each member emails [ACTION REQUIRED] from its own account. The
    member template's OrgTrailRole=member is what turns this into verify-and-report."""
    cloud, world = org
    org_trail = world.base.trail
    owner = cloud.client("cloudtrail")
    owner.stop_logging(Name=org_trail.name)  # the management account has no stack here
    try:
        assert cloud.wait_idle(15)
        seen_rec, seen_mail = len(cloud.recorder.records), len(cloud.outbox.emails())
        fired = [d for a in world.accounts if a.role == MEMBER for d in _fire_backstop(cloud, a.id)]
        assert fired
        assert cloud.wait_idle(60)
        starts = [r for r in cloud.recorder.records[seen_rec:] if r["eventName"] == "StartLogging"]
        members = sorted(a.id for a in world.accounts if a.role == MEMBER)
        assert sorted(r["recipientAccountId"] for r in starts) == members
        assert {r["errorCode"] for r in starts} == {"AccessDeniedException"}
        assert {r["requestParameters"]["name"] for r in starts} == {org_trail.arn}
        assert owner.get_trail_status(Name=org_trail.name)["IsLogging"] is False
        mails = cloud.outbox.emails()[seen_mail:]
        assert sorted(m["topic_arn"].split(":")[4] for m in mails) == members
        assert all("[ACTION REQUIRED]" in m["subject"] for m in mails), [m["subject"] for m in mails]
    finally:
        owner.start_logging(Name=org_trail.name)
        cloud.wait_idle(15)


def _fire_backstop(cloud: LocalCloud, account: str) -> list[Any]:
    return [d for name in cloud.schedule_rules(account) for d in cloud.fire_schedule(name, account)]
