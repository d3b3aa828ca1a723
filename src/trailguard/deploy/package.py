"""The Lambda zip: only what the handlers import, the same bytes for the same source.

The package holds the ``trailguard`` package without the local cloud, the command line and this
deployment package, with fixed timestamps and order, so the same source always gives the same bytes and
the same content-addressed S3 key: an unchanged build is a no-op update, a changed one updates both
functions.

The zip also holds each module compiled for the functions' runtime (the template's ``Runtime``, or the
one asked for) when that Python is at hand: the Python building the package, or else the runtime's
interpreter on ``PATH`` (``python3.12``), which then compiles them (:mod:`trailguard.deploy.pyc`). A cold
start then does not compile trailguard from source: Lambda's code directory is read-only, so what the
zip does not ship is compiled again on every cold start. The ``.pyc`` files are reproducible and checked
against their sources (see :mod:`~trailguard.deploy.pyc`). With neither at hand the zip holds sources
only; :attr:`Package.compiled` says which.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from trailguard import aws
from trailguard.deploy import pyc
from trailguard.deploy.errors import DeployError

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # src/trailguard
# Not needed on Lambda: the local cloud (moto, werkzeug), the command line, deployment and the
# generators of the template and docs, and the template itself (data/).
EXCLUDED_SUBPACKAGES = frozenset({"local", "cli", "deploy", "gen", "data"})
EXCLUDED_FILES = frozenset({"__main__.py"})
# Of the organization modules only the central function's run on Lambda (``trailguard.central``); the
# rest (deploy --org, audit, scp) are the command line's.
LAMBDA_ORG_MODULES = ("__init__.py", "central")
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
ZIP_NAME = "trailguard-lambda.zip"
TEMPLATE_NAME = "trailguard.yaml"
_RUNTIME_RE = re.compile(r"^\s+Runtime:\s*(python3\.\d+)\s*$", re.MULTILINE)
PYC_CHECKED_HASH = pyc.CHECKED_HASH


@dataclass(frozen=True)
class Package:
    zip_path: Path
    template_path: Path
    code_sha256: str  # hex digest of the zip's bytes; also its S3 key
    compiled: bool = False  # the zip ships compiled modules for the runtime (see the module docstring)
    compiler: str = ""  # the interpreter that compiled them when not the building one
    runtime: str = ""  # the functions' runtime the package was built for (``python3.12``)


def template_source() -> Path:
    """The CloudFormation template, shipped as package data (``src/trailguard/data``)."""
    candidate = PACKAGE_DIR / "data" / TEMPLATE_NAME
    if candidate.is_file():
        return candidate
    raise DeployError(f"{candidate} not found: the installation is incomplete; reinstall trailguard")


def template_runtime(template: Path | None = None) -> str:
    """The functions' ``Runtime`` in the template (``python3.12``); every function must have the same."""
    text = (template or template_source()).read_text(encoding="utf-8")
    found: set[str] = set(_RUNTIME_RE.findall(text))
    if len(found) != 1:
        raise DeployError(f"the template's functions must share one Python runtime, found {sorted(found)}")
    return found.pop()


def running_runtime() -> str:
    """The Lambda runtime name of the Python running this (``python3.11``)."""
    if sys.implementation.name != "cpython":
        return ""
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


@lru_cache(maxsize=1024)  # a process that deploys many times (the tests) compiles each source once
def compiled_module(archive_name: str, source: bytes) -> tuple[str, bytes]:
    """(archive name, bytes) of the ``.pyc`` of one module, for this interpreter (:mod:`.pyc`)."""
    return pyc.compiled(archive_name, source)


