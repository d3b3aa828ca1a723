"""CloudTrail event selectors in the local cloud (``trailguard.local.cloudtrail_patch``): a trail keeps
either classic or advanced selectors, as on AWS. moto 5.2 keeps advanced selectors beside classic ones
put afterwards (a moto gap, docs/local-cloud.md), which made every restore of a trail's classic
selectors after an advanced-selector attack fail verification on the local cloud only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
from localcloud_support import unique

from trailguard.local import cloudtrail_patch
from trailguard.local.server import LocalCloud

pytestmark = pytest.mark.integration

CLASSIC = [{"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": []}]
# The red team's variants (issue 10): data events only; management events without kms / rdsdata;
# read-only management events.
DATA_ONLY = [
    {
        "Name": "data only",
        "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
        ],
    }
]
NO_KMS = [
    {
        "Name": "management without kms",
        "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Management"]},
            {"Field": "eventSource", "NotEquals": ["kms.amazonaws.com", "rdsdata.amazonaws.com"]},
        ],
    }
]
READ_ONLY = [
    {
        "Name": "read only",
        "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Management"]},
            {"Field": "readOnly", "Equals": ["true"]},
        ],
    }
]


def _trail(cloud: LocalCloud) -> tuple[Any, str]:
    ct = cloud.client("cloudtrail")
    name = unique("trail")
    cloud.client("s3").create_bucket(Bucket=f"{name}-logs")
    ct.create_trail(Name=name, S3BucketName=f"{name}-logs")
    return ct, name


def _selectors(ct: Any, name: str) -> tuple[list[Any], list[Any]]:
    got = ct.get_event_selectors(TrailName=name)
    return got.get("EventSelectors") or [], got.get("AdvancedEventSelectors") or []


def test_the_patch_lives_only_while_a_local_cloud_runs(tmp_path: Path) -> None:
    from moto.cloudtrail.models import Trail

    original = Trail.put_event_selectors
    assert not cloudtrail_patch.installed()
    with LocalCloud(outbox_dir=tmp_path / "outbox", finding_delay=None):
        assert cloudtrail_patch.installed()
        assert Trail.put_event_selectors is not original
    assert not cloudtrail_patch.installed()
    assert Trail.put_event_selectors is original


@pytest.mark.parametrize("advanced", [DATA_ONLY, NO_KMS, READ_ONLY], ids=["data-only", "no-kms", "read-only"])
def test_classic_selectors_replace_advanced_ones(cloud: LocalCloud, advanced: list[Any]) -> None:
    ct, name = _trail(cloud)
    ct.put_event_selectors(TrailName=name, EventSelectors=CLASSIC)
    ct.put_event_selectors(TrailName=name, AdvancedEventSelectors=advanced)
    assert _selectors(ct, name) == ([], advanced)
    ct.put_event_selectors(TrailName=name, EventSelectors=CLASSIC)
    # moto alone answers (CLASSIC, advanced) here: the attacker's selectors would survive the restore.
    assert _selectors(ct, name) == (CLASSIC, [])


def test_advanced_selectors_replace_classic_ones(cloud: LocalCloud) -> None:
    ct, name = _trail(cloud)
    ct.put_event_selectors(TrailName=name, EventSelectors=CLASSIC)
    ct.put_event_selectors(TrailName=name, AdvancedEventSelectors=NO_KMS)
    assert _selectors(ct, name) == ([], NO_KMS)


def test_both_kinds_in_one_request_are_refused_and_change_nothing(cloud: LocalCloud) -> None:
    ct, name = _trail(cloud)
    ct.put_event_selectors(TrailName=name, EventSelectors=CLASSIC)
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        ct.put_event_selectors(TrailName=name, EventSelectors=CLASSIC, AdvancedEventSelectors=DATA_ONLY)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterCombinationException"
    assert _selectors(ct, name) == (CLASSIC, [])
