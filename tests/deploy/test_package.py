"""``trailguard.deploy.package``: the Lambda zip holds only the trailguard modules Lambda needs (not
the local cloud, the CLI or this deploy package), byte-for-byte reproducible, and its handler module
imports with nothing but the standard library and the runtime's boto3. Built by the runtime's Python, it
ships every module compiled (checked hash-based .pyc, still reproducible), and the handler's import then
compiles none of them."""

from __future__ import annotations

import importlib.util
import json
import marshal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from trailguard import deploy
from trailguard.deploy.package import (
    PYC_CHECKED_HASH,
    build_zip,
    compact,
    running_runtime,
    runtime_python,
    template_runtime,
)

THIS_RUNTIME = running_runtime()

SRC = Path(deploy.__file__).resolve().parents[1]  # src/trailguard (deploy is a package in it)
RUNTIME_PACKAGES = {"trailguard", "boto3", "botocore", "jmespath", "dateutil", "urllib3", "s3transfer", "six"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> deploy.Package:
    """Built for a runtime that is not this Python: sources only."""
    return deploy.package(tmp_path_factory.mktemp("package"), runtime="python3.99")


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> deploy.Package:
    """Built for this Python's runtime: sources and their compiled modules."""
    return deploy.package(tmp_path_factory.mktemp("compiled"), runtime=THIS_RUNTIME)


def test_zip_holds_only_the_lambda_part_of_trailguard(built: deploy.Package) -> None:
    with zipfile.ZipFile(built.zip_path) as zf:
        names = zf.namelist()
    assert names == sorted(names)
    assert all(n.startswith("trailguard/") for n in names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "/tests/" in n]  # python3.99
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
        and not (p.relative_to(SRC).parts[0] == "org" and not p.name.startswith(("__init__", "central")))
    }
    assert "trailguard/org/central_run.py" in names and "trailguard/org/deploy.py" not in names
    assert expected == {n for n in names if n.endswith(".py")}
    assert {"trailguard/__init__.py", "trailguard/handlers.py", "trailguard/aws.py"} <= set(names)


def test_zip_is_small(built: deploy.Package, compiled: deploy.Package) -> None:
    """No vendored dependencies: boto3 comes from the Lambda runtime."""
    assert built.zip_path.stat().st_size < 384 * 1024
    assert compiled.zip_path.stat().st_size < 1536 * 1024  # with the init's botocore models (aws.kept_models)


def test_the_package_is_built_for_the_templates_runtime(template_path: Path) -> None:
    assert template_runtime() == "python3.12"
    assert template_runtime(template_path) == "python3.12"


def test_only_the_runtimes_python_ships_compiled_modules(built: deploy.Package, tmp_path: Path) -> None:
    assert not built.compiled and built.runtime == "python3.99"
    runtime = template_runtime()
    expected = runtime == THIS_RUNTIME or runtime_python(runtime) is not None
    assert deploy.package(tmp_path).compiled == expected


def test_a_template_whose_functions_differ_in_runtime_is_refused(tmp_path: Path) -> None:
    template = tmp_path / "t.yaml"
    template.write_text("Resources:\n  A:\n    Runtime: python3.12\n  B:\n    Runtime: python3.11\n")
    with pytest.raises(deploy.DeployError, match="one Python runtime"):
        template_runtime(template)


def test_every_module_ships_compiled_against_its_own_source(compiled: deploy.Package) -> None:
    """Each .py has its checked hash-based .pyc (PEP 552) for this interpreter: the magic number, the
    "checked" flag, the hash of the very source beside it, and the archive's file name recorded (not the
    build machine's path, which would make the bytes depend on where it was built)."""
    assert compiled.compiled and compiled.runtime == THIS_RUNTIME
    with zipfile.ZipFile(compiled.zip_path) as zf:
        names = zf.namelist()
        sources = [n for n in names if n.endswith(".py")]
        pycs = {n for n in names if n.endswith(".pyc")}
        assert names == sorted(names)
        assert len(pycs) == len(sources) > 50
        for name in sources:
            source = zf.read(name)
            cached = importlib.util.cache_from_source(name)
            assert cached in pycs, name
            pyc = zf.read(cached)
            assert pyc[:4] == importlib.util.MAGIC_NUMBER
            assert int.from_bytes(pyc[4:8], "little") == PYC_CHECKED_HASH
            assert pyc[8:16] == importlib.util.source_hash(source)
            assert marshal.loads(pyc[16:]).co_filename == name


_BUILD = """
import sys
from pathlib import Path
from trailguard.deploy import package
print(package(Path(sys.argv[1]), runtime=sys.argv[2]).code_sha256)
"""


