"""``trailguard.deploy.package``: the Lambda zip holds only the trailguard modules Lambda needs (not
the local cloud, the CLI or this deploy package), byte-for-byte reproducible, and its handler module
imports with nothing but the standard library and the runtime's boto3."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from trailguard import deploy
from trailguard.deploy.package import compact

SRC = Path(deploy.__file__).resolve().parents[1]  # src/trailguard (deploy is a package in it)
RUNTIME_PACKAGES = {"trailguard", "boto3", "botocore", "jmespath", "dateutil", "urllib3", "s3transfer", "six"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> deploy.Package:
    return deploy.package(tmp_path_factory.mktemp("package"))


def test_zip_holds_only_the_lambda_part_of_trailguard(built: deploy.Package) -> None:
    with zipfile.ZipFile(built.zip_path) as zf:
        names = zf.namelist()
    assert names == sorted(names)
    assert all(n.startswith("trailguard/") for n in names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "/tests/" in n]
    assert not [
        n for n in names if n.startswith(("trailguard/local/", "trailguard/cli/", "trailguard/deploy"))
    ]
    assert "trailguard/__main__.py" not in names
    expected = {
        f"trailguard/{p.relative_to(SRC).as_posix()}"
        for p in SRC.rglob("*.py")
        if "__pycache__" not in p.parts
        and p.relative_to(SRC).parts[0] not in {"local", "cli", "deploy", "gen"}
        and p.name != "__main__.py"
    }
    assert expected == {n for n in names if n.endswith(".py")}
    assert {"trailguard/__init__.py", "trailguard/handlers.py", "trailguard/aws.py"} <= set(names)


def test_zip_is_small(built: deploy.Package) -> None:
    """No vendored dependencies: boto3 comes from the Lambda runtime."""
    assert built.zip_path.stat().st_size < 256 * 1024


def test_build_is_reproducible(built: deploy.Package, tmp_path: Path) -> None:
    again = deploy.package(tmp_path)
    assert again.code_sha256 == built.code_sha256
    assert again.zip_path.read_bytes() == built.zip_path.read_bytes()
    with zipfile.ZipFile(again.zip_path) as zf:
        assert {i.date_time for i in zf.infolist()} == {deploy.ZIP_EPOCH}


def test_template_is_written_beside_the_zip(built: deploy.Package, template_path: Path) -> None:
    assert built.template_path.parent == built.zip_path.parent
    assert built.template_path.read_text("utf-8") == compact(template_path.read_text("utf-8"))


def test_the_template_is_written_without_comments_and_reads_the_same(template_path: Path) -> None:
    """Full-line comments and blank lines are a sixth of the template: written without them it stays
    under CloudFormation's 51,200-byte inline limit (the AWS CLI's ``cloudformation deploy`` and a
    dry-run create then need no bucket) and CloudFormation reads the same template; a '#' line inside a
    block scalar is text and stays."""
    from cfnlint.decode import decode_str

    from trailguard.deploy.rollout import TEMPLATE_BODY_LIMIT

    text = template_path.read_text(encoding="utf-8")
    sent = compact(text)
    assert len(sent.encode()) <= TEMPLATE_BODY_LIMIT
    assert not any(line.lstrip().startswith("#") for line in sent.splitlines())
    original, _ = decode_str(text)
    compacted, _ = decode_str(sent)
    assert json.dumps(compacted, sort_keys=True, default=str) == json.dumps(
        original, sort_keys=True, default=str
    )
    block = "A:\n  B: |\n    # kept: text\n\n    more\n  # dropped\n  C: 1\n"
    assert compact(block) == "A:\n  B: |\n    # kept: text\n\n    more\n  C: 1\n"


_IMPORT_CHECK = r"""
import importlib.abc, json, sys
BEFORE = set(sys.modules)  # what the interpreter itself loaded (site hooks such as _distutils_hack)
BLOCKED = ("moto", "werkzeug", "flask", "pytest", "yaml", "cfnlint", "responses")
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not available on Lambda")
        return None
sys.meta_path.insert(0, Block())
sys.path.insert(0, sys.argv[1])
import trailguard.handlers as h
assert callable(h.api_call) and callable(h.finding)
top = sorted({m.split(".")[0] for m in set(sys.modules) - BEFORE} - set(sys.stdlib_module_names))
print(json.dumps({"file": h.__file__, "modules": top}))
"""


def test_handlers_import_from_the_zip_without_test_dependencies(
    built: deploy.Package, tmp_path: Path
) -> None:
    with zipfile.ZipFile(built.zip_path) as zf:
        zf.extractall(tmp_path)
    result = subprocess.run(
        [sys.executable, "-I", "-c", _IMPORT_CHECK, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(report["file"]).is_relative_to(tmp_path)
    assert set(report["modules"]) <= RUNTIME_PACKAGES, report["modules"]
