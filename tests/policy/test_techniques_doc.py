"""docs/techniques.md is generated from the policy: it must be what `trailguard techniques` prints now."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trailguard.cli import main
from trailguard.cli.techniques import markdown
from trailguard.policy import TECHNIQUES

DOC = Path(__file__).resolve().parents[2] / "docs" / "techniques.md"


def test_doc_is_current() -> None:
    assert DOC.read_text() == markdown(), "regenerate: trailguard techniques > docs/techniques.md"


def test_json_lists_every_technique(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["techniques", "--output", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [t["id"] for t in listed] == list(TECHNIQUES)
    stop = next(t for t in listed if t["id"] == "trail.stop-logging")
    assert "cloudtrail:StopLogging" in stop["calls"]
    assert "cloudtrail:StartLogging" in stop["permissions"]
