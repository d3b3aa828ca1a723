"""``resources.trail.reachable`` / ``verify_only`` / ``watched``: the one rule for which accounts' trails a
stack repairs, by its organization-trail role (``OrgTrailRole``)."""

from __future__ import annotations

import pytest

from trailguard.resources.trail import ORG_TRAIL_ROLES, arn_account, reachable, verify_only, watched

STACK = "222222222222"
MANAGEMENT = "111111111111"
THIRD = "333333333333"
OWN = f"arn:aws:cloudtrail:us-east-1:{STACK}:trail/local"
ORG = f"arn:aws:cloudtrail:us-east-1:{MANAGEMENT}:trail/org-trail"


def test_arn_account() -> None:
    assert arn_account(ORG) == MANAGEMENT
    assert arn_account("org-trail") is None
    assert arn_account("arn:aws:cloudtrail:us-east-1::trail/x") is None


@pytest.mark.parametrize("role", ORG_TRAIL_ROLES)
def test_every_role_repairs_the_stacks_own_trails(role: str) -> None:
    assert reachable(OWN, STACK, STACK, role)
    assert reachable("local", STACK, STACK, role), "a name is the caller's account's"
    assert not verify_only(OWN, STACK, role)


def test_owner_repairs_the_calls_account_but_never_a_third_one() -> None:
    assert reachable(ORG, STACK, MANAGEMENT, "owner")
    assert not reachable(ORG, STACK, THIRD, "owner")
    assert not verify_only(ORG, STACK, "owner")
    assert not watched(ORG, STACK, THIRD, "owner")


def test_delegated_admin_repairs_the_management_accounts_organization_trail() -> None:
    assert reachable(ORG, STACK, STACK, "delegated-admin")
    assert not verify_only(ORG, STACK, "delegated-admin")


def test_member_only_verifies_another_accounts_trail() -> None:
    assert not reachable(ORG, STACK, STACK, "member")
    assert not reachable(ORG, STACK, MANAGEMENT, "member"), "even when the call was recorded there"
    assert verify_only(ORG, STACK, "member")
    assert watched(ORG, STACK, STACK, "member")
    assert not verify_only(ORG, None, "member"), "an unknown stack account cannot tell"
