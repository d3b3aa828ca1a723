"""``trailguard template``: check, rewrite in place, or write the template elsewhere."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from trailguard.cli import main
from trailguard.gen.files import ROOT, TARGETS, TEMPLATE


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    for target in TARGETS:
        (tmp_path / target.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / target.path, tmp_path / target.path)
    return tmp_path


def _stale(checkout: Path) -> None:
    path = checkout / TEMPLATE
    path.write_text(path.read_text(encoding="utf-8").replace(" aws.kms,", "", 1), encoding="utf-8")


def test_check_passes_on_the_committed_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["template", "--check"]) == 0
    assert capsys.readouterr().out == ""


def test_check_fails_with_a_diff_and_changes_nothing(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _stale(checkout)
    before = (checkout / TEMPLATE).read_text(encoding="utf-8")
    assert main(["template", "--check", "--root", str(checkout)]) == 1
    captured = capsys.readouterr()
    assert "aws.kms" in captured.out
    assert "src/trailguard/data/trailguard.yaml is out of date" in captured.err
    assert (checkout / TEMPLATE).read_text(encoding="utf-8") == before


def test_default_rewrites_in_place(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _stale(checkout)
    assert main(["template", "--root", str(checkout)]) == 0
    assert capsys.readouterr().out == "wrote src/trailguard/data/trailguard.yaml\n"
    assert (checkout / TEMPLATE).read_text(encoding="utf-8") == (ROOT / TEMPLATE).read_text(encoding="utf-8")
    assert main(["template", "--check", "--root", str(checkout)]) == 0


def test_output_writes_the_template_elsewhere(
    checkout: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _stale(checkout)
    out = tmp_path / "out.yaml"
    assert main(["template", "--root", str(checkout), "--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == (ROOT / TEMPLATE).read_text(encoding="utf-8")
    assert "- aws.kms" not in (checkout / TEMPLATE).read_text(encoding="utf-8")
    assert main(["template", "--output", "-"]) == 0
    assert capsys.readouterr().out == (ROOT / TEMPLATE).read_text(encoding="utf-8")


def test_broken_markers_or_a_missing_file_are_usage_errors(
    checkout: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = checkout / TEMPLATE
    path.write_text(path.read_text(encoding="utf-8").replace("# END GENERATED findings-rule-pattern", ""))
    assert main(["template", "--check", "--root", str(checkout)]) == 2
    assert "findings-rule-pattern" in capsys.readouterr().err
    assert main(["template", "--check", "--root", str(tmp_path / "nowhere")]) == 2


def test_check_and_output_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["template", "--check", "--output", "-"])
    assert exc.value.code == 2
