"""``trailguard scp``: writing the policies, and ``--attach`` against moto's Organizations in-process.

moto emulates Organizations' storage of SCPs (create, update, attach, the targets, the root's policy
types, FullAWSAccess attached by default) but never enforces an SCP: nothing here shows a call being
denied. What the documents deny is tested in ``tests/org/test_scp.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from aws_support import fake_credentials, in_moto
from trailguard.cli import main
from trailguard.org import scp

MGMT = "123456789012"  # moto's default account: the management account of the organization it creates
BREAK_GLASS = "arn:aws:iam::*:role/BreakGlass"


@pytest.fixture
def org(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """An organization (all features) with SCPs enabled on its root, one OU holding one member."""
    fake_credentials(monkeypatch, "us-east-1")
    with in_moto():
        client = boto3.client("organizations", region_name="us-east-1")
        client.create_organization(FeatureSet="ALL")
        root = client.list_roots()["Roots"][0]["Id"]
        client.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
        ou = client.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]
        member = client.create_account(Email="m@example.com", AccountName="member")["CreateAccountStatus"][
            "AccountId"
        ]
        client.move_account(AccountId=member, SourceParentId=root, DestinationParentId=ou)
        yield {"client": client, "root": root, "ou": ou, "member": member}


def _ours(client: Any) -> dict[str, dict[str, Any]]:
    listed = client.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
    return {p["Name"]: p for p in listed if scp.is_trailguard_policy(p["Name"])}


def _attached(client: Any, target: str) -> set[str]:
    listed = client.list_policies_for_target(TargetId=target, Filter="SERVICE_CONTROL_POLICY")["Policies"]
    return {p["Name"] for p in listed}


def test_output_dir_writes_minified_policies_that_parse_and_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No AWS call is needed to write them: no credentials, no region, nothing listening."""
    assert main(["scp", "--output-dir", str(tmp_path / "d"), "--break-glass-role", BREAK_GLASS]) == 0
    out = capsys.readouterr().out
    files = sorted((tmp_path / "d").glob("*.json"))
    assert [f.name for f in files] == [f"{scp.CLOUDTRAIL_POLICY}.json", f"{scp.SELF_POLICY}.json"]
    for path in files:
        text = path.read_text().strip()
        document = json.loads(text)
        assert len(text) <= scp.SCP_LIMIT and text == json.dumps(document, separators=(",", ":"))
        assert BREAK_GLASS in text
    trail = json.loads(files[0].read_text())["Statement"][0]
    assert set(scp.CONTROL_TOWER_FLOOR) <= set(trail["Action"])
    assert "SCPs do not apply to the management account" in out
    assert f"of {scp.SCP_LIMIT} characters -> {tmp_path / 'd'}" in out


