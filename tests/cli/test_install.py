"""trailguard installed as a tool: a wheel built from a fresh clone (committed files only), installed
non-editable into its own venv, runs ``trailguard package`` from another directory; the wheel carries
the template; ``python -m trailguard`` and ``--version`` work there; and without the ``local`` extra the
demo says in one line which extra to install.

The venv gets boto3 and its dependencies (not moto) from the test's own environment through a ``.pth``
file: nothing is downloaded. The wheel is built without build isolation, with the setuptools of the dev
extra.
"""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from trailguard import __version__
from trailguard.deploy.package import compact

from .conftest import ENV

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git to clone the checkout")


def _run(*argv: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"{argv}: {result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The venv a wheel from a fresh clone was installed into (non-editable); its bin directory."""
    work = tmp_path_factory.mktemp("install")
    clone = work / "clone"
    _run("git", "clone", "--quiet", "--no-hardlinks", ROOT, clone)
    dist = work / "dist"
    _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        dist,
        clone,
    )
    (wheel,) = dist.glob("trailguard-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "trailguard/data/trailguard.yaml" in names
    assert "trailguard/py.typed" in names and "trailguard/__main__.py" in names
    venv = work / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    _run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        venv / "bin" / "python",
        "install",
        "--quiet",
        "--no-deps",
        wheel,
    )
    deps = work / "deps"  # boto3 and what it needs, not moto: the `local` extra is not installed
    deps.mkdir()
    for name in RUNTIME:
        module = importlib.import_module(name)
        source = Path(str(module.__file__))
        target = source.parent if source.name == "__init__.py" else source
        (deps / target.name).symlink_to(target)
    purelib = _run(venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    (Path(purelib.strip()) / "runtime-deps.pth").write_text(f"{deps}\n")
    return venv / "bin"


def _env(tmp: Path) -> dict[str, str]:
    return {**ENV, "HOME": str(tmp)}


def test_the_installed_tool_packages_from_another_directory(installed: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run(installed / "python", "-c", "import trailguard; print(trailguard.__file__)", cwd=elsewhere)
    assert str(installed.parent) in where and str(ROOT) not in where  # the installed copy, not the checkout
    out = _run(installed / "trailguard", "package", "--output-dir", "out", cwd=elsewhere, env=_env(tmp_path))
    assert "sha256" in out
    assert (elsewhere / "out" / "trailguard.yaml").read_text() == compact(
        (ROOT / "src" / "trailguard" / "data" / "trailguard.yaml").read_text()
    )  # the template as deployed: without its comments
    with zipfile.ZipFile(elsewhere / "out" / "trailguard-lambda.zip") as zf:
        assert "trailguard/handlers.py" in zf.namelist()


def test_version_and_python_m_work_installed(installed: Path, tmp_path: Path) -> None:
    assert _run(installed / "trailguard", "--version", cwd=tmp_path) == f"trailguard {__version__}\n"
    assert _run(installed / "python", "-m", "trailguard", "--version", cwd=tmp_path) == (
        f"trailguard {__version__}\n"
    )


def test_without_the_local_extra_the_demo_names_it_in_one_line(installed: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(installed / "trailguard"), "demo"],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "pip install 'trailguard[local]'" in result.stderr


def test_the_lower_bounds_are_the_ones_make_lower_bounds_tests() -> None:
    """pyproject's lower bounds are pinned in constraints/lower-bounds.txt (what ``make lower-bounds``
    installs and tests), and moto stays below its next major (the local cloud uses its internals)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["local"]]
    bounds = dict(re.match(r"([A-Za-z0-9_-]+)(?:\[\w+\])?>=([\d.]+)", r).groups() for r in requirements)  # type: ignore[union-attr]
    pins = dict(
        line.split("==", 1)
        for line in (ROOT / "constraints" / "lower-bounds.txt").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert bounds == {"boto3": pins["boto3"], "moto": pins["moto"]}
    assert any(r.startswith("moto[server]>=") and r.endswith(",<6") for r in requirements)
    dev = (ROOT / "constraints" / "dev.txt").read_text()
    for tool in ("ruff", "mypy", "pytest", "cfn-lint", "moto", "boto3", "setuptools"):
        assert re.search(rf"^{tool}==", dev, re.M | re.I), f"constraints/dev.txt does not lock {tool}"
