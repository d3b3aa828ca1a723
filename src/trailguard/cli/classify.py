"""``trailguard classify``: the detection policy over recorded logs, one verdict per record.

Output is one JSON object per record, in input order (detection-policy.md, "classify output"); ``table``
is for people. A record that cannot be understood is reported as benign with the reason; only a file
that cannot be read at all changes the exit status (2, :mod:`trailguard.cli.exit`), and the other files
are still processed.

The lines carry no ``schema`` key, unlike the ``--output json`` documents of the other commands: each line
is a record's verdict, not a document, and its keys and their order are the documented contract that
tests and consumers compare exactly; a versioned change would add the key there first.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from trailguard.cli.exit import CommandError, Exit
from trailguard.events import MalformedEvent, Record, iter_path
from trailguard.policy import Inventory, classify

SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "classify",
        help="judge recorded CloudTrail records and findings against the detection policy",
        description="Print one verdict per record (tamper, attempt, allowed, benign) as JSON Lines.",
    )
    parser.add_argument(
        "--inventory",
        metavar="FILE",
        help="JSON file naming the protected trails, stores and guard resources (default: none, "
        "so every trail named is protected and no bucket, key or guard resource is known)",
    )
    parser.add_argument(
        "--output", choices=("jsonl", "table"), default="jsonl", help="output format (default: jsonl)"
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="files (JSON, JSON Lines, CloudTrail log files, plain or gzip) or directories to search",
    )
    parser.set_defaults(run=run)


def expand(paths: Sequence[str]) -> Iterator[Path]:
    """The files to read: each file as given; each directory's *.json, *.json.gz, *.jsonl files, sorted."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = [p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES)]
            yield from sorted(found)
        else:
            yield path


def load_inventory(path: str | None) -> Inventory:
    """The inventory file's content; raises ``OSError`` or ``ValueError`` saying what is wrong with it."""
    if path is None:
        return Inventory()
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("the inventory must be a JSON object")
    return Inventory.from_dict(data)


def _malformed(source: str, index: int, problem: MalformedEvent) -> dict[str, Any]:
    return {
        "source": source,
        "index": index,
        "event_id": None,
        "event_name": None,
        "verdict": "benign",
        "technique": None,
        "resource": None,
        "principal": None,
        "reason": f"The record was not understood: {problem}.".replace("..", "."),
    }


def classify_file(path: Path, inventory: Inventory) -> Iterator[dict[str, Any]]:
    """One output line per record of ``path``; raises ``OSError`` (or a decoding error) if unreadable."""
    source = str(path)
    try:
        items: list[Record | MalformedEvent] = list(iter_path(path))  # read it all: fail before printing
    except MalformedEvent as exc:  # read, but no JSON in it: that is a record not understood
        items = [exc]
    for index, item in enumerate(items):
        if isinstance(item, MalformedEvent):
            yield _malformed(source, index, item)
        else:
            yield classify(item, inventory).to_output(source, index)


class _Table:
    """Aligned columns for a person at a terminal; widths are capped so long ARNs do not wrap the row."""

    COLUMNS = (("verdict", 8), ("technique", 24), ("event_name", 28), ("resource", 48), ("source", 0))

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.header_done = False

    def write(self, row: dict[str, Any]) -> None:
        if not self.header_done:
            self._line({name: name.upper() for name, _ in self.COLUMNS})
            self.header_done = True
        shown = dict(row)
        shown["source"] = f"{row['source']}#{row['index']}"
        self._line(shown)
        self.out.write(f"    {row['reason']}\n")

    def _line(self, row: dict[str, Any]) -> None:
        cells = []
        for name, width in self.COLUMNS:
            text = "-" if row.get(name) is None else str(row[name])
            if width:
                text = text if len(text) <= width else text[: width - 1] + "~"
                text = text.ljust(width)
            cells.append(text)
        self.out.write("  ".join(cells).rstrip() + "\n")


def run(args: argparse.Namespace) -> Exit:
    try:
        inventory = load_inventory(args.inventory)
    except (OSError, ValueError) as exc:
        raise CommandError(Exit.USAGE, f"cannot read inventory {args.inventory}: {exc}") from exc
    out = sys.stdout
    table = _Table(out) if args.output == "table" else None
    status = Exit.OK
    for path in expand(args.paths):
        try:
            rows = list(classify_file(path, inventory))
        except (OSError, UnicodeDecodeError, EOFError) as exc:
            print(f"trailguard classify: cannot read {path}: {exc}", file=sys.stderr)
            status = Exit.USAGE  # an unreadable input; the other files are still classified
            continue
        except Exception as exc:  # gzip.BadGzipFile, zlib.error...: still only this file is lost
            print(f"trailguard classify: cannot read {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
            status = Exit.USAGE
            continue
        try:
            for row in rows:
                if table is not None:
                    table.write(row)
                else:
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
        except BrokenPipeError:  # `| head`: the reader has all it wants
            _silence_stdout()
            return status
    return status


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not raise again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