def test_compiled_build_is_reproducible_across_processes(compiled: deploy.Package, tmp_path: Path) -> None:
    """The bytecode is the same in another interpreter process (no timestamp, no address, no path)."""
    digests = {
        subprocess.run(
            [sys.executable, "-c", _BUILD, str(tmp_path / str(i)), THIS_RUNTIME],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for i in range(2)
    }
    assert digests == {compiled.code_sha256}


def test_build_is_reproducible(built: deploy.Package, tmp_path: Path) -> None:
    again = deploy.package(tmp_path, runtime=built.runtime)
    assert again.code_sha256 == built.code_sha256
    assert again.zip_path.read_bytes() == built.zip_path.read_bytes()
    with zipfile.ZipFile(again.zip_path) as zf:
        assert {i.date_time for i in zf.infolist()} == {deploy.ZIP_EPOCH}


def test_template_is_written_beside_the_zip(built: deploy.Package, template_path: Path) -> None:
    assert built.template_path.parent == built.zip_path.parent
    assert built.template_path.read_text("utf-8") == compact(template_path.read_text("utf-8"))


def test_the_template_is_written_without_comments_and_reads_the_same(template_path: Path) -> None:
    """Full-line comments, blank lines and half of each indentation are a third of the template: written
    without them it stays under CloudFormation's 51,200-byte inline limit (the AWS CLI's ``cloudformation
    deploy`` and a dry-run create then need no bucket) and CloudFormation reads the same template; a '#'
    line inside a block scalar is text and stays, as does the block's own indentation, and a mapping
    after ``- `` keeps its column."""
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
    block = "A:\n  B: |\n    # kept: text\n\n      more\n  # dropped\n  C: 1\n"
    assert compact(block) == "A:\n B: |\n   # kept: text\n\n     more\n C: 1\n"
    listed = "A:\n  - K: 1\n    L:\n      - 2\n  - - 3\n    - 4\n  - M: >-\n      text\n    N: 5\n"
    assert compact(listed) == "A:\n - K: 1\n   L:\n    - 2\n - - 3\n   - 4\n - M: >-\n     text\n   N: 5\n"
    assert decode_str(compact(listed))[0] == decode_str(listed)[0]


_IMPORT_CHECK = r"""
import importlib.abc, importlib.machinery, json, sys
BEFORE = set(sys.modules)  # what the interpreter itself loaded (site hooks such as _distutils_hack)
COMPILED = []  # modules the import compiled from source (not from a shipped .pyc)
_source_to_code = importlib.machinery.SourceFileLoader.source_to_code
def source_to_code(self, data, path, **kwargs):
    COMPILED.append(str(path))
    return _source_to_code(self, data, path, **kwargs)
importlib.machinery.SourceFileLoader.source_to_code = source_to_code
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
own = [p for p in COMPILED if p.startswith(sys.argv[1])]
print(json.dumps({"file": h.__file__, "modules": top, "compiled_from_source": own}))
"""


def _import_from(package: deploy.Package, into: Path) -> dict[str, object]:
    """``import trailguard.handlers`` from the unzipped package in a fresh, isolated interpreter that
    cannot write bytecode (as Lambda's read-only code directory)."""
    with zipfile.ZipFile(package.zip_path) as zf:
        zf.extractall(into)
    result = subprocess.run(
        [sys.executable, "-I", "-B", "-c", _IMPORT_CHECK, str(into)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(str(report["file"])).is_relative_to(into)
    return report


def test_handlers_import_from_the_zip_without_test_dependencies(
    built: deploy.Package, tmp_path: Path
) -> None:
    report = _import_from(built, tmp_path)
    assert set(report["modules"]) <= RUNTIME_PACKAGES, report["modules"]  # type: ignore[arg-type]
    assert report["compiled_from_source"], "a sources-only package must compile at import"


def test_handlers_import_from_the_compiled_zip_compiles_nothing(
    compiled: deploy.Package, tmp_path: Path
) -> None:
    report = _import_from(compiled, tmp_path)
    assert set(report["modules"]) <= RUNTIME_PACKAGES, report["modules"]  # type: ignore[arg-type]
    assert report["compiled_from_source"] == []


def test_a_pyc_never_runs_in_place_of_a_changed_source(compiled: deploy.Package, tmp_path: Path) -> None:
    """The .pyc is checked against its source's hash: an edited source is compiled, not shadowed."""
    with zipfile.ZipFile(compiled.zip_path) as zf:
        zf.extractall(tmp_path)
    log = tmp_path / "trailguard" / "log.py"
    log.write_text(log.read_text(encoding="utf-8") + "\nEDITED = True\n", encoding="utf-8")
    probe = "import sys; sys.path.insert(0, sys.argv[1]); import trailguard.log as m; print(m.EDITED)"
    done = subprocess.run(
        [sys.executable, "-I", "-B", "-c", probe, str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert done.stdout.strip() == "True", done.stderr


def test_the_runtimes_interpreter_compiles_the_same_bytes_as_the_building_one(tmp_path: Path) -> None:
    """Compiled by another process of the runtime's Python (the path a build on another Python takes),
    the zip is byte for byte the one this interpreter builds: one logic, whoever runs it."""
    here = build_zip(tmp_path / "here.zip", compile_modules=True)
    there = build_zip(tmp_path / "there.zip", compile_modules=True, python=sys.executable)
    assert here == there
    with zipfile.ZipFile(tmp_path / "there.zip") as zf:
        assert any(n.endswith(".pyc") for n in zf.namelist())


def test_the_runtimes_interpreter_is_taken_from_path_only_when_it_is_that_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / THIS_RUNTIME).symlink_to(sys.executable)
    shim = bin_dir / "python3.77"  # a version manager's shim for a version that is not selected
    shim.write_text("#!/bin/sh\necho 'python3.77: command not found' >&2\nexit 127\n")
    liar = bin_dir / "python3.78"  # answers, but is another Python
    liar.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    for script in (shim, liar):
        script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    runtime_python.cache_clear()
    try:
        assert runtime_python(THIS_RUNTIME) == str(bin_dir / THIS_RUNTIME)
        assert runtime_python("python3.77") is None
        assert runtime_python("python3.78") is None
        assert runtime_python("python3.79") is None
    finally:
        runtime_python.cache_clear()
