"""Who made the call: trailguard's own role is always benign, allow-listed principals are allowed."""

from __future__ import annotations

import pytest
from policy_support import BREAK_GLASS, GUARD_ROLE, PROTECTING

from trailguard.policy import Inventory, classify

STOP = "tamper/cloudtrail_stoplogging_assumedrole_panther.json"


def as_role(role_arn: str, session: str = "s1") -> dict:
    account = role_arn.split(":")[4]
    name = role_arn.rsplit("/", 1)[-1]
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLE:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{name}/{session}",
        "accountId": account,
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role_arn, "accountId": account}},
    }


@pytest.mark.parametrize(
    "relpath",
    [
        STOP,
        "tamper/cloudtrail_deletetrail_stratus.json",
        "tamper/kms_disablekey_panther.json",
        "tamper/events_deleterule_elastic.json",
        "tamper/guardduty_deletedetector_elastic.json",
        "failed-tamper/organizations_leaveorganization_accessdenied_stratus.json",
    ],
)
def test_own_role_calls_are_always_benign(modified, relpath):
    record = modified(relpath, userIdentity=as_role(GUARD_ROLE))
    verdict = classify(record, Inventory.from_dict(PROTECTING))
    assert verdict.verdict == "benign"
    assert verdict.technique_id is None
    assert "trailguard's own role" in verdict.reason


def test_own_role_is_recognised_from_the_session_arn_alone(modified):
    identity = as_role(GUARD_ROLE)
    del identity["sessionContext"]
    verdict = classify(modified(STOP, userIdentity=identity), Inventory.from_dict(PROTECTING))
    assert verdict.verdict == "benign"


def test_own_role_with_a_path_matches_its_session(modified):
    data = {
        **PROTECTING,
        "guard": {"role_arns": ["arn:aws:iam::123456789012:role/svc/trailguard-remediation"]},
    }
    identity = as_role(GUARD_ROLE)
    del identity["sessionContext"]
    assert classify(modified(STOP, userIdentity=identity), Inventory.from_dict(data)).verdict == "benign"


def test_same_role_name_in_another_account_is_not_the_guard(modified):
    record = modified(STOP, userIdentity=as_role("arn:aws:iam::999999999999:role/trailguard-remediation"))
    assert classify(record, Inventory.from_dict(PROTECTING)).verdict == "tamper"


def test_allow_listed_principal_is_allowed(modified):
    verdict = classify(modified(STOP, userIdentity=as_role(BREAK_GLASS)), Inventory.from_dict(PROTECTING))
    assert verdict.verdict == "allowed"
    assert verdict.technique_id == "trail.stop-logging"
    assert "allow-listed" in verdict.reason
    assert verdict.principal == "arn:aws:sts::123456789012:assumed-role/break-glass/s1"


def test_allow_listed_user_by_caller_arn(modified):
    data = {**PROTECTING, "allowed_principal_arns": ["arn:aws:iam::143434273843:user/christophe"]}
    record = modified("tamper/cloudtrail_stoplogging_stratus.json")
    assert classify(record, Inventory.from_dict(data)).verdict == "allowed"
    assert classify(record, Inventory.from_dict(PROTECTING)).verdict == "tamper"


def test_allow_list_does_not_make_harmless_calls_interesting(modified):
    record = modified(STOP, userIdentity=as_role(BREAK_GLASS), params={"name": "unprotected"})
    assert classify(record, Inventory.from_dict(PROTECTING)).verdict == "benign"


def test_failed_call_by_allow_listed_principal_is_allowed(modified):
    record = modified(STOP, userIdentity=as_role(BREAK_GLASS), errorCode="AccessDenied")
    verdict = classify(record, Inventory.from_dict(PROTECTING))
    assert verdict.verdict == "allowed"
    assert "AccessDenied" in verdict.reason


def test_without_inventory_no_principal_is_allowed(modified):
    assert classify(modified(STOP, userIdentity=as_role(BREAK_GLASS)), Inventory()).verdict == "tamper"
