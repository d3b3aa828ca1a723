"""Every real record of tests/data/events gets the verdict its manifest expects, and only in context."""

from __future__ import annotations

import pytest
from policy_support import (
    BREAK_GLASS,
    GUARD_ROLE,
    OUTPUT_KEYS,
    PROTECTING,
    UNRELATED,
    expected_verdict,
    load,
    manifest,
)

from trailguard.policy import TECHNIQUES, Inventory, classify

ROWS = manifest()

TECHNIQUE_OF = {
    "tamper/cloudtrail_deletetrail_cli_elastic.json": "trail.delete",
    "tamper/cloudtrail_deletetrail_stratus.json": "trail.delete",
    "tamper/cloudtrail_deletetrail_via_cfn_panther.json": "trail.delete",
    "tamper/cloudtrail_puteventselectors_no_mgmt_events_panther.json": "trail.selectors-degrade",
    "tamper/cloudtrail_puteventselectors_no_mgmt_events_stratus.json": "trail.selectors-degrade",
    "tamper/cloudtrail_stoplogging_assumedrole_panther.json": "trail.stop-logging",
    "tamper/cloudtrail_stoplogging_console_elastic.json": "trail.stop-logging",
    "tamper/cloudtrail_stoplogging_eventbridge_envelope_reflex.json": "trail.stop-logging",
    "tamper/cloudtrail_stoplogging_stratus.json": "trail.stop-logging",
    "tamper/cloudtrail_updatetrail_disable_logfilevalidation_elastic.json": "trail.update-degrade",
    "tamper/cloudtrail_updatetrail_disable_multiregion_via_vpce_panther.json": "trail.update-degrade",
    "tamper/events_deleterule_elastic.json": "guard.rule",
    "tamper/guardduty_deletedetector_elastic.json": "guard.detector",
    "tamper/kms_disablekey_awsdocs.json": "key.disable",
    "tamper/kms_disablekey_elastic.json": "key.disable",
    "tamper/kms_disablekey_panther.json": "key.disable",
    "tamper/kms_putkeypolicy_awsdocs.json": "key.policy-change",
    "tamper/kms_schedulekeydeletion_7day_elastic.json": "key.schedule-deletion",
    "tamper/kms_schedulekeydeletion_custom_keystore_awsdocs.json": "key.schedule-deletion",
    "tamper/kms_schedulekeydeletion_multiregion_replica_awsdocs.json": "key.schedule-deletion",
    "tamper/kms_schedulekeydeletion_panther.json": "key.schedule-deletion",
    "tamper/kms_schedulekeydeletion_standard_awsdocs.json": "key.schedule-deletion",
    "tamper/lambda_deletefunction_panther.json": "guard.function",
    "tamper/s3_deletebucketpolicy_awsdocs.json": "bucket.policy-change",
    "tamper/s3_putbucketlifecycle_1day_expiry_trail_bucket_panther.json": "bucket.lifecycle-expire",
    "tamper/s3_putbucketpolicy_public_panther.json": "bucket.policy-change",
    "tamper/guardduty_createfilter_archive_trail_disabled_localcloud.json": "guardduty.suppression",
    "tamper/guardduty_updatefilter_archive_trail_disabled_localcloud.json": "guardduty.suppression",
    "tamper/securityhub_disableimportfindingsforproduct_guardduty_localcloud.json": (
        "securityhub.import-disabled"
    ),
    "tamper/securityhub_createautomationrule_suppress_guardduty_localcloud.json": "securityhub.suppression",
    "tamper/securityhub_batchupdateautomationrules_suppress_guardduty_localcloud.json": (
        "securityhub.suppression"
    ),
    "tamper/cloudtrail_updateeventdatastore_retention_cut_constructed.json": "lake.update-degrade",
    "tamper/logs_deleteloggroup_constructed.json": "logs.group-delete",
    "tamper/logs_putretentionpolicy_1day_constructed.json": "logs.retention-cut",
    "tamper/iam_putrolepolicy_delivery_deny_constructed.json": "logs.delivery-role",
    "tamper/s3_putbucketversioning_suspended_constructed.json": "bucket.versioning-suspend",
    "tamper/s3_deletebucketpublicaccessblock_constructed.json": "bucket.public-access",
    "tamper/s3_putbucketacl_publicread_constructed.json": "bucket.public-access",
    "tamper/s3_deletebucketencryption_constructed.json": "bucket.encryption-change",
    "tamper/s3_deleteobject_trail_log_constructed.json": "bucket.objects-delete",
    "failed-tamper/cloudtrail_deletetrail_conflictexception_panther.json": "trail.delete",
    "failed-tamper/cloudtrail_stoplogging_invalidtrailname_panther.json": "trail.stop-logging",
    "failed-tamper/cloudtrail_updatetrail_trailnotfound_awsdocs.json": "trail.update-degrade",
    "failed-tamper/kms_disablekey_notfound_panther.json": "key.disable",
    "failed-tamper/organizations_leaveorganization_accessdenied_panther.json": "org.leave",
    "failed-tamper/organizations_leaveorganization_accessdenied_stratus.json": "org.leave",
    "failed-tamper/s3_putbucketpolicy_accessdenied_panther.json": "bucket.policy-change",
    "tamper/organizations_disableawsserviceaccess_cloudtrail_constructed.json": "org.trusted-access",
    "tamper/organizations_deregisterdelegatedadministrator_cloudtrail_constructed.json": (
        "org.delegated-admin"
    ),
    "tamper/organizations_detachpolicy_constructed.json": "org.scp-change",
}
TECHNIQUE_OF.update(
    {
        f"findings/{name}.json": "finding.trail-disabled"
        for name in (
            "guardduty_finding_cloudtrailloggingdisabled_deletetrail_stixshifter",
            "guardduty_finding_sample_cloudtrailloggingdisabled_elastic",
            "securityhub_imported_guardduty_cloudtrailloggingdisabled_awssamples",
        )
    }
)

