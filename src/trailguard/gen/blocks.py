"""Marked blocks: the generated parts of a hand-written file, replaced in place.

A block runs from a ``BEGIN GENERATED <name>`` comment line to the matching ``END GENERATED <name>``
line; everything outside the markers (comments, hand-written resources, prose) is kept byte for byte,
and the block's lines take the indentation of its BEGIN marker.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


class BlockError(ValueError):
    """The file's markers do not match the generator's blocks (missing, unknown, unterminated)."""


@dataclass(frozen=True)
class CommentStyle:
    """How a file type writes a one-line comment around the marker text."""

    open: str
    close: str = ""

    def line(self, text: str) -> str:
        return f"{self.open} {text}{' ' + self.close if self.close else ''}"

    def pattern(self, word: str) -> re.Pattern[str]:
        return re.compile(rf"^(?P<indent>\s*){re.escape(self.open)} {word} GENERATED (?P<name>[\w.-]+)\b")


YAML = CommentStyle("#")
MARKDOWN = CommentStyle("<!--", "-->")
NOTICE = "`trailguard template` writes this from the technique registry; do not edit"


def replace_blocks(text: str, blocks: Mapping[str, Sequence[str]], style: CommentStyle) -> str:
    """``text`` with each marked block's body replaced by ``blocks[name]`` (unindented lines)."""
    begin, end = style.pattern("BEGIN"), style.pattern("END")
    out: list[str] = []
    seen: set[str] = set()
    open_block: tuple[str, str] | None = None
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        if open_block is None:
            found = begin.match(line)
            if found is None:
                if end.match(line):
                    raise BlockError(f"line {number}: END marker without a BEGIN")
                out.append(line)
                continue
            name, indent = found["name"], found["indent"]
            if name not in blocks:
                raise BlockError(f"line {number}: no generator for block {name}")
            if name in seen:
                raise BlockError(f"line {number}: block {name} appears twice")
            seen.add(name)
            open_block = (name, indent)
            out.append(f"{indent}{style.line(f'BEGIN GENERATED {name}: {NOTICE}')}\n")
            out += [f"{indent}{body}\n" if body else "\n" for body in blocks[name]]
            continue
        name, indent = open_block
        found = end.match(line)
        if found is None:
            if begin.match(line):
                raise BlockError(f"line {number}: BEGIN marker inside block {name}")
            continue
        if found["name"] != name:
            raise BlockError(f"line {number}: END marker of {found['name']} inside block {name}")
        out.append(f"{indent}{style.line(f'END GENERATED {name}')}\n")
        open_block = None
    if open_block is not None:
        raise BlockError(f"block {open_block[0]} has no END marker")
    missing = sorted(set(blocks) - seen)
    if missing:
        raise BlockError(f"no marked block for {', '.join(missing)}")
    return "".join(out)
