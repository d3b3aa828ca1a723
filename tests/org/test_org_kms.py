"""The central topic is KMS-encrypted, so a member's role publishes to it only when both documents
allow the key's use through SNS: the central key's policy (the organization's principals, via
``sns.<region>``) and the member role's AlertDelivery policy (cross-account, the key policy alone grants
nothing). moto evaluates neither key policies nor IAM policies (and the local cloud checks only topic
policies), so the two documents are rendered here from the templates for given parameters and
evaluated by a small evaluator of the statements they use (Allow, Action/Resource wildcards,
``StringEquals``); anything else it meets counts as not allowing.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "src" / "trailguard" / "data"
ORG_ID = "o-a1b2c3d4e5"
CENTRAL_ACCOUNT = "222222222222"
MEMBER_ACCOUNT = "333333333333"
CENTRAL_REGION = "eu-west-1"
MEMBER_REGION = "us-east-1"
TOPIC = f"arn:aws:sns:{CENTRAL_REGION}:{CENTRAL_ACCOUNT}:trailguard-org-alerts"
KEY = f"arn:aws:kms:{CENTRAL_REGION}:{CENTRAL_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MEMBER_ROLE = f"arn:aws:iam::{MEMBER_ACCOUNT}:role/trailguard-guard-{MEMBER_REGION}"
NO_VALUE = object()


def _decode(name: str) -> dict[str, Any]:
    from cfnlint.decode import decode_str

    decoded, matches = decode_str((DATA / name).read_text(encoding="utf-8"))
    assert not matches, [str(m) for m in matches]
    assert decoded is not None
    return json.loads(json.dumps(dict(decoded)))


class Render:
    """Resolves the intrinsic functions these documents use, for one stack's parameters."""

    def __init__(self, template: dict[str, Any], params: dict[str, str], account: str, region: str) -> None:
        self.template = template
        self.refs = {
            **{k: v.get("Default", "") for k, v in template.get("Parameters", {}).items()},
            **params,
            "AWS::Partition": "aws",
            "AWS::AccountId": account,
            "AWS::Region": region,
            "AWS::StackName": "trailguard",
        }

    def condition(self, name: str) -> bool:
        return bool(self(self.template["Conditions"][name]))

    def _sub(self, text: str, extra: dict[str, Any]) -> str:
        out, rest = "", text
        while "${" in rest:
            head, _, tail = rest.partition("${")
            key, _, rest = tail.partition("}")
            value = extra[key] if key in extra else self.refs[key]
            out += head + str(value)
        return out + rest

    def __call__(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self(n) for n in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((fn, arg),) = node.items()
            if fn == "Ref":
                if arg == "AWS::NoValue":
                    return NO_VALUE
                return f"REF:{arg}" if arg in self.template["Resources"] else self.refs[arg]
            if fn == "Fn::Sub":
                if isinstance(arg, str):
                    return self._sub(arg, {})
                return self._sub(arg[0], {k: self(v) for k, v in arg[1].items()})
            if fn == "Fn::Select":
                return self(arg[1])[int(arg[0])]
            if fn == "Fn::Split":
                return str(self(arg[1])).split(arg[0])
            if fn == "Fn::If":
                return self(arg[1]) if self.condition(arg[0]) else self(arg[2])
            if fn == "Fn::Equals":
                return self(arg[0]) == self(arg[1])
            if fn == "Fn::Not":
                return not self(arg[0])
            if fn == "Fn::And":
                return all(self(a) for a in arg)
            if fn == "Fn::Or":
                return any(self(a) for a in arg)
            if fn == "Condition":
                return self.condition(arg)
            if fn == "Fn::GetAtt":
                return f"GETATT:{'.'.join(arg) if isinstance(arg, list) else arg}"
        return {k: v for k, v in ((k, self(v)) for k, v in node.items()) if v is not NO_VALUE}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def allows(statements: list[dict[str, Any]], request: dict[str, Any], *, key_policy: bool) -> bool:
    """True when an Allow statement matches the request and no Deny does (resource policies also match
    the principal). Unknown condition operators never match an Allow."""
    allowed = False
    for s in statements:
        if not any(fnmatchcase(request["action"], a) for a in _as_list(s.get("Action", []))):
            continue
        if not any(fnmatchcase(request["resource"], r) for r in _as_list(s.get("Resource", []))):
            continue
        if key_policy:
            principals = _as_list(s.get("Principal", {}).get("AWS", []))
            account_root = f"arn:aws:iam::{request['principal'].split(':')[4]}:root"
            if not ({"*", account_root, request["principal"]} & set(principals)):
                continue
        conditions = s.get("Condition", {})
        if set(conditions) - {"StringEquals"}:
            continue
        context = request["context"]
        if all(context.get(k) in _as_list(v) for k, v in conditions.get("StringEquals", {}).items()):
            if s["Effect"] == "Deny":
                return False
            allowed = True
    return allowed


@pytest.fixture(scope="module")
def member() -> dict[str, Any]:
    return _decode("trailguard.yaml")


@pytest.fixture(scope="module")
def central() -> dict[str, Any]:
    return _decode("central.yaml")


def _alert_delivery(member: dict[str, Any], alert_topic_arn: str) -> list[dict[str, Any]]:
    render = Render(
        member,
        {"AlertTopicArn": alert_topic_arn, "SecurityContactEmail": "" if alert_topic_arn else "a@b.example"},
        MEMBER_ACCOUNT,
        MEMBER_REGION,
    )
    (policy,) = [
        p
        for p in member["Resources"]["GuardRole"]["Properties"]["Policies"]
        if p["PolicyName"] == "AlertDelivery"
    ]
    statements: list[dict[str, Any]] = render(policy["PolicyDocument"])["Statement"]
    return statements


def _key_policy(central: dict[str, Any]) -> list[dict[str, Any]]:
    render = Render(
        central,
        {
            "OrganizationId": ORG_ID,
            "ManagementAccountId": "111111111111",
            "SecurityContactEmail": "s@b.example",
        },
        CENTRAL_ACCOUNT,
        CENTRAL_REGION,
    )
    statements: list[dict[str, Any]] = render(central["Resources"]["CentralKey"]["Properties"]["KeyPolicy"])[
        "Statement"
    ]
    return statements


def _request(action: str, **overrides: Any) -> dict[str, Any]:
    context = {"kms:ViaService": f"sns.{CENTRAL_REGION}.amazonaws.com", "aws:PrincipalOrgID": ORG_ID}
    context.update(overrides.pop("context", {}))
    return {"action": action, "resource": KEY, "principal": MEMBER_ROLE, "context": context, **overrides}


@pytest.mark.parametrize("action", ["kms:GenerateDataKey", "kms:Decrypt"])
def test_a_member_role_may_use_the_central_key_through_sns_by_both_documents(
    member: dict[str, Any], central: dict[str, Any], action: str
) -> None:
    request = _request(action)
    assert allows(_alert_delivery(member, TOPIC), request, key_policy=False)
    assert allows(_key_policy(central), request, key_policy=True)


@pytest.mark.parametrize(
    ("why", "overrides"),
    [
        ("called directly, not through SNS", {"context": {"kms:ViaService": None}}),
        (
            "through SNS in the member's region",
            {"context": {"kms:ViaService": f"sns.{MEMBER_REGION}.amazonaws.com"}},
        ),
        ("through another service", {"context": {"kms:ViaService": f"s3.{CENTRAL_REGION}.amazonaws.com"}}),
        ("a key of another account", {"resource": KEY.replace(CENTRAL_ACCOUNT, "444444444444")}),
        ("a key of the central account elsewhere", {"resource": KEY.replace(CENTRAL_REGION, "ap-south-1")}),
    ],
)
def test_the_member_role_grants_nothing_else_on_kms(member: dict[str, Any], why: str, overrides: Any) -> None:
    request = _request("kms:GenerateDataKey", **overrides)
    assert not allows(_alert_delivery(member, TOPIC), request, key_policy=False), why
    assert not allows(_alert_delivery(member, TOPIC), _request("kms:Encrypt"), key_policy=False)
    assert not allows(_alert_delivery(member, TOPIC), _request("kms:ReEncryptFrom"), key_policy=False)


@pytest.mark.parametrize(
    ("why", "context"),
    [
        ("a principal outside the organization", {"aws:PrincipalOrgID": "o-other000000"}),
        ("called directly, not through SNS", {"kms:ViaService": None}),
        ("through SNS in another region", {"kms:ViaService": f"sns.{MEMBER_REGION}.amazonaws.com"}),
    ],
)
def test_the_central_key_refuses_other_uses_by_other_accounts(
    central: dict[str, Any], why: str, context: dict[str, Any]
) -> None:
    assert not allows(
        _key_policy(central), _request("kms:GenerateDataKey", context=context), key_policy=True
    ), why
    assert not allows(_key_policy(central), _request("kms:CreateGrant"), key_policy=True)


def test_a_stack_with_its_own_topic_grants_no_key_of_another_account(member: dict[str, Any]) -> None:
    """Without AlertTopicArn the key statement names the stack's own key only (GuardKeyUse's)."""
    publish, key_use = _alert_delivery(member, "")
    assert publish["Action"] == "sns:Publish" and "kms:" not in json.dumps(publish)
    assert key_use["Resource"] == "GETATT:GuardKey.Arn"
    own = f"sns.{MEMBER_REGION}.amazonaws.com"
    assert key_use["Condition"] == {"StringEquals": {"kms:ViaService": own}}
    assert not allows([key_use], _request("kms:GenerateDataKey"), key_policy=False)


def test_the_granted_key_calls_survive_the_roles_self_lock(member: dict[str, Any]) -> None:
    """The role denies itself everything outside its functions but a few calls a service makes for it
    (SNS calls KMS with the publisher's identity): the central key's calls must be among them, or the
    grant would be void when SNS makes them."""
    (lock,) = [
        p
        for p in member["Resources"]["GuardRole"]["Properties"]["Policies"]
        if p["PolicyName"] == "OnlyTrailguardFunctions"
    ]
    (deny,) = [s for s in lock["PolicyDocument"]["Statement"] if s["Effect"] == "Deny" and "NotAction" in s]
    (key_use,) = [s for s in _alert_delivery(member, TOPIC) if s.get("Sid") == "TopicKeyThroughSns"]
    assert set(_as_list(key_use["Action"])) <= set(deny["NotAction"])
