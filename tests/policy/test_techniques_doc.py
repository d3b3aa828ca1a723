"""docs/techniques.md and detection-policy.md's technique table are generated from the policy: they
must be what `trailguard template` writes now, one row per declared technique."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from trailguard.cli import main
from trailguard.gen.docs import techniques_markdown
from trailguard.gen.files import POLICY_DOC, ROOT, TECHNIQUES_DOC, render_policy_doc
from trailguard.policy import TECHNIQUES


def _table_ids(path: Path, header: str) -> list[str]:
    text = path.read_text(encoding="utf-8")
    table = text.split(header, 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^\| `([a-z]+\.[a-z-]+)` \|", table, re.M)


def test_doc_is_current() -> None:
    assert (ROOT / TECHNIQUES_DOC).read_text(encoding="utf-8") == techniques_markdown(), (
        "regenerate: trailguard template"
    )


def test_detection_policy_table_is_current() -> None:
    committed = (ROOT / POLICY_DOC).read_text(encoding="utf-8")
    assert render_policy_doc(committed) == committed, "regenerate: trailguard template"


def test_both_docs_list_exactly_the_declared_techniques() -> None:
    assert _table_ids(ROOT / TECHNIQUES_DOC, "| technique | MITRE") == list(TECHNIQUES)
    assert _table_ids(ROOT / POLICY_DOC, "| technique | eventSource") == list(TECHNIQUES)


def test_markdown_output_is_the_doc(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["techniques"]) == 0
    assert capsys.readouterr().out == (ROOT / TECHNIQUES_DOC).read_text(encoding="utf-8")


def test_json_lists_every_technique(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["techniques", "--output", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["schema"] == "trailguard.techniques/1"
    listed = document["techniques"]
    assert [t["id"] for t in listed] == list(TECHNIQUES)
    stop = next(t for t in listed if t["id"] == "trail.stop-logging")
    assert "cloudtrail:StopLogging" in stop["calls"]
    assert "cloudtrail:StartLogging" in stop["permissions"]
    finding = next(t for t in listed if t["id"] == "finding.trail-disabled")
    assert finding["calls"] == []
    assert finding["finding_types"] == sorted(TECHNIQUES["finding.trail-disabled"].finding_types)
