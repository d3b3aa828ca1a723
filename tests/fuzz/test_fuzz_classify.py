"""Property-based fuzzing of ``trailguard classify`` (issue 9): real records mutated, junk JSON with every
character, every wrapping, byte-level damage, plain and gzip.

Properties: the command never raises and never prints a traceback; every line is one JSON object with
the documented keys, valid UTF-8; it exits 2 exactly when a line says ``unreadable``; and, for files
that are well formed as bytes, the streaming reader reads the same entries as the object reader
(``entries_from_object``), every record judged exactly as it is alone, whatever sits beside it.

The count per test is ``TRAILGUARD_FUZZ_EXAMPLES`` (``make fuzz``: 10,000).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fuzz.strategies import CLOUDTRAIL_ENTRY, JSON, damaged, dumps, fuzz_settings, gzipped, progress
from policy.policy_support import OUTPUT_KEYS
from trailguard.cli import build_parser
from trailguard.cli.exit import CommandError, Exit
from trailguard.events import MalformedEvent, Record, entries_from_object
from trailguard.events.readers import log_file_entry
from trailguard.policy import classify

VERDICTS = {"tamper", "attempt", "allowed", "benign", "unreadable"}


PARSER = build_parser()
FOLDER = Path(tempfile.mkdtemp(prefix="trailguard-fuzz-"))


def command(argv: list[str]) -> tuple[int, bytes, str]:
    """``trailguard classify ARGV`` as :func:`trailguard.cli.main` runs it (one parser built once, for
    speed: building it is most of a small run): (exit code, stdout bytes, stderr). stdout is strict
    UTF-8, as a pipe to another program is: a character it cannot write raises."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", newline="")
    err = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        args = PARSER.parse_args(["classify", *argv])
        try:
            code = int(args.run(args))
        except CommandError as exc:
            print(f"trailguard classify: {exc}", file=sys.stderr)
            code = exc.code
    out.flush()
    return code, out.buffer.getvalue(), err.getvalue()  # type: ignore[attr-defined]


def run_classify(body: bytes, name: str, *flags: str) -> tuple[int, list[dict[str, Any]], str, str]:
    """``trailguard classify`` on a file holding ``body``: (exit code, lines, stderr, the file's path)."""
    path = FOLDER / name
    path.write_bytes(body)
    code, raw, err_text = command([*flags, str(path)])
    err = io.StringIO(err_text)
    lines = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
    for line in lines:
        assert list(line) == OUTPUT_KEYS
        assert line["verdict"] in VERDICTS
        assert isinstance(line["reason"], str) and line["reason"]
        assert "could not be judged" not in line["reason"], line  # classify's fallback is never needed
    assert "Traceback" not in err.getvalue()
    unread = any(line["verdict"] == "unreadable" for line in lines)
    assert code == (Exit.USAGE if unread else Exit.OK), (code, lines)
    return code, lines, err.getvalue(), str(path)


def expected_rows(values: list[Any], shape: str, source: str) -> list[tuple[str, dict[str, Any] | None]]:
    """What the object reader makes of ``values`` written as ``shape``: per entry, ("unreadable", None)
    or ("judged", the line classify gives that record on its own)."""
    entries: list[Record | MalformedEvent] = []
    if shape == "records":
        entries = [log_file_entry(v, i) for i, v in enumerate(values)]
    else:  # an array's elements are values; a line of JSON Lines that is an array: its elements are
        for value in values:
            for item in value if shape == "jsonl" and isinstance(value, list) else [value]:
                try:
                    entries.extend(entries_from_object(item))
                except MalformedEvent as exc:
                    entries.append(exc)
    return [
        ("unreadable", None)
        if isinstance(entry, MalformedEvent)
        else ("judged", classify(entry).to_output(source, index))
        for index, entry in enumerate(entries)
    ]


def write(values: list[Any], shape: str, indent: int | None) -> bytes:
    if shape == "records":
        return json.dumps({"Records": values}, indent=indent).encode()
    if shape == "array":
        return json.dumps(values, indent=indent).encode()
    return "\n".join(dumps(v) for v in values).encode() + b"\n"


@fuzz_settings(default=1000)
@given(
    values=st.lists(st.one_of(CLOUDTRAIL_ENTRY, CLOUDTRAIL_ENTRY, JSON), max_size=4),
    shape=st.sampled_from(["records", "array", "jsonl"]),
    indent=st.sampled_from([None, 2]),
    gzip_it=st.booleans(),
)
def test_every_entry_is_read_as_the_object_reader_reads_it(
    values: list[Any], shape: str, indent: int | None, gzip_it: bool
) -> None:
    progress("classify-entries")
    if shape == "jsonl" and not values:
        values = [{}]
    body = write(values, shape, indent)
    _, lines, _, source = run_classify(
        gzipped(body) if gzip_it else body, "log.json.gz" if gzip_it else "log.json"
    )
    expected = expected_rows(values, shape, source)
    assert len(lines) == len(expected), (lines, expected)
    for index, (line, (kind, judged)) in enumerate(zip(lines, expected, strict=True)):
        assert line["index"] == index
        if kind == "unreadable":
            assert line["verdict"] == "unreadable", line
        else:
            assert line == judged


@fuzz_settings(default=1000)
@given(
    values=st.lists(st.one_of(CLOUDTRAIL_ENTRY, JSON), min_size=1, max_size=4),
    shape=st.sampled_from(["records", "array", "jsonl"]),
    data=st.data(),
    gzip_order=st.sampled_from(["plain", "gzip-then-damage", "damage-then-gzip"]),
    fail_on=st.sampled_from([(), ("--fail-on", "tamper"), ("--fail-on", "attempt")]),
)
def test_damaged_bytes_never_break_the_command(
    values: list[Any], shape: str, data: st.DataObject, gzip_order: str, fail_on: tuple[str, ...]
) -> None:
    progress("classify-damaged")
    body = write(values, shape, None)
    if gzip_order == "gzip-then-damage":
        body = data.draw(damaged(gzipped(body)))
    else:
        body = data.draw(damaged(body))
        if gzip_order == "damage-then-gzip":
            body = gzipped(body)
    path = FOLDER / "x.json.gz"
    path.write_bytes(body)
    code, raw, err = command([*fail_on, str(path)])
    lines = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
    verdicts = {line["verdict"] for line in lines}
    assert verdicts <= VERDICTS
    assert all(list(line) == OUTPUT_KEYS for line in lines)
    if "unreadable" in verdicts:
        assert code == Exit.USAGE
    elif fail_on and verdicts & ({"tamper"} if fail_on[1] == "tamper" else {"tamper", "attempt"}):
        assert code == Exit.FAILED
    else:
        assert code == Exit.OK
    assert "Traceback" not in err
