"""The organization repairs, end to end through the API-call handler on in-process moto: moto's
Organizations implements trusted access (Enable/Disable/ListAWSServiceAccess...), SCP storage
(Create/Update/Delete/Describe/Attach/Detach/ListPolicies, ListTargetsForPolicy) and roots, OUs and
accounts, so none of those calls is stubbed. It has no CloudTrail delegated administrator (its
Organizations rejects the cloudtrail principal there, and CloudTrail has no
RegisterOrganizationDelegatedAdmin), so that repair is tested with botocore's Stubber, said below.
The Organizations records are constructed (``MANIFEST.tsv``). SCPs are stored, never enforced.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from trailguard import aws, sweep
from trailguard.baseline import Baselines
from trailguard.config import Config
from trailguard.inventory import build
from trailguard.org import attach
from trailguard.org.scp import CLOUDTRAIL_POLICY, SELF_POLICY, Options, policies
from trailguard.remediate import Context, RepairRequest
from trailguard.remediate import org as org_repair
from trailguard.resources import organization as org_kind
from trailguard.state import StateStore

from .conftest import ACCOUNT, REGION, TABLE, Stack, remediation_of, tamper_event

TRUSTED = "organizations_disableawsserviceaccess_cloudtrail_constructed.json"
ADMIN = "organizations_deregisterdelegatedadministrator_cloudtrail_constructed.json"
DETACH = "organizations_detachpolicy_constructed.json"
SCP = "SERVICE_CONTROL_POLICY"


def _org() -> Any:
    return boto3.client("organizations", region_name=REGION)


@pytest.fixture
def org(account: Any) -> dict[str, str]:
    """The account is the management account of an organization: CloudTrail's trusted access on, SCPs
    enabled, trailguard's two SCPs attached to one OU (as ``trailguard scp --attach`` does). Requested
    before ``stack``, so the stack's baselines record the organization too."""
    client = _org()
    client.create_organization(FeatureSet="ALL")
    root = client.list_roots()["Roots"][0]["Id"]
    client.enable_policy_type(RootId=root, PolicyType=SCP)
    client.enable_aws_service_access(ServicePrincipal=org_kind.CLOUDTRAIL)
    ou = client.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]
    built = policies(Options())
    steps, _ = attach.plan(client, built, [ou])
    ids = attach.apply(client, built, steps)
    return {"root": root, "ou": ou, "self": ids[SELF_POLICY], "cloudtrail": ids[CLOUDTRAIL_POLICY]}


@pytest.fixture
def org_stack(org: dict[str, str], stack: Stack) -> Iterator[Stack]:
    yield stack


def _ours() -> dict[str, str]:
    listed = _org().list_policies(Filter=SCP)["Policies"]
    return {p["Name"]: p["Id"] for p in listed if org_kind.is_trailguard_policy(p["Name"])}


def _targets(policy_id: str) -> set[str]:
    return {t["TargetId"] for t in _org().list_targets_for_policy(PolicyId=policy_id)["Targets"]}


def _trusted() -> bool:
    listed = _org().list_aws_service_access_for_organization()["EnabledServicePrincipals"]
    return any(s["ServicePrincipal"] == org_kind.CLOUDTRAIL for s in listed)


