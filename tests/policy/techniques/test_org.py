"""The organization family's conditions (``policy/techniques/org.py``), on constructed Organizations
records (no public record of these calls was found; ``MANIFEST.tsv`` says so) and the real
LeaveOrganization ones. None reads the inventory: the call alone says what it touches."""

from __future__ import annotations

from collections.abc import Callable

from trailguard.events import Record
from trailguard.policy import Inventory, classify

TRUSTED = "tamper/organizations_disableawsserviceaccess_cloudtrail_constructed.json"
OTHER_SERVICE = "benign/organizations_disableawsserviceaccess_other_constructed.json"
ADMIN = "tamper/organizations_deregisterdelegatedadministrator_cloudtrail_constructed.json"
DETACH = "tamper/organizations_detachpolicy_constructed.json"
MANAGEMENT = "111122223333"


def test_disabling_cloudtrails_trusted_access_is_tamper(modified: Callable[..., Record]) -> None:
    verdict = classify(modified(TRUSTED), Inventory())
    assert verdict.verdict == "tamper" and verdict.technique_id == "org.trusted-access"
    assert verdict.resource == MANAGEMENT  # the organization baseline's id
    assert "organization trails stop logging member accounts" in verdict.reason
    assert verdict.technique is not None and verdict.technique.stops_delivery


def test_another_services_trusted_access_is_benign(modified: Callable[..., Record]) -> None:
    assert classify(modified(OTHER_SERVICE), Inventory()).verdict == "benign"


def test_a_denied_call_without_parameters_is_an_attempt(modified: Callable[..., Record]) -> None:
    verdict = classify(modified(TRUSTED, params=None, errorCode="AccessDenied"), Inventory())
    assert verdict.verdict == "attempt" and verdict.technique_id == "org.trusted-access"


def test_deregistering_cloudtrails_delegated_admin_either_way_is_tamper(
    modified: Callable[..., Record],
) -> None:
    verdict = classify(modified(ADMIN), Inventory())
    assert verdict.verdict == "tamper" and verdict.technique_id == "org.delegated-admin"
    assert "444455556666" in verdict.reason
    cloudtrail_call = modified(
        ADMIN,
        params={"delegatedAdminAccountId": "444455556666"},
        eventSource="cloudtrail.amazonaws.com",
        eventName="DeregisterOrganizationDelegatedAdmin",
    )
    verdict = classify(cloudtrail_call, Inventory())
    assert verdict.verdict == "tamper" and verdict.technique_id == "org.delegated-admin"
    guardduty = modified(
        ADMIN, params={"accountId": "444455556666", "servicePrincipal": "guardduty.amazonaws.com"}
    )
    assert classify(guardduty, Inventory()).verdict == "benign"


def test_detaching_or_deleting_an_scp_counts_as_tamper_because_the_call_names_no_policy(
    modified: Callable[..., Record],
) -> None:
    for name in ("DetachPolicy", "DeletePolicy"):
        verdict = classify(modified(DETACH, eventName=name), Inventory())
        assert verdict.verdict == "tamper" and verdict.technique_id == "org.scp-change", name
        assert "p-examplescp1" in verdict.reason
    full = modified(DETACH, params={"policyId": "p-FullAWSAccess", "targetId": "ou-ab12-cdefgh34"})
    assert classify(full, Inventory()).verdict == "benign"


def test_update_policy_is_judged_by_the_name_its_answer_proves(modified: Callable[..., Record]) -> None:
    def update(name: str, params: dict[str, str]) -> Record:
        answer = {"policy": {"policySummary": {"id": "p-examplescp1", "name": name}, "content": "{}"}}
        return modified(DETACH, params=params, eventName="UpdatePolicy", responseElements=answer)

    ours = classify(
        update("trailguard-protect-self", {"policyId": "p-examplescp1", "content": "{}"}), Inventory()
    )
    assert ours.verdict == "tamper" and "trailguard-protect-self" in ours.reason
    theirs = classify(update("team-guardrails", {"policyId": "p-examplescp1", "content": "{}"}), Inventory())
    assert theirs.verdict == "benign"
    renamed = update("team-guardrails", {"policyId": "p-examplescp1", "name": "team-guardrails"})
    assert classify(renamed, Inventory()).verdict == "tamper"  # a rename hides what it was


def test_removing_an_account_is_escalated(modified: Callable[..., Record]) -> None:
    removed = modified(
        DETACH, params={"accountId": "444455556666"}, eventName="RemoveAccountFromOrganization"
    )
    verdict = classify(removed, Inventory())
    assert verdict.verdict == "tamper" and verdict.technique_id == "org.remove-account"
    assert verdict.technique is not None and verdict.technique.action.notify_only
    assert "444455556666" in verdict.reason
