"""The committed generated files are what the registry generates now; stale ones are found and fixed
without touching anything outside their marked blocks."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from trailguard.gen.files import POLICY_DOC, ROOT, TARGETS, TECHNIQUES_DOC, TEMPLATE, generate, write


def _copy(tmp_path: Path) -> Path:
    for target in TARGETS:
        (tmp_path / target.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / target.path, tmp_path / target.path)
    return tmp_path


@pytest.mark.parametrize("target", TARGETS, ids=[t.path.as_posix() for t in TARGETS])
def test_committed_file_is_current(target: object) -> None:
    (result,) = generate(ROOT, [target])  # type: ignore[list-item]
    assert not result.stale, f"run `trailguard template`:\n{result.diff()}"


def test_generated_files_are_the_three_derived_ones() -> None:
    assert {t.path for t in TARGETS} == {TEMPLATE, TECHNIQUES_DOC, POLICY_DOC}


def test_a_stale_block_is_found_and_rewritten_and_nothing_else_changes(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    template = root / TEMPLATE
    committed = template.read_text(encoding="utf-8")
    dropped = "StopEventDataStoreIngestion, StopLogging, "
    assert committed.count(dropped) == 1
    edited = committed.replace(dropped, "StopEventDataStoreIngestion, ").replace(
        "AlertTopic:\n", "AlertTopic:  # a hand-written note\n"
    )
    assert edited.count("a hand-written note") == 1 and dropped not in edited
    template.write_text(edited, encoding="utf-8")

    stale = [r for r in generate(root) if r.stale]
    assert [r.path for r in stale] == [TEMPLATE]
    assert "+" + " " * 16 + "PutEventSelectors, " + dropped in stale[0].diff()
    assert write(root, stale) == [TEMPLATE]
    fixed = template.read_text(encoding="utf-8")
    assert fixed == committed.replace("AlertTopic:\n", "AlertTopic:  # a hand-written note\n")
    assert not any(r.stale for r in generate(root))


def test_a_whole_generated_doc_is_rewritten(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / TECHNIQUES_DOC).write_text("hand edit\n", encoding="utf-8")
    (result,) = [r for r in generate(root) if r.stale]
    assert result.path == TECHNIQUES_DOC
    write(root, [result])
    assert (root / TECHNIQUES_DOC).read_text(encoding="utf-8") == (ROOT / TECHNIQUES_DOC).read_text(
        encoding="utf-8"
    )


def test_generators_import_without_boto3() -> None:
    """Build-time code: importable where only the standard library and trailguard are."""
    code = (
        "import sys, trailguard.gen.files, trailguard.cli.template, trailguard.cli.techniques; "
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')); "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