# Tampering whatever the inventory says: they blind the second detection path or leave the org trail.
CONTEXT_FREE = {
    "guard.detector",
    "org.leave",
    # the organization's own calls: the call alone says what it touches
    "org.trusted-access",
    "org.delegated-admin",
    "org.scp-change",
    # the finding they hide protects every trail: no inventory is needed to judge them
    "guardduty.suppression",
    "securityhub.import-disabled",
    "securityhub.suppression",
}
# Judged only against an inventory: without one, no bucket, key or guard resource is known.
NEEDS_INVENTORY = {
    "logs.delivery-role",
    "guard.rule",
    "guard.function",
    "key.disable",
    "key.schedule-deletion",
    "key.policy-change",
    "bucket.policy-change",
    "bucket.lifecycle-expire",
    "bucket.versioning-suspend",
    "bucket.public-access",
    "bucket.encryption-change",
    "bucket.objects-delete",
    "logs.group-delete",
    "logs.retention-cut",
}


def test_manifest_lists_every_record(events_dir):
    on_disk = {p.relative_to(events_dir).as_posix() for p in events_dir.rglob("*.json")}
    assert on_disk == {row["file"] for row in ROWS}
    assert len(ROWS) == len(on_disk), "a file is listed twice in MANIFEST.tsv"


def test_every_non_benign_record_has_an_expected_technique():
    actionable = {row["file"] for row in ROWS if expected_verdict(row) != "benign"}
    assert actionable == set(TECHNIQUE_OF)
    assert set(TECHNIQUE_OF.values()) <= set(TECHNIQUES)


@pytest.mark.parametrize("row", ROWS, ids=[row["file"] for row in ROWS])
def test_manifest_verdict_with_protecting_inventory(row):
    verdict = classify(load(row["file"]), Inventory.from_dict(PROTECTING))
    assert verdict.verdict == expected_verdict(row), verdict.reason
    assert verdict.technique_id == TECHNIQUE_OF.get(row["file"])
    assert verdict.reason.endswith(".") and verdict.reason[0].isupper()


@pytest.mark.parametrize("row", ROWS, ids=[row["file"] for row in ROWS])
def test_only_context_free_techniques_fire_when_nothing_named_is_protected(row):
    verdict = classify(load(row["file"]), Inventory.from_dict(UNRELATED))
    technique = TECHNIQUE_OF.get(row["file"])
    if technique in CONTEXT_FREE:
        assert verdict.verdict == expected_verdict(row)
        assert verdict.technique_id == technique
    else:
        assert verdict.verdict == "benign", verdict.reason
        assert verdict.technique_id is None
    if technique is not None and technique not in CONTEXT_FREE:
        assert verdict.resource, "a benign verdict about a resource still names it"
        assert any(
            phrase in verdict.reason
            for phrase in ("not one of", "none of the protected", "not trailguard", "does not protect")
        ), verdict.reason


@pytest.mark.parametrize("row", ROWS, ids=[row["file"] for row in ROWS])
def test_without_inventory_trails_are_protected_and_other_resources_unknown(row):
    verdict = classify(load(row["file"]), Inventory())
    technique = TECHNIQUE_OF.get(row["file"])
    if technique in NEEDS_INVENTORY:
        assert verdict.verdict == "benign"
        # IAM calls are judged by guard.role first, whose harmless reason is then the one shown
        assert verdict.reason.startswith("No inventory names") or (
            technique == "logs.delivery-role" and "not trailguard's role" in verdict.reason
        ), verdict.reason
    else:
        assert verdict.verdict == expected_verdict(row), verdict.reason
        assert verdict.technique_id == technique


