"""IAM roles: a role ARN and its session ARNs are the same principal."""

from __future__ import annotations

from trailguard.resources import role


def test_identity_role_and_session_compare_equal() -> None:
    assert role.identity("arn:aws:iam::1:role/service-role/tg") == ("1", "tg")
    assert role.identity("arn:aws:sts::1:assumed-role/tg/session") == ("1", "tg")
    assert role.identity("arn:aws:iam::1:user/alice") is None
    assert role.identity("tg") is None


def test_passed_only_to_cloudtrail() -> None:
    """IfExists: PassRole always carries iam:PassedToService, so it is passed to CloudTrail only; the
    delivery role's reads and writes in the same statement carry no such key."""
    assert role.KIND.iam_condition == {
        "StringEqualsIfExists": {"iam:PassedToService": "cloudtrail.amazonaws.com"}
    }