def _incident(stack: Stack, event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    result = stack.invoke(event)
    assert result["skipped"] == []
    (incident,) = result["incidents"]
    messages = stack.messages()
    return incident, messages[-1]


def test_the_baseline_records_trusted_access_and_trailguards_scps(org: dict[str, str], stack: Stack) -> None:
    doc = Baselines(StateStore(TABLE, REGION)).get("organization", ACCOUNT)
    assert doc is not None and doc["ManagementAccountId"] == ACCOUNT
    assert org_kind.CLOUDTRAIL in doc["TrustedAccess"]
    assert [p["Name"] for p in doc["Policies"]] == [CLOUDTRAIL_POLICY, SELF_POLICY]
    assert all(p["Targets"] == [org["ou"]] for p in doc["Policies"])
    assert "DelegatedAdmins" not in doc  # moto has no CloudTrail delegated admin: said in _meta
    assert any("delegated administrators not listed" in n for n in doc["_meta"]["notes"])


def test_trusted_access_disabled_is_enabled_again(org_stack: Stack) -> None:
    _org().disable_aws_service_access(ServicePrincipal=org_kind.CLOUDTRAIL)
    incident, message = _incident(org_stack, tamper_event(TRUSTED, {}))
    assert incident["technique"] == "org.trusted-access"
    assert incident["status"] == "remediated" and incident["verified"] is True
    assert _trusted()
    outcome = remediation_of(message)
    assert [c["operation"] for c in outcome["calls"]] == [
        "ListAWSServiceAccessForOrganization",
        "EnableAWSServiceAccess",
        "ListAWSServiceAccessForOrganization",
    ]
    assert "organization trails may not have logged member accounts" in outcome["summary"]
    (again,) = org_stack.invoke(tamper_event(TRUSTED, {}))["incidents"]
    assert again["status"] == "already-restored"


def test_a_detached_scp_is_attached_again(org: dict[str, str], org_stack: Stack) -> None:
    _org().detach_policy(PolicyId=org["self"], TargetId=org["ou"])
    event = tamper_event(DETACH, {"policyId": org["self"], "targetId": org["ou"]})
    incident, message = _incident(org_stack, event)
    assert incident["technique"] == "org.scp-change" and incident["status"] == "remediated"
    assert _targets(org["self"]) == {org["ou"]}
    assert f"attached SCP {SELF_POLICY} to {org['ou']} again" in remediation_of(message)["summary"]


def test_a_deleted_scp_is_recreated_with_its_content_and_targets(
    org: dict[str, str], org_stack: Stack
) -> None:
    recorded = _org().describe_policy(PolicyId=org["cloudtrail"])["Policy"]["Content"]
    _org().detach_policy(PolicyId=org["cloudtrail"], TargetId=org["ou"])
    _org().delete_policy(PolicyId=org["cloudtrail"])
    incident, message = _incident(
        org_stack, tamper_event(DETACH, {"policyId": org["cloudtrail"]}, event_name="DeletePolicy")
    )
    assert incident["status"] == "remediated", remediation_of(message)["summary"]
    new = _ours()[CLOUDTRAIL_POLICY]
    assert new != org["cloudtrail"]
    assert json.loads(_org().describe_policy(PolicyId=new)["Policy"]["Content"]) == json.loads(recorded)
    assert _targets(new) == {org["ou"]}
    assert (
        f"recreated deleted SCP {CLOUDTRAIL_POLICY} (was {org['cloudtrail']}, now {new})"
        in (remediation_of(message)["summary"])
    )
    # a later detach of the new id (which the baseline does not know yet) is repaired on the event path
    _org().detach_policy(PolicyId=new, TargetId=org["ou"])
    (again,) = org_stack.invoke(tamper_event(DETACH, {"policyId": new, "targetId": org["ou"]}))["incidents"]
    assert again["status"] == "remediated" and _targets(new) == {org["ou"]}
    # the backstop finds it by name under its new id: no second copy
    baseline = Baselines(StateStore(TABLE, REGION)).get("organization", ACCOUNT)
    assert baseline is not None
    ctx = Context(build(Config(), REGION, []), verify_delay=0.0, sleep=lambda _: None)
    outcomes = sweep.reconcile(ctx, "organization", ACCOUNT, baseline)
    assert [o.status for o in outcomes] == ["already-restored", "already-restored"]
    assert len(_ours()) == 2


def test_rewritten_scp_content_is_restored(org: dict[str, str], org_stack: Stack) -> None:
    harmless = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:x", "Resource": "*"}]}
    _org().update_policy(PolicyId=org["self"], Content=json.dumps(harmless))
    incident, _ = _incident(
        org_stack, tamper_event(DETACH, {"policyId": org["self"]}, event_name="UpdatePolicy")
    )
    assert incident["status"] == "remediated"
    content = json.loads(_org().describe_policy(PolicyId=org["self"])["Policy"]["Content"])
    assert content == policies(Options())[1].document


def test_an_scp_that_is_not_trailguards_is_left_alone(org: dict[str, str], org_stack: Stack) -> None:
    other = _org().create_policy(
        Name="team-guardrails",
        Description="x",
        Type=SCP,
        Content=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:x", "Resource": "*"}]}
        ),
    )["Policy"]["PolicySummary"]["Id"]
    incident, message = _incident(org_stack, tamper_event(DETACH, {"policyId": other, "targetId": org["ou"]}))
    assert incident["status"] == "already-restored"
    assert "is not one of trailguard's recorded SCPs" in remediation_of(message)["summary"]
    assert not any(c["operation"] == "AttachPolicy" for c in remediation_of(message)["calls"])


