"""The Lambda zip: only what the handlers import, the same bytes for the same source.

The package holds the ``trailguard`` package without the local cloud, the command line and this
deployment package, with fixed timestamps and order, so the same source always gives the same bytes and
the same content-addressed S3 key: an unchanged build is a no-op update, a changed one updates both
functions.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Package:
    zip_path: Path
    template_path: Path
    code_sha256: str  # hex digest of the zip's bytes; also its S3 key


def template_source() -> Path:
    """The CloudFormation template, shipped as package data (``src/trailguard/data``)."""
    candidate = PACKAGE_DIR / "data" / TEMPLATE_NAME
    if candidate.is_file():
        return candidate
    raise DeployError(f"{candidate} not found: the installation is incomplete; reinstall trailguard")


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


def build_zip(zip_path: Path) -> str:
    """Write the Lambda zip (deterministic bytes) and return its sha256 hex digest."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, path in lambda_files():
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100644 & 0xFFFF) << 16
            info.create_system = 3  # unix, so the mode bits above are honoured
            zf.writestr(info, path.read_bytes())
    return hashlib.sha256(zip_path.read_bytes()).hexdigest()


_BLOCK_SCALAR = re.compile(r"(?:^-|:)\s+[|>][+-]?\d*\s*$")


def compact(text: str) -> str:
    """The template as deployed: without its full-line comments and blank lines, which are a sixth of
    its bytes and count against CloudFormation's 51,200-byte inline limit. What CloudFormation reads is
    the same: lines inside a block scalar (``Description: >-``) are text and are kept as they are."""
    out: list[str] = []
    block: int | None = None  # the indentation of the key whose block scalar we are in
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if block is not None and (not stripped or indent > block):
            out.append(line)
            continue
        block = None
        if not stripped or stripped.startswith("#"):
            continue
        out.append(line)
        if _BLOCK_SCALAR.search(stripped):
            block = indent
    return "\n".join(out) + "\n"


def package(output_dir: str | Path) -> Package:
    """Build ``trailguard-lambda.zip`` and write the template beside it (:func:`compact`)."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    zip_path = out / ZIP_NAME
    digest = build_zip(zip_path)
    template_path = out / TEMPLATE_NAME
    template_path.write_text(compact(template_source().read_text(encoding="utf-8")), encoding="utf-8")
    return Package(zip_path=zip_path, template_path=template_path, code_sha256=digest)
