"""The local cloud's resource-policy evaluator for the organization mode (moto evaluates no bus or
topic policy): what it allows is what AWS would, and whatever it does not model never allows."""

from __future__ import annotations

import json
from typing import Any

import pytest

from trailguard.local.org import MEMBER, Organization, OrgTrail, policy_allows

OWNER, MEMBER_ACCOUNT, STRANGER = "111111111111", "222222222222", "333333333333"
ORG_ID = "o-abcdefghij"


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ORG_GRANT = {
    "Effect": "Allow",
    "Principal": {"AWS": "*"},
    "Action": "sns:Publish",
    "Resource": "*",
    "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG_ID}},
}


def test_an_organization_grant_allows_its_members_only() -> None:
    policy = _policy(ORG_GRANT)
    assert policy_allows(policy, "sns:Publish", MEMBER_ACCOUNT, org_id=ORG_ID)
    assert not policy_allows(policy, "sns:Publish", STRANGER, org_id="o-otherorgxx")
    assert not policy_allows(policy, "sns:Publish", STRANGER)  # outside any organization
    assert not policy_allows(policy, "sns:Subscribe", MEMBER_ACCOUNT, org_id=ORG_ID)


def test_snss_default_topic_policy_admits_only_the_owner() -> None:
    """moto's default topic policy: every principal, conditioned on AWS:SourceOwner = the owner."""
    default = _policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["SNS:Publish", "SNS:Subscribe"],
            "Resource": "*",
            "Condition": {"StringEquals": {"AWS:SourceOwner": OWNER}},
        }
    )
    assert policy_allows(default, "sns:Publish", OWNER)
    assert not policy_allows(default, "sns:Publish", MEMBER_ACCOUNT, org_id=ORG_ID)


@pytest.mark.parametrize(
    "principal",
    [
        MEMBER_ACCOUNT,
        f"arn:aws:iam::{MEMBER_ACCOUNT}:root",
        [STRANGER, MEMBER_ACCOUNT],
        "arn:aws:iam::*:root",
    ],
)
def test_account_principals_as_aws_and_moto_write_them(principal: Any) -> None:
    statement = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "events:PutEvents"}
    assert policy_allows(_policy(statement), "events:PutEvents", MEMBER_ACCOUNT)


def test_a_deny_wins_and_what_is_not_modelled_never_allows() -> None:
    deny = {
        **ORG_GRANT,
        "Effect": "Deny",
        "Condition": {"StringEquals": {"aws:PrincipalAccount": MEMBER_ACCOUNT}},
    }
    assert not policy_allows(_policy(ORG_GRANT, deny), "sns:Publish", MEMBER_ACCOUNT, org_id=ORG_ID)
    unknown_operator = {
        **ORG_GRANT,
        "Condition": {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-*"}},
    }
    assert not policy_allows(_policy(unknown_operator), "sns:Publish", MEMBER_ACCOUNT, org_id=ORG_ID)
    unknown_key = {**ORG_GRANT, "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}
    assert not policy_allows(_policy(unknown_key), "sns:Publish", MEMBER_ACCOUNT, org_id=ORG_ID)
    # A deny on what is not modelled is taken to apply; one whose condition is false does not.
    unmodelled_deny = {**unknown_key, "Effect": "Deny"}
    assert not policy_allows(
        _policy(ORG_GRANT, unmodelled_deny), "sns:Publish", MEMBER_ACCOUNT, org_id=ORG_ID
    )
    other_deny = {**deny, "Condition": {"StringEquals": {"aws:PrincipalAccount": STRANGER}}}
    assert policy_allows(_policy(ORG_GRANT, other_deny), "sns:Publish", MEMBER_ACCOUNT, org_id=ORG_ID)
    for broken in (None, "", "not json", _policy({"Effect": "Allow", "Principal": "*", "Action": "s3:*"})):
        assert not policy_allows(broken, "sns:Publish", MEMBER_ACCOUNT, org_id=ORG_ID)


def test_only_an_account_that_does_not_own_the_organization_trail_gets_the_members_view() -> None:
    trail = OrgTrail(f"arn:aws:cloudtrail:us-east-1:{OWNER}:trail/org", "org", OWNER, "us-east-1")
    org = Organization(ORG_ID, OWNER, {OWNER: "management", MEMBER_ACCOUNT: MEMBER}, [trail])
    assert org.foreign_org_trail(MEMBER_ACCOUNT, trail.arn) == trail
    assert org.foreign_org_trail(OWNER, trail.arn) is None
    assert org.foreign_org_trail(STRANGER, trail.arn) is None  # outside the organization: moto answers
    assert org.foreign_org_trail(MEMBER_ACCOUNT, "org") is None  # by name: the member's own namespace