def test_json_output_holds_the_documents_and_the_note(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scp", "--control-tower", "--trail", "org-trail", "--output", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["schema"] == "trailguard.scp/1"
    names = [p["name"] for p in document["policies"]]
    assert names == [scp.CLOUDTRAIL_POLICY, scp.SELF_POLICY]
    assert all(p["characters"] <= p["limit"] == scp.SCP_LIMIT for p in document["policies"])
    assert "AWSControlTowerExecution" in json.dumps(document["policies"][0]["document"])
    assert any("management account" in n for n in document["notes"])


@pytest.mark.parametrize(
    "argv",
    [
        ["scp", "--break-glass-role", "arn:aws:iam::*:role/*"],
        ["scp", "--name-prefix", "tg*"],
        ["scp", "--target", "r-abcd"],
        ["scp", "--dry-run"],
    ],
    ids=["wildcard-break-glass", "wildcard-prefix", "target-without-attach", "dry-run-without-attach"],
)
def test_bad_usage_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "trailguard scp:" in capsys.readouterr().err


def test_attach_creates_and_attaches_then_changes_nothing(
    org: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    client = org["client"]
    assert main(["scp", "--attach", "--target", org["ou"], "--target", org["member"]]) == 0
    first = capsys.readouterr().out
    ours = _ours(client)
    assert set(ours) == {scp.CLOUDTRAIL_POLICY, scp.SELF_POLICY}
    for target in (org["ou"], org["member"]):
        assert {scp.CLOUDTRAIL_POLICY, scp.SELF_POLICY} <= _attached(client, target)
    stored = client.describe_policy(PolicyId=ours[scp.CLOUDTRAIL_POLICY]["Id"])["Policy"]["Content"]
    assert json.loads(stored) == scp.cloudtrail_policy(scp.Options()).document
    assert (
        "create trailguard-protect-cloudtrail" in first
        and f"attach {scp.SELF_POLICY} to {org['ou']}" in first
    )

    assert main(["scp", "--attach", "--target", org["ou"], "--target", org["member"]]) == 0
    again = capsys.readouterr().out
    assert "create" not in again and "attach " not in again
    assert "keep (content already matches)" in again and "keep (already attached to)" in again
    assert _ours(client).keys() == ours.keys()  # idempotent: no second copy


def test_attach_updates_content_that_changed(org: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    client = org["client"]
    assert main(["scp", "--attach", "--target", org["ou"]]) == 0
    assert main(["scp", "--attach", "--target", org["ou"], "--break-glass-role", BREAK_GLASS]) == 0
    assert "update the content of trailguard-protect-self" in capsys.readouterr().out
    stored = client.describe_policy(PolicyId=_ours(client)[scp.SELF_POLICY]["Id"])["Policy"]["Content"]
    assert BREAK_GLASS in stored


def test_dry_run_changes_nothing(org: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    client = org["client"]
    assert main(["scp", "--attach", "--dry-run", "--target", org["ou"]]) == 0
    captured = capsys.readouterr()
    assert "would create trailguard-protect-cloudtrail" in captured.out
    assert f"would attach {scp.SELF_POLICY} to {org['ou']}" in captured.out
    assert "nothing was changed" in captured.err
    assert _ours(client) == {}
    assert _attached(client, org["ou"]) == {"FullAWSAccess"}


def test_a_target_that_would_pass_five_scps_changes_nothing(
    org: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """FullAWSAccess and three others on the OU: two more would make six, so nothing is created."""
    client = org["client"]
    for n in range(3):
        made = client.create_policy(
            Name=f"other-{n}",
            Description="x",
            Type="SERVICE_CONTROL_POLICY",
            Content=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Deny", "Action": f"s3:Get{n}", "Resource": "*"}],
                }
            ),
        )["Policy"]["PolicySummary"]["Id"]
        client.attach_policy(PolicyId=made, TargetId=org["ou"])
    assert main(["scp", "--attach", "--target", org["member"], "--target", org["ou"]]) == 1
    assert "quota of 5" in capsys.readouterr().err
    assert _ours(client) == {}
    assert _attached(client, org["member"]) == {"FullAWSAccess"}


def test_scps_not_enabled_on_the_root_is_said_with_the_fix(
    org: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    client = org["client"]
    client.disable_policy_type(RootId=org["root"], PolicyType="SERVICE_CONTROL_POLICY")
    assert main(["scp", "--attach", "--target", org["ou"]]) == 1
    assert "enable-policy-type" in capsys.readouterr().err
    assert _ours(client) == {}


def test_unknown_target_is_usage_and_management_target_is_warned(
    org: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scp", "--attach", "--target", "ou-zzzz-zzzzzzzz"]) == 2
    assert "ou-zzzz-zzzzzzzz" in capsys.readouterr().err
    assert main(["scp", "--attach", "--target", "not-an-id"]) == 2
    capsys.readouterr()
    assert main(["scp", "--attach", "--dry-run", "--target", MGMT]) == 0
    out = capsys.readouterr().out
    assert f"--target {MGMT} is the management account: SCPs do not apply to it" in out
