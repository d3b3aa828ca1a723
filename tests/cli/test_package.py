"""``trailguard package`` as a person runs it (a separate process), and its failure's exit code."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from trailguard.cli import main
from trailguard.cli.exit import Exit

from .conftest import trailguard


def test_package_writes_the_zip_and_template(tmp_path: Path) -> None:
    result = trailguard("package", "--output-dir", str(tmp_path / "out"))
    assert result.returncode == Exit.OK, result.stderr
    assert (tmp_path / "out" / "trailguard-lambda.zip").is_file()
    assert (tmp_path / "out" / "trailguard.yaml").is_file()
    assert "sha256" in result.stdout


def test_package_says_whether_it_ships_compiled_modules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    packaging = importlib.import_module("trailguard.deploy.package")  # the module, not its function
    runtime = packaging.template_runtime()
    monkeypatch.setattr(packaging, "runtime_python", lambda _runtime: None)  # no other Python on PATH
    for built_by, compiled in (("python3.99", False), (runtime, True)):
        monkeypatch.setattr(packaging, "running_runtime", lambda built_by=built_by: built_by)
        assert main(["package", "--output-dir", str(tmp_path / built_by)]) == Exit.OK
        line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("bytecode"))
        assert line.startswith(f"bytecode  compiled for {runtime}") is compiled, line
        assert ("functions run " + runtime in line) is not compiled, line


def test_without_an_output_dir_is_a_usage_error() -> None:
    result = trailguard("package")
    assert result.returncode == Exit.USAGE, result.stderr


def test_a_directory_that_cannot_be_written_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert main(["package", "--output-dir", str(blocker / "out")]) == Exit.FAILED
    assert capsys.readouterr().err.startswith("trailguard package: ")


def test_package_json_document(tmp_path: Path) -> None:
    result = trailguard("package", "--output-dir", str(tmp_path), "--output", "json")
    assert result.returncode == Exit.OK, result.stderr
    document = json.loads(result.stdout)
    assert document["schema"] == "trailguard.package/1"
    assert Path(document["zip"]).is_file() and Path(document["template"]).is_file()
    assert len(document["sha256"]) == 64
