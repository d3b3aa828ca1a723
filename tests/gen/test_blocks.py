"""Marked blocks: only what lies between the markers changes, and broken markers are refused."""

from __future__ import annotations

import pytest

from trailguard.gen.blocks import MARKDOWN, NOTICE, YAML, BlockError, replace_blocks

TEXT = """\
top: 1  # kept
  # BEGIN GENERATED one
  old: value
  # END GENERATED one
# hand-written comment, kept
end: 2
"""


def test_replaces_only_the_block_and_indents_it_like_its_marker() -> None:
    out = replace_blocks(TEXT, {"one": ["new:", "  - x"]}, YAML)
    assert out == (
        "top: 1  # kept\n"
        f"  # BEGIN GENERATED one: {NOTICE}\n"
        "  new:\n"
        "    - x\n"
        "  # END GENERATED one\n"
        "# hand-written comment, kept\n"
        "end: 2\n"
    )
    assert replace_blocks(out, {"one": ["new:", "  - x"]}, YAML) == out


def test_markdown_markers_are_html_comments() -> None:
    text = "# Doc\n\n<!-- BEGIN GENERATED t -->\n| old |\n<!-- END GENERATED t -->\n\nprose\n"
    out = replace_blocks(text, {"t": ["| a |", "|---|"]}, MARKDOWN)
    assert (
        out
        == f"# Doc\n\n<!-- BEGIN GENERATED t: {NOTICE} -->\n| a |\n|---|\n<!-- END GENERATED t -->\n\nprose\n"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\n", "no marked block for one"),
        ("# BEGIN GENERATED one\n", "no END marker"),
        ("# END GENERATED one\n", "without a BEGIN"),
        ("# BEGIN GENERATED two\n# END GENERATED two\n", "no generator for block two"),
        ("# BEGIN GENERATED one\n# BEGIN GENERATED one\n", "inside block one"),
        ("# BEGIN GENERATED one\n# END GENERATED two\n", "END marker of two inside block one"),
        ("# BEGIN GENERATED one\n# END GENERATED one\n" * 2, "appears twice"),
    ],
)
def test_broken_markers_are_refused(text: str, message: str) -> None:
    with pytest.raises(BlockError, match=message):
        replace_blocks(text, {"one": ["x: 1"]}, YAML)
