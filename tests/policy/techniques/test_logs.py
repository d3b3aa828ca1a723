"""The logs family's conditions (``policy/techniques/logs.py``): the constructed DeleteLogGroup and
PutRetentionPolicy records (no public record of either exists; ``MANIFEST.tsv`` says so) judged against
inventories that do and do not name the group as a protected trail's CloudWatch Logs group."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from policy_support import PROTECTING, UNRELATED

from trailguard.events import Record
from trailguard.policy import Inventory, classify

DELETE = "tamper/logs_deleteloggroup_constructed.json"
RETENTION = "tamper/logs_putretentionpolicy_1day_constructed.json"
GROUP = "CloudTrail/DefaultLogGroup"
GROUP_ARN = "arn:aws:logs:us-west-2:111122223333:log-group:CloudTrail/DefaultLogGroup"
PROTECTED = Inventory.from_dict(PROTECTING)


def with_groups(*groups: dict[str, Any]) -> Inventory:
    """PROTECTING with the trails' log groups recorded (an inventory's optional ``log_groups``)."""
    doc = copy.deepcopy(PROTECTING)
    doc["log_groups"] = list(groups)
    return Inventory.from_dict(doc)


def test_deleting_the_trails_group_is_tamper(modified: Callable[..., Record]) -> None:
    verdict = classify(modified(DELETE), PROTECTED)
    assert verdict.verdict == "tamper" and verdict.technique_id == "logs.group-delete"
    assert verdict.resource == GROUP_ARN  # the id its baseline is kept under (no ":*")
    assert "docs-trail" in verdict.reason and GROUP in verdict.reason


def test_another_group_or_region_is_harmless(modified: Callable[..., Record]) -> None:
    other = classify(modified(DELETE, params={"logGroupName": "/aws/lambda/app"}), PROTECTED)
    assert other.verdict == "benign" and "none of the protected trails" in other.reason
    elsewhere = classify(modified(DELETE, awsRegion="eu-west-1"), PROTECTED)
    assert elsewhere.verdict == "benign"  # a group name is unique per region only


def test_without_a_trail_list_nothing_is_known_to_be_a_trail_group(modified: Callable[..., Record]) -> None:
    assert classify(modified(DELETE), Inventory()).verdict == "benign"
    assert classify(modified(DELETE), Inventory.from_dict(UNRELATED)).verdict == "benign"


def test_a_denied_call_without_parameters_is_an_attempt(modified: Callable[..., Record]) -> None:
    verdict = classify(modified(DELETE, params=None, errorCode="AccessDenied"), PROTECTED)
    assert verdict.verdict == "attempt" and verdict.technique_id == "logs.group-delete"


def test_one_day_retention_is_a_cut_below_the_floor(modified: Callable[..., Record]) -> None:
    verdict = classify(modified(RETENTION), PROTECTED)
    assert verdict.verdict == "tamper" and verdict.technique_id == "logs.retention-cut"
    assert "to 1 days, below the 365-day floor" in verdict.reason


def test_retention_at_or_above_the_floor_is_harmless(modified: Callable[..., Record]) -> None:
    for days in (365, 3653):
        record = modified(RETENTION, params={"logGroupName": GROUP, "retentionInDays": days})
        assert classify(record, PROTECTED).verdict == "benign", days


def test_a_recorded_retention_is_the_floor(modified: Callable[..., Record]) -> None:
    """Ten years recorded: cutting to 400 days keeps the default floor but loses six years of logs."""
    inventory = with_groups({"Arn": GROUP_ARN, "Name": GROUP, "RetentionInDays": 3653})
    record = modified(RETENTION, params={"logGroupName": GROUP, "retentionInDays": 400})
    verdict = classify(record, inventory)
    assert verdict.verdict == "tamper" and "below its baseline of 3653 days" in verdict.reason
    kept = modified(RETENTION, params={"logGroupName": GROUP, "retentionInDays": 3653})
    assert classify(kept, inventory).verdict == "benign"


def test_a_group_recorded_as_kept_forever_counts_any_retention(modified: Callable[..., Record]) -> None:
    inventory = with_groups({"Arn": GROUP_ARN, "Name": GROUP, "RetentionInDays": None})
    record = modified(RETENTION, params={"logGroupName": GROUP, "retentionInDays": 3653})
    verdict = classify(record, inventory)
    assert verdict.verdict == "tamper" and "kept forever" in verdict.reason


def test_a_retention_the_record_does_not_show_is_unknown(modified: Callable[..., Record]) -> None:
    verdict = classify(modified(RETENTION, params={"logGroupName": GROUP}), PROTECTED)
    assert verdict.verdict == "tamper"  # unknown is treated as protected
    assert "does not say to what" in verdict.reason
