"""The organization kind: its id, its baseline's helpers, and discovery only in the management account
(moto's Organizations in-process; a member's view is moto's too, which lets a member list roots, so
the member case is the AccessDenied reply AWS gives, through botocore's Stubber)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from trailguard.baseline.capture import Clients
from trailguard.org import scp
from trailguard.resources import organization


def test_ident_and_label() -> None:
    assert organization.ident("arn:aws:organizations::111122223333:root/o-abc/r-ab12") == "111122223333"
    assert organization.ident("111122223333") == "111122223333"
    assert organization.KIND.label("111122223333") == "organization of management account 111122223333"
    assert organization.KIND.is_gone("PolicyNotFoundException")


def test_the_policy_prefix_is_the_one_trailguard_scp_writes() -> None:
    assert organization.POLICY_PREFIX == scp.POLICY_PREFIX
    assert organization.is_trailguard_policy(scp.SELF_POLICY)
    assert not organization.is_trailguard_policy("FullAWSAccess") and not organization.is_trailguard_policy(
        None
    )


def test_recorded_helpers_keep_only_well_formed_entries() -> None:
    doc: dict[str, Any] = {
        "Policies": [
            {"Name": "trailguard-protect-self", "Id": "p-1"},
            {"Name": "other", "Id": "p-2"},
            "junk",
        ],
        "DelegatedAdmins": {organization.CLOUDTRAIL: ["444455556666", "not-an-account", 5]},
    }
    assert [p["Id"] for p in organization.recorded_policies(doc)] == ["p-1"]
    assert organization.recorded_admins(doc) == ["444455556666"]
    assert organization.recorded_admins({}) is None and organization.recorded_policies(None) == []


def test_outside_an_organization_nothing_is_discovered(moto_aws: dict[str, str]) -> None:
    assert organization.discover(Clients("us-east-1"), "cli") == []


def test_the_management_account_records_its_organization(moto_aws: dict[str, str]) -> None:
    boto3.client("organizations", region_name="us-east-1").create_organization(FeatureSet="ALL")
    ((ident, doc),) = organization.discover(Clients("us-east-1"), "cli")
    assert ident == doc["ManagementAccountId"] == "123456789012"
    assert doc["FeatureSet"] == "ALL" and doc["Policies"] == [] and doc["_meta"]["source"] == "cli"


def test_a_member_account_records_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Members may describe their organization but not list its roots (AWS answers AccessDenied)."""
    client = boto3.client(
        "organizations", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stub = Stubber(client)
    stub.add_response(
        "describe_organization",
        {"Organization": {"Id": "o-exampleorgid", "MasterAccountId": "111122223333", "FeatureSet": "ALL"}},
    )
    stub.add_client_error("list_roots", "AccessDeniedException", "You don't have permissions")
    with stub:
        assert organization.discover(lambda service, region=None: client, "cli") == []  # type: ignore[arg-type]
    stub.assert_no_pending_responses()