@lru_cache(maxsize=8)
def runtime_python(runtime: str) -> str | None:
    """The runtime's interpreter on ``PATH`` (``python3.12``), if it runs and is that CPython."""
    found = shutil.which(runtime)
    if not found or not runtime.startswith("python3."):
        return None
    probe = "import sys; print(sys.implementation.name, *sys.version_info[:2])"
    try:
        done = subprocess.run(
            [found, "-I", "-c", probe], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return None
    if done.returncode != 0 or done.stdout.split() != ["cpython", "3", runtime.removeprefix("python3.")]:
        return None  # e.g. a version manager's shim for a version that is not selected
    return found


@lru_cache(maxsize=4)  # as compiled_module: once per process for the same sources
def compiled_by(python: str, modules: tuple[tuple[str, bytes], ...]) -> dict[str, bytes]:
    """{.pyc archive name: bytes} of ``modules`` compiled by another interpreter (:mod:`.pyc`)."""
    given = json.dumps([[name, base64.b64encode(source).decode("ascii")] for name, source in modules])
    done = subprocess.run(
        [python, "-I", "-B", pyc.__file__],
        input=given,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise DeployError(f"{python} could not compile the package: {done.stderr.strip()[-500:]}")
    return {name: base64.b64decode(data) for name, data in json.loads(done.stdout).items()}


def lambda_files() -> Iterator[tuple[str, Path]]:
    """(archive name, file) for every file Lambda needs, in a stable order."""
    for path in sorted(PACKAGE_DIR.rglob("*")):
        rel = path.relative_to(PACKAGE_DIR)
        if not path.is_file() or "__pycache__" in rel.parts or path.suffix in {".pyc", ".pyo"}:
            continue
        if rel.parts[0] in EXCLUDED_SUBPACKAGES or str(rel) in EXCLUDED_FILES:
            continue
        if rel.parts[0] in {"tests", "test"} or path.name.startswith("."):
            continue
        if rel.parts[0] == "org" and not rel.name.startswith(LAMBDA_ORG_MODULES):
            continue
        yield f"trailguard/{rel.as_posix()}", path


def zip_entries(compile_modules: bool, python: str | None = None) -> Iterator[tuple[str, bytes]]:
    """(archive name, bytes) of every entry, sorted by name; with each module's ``.pyc`` if asked,
    compiled by ``python`` (default: this interpreter)."""
    entries: dict[str, bytes] = {name: path.read_bytes() for name, path in lambda_files()}
    entries[f"trailguard/{aws.ENDPOINTS_FILE}"] = aws.kept_endpoints()  # checked at runtime (aws.py)
    this_python = not python or Path(python).resolve() == Path(sys.executable).resolve()
    if compile_modules and this_python:  # marshal data of this Python, the runtime's (aws.py checks it)
        entries[f"trailguard/{aws.MODELS_FILE}"] = aws.kept_models()
    modules = tuple((name, data) for name, data in entries.items() if name.endswith(".py"))
    if compile_modules and python:
        entries.update(compiled_by(python, modules))
    elif compile_modules:
        entries.update(compiled_module(name, data) for name, data in modules)
    for name in sorted(entries):
        yield name, entries[name]


def build_zip(zip_path: Path, *, compile_modules: bool = False, python: str | None = None) -> str:
    """Write the Lambda zip (deterministic bytes) and return its sha256 hex digest; ``compile_modules``
    adds each module compiled by ``python`` (default: this interpreter), which must be the functions'
    runtime."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in zip_entries(compile_modules, python):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100644 & 0xFFFF) << 16
            info.create_system = 3  # unix, so the mode bits above are honoured
            zf.writestr(info, data)
    return hashlib.sha256(zip_path.read_bytes()).hexdigest()


_BLOCK_SCALAR = re.compile(r"(?:^-|:)\s+[|>][+-]?\d*\s*$")
_DASHES = re.compile(r"(?:- )+")


def compact(text: str) -> str:
    """The template as deployed: without its full-line comments and blank lines, and indented one space
    per level instead of two, which together are a third of its bytes and count against CloudFormation's
    51,200-byte inline limit. What CloudFormation reads is the same: a line inside a block scalar
    (``Description: >-``) keeps its text and its indentation relative to the block, and the mapping that
    follows a ``- `` keeps its column after the dash."""
    out: list[str] = []
    levels: list[tuple[int, int]] = []  # (column in the source, column written) of the open levels
    block: tuple[int, int] | None = None  # (indentation, shift) of the key whose block scalar we are in
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if block is not None and (not stripped or indent > block[0]):
            out.append(line[block[1] :] if stripped else "")
            continue
        block = None
        if not stripped or stripped.startswith("#"):
            continue
        while levels and levels[-1][0] > indent:
            levels.pop()
        if levels and levels[-1][0] == indent:
            column = levels[-1][1]
        else:
            column = levels[-1][1] + 1 if levels else 0
            levels.append((indent, column))
        dashes = _DASHES.match(stripped)
        for step in range(2, (dashes.end() if dashes else 0) + 1, 2):  # "- Key: v" then "  Other: w"
            levels.append((indent + step, column + step))
        out.append(" " * column + stripped)
        if _BLOCK_SCALAR.search(stripped):
            block = (indent, indent - column)
    return "\n".join(out) + "\n"


def package(output_dir: str | Path, *, runtime: str | None = None) -> Package:
    """Build ``trailguard-lambda.zip`` and write the template beside it (:func:`compact`).

    ``runtime`` is the functions' Python (default: the template's); the modules are shipped compiled
    when the Python building the package is that runtime, or that runtime's interpreter is on ``PATH``.
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    zip_path = out / ZIP_NAME
    runtime = runtime or template_runtime()
    python = None if runtime == running_runtime() else runtime_python(runtime)
    compiled = python is not None or runtime == running_runtime()
    digest = build_zip(zip_path, compile_modules=compiled, python=python)
    template_path = out / TEMPLATE_NAME
    template_path.write_text(compact(template_source().read_text(encoding="utf-8")), encoding="utf-8")
    return Package(
        zip_path=zip_path,
        template_path=template_path,
        code_sha256=digest,
        compiled=compiled,
        runtime=runtime,
        compiler=python or "",
    )
