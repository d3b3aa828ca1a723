"""The Lambda zip: only what the handlers import, the same bytes for the same source.

The package holds the ``trailguard`` package without the local cloud, the command line and this
deployment package, with fixed timestamps and order, so the same source always gives the same bytes and
the same content-addressed S3 key: an unchanged build is a no-op update, a changed one updates both
functions.

When the Python building the package is the functions' runtime (the template's ``Runtime``, or the one
asked for), the zip also holds each module compiled (``__pycache__/NAME.cpython-3XY.pyc``), so a cold
start does not compile trailguard from source: Lambda's code directory is read-only, so what the zip does
not ship is compiled again on every cold start. They are hash-based ``.pyc`` files (PEP 552, "checked"):
no timestamp inside, so the bytes stay reproducible, and the interpreter checks each against the hash of
the source beside it, so a ``.pyc`` can never run in place of a different source. Their recorded file
names are the archive's (``trailguard/...``), not the build machine's path; the interpreter replaces
them with the real path at import. Another Python builds the sources alone (its bytecode would not load
on the runtime), and :attr:`Package.compiled` says which.
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import re
import shutil
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from trailguard.deploy.errors import DeployError

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # src/trailguard
# Not needed on Lambda: the local cloud (moto, werkzeug), the command line, deployment and the
# generators of the template and docs, and the template itself (data/).
EXCLUDED_SUBPACKAGES = frozenset({"local", "cli", "deploy", "gen", "data"})
EXCLUDED_FILES = frozenset({"__main__.py"})
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
ZIP_NAME = "trailguard-lambda.zip"
TEMPLATE_NAME = "trailguard.yaml"
_RUNTIME_RE = re.compile(r"^\s+Runtime:\s*(python3\.\d+)\s*$", re.MULTILINE)
PYC_CHECKED_HASH = 0b11  # PEP 552 flags: hash-based, checked against the source at import
# marshal's format 3 and later mark objects referenced more than once (by their reference count at that
# moment), so the same code marshals to different bytes depending on what else the building process
# holds; format 2 has no such references: the same source always gives the same bytes.
MARSHAL_VERSION = 2


@dataclass(frozen=True)
class Package:
    zip_path: Path
    template_path: Path
    code_sha256: str  # hex digest of the zip's bytes; also its S3 key
    compiled: bool = False  # the zip ships compiled modules for the runtime (see the module docstring)
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
    """(archive name, bytes) of the checked hash-based ``.pyc`` of one module, for this interpreter.

    The same source gives the same bytes: the header is the interpreter's magic number, the PEP 552
    flags and the source's hash (no timestamp), the code object's file name is ``archive_name``, and the
    marshal format is one whose output does not depend on the building process (:data:`MARSHAL_VERSION`).
    """
    code = compile(source, archive_name, "exec", dont_inherit=True)
    header = (
        importlib.util.MAGIC_NUMBER
        + PYC_CHECKED_HASH.to_bytes(4, "little")
        + importlib.util.source_hash(source)
    )
    folder, _, filename = archive_name.rpartition("/")
    cached = f"{folder}/__pycache__/{filename[:-3]}.{sys.implementation.cache_tag}.pyc"
    return cached, header + marshal.dumps(code, MARSHAL_VERSION)


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
        yield f"trailguard/{rel.as_posix()}", path


def zip_entries(compile_modules: bool) -> Iterator[tuple[str, bytes]]:
    """(archive name, bytes) of every entry, sorted by name; with each module's ``.pyc`` if asked."""
    entries: dict[str, bytes] = {}
    for name, path in lambda_files():
        data = path.read_bytes()
        entries[name] = data
        if compile_modules and name.endswith(".py"):
            cached, pyc = compiled_module(name, data)
            entries[cached] = pyc
    for name in sorted(entries):
        yield name, entries[name]


def build_zip(zip_path: Path, *, compile_modules: bool = False) -> str:
    """Write the Lambda zip (deterministic bytes) and return its sha256 hex digest; ``compile_modules``
    adds each module compiled by this interpreter (only right when it is the functions' runtime)."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in zip_entries(compile_modules):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100644 & 0xFFFF) << 16
            info.create_system = 3  # unix, so the mode bits above are honoured
            zf.writestr(info, data)
    return hashlib.sha256(zip_path.read_bytes()).hexdigest()


def package(output_dir: str | Path, *, runtime: str | None = None) -> Package:
    """Build ``trailguard-lambda.zip`` and copy the template beside it.

    ``runtime`` is the functions' Python (default: the template's); the modules are shipped compiled
    when the Python building the package is that runtime.
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    zip_path = out / ZIP_NAME
    runtime = runtime or template_runtime()
    compiled = runtime == running_runtime()
    digest = build_zip(zip_path, compile_modules=compiled)
    template_path = out / TEMPLATE_NAME
    shutil.copyfile(template_source(), template_path)
    return Package(
        zip_path=zip_path, template_path=template_path, code_sha256=digest, compiled=compiled, runtime=runtime
    )
