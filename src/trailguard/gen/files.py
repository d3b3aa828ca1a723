"""The generated files of a source checkout, and how each is brought up to date or checked.

``src/trailguard/data/trailguard.yaml`` and ``docs/detection-policy.md`` are hand-written files with marked
generated blocks; ``docs/techniques.md`` is generated whole.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from trailguard.gen.blocks import MARKDOWN, YAML, replace_blocks
from trailguard.gen.docs import detection_policy_table, techniques_markdown
from trailguard.gen.iam import policy_statements
from trailguard.gen.patterns import (
    api_call_pattern,
    findings_pattern,
    forward_pattern,
    guard_calls_pattern,
)
from trailguard.gen.yamltext import lines

# The source checkout this module runs from (src/trailguard/gen/files.py).
ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = Path("src") / "trailguard" / "data" / "trailguard.yaml"
TECHNIQUES_DOC = Path("docs") / "techniques.md"
POLICY_DOC = Path("docs") / "detection-policy.md"


def template_blocks() -> Mapping[str, Sequence[str]]:
    """The template's generated blocks by marker name, unindented."""
    return {
        "api-call-rule-pattern": lines({"EventPattern": api_call_pattern()}, 0),
        "guard-calls-rule-pattern": lines({"EventPattern": guard_calls_pattern()}, 0),
        "findings-rule-pattern": lines({"EventPattern": findings_pattern()}, 0),
        "forward-rule-pattern": lines({"EventPattern": forward_pattern()}, 0),
        "remediation-statements": lines({"Statement": policy_statements()}, 0),
    }


def render_template(current: str) -> str:
    return replace_blocks(current, template_blocks(), YAML)


def render_policy_doc(current: str) -> str:
    return replace_blocks(current, {"techniques-table": detection_policy_table()}, MARKDOWN)


def render_techniques_doc(current: str) -> str:
    del current  # generated whole
    return techniques_markdown()


@dataclass(frozen=True)
class Target:
    """One generated file: where it is (relative to the checkout) and how its new text follows from its
    current text."""

    path: Path
    render: Callable[[str], str]


TARGETS: tuple[Target, ...] = (
    Target(TEMPLATE, render_template),
    Target(TECHNIQUES_DOC, render_techniques_doc),
    Target(POLICY_DOC, render_policy_doc),
)


@dataclass(frozen=True)
class Result:
    """A target's committed and generated text."""

    path: Path
    current: str
    generated: str

    @property
    def stale(self) -> bool:
        return self.current != self.generated

    def diff(self) -> str:
        name = self.path.as_posix()
        return "".join(
            difflib.unified_diff(
                self.current.splitlines(keepends=True),
                self.generated.splitlines(keepends=True),
                fromfile=f"{name} (committed)",
                tofile=f"{name} (generated)",
            )
        )


def generate(root: Path = ROOT, targets: Sequence[Target] = TARGETS) -> list[Result]:
    """Each target's committed text and what the registry generates for it (nothing is written).

    Raises OSError when a file cannot be read and ``BlockError`` when its markers are broken."""
    results = []
    for target in targets:
        current = (root / target.path).read_text(encoding="utf-8")
        results.append(Result(target.path, current, target.render(current)))
    return results


def write(root: Path, results: Sequence[Result]) -> list[Path]:
    """Write the stale results back; the paths written."""
    written = []
    for result in results:
        if result.stale:
            (root / result.path).write_text(result.generated, encoding="utf-8")
            written.append(result.path)
    return written
