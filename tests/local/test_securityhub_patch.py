"""Security Hub ``BatchUpdateFindings`` in the local cloud: a stand-in for a moto gap
(``trailguard.local.securityhub_patch``; docs/local-cloud.md, "Known moto gaps"). It updates stored
findings matched by ``Id`` and ``ProductArn`` and reports processed and unprocessed ones as AWS does;
the patch lives only while a local cloud runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
from localcloud_support import unique

from trailguard.local.server import LocalCloud

pytestmark = pytest.mark.integration

PRODUCT = "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default"


def _moto_has_batch_update() -> bool:
    from moto.securityhub import urls
    from moto.securityhub.models import SecurityHubBackend
    from moto.securityhub.responses import SecurityHubResponse

    return (
        hasattr(SecurityHubBackend, "batch_update_findings")
        or hasattr(SecurityHubResponse, "batch_update_findings")
        or any("batchupdate" in path for path in urls.url_paths)
    )


def test_the_patch_lives_only_while_a_local_cloud_runs(tmp_path: Path) -> None:
    assert not _moto_has_batch_update()
    with LocalCloud(outbox_dir=tmp_path / "outbox", finding_delay=None):
        assert _moto_has_batch_update()
    assert not _moto_has_batch_update()


def _finding(finding_id: str) -> dict[str, Any]:
    return {
        "SchemaVersion": "2018-10-08",
        "Id": finding_id,
        "ProductArn": PRODUCT,
        "GeneratorId": "test",
        "AwsAccountId": "123456789012",
        "Types": ["Software and Configuration Checks"],
        "CreatedAt": "2024-01-01T00:00:00.000Z",
        "UpdatedAt": "2024-01-01T00:00:00.000Z",
        "Severity": {"Label": "MEDIUM"},
        "Title": "t",
        "Description": "d",
        "Resources": [{"Type": "Other", "Id": "r"}],
        "Workflow": {"Status": "NEW"},
    }


def test_updates_matched_findings_and_reports_the_rest(cloud: LocalCloud) -> None:
    hub = cloud.client("securityhub")
    known = unique("finding")
    assert hub.batch_import_findings(Findings=[_finding(known)])["SuccessCount"] == 1
    missing = {"Id": unique("missing"), "ProductArn": PRODUCT}
    wrong_product = {"Id": known, "ProductArn": PRODUCT.replace("default", "other")}
    response = hub.batch_update_findings(
        FindingIdentifiers=[{"Id": known, "ProductArn": PRODUCT}, missing, wrong_product],
        Workflow={"Status": "NOTIFIED"},
        Note={"Text": "looked at it", "UpdatedBy": "tester"},
        VerificationState="TRUE_POSITIVE",
        UserDefinedFields={"ticket": "SEC-1"},
    )
    assert response["ProcessedFindings"] == [{"Id": known, "ProductArn": PRODUCT}]
    assert [(u["FindingIdentifier"], u["ErrorCode"]) for u in response["UnprocessedFindings"]] == [
        (missing, "FindingNotFound"),
        (wrong_product, "FindingNotFound"),
    ]
    [stored] = [f for f in hub.get_findings()["Findings"] if f["Id"] == known]
    assert stored["Workflow"]["Status"] == "NOTIFIED"
    assert stored["Note"]["Text"] == "looked at it" and stored["Note"]["UpdatedBy"] == "tester"
    assert stored["VerificationState"] == "TRUE_POSITIVE"
    assert stored["UserDefinedFields"] == {"ticket": "SEC-1"}
    assert stored["UpdatedAt"] == "2024-01-01T00:00:00.000Z"  # the provider's field; AWS leaves it too

    twice = hub.batch_update_findings(
        FindingIdentifiers=[{"Id": known, "ProductArn": PRODUCT}] * 2, Workflow={"Status": "RESOLVED"}
    )
    assert len(twice["ProcessedFindings"]) == 1
    assert [u["ErrorCode"] for u in twice["UnprocessedFindings"]] == ["DuplicatedFindingIdentifier"]


@pytest.mark.parametrize(
    "update",
    [
        {"Workflow": {"Status": "DONE"}},
        {"Note": {"Text": "", "UpdatedBy": "tester"}},
        {"VerificationState": "MAYBE"},
    ],
)
def test_invalid_updates_are_refused_as_on_aws(cloud: LocalCloud, update: dict[str, Any]) -> None:
    hub = cloud.client("securityhub")
    known = unique("finding")
    hub.batch_import_findings(Findings=[_finding(known)])
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        hub.batch_update_findings(FindingIdentifiers=[{"Id": known, "ProductArn": PRODUCT}], **update)
    assert caught.value.response["Error"]["Code"] == "InvalidInputException"