def test_output_line_has_exactly_the_documented_keys():
    record = load("tamper/cloudtrail_stoplogging_stratus.json")
    line = classify(record, Inventory()).to_output("x.json", 3)
    assert list(line) == OUTPUT_KEYS
    assert line["source"] == "x.json" and line["index"] == 3
    assert line["event_id"] == "10163ed2-2253-469d-a5ee-cbc6651f8934"
    assert line["event_name"] == "StopLogging"
    assert line["technique"] == "trail.stop-logging"
    assert line["resource"] == "stratus-red-team-ct-stop-trail-buykxbqejv"
    assert line["principal"] == "arn:aws:iam::143434273843:user/christophe"


def test_resource_is_the_inventoried_arn_when_the_call_names_the_trail_by_name():
    verdict = classify(load("tamper/cloudtrail_deletetrail_stratus.json"), Inventory.from_dict(PROTECTING))
    assert verdict.resource == (
        "arn:aws:cloudtrail:us-west-2:847129010505:trail/stratus-red-team-cloudtraild-trail-kvrwohmiai"
    )


def test_failed_call_on_a_trail_not_protected_is_benign():
    record = load("failed-tamper/cloudtrail_stoplogging_invalidtrailname_panther.json")
    verdict = classify(record, Inventory.from_dict(UNRELATED))
    assert verdict.verdict == "benign"
    assert "example-trail" in verdict.reason


def test_attempt_reason_names_the_error():
    verdict = classify(
        load("failed-tamper/kms_disablekey_notfound_panther.json"), Inventory.from_dict(PROTECTING)
    )
    assert verdict.verdict == "attempt"
    assert "NotFoundException" in verdict.reason
    assert verdict.resource == "arn:aws:kms:us-west-2:123456789012:key/1"


# -- who made the call: trailguard's own role is always benign, allow-listed principals are allowed ----

STOP_BY_ROLE = "tamper/cloudtrail_stoplogging_assumedrole_panther.json"


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


# The function names of PROTECTING's guard: Lambda names the role's session after the function.
OWN_FUNCTION = "basic-node-task"
WEAKENING = [
    STOP_BY_ROLE,
    "tamper/cloudtrail_deletetrail_stratus.json",
    "tamper/kms_disablekey_panther.json",
    "tamper/events_deleterule_elastic.json",
    "tamper/guardduty_deletedetector_elastic.json",
    "failed-tamper/organizations_leaveorganization_accessdenied_stratus.json",
]


@pytest.mark.parametrize("relpath", WEAKENING)
def test_role_calls_from_a_session_that_is_no_trailguard_function_are_judged(modified, relpath):
    """Item 12: an attacker who creates a function with trailguard's role gets a session named after
    their function; its calls are judged like anyone's (before the fix they were all benign)."""
    record = modified(relpath, userIdentity=as_role(GUARD_ROLE, session="attacker-function"))
    verdict = classify(record, Inventory.from_dict(PROTECTING))
    assert verdict.verdict in ("tamper", "attempt"), verdict.reason
    assert "made with trailguard's role, but from session attacker-function" in verdict.reason


@pytest.mark.parametrize("relpath", WEAKENING)
def test_a_weakening_call_is_never_trailguards_whatever_the_session(modified, relpath):
    """trailguard never calls StopLogging, DeleteTrail, DisableKey, DeleteRule, DeleteDetector or
    LeaveOrganization: from its own function's session these are someone running code in it."""
    record = modified(relpath, userIdentity=as_role(GUARD_ROLE, session=OWN_FUNCTION))
    verdict = classify(record, Inventory.from_dict(PROTECTING))
    assert verdict.verdict in ("tamper", "attempt"), verdict.reason
    assert "trailguard never calls" in verdict.reason


def test_a_restoring_call_from_trailguards_function_is_its_own(modified):
    """PutEventSelectors that keeps management events is what the selector repair makes: benign."""
    record = modified(
        "benign/cloudtrail_puteventselectors_with_mgmt_events_panther.json",
        userIdentity=as_role(GUARD_ROLE, session=OWN_FUNCTION),
    )
    verdict = classify(record, Inventory.from_dict(PROTECTING))
    assert verdict.verdict == "benign"
    assert f"trailguard's own function {OWN_FUNCTION}" in verdict.reason