def test_the_sweep_restores_what_an_unseen_call_changed(org: dict[str, str], org_stack: Stack) -> None:
    _org().detach_policy(PolicyId=org["self"], TargetId=org["ou"])
    _org().disable_aws_service_access(ServicePrincipal=org_kind.CLOUDTRAIL)
    baseline = Baselines(StateStore(TABLE, REGION)).get("organization", ACCOUNT)
    assert baseline is not None
    ctx = Context(build(Config(), REGION, []), verify_delay=0.0, sleep=lambda _: None)
    outcomes = sweep.reconcile(ctx, "organization", ACCOUNT, baseline)
    assert [(o.action, o.status) for o in outcomes] == [
        ("org.enable_trusted_access", "remediated"),
        ("org.restore_scp", "remediated"),
    ]
    assert _trusted() and _targets(org["self"]) == {org["ou"]}


@pytest.mark.parametrize(
    "content",
    [
        {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]},
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
        "not json",
    ],
    ids=["deny-everything", "allow", "not-json"],
)
def test_a_forged_baseline_cannot_make_trailguard_write_another_scp(
    org: dict[str, str], org_stack: Stack, content: Any
) -> None:
    """The floor behind the MAC: a baseline rewritten (and signed) to hold a deny-all SCP would lock the
    organization out; it is refused, nothing is created, the incident is escalated."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    key = {"pk": {"S": "baseline#organization"}, "sk": {"S": ACCOUNT}}
    item = dynamodb.get_item(TableName=TABLE, Key=key)["Item"]
    doc = json.loads(item["doc"]["S"])
    for policy in doc["Policies"]:
        policy["Content"] = content if isinstance(content, str) else json.dumps(content)
    item["doc"] = {"S": json.dumps(doc)}
    dynamodb.put_item(TableName=TABLE, Item=item)
    _org().update_policy(PolicyId=org["self"], Description="changed")
    _org().detach_policy(PolicyId=org["self"], TargetId=org["ou"])
    _org().delete_policy(PolicyId=org["self"])
    incident, message = _incident(
        org_stack, tamper_event(DETACH, {"policyId": org["self"]}, event_name="DeletePolicy")
    )
    assert incident["status"] == "failed"
    assert "safety floor" in remediation_of(message)["summary"]
    assert SELF_POLICY not in _ours()


def test_without_a_baseline_an_scp_change_is_escalated(org: dict[str, str], org_stack: Stack) -> None:
    org_stack.forget_baseline("organization", ACCOUNT)
    incident, message = _incident(
        org_stack, tamper_event(DETACH, {"policyId": org["self"], "targetId": org["ou"]})
    )
    assert incident["status"] == "failed"
    assert "no baseline of the organization is recorded" in remediation_of(message)["summary"]


# -- CloudTrail's delegated administrator: botocore's Stubber (moto has no CloudTrail delegated admin) --


class _Recorded:
    available = True

    def __init__(self, doc: dict[str, Any] | None) -> None:
        self.doc = doc

    def get(self, kind: str, ident: str) -> dict[str, Any] | None:
        return self.doc if kind == "organization" else None

    def trail(self, ref: str) -> dict[str, Any] | None:
        return None


def _stubbed(monkeypatch: pytest.MonkeyPatch) -> tuple[Stubber, Stubber]:
    """Stubbed Organizations and CloudTrail clients where the action makes its calls (moto has no
    CloudTrail delegated administrator, so these replies are AWS's documented shapes)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    aws.clear_cache()
    org, cloudtrail = aws.client("organizations", REGION), aws.client("cloudtrail", REGION)
    return Stubber(org), Stubber(cloudtrail)


def _admins(*accounts: str) -> dict[str, Any]:
    return {"DelegatedAdministrators": [{"Id": a, "Status": "ACTIVE"} for a in accounts]}


def _request(params: dict[str, str] | None) -> RepairRequest:
    from trailguard.events import Record

    record = None
    if params is not None:
        record = Record.of(json.loads(json.dumps(tamper_event(ADMIN, params)["detail"])), "cloudtrail", None)
    return RepairRequest(org_kind.KIND, ACCOUNT, "test", record=record)


def _ctx(doc: dict[str, Any] | None) -> Context:
    return Context(
        build(Config(), REGION, []), baselines=_Recorded(doc), verify_delay=0.0, sleep=lambda _: None
    )


def test_deregistered_delegated_admin_is_registered_again(monkeypatch: pytest.MonkeyPatch) -> None:
    org, cloudtrail = _stubbed(monkeypatch)
    listed = {"ServicePrincipal": org_kind.CLOUDTRAIL}
    org.add_response("list_delegated_administrators", _admins(), listed)
    cloudtrail.add_response("register_organization_delegated_admin", {}, {"MemberAccountId": "444455556666"})
    org.add_response("list_delegated_administrators", _admins("444455556666"), listed)
    doc = {"DelegatedAdmins": {org_kind.CLOUDTRAIL: ["444455556666"]}}
    with org, cloudtrail:
        outcome = org_repair.register_delegated_admin(_ctx(doc), _request({"accountId": "444455556666"}))
    assert outcome.status == "remediated", outcome.summary
    assert "registered account 444455556666 as CloudTrail's delegated administrator again" in outcome.summary
    org.assert_no_pending_responses()
    cloudtrail.assert_no_pending_responses()


def test_an_unrecorded_account_is_never_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The call deregistered an account the baseline does not record: no Register call (the Stubber
    has none queued, so one would fail the test), and the incident is escalated."""
    org, cloudtrail = _stubbed(monkeypatch)
    org.add_response(
        "list_delegated_administrators", _admins("444455556666"), {"ServicePrincipal": org_kind.CLOUDTRAIL}
    )
    doc = {"DelegatedAdmins": {org_kind.CLOUDTRAIL: ["444455556666"]}}
    with org, cloudtrail:
        outcome = org_repair.register_delegated_admin(_ctx(doc), _request({"accountId": "777788889999"}))
    assert outcome.status == "failed"
    assert "777788889999 was deregistered but is not recorded" in outcome.summary
    assert [c.operation for c in outcome.calls] == ["ListDelegatedAdministrators"]


def test_no_recorded_delegated_admins_is_escalated_without_a_call(monkeypatch: pytest.MonkeyPatch) -> None:
    org, cloudtrail = _stubbed(monkeypatch)
    with org, cloudtrail:
        outcome = org_repair.register_delegated_admin(
            _ctx({"TrustedAccess": []}), _request({"accountId": "444455556666"})
        )
    assert outcome.status == "failed" and outcome.calls == []
    assert "(the call deregistered 444455556666)" in outcome.summary
