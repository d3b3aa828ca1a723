"""The package's shape: one module per job, imports at the top, no boto3 at import."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import trailguard.notify

PACKAGE = Path(trailguard.notify.__file__).parent
MODULES = sorted(m.name for m in pkgutil.iter_modules([str(PACKAGE)]))
SOURCES = [PACKAGE / "__init__.py", *(PACKAGE / f"{m}.py" for m in MODULES)]


def test_each_module_of_the_package_has_its_test_module() -> None:
    here = Path(__file__).parent
    assert MODULES == ["bound", "delivery", "ledger", "notice", "outbox", "renderer", "securityhub", "text"]
    assert [m for m in MODULES if not (here / f"test_{m}.py").exists()] == []


def _imports_inside_functions(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import):
                    found += [f"{path.name}:{inner.lineno} {a.name}" for a in inner.names]
                elif isinstance(inner, ast.ImportFrom):
                    found.append(f"{path.name}:{inner.lineno} {inner.module}")
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_imports_inside_functions(path: Path) -> None:
    assert _imports_inside_functions(path) == []


def test_sweep_reporting_imports_the_pipeline_at_the_top() -> None:
    inside = _imports_inside_functions(PACKAGE.parent / "sweep.py")
    assert not [i for i in inside if "notify" in i or "incidents" in i or "securityhub" in i]


def test_importing_the_package_and_the_handler_loads_no_boto() -> None:
    code = (
        "import sys, trailguard.handlers, trailguard.notify, trailguard.sweep; "
        " print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