def test_a_weakening_call_trailguard_could_make_is_still_not_its_own(modified):
    """PutEventSelectors is declared (the repair uses it), but one that drops management events
    weakens the trail, so even from the function's session it is tampering."""
    record = modified(
        "tamper/cloudtrail_puteventselectors_no_mgmt_events_panther.json",
        userIdentity=as_role(GUARD_ROLE, session=OWN_FUNCTION),
    )
    verdict = classify(record, Inventory.from_dict(PROTECTING))
    assert verdict.verdict == "tamper"
    assert "trailguard's repairs never weaken" in verdict.reason


def test_a_restore_call_on_trailguards_own_rule_is_its_own(modified):
    """The rule repair's PutTargets on trailguard's rule is declared and touches only its own resource."""
    record = modified(
        "tamper/events_deleterule_elastic.json",
        eventName="PutTargets",
        params={"rule": "DailyLambdaFunction", "targets": []},
        userIdentity=as_role(GUARD_ROLE, session=OWN_FUNCTION),
    )
    assert classify(record, Inventory.from_dict(PROTECTING)).verdict == "benign"


def test_own_function_is_recognised_from_the_session_arn_alone(modified):
    identity = as_role(GUARD_ROLE, session=OWN_FUNCTION)
    del identity["sessionContext"]
    record = modified(
        "benign/cloudtrail_puteventselectors_with_mgmt_events_panther.json", userIdentity=identity
    )
    assert classify(record, Inventory.from_dict(PROTECTING)).verdict == "benign"


def test_own_role_with_a_path_matches_its_session(modified):
    data = {
        **PROTECTING,
        "guard": {
            "role_arns": ["arn:aws:iam::123456789012:role/svc/trailguard-remediation"],
            "function_names": [OWN_FUNCTION],
        },
    }
    identity = as_role(GUARD_ROLE, session=OWN_FUNCTION)
    del identity["sessionContext"]
    record = modified(
        "benign/cloudtrail_puteventselectors_with_mgmt_events_panther.json", userIdentity=identity
    )
    assert classify(record, Inventory.from_dict(data)).verdict == "benign"


def test_same_role_name_in_another_account_is_not_the_guard(modified):
    record = modified(
        STOP_BY_ROLE, userIdentity=as_role("arn:aws:iam::999999999999:role/trailguard-remediation")
    )
    assert classify(record, Inventory.from_dict(PROTECTING)).verdict == "tamper"


def test_allow_listed_principal_is_allowed(modified):
    verdict = classify(
        modified(STOP_BY_ROLE, userIdentity=as_role(BREAK_GLASS)), Inventory.from_dict(PROTECTING)
    )
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
    record = modified(STOP_BY_ROLE, userIdentity=as_role(BREAK_GLASS), params={"name": "unprotected"})
    assert classify(record, Inventory.from_dict(PROTECTING)).verdict == "benign"


def test_failed_call_by_allow_listed_principal_is_allowed(modified):
    record = modified(STOP_BY_ROLE, userIdentity=as_role(BREAK_GLASS), errorCode="AccessDenied")
    verdict = classify(record, Inventory.from_dict(PROTECTING))
    assert verdict.verdict == "allowed"
    assert "AccessDenied" in verdict.reason


def test_without_inventory_no_principal_is_allowed(modified):
    assert (
        classify(modified(STOP_BY_ROLE, userIdentity=as_role(BREAK_GLASS)), Inventory()).verdict == "tamper"
    )


# -- output_line: classify's line, with less work for calls no technique watches (issue 13) -------------


def _odd(raw: dict) -> list[dict]:
    """``raw`` and versions of it that are odd in the fields the short way reads."""
    identity = raw.get("userIdentity")
    return [
        raw,
        {**raw, "eventName": None},
        {**raw, "eventSource": 7},
        {**raw, "eventID": ["x"]},
        {**raw, "userIdentity": "arn:aws:iam::1:user/x"},
        {**raw, "userIdentity": {**(identity if isinstance(identity, dict) else {}), "arn": ""}},
        {k: v for k, v in raw.items() if k != "eventSource"},
        {**raw, "eventName": f"{raw.get('eventName')}20150331"},  # a Lambda-style versioned name
    ]


@pytest.mark.parametrize("inventory", [None, PROTECTING, UNRELATED], ids=["none", "protecting", "unrelated"])
@pytest.mark.parametrize("row", ROWS, ids=[row["file"] for row in ROWS])
def test_output_line_is_classifys_line(row, inventory):
    from policy_support import raw_copy

    from trailguard.events import Record, records_from_object
    from trailguard.policy.classify import output_line

    inv = inventory if inventory is not None else Inventory()
    for raw in _odd(raw_copy(row["file"])):
        for record in records_from_object(raw) if "eventName" in raw else []:
            assert isinstance(record, Record)
            expected = classify(record, inv).to_output("f.json", 3)
            got = output_line(record, inv, "f.json", 3)
            assert got == expected and list(got) == OUTPUT_KEYS
