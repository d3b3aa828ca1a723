"""The technique docs: one row per technique, in registry order, from the declarations."""

from __future__ import annotations

from trailguard.gen.docs import calls, detection_policy_table, techniques_markdown
from trailguard.gen.techniques import verification
from trailguard.policy import TECHNIQUES


def _ids(rows: list[str]) -> list[str]:
    return [row.split("|")[1].strip().strip("`") for row in rows[2:]]


def test_techniques_markdown_has_a_row_per_technique() -> None:
    rows = [line for line in techniques_markdown().splitlines() if line.startswith("|")]
    assert _ids(rows) == list(TECHNIQUES)
    stop = rows[2 + list(TECHNIQUES).index("trail.stop-logging")]
    assert "`cloudtrail:StopLogging`" in stop and "`cloudtrail:StartLogging`" in stop


def test_detection_policy_table_has_a_row_per_technique() -> None:
    rows = detection_policy_table()
    assert rows[0].startswith("| technique | eventSource / eventName | counts as tamper when |")
    assert _ids(rows) == list(TECHNIQUES)
    for technique_id, row in zip(TECHNIQUES, rows[2:], strict=True):
        assert row.count("|") == 6, row
        assert verification(TECHNIQUES[technique_id]) in row


def test_calls_are_named_as_in_the_table() -> None:
    assert calls(TECHNIQUES["bucket.policy-change"]) == ["s3:DeleteBucketPolicy", "s3:PutBucketPolicy"]
    rows = dict(zip(TECHNIQUES, detection_policy_table()[2:], strict=True))
    assert "lambda / `DeleteFunction*`" in rows["guard.function"]
    assert (
        "guardduty / `DeleteDetector`, `UpdateDetector`; securityhub / `DisableSecurityHub`"
        in rows["guard.detector"]
    )
    assert "`detail.type` `Stealth:IAMUser/CloudTrailLoggingDisabled`" in rows["finding.trail-disabled"]
