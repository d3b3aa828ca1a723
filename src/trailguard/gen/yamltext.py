"""A small YAML writer for the template's generated blocks, in the hand-written template's own style.

A general dumper would lose what keeps the template readable (short-form ``!Sub`` tags, flow lists for
short lists, comments), so the generators build these few node types and this module writes them. A flow
list too long for its line is packed over several (each continuation two spaces deeper than its key):
the generated lists are most of the template, and its bytes count against CloudFormation's 51,200-byte
inline limit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

WIDTH = 110
_PLAIN = re.compile(r"[A-Za-z0-9$][A-Za-z0-9 ._:/@()+${}*-]*")
_FLOW_UNSAFE = re.compile(r"[\[\]{},]")
_KEYWORDS = frozenset({"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"})


@dataclass(frozen=True)
class Tag:
    """A CloudFormation short-form intrinsic: ``!Sub arn:...``, ``!GetAtt StateTable.Arn``."""

    name: str
    value: str


@dataclass(frozen=True)
class Flow:
    """A list of scalars written ``[a, b]``: on its key's line when it fits, else packed over lines (a
    list item: a block list)."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Note:
    """A value preceded by comment lines (each line without its ``#``)."""

    comment: tuple[str, ...]
    value: Node


Node: TypeAlias = str | Tag | Flow | Note | Sequence["Node"] | Mapping[str, "Node"]


def scalar(text: str, *, flow: bool = False) -> str:
    """``text`` as a YAML scalar: plain where YAML reads it back unchanged, else double-quoted."""
    plain = (
        _PLAIN.fullmatch(text) is not None
        and ": " not in text
        and " #" not in text
        and not text.endswith((":", " "))
        and text.lower() not in _KEYWORDS
        and not re.fullmatch(r"[-+]?[0-9][0-9._:eE+-]*", text)
        and not (flow and _FLOW_UNSAFE.search(text))
    )
    return text if plain else json.dumps(text)


def lines(node: Mapping[str, Node] | Sequence[Node], indent: int) -> list[str]:
    """The block lines of a mapping or list, ``indent`` spaces deep."""
    pad = " " * indent
    out: list[str] = []
    if isinstance(node, Mapping):
        for key, wrapped in node.items():
            comment, value = _unwrap(wrapped)
            out += [f"{pad}# {c}".rstrip() for c in comment]
            head = f"{pad}{scalar(key)}:"
            inline = _inline(value, len(head) + 1)
            if inline is not None:
                out.append(f"{head} {inline}")
            elif isinstance(value, Flow) and value.items:
                out += _packed(head, value.items, indent + 2)
            else:
                out += [head, *_block(value, indent + 2)]
        return out
    for wrapped in node:
        comment, item = _unwrap(wrapped)
        out += [f"{pad}# {c}".rstrip() for c in comment]
        inline = _inline(item, indent + 2)
        if inline is not None:
            out.append(f"{pad}- {inline}")
            continue
        nested = _block(item, indent + 2)
        if nested[0].lstrip().startswith("#"):
            raise ValueError("a comment cannot open a list item: put it on the item")
        out += [f"{pad}- {nested[0][indent + 2 :]}", *nested[1:]]
    return out


def _packed(head: str, items: Sequence[str], indent: int) -> list[str]:
    """``head [a, b,`` then as many items a line as fit within :data:`WIDTH`, ``indent`` deep, ``]``."""
    words = [scalar(item, flow=True) for item in items]
    out = [f"{head} [{words[0]}"]
    for word in words[1:]:
        if len(out[-1]) + len(", ") + len(word) + len("],") <= WIDTH:
            out[-1] += f", {word}"
        else:
            out[-1] += ","
            out.append(" " * indent + word)
    out[-1] += "]"
    return out


def _unwrap(node: Node) -> tuple[tuple[str, ...], Node]:
    return (node.comment, node.value) if isinstance(node, Note) else ((), node)


def _inline(node: Node, column: int) -> str | None:
    if isinstance(node, str):
        return scalar(node)
    if isinstance(node, Tag):
        return f"!{node.name} {node.value}"
    if isinstance(node, Flow):
        text = "[" + ", ".join(scalar(i, flow=True) for i in node.items) + "]"
        return text if column + len(text) <= WIDTH else None
    if isinstance(node, Note):
        raise ValueError("a comment belongs before a key or a list item")
    return "[]" if isinstance(node, Sequence) and not node else None


def _block(node: Node, indent: int) -> list[str]:
    if isinstance(node, Flow):
        return lines(list(node.items), indent)
    if isinstance(node, (str, Tag, Note)):
        raise ValueError(f"{node!r} has no block form")
    return lines(node, indent)
