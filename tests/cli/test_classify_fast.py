"""``trailguard classify``'s faster ways (issue 13) change no line: the command's output is, byte for
byte, what the pure policy path gives (``classify(record).to_output()`` for each entry :func:`iter_path`
reads, which is what the handlers judge with), on every file of the corpus and on log files built to
reach each branch of the line written straight from the decoded record (odd ids, callers, names,
characters that are not ASCII, line breaks JSON leaves unescaped), whatever the chunk size."""

from __future__ import annotations

import gzip
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from policy.policy_support import PROTECTING
from trailguard.cli import classify as cli
from trailguard.cli import main
from trailguard.events import MalformedEvent, iter_path, readers
from trailguard.policy import Inventory
from trailguard.policy.classify import classify

STOP = "tamper/cloudtrail_stoplogging_stratus.json"
BENIGN = "benign/sts_getcalleridentity_stratus.json"


def _reference(path: Path, inventory: Inventory) -> list[str]:
    """The lines the pure policy path gives for ``path``: one per entry, the entry judged by
    :func:`classify` (a bad entry, or the file, unreadable as the command says it)."""
    lines: list[dict[str, Any]] = []
    index = 0
    try:
        for entry in iter_path(path):
            if isinstance(entry, MalformedEvent):
                lines.append(cli.unreadable(str(path), index, str(entry)))
            else:
                lines.append(classify(entry, inventory).to_output(str(path), index))
            index += 1
    except Exception as exc:
        why = str(exc) if isinstance(exc, (MalformedEvent, OSError)) else f"{type(exc).__name__}: {exc}"
        if index:
            why = f"the file could not be read past entry {index - 1}: {why}"
        lines.append(cli.unreadable(str(path), None, why))
    out = io.StringIO()  # UTF-8 capable, as capsys is
    return [cli.json_line(line, out) for line in lines]


def _command(capsys, path: Path, inventory_file: Path | None = None) -> tuple[int, list[str]]:
    argv = ["classify", str(path)]
    if inventory_file is not None:
        argv[1:1] = ["--inventory", str(inventory_file)]
    code = main(argv)
    return code, capsys.readouterr().out.splitlines()


def _corpus(events_dir: Path) -> list[Path]:
    return sorted(p for p in events_dir.rglob("*.json") if p.is_file())


@pytest.fixture
def inventory_file(tmp_path: Path) -> Path:
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(PROTECTING))
    return path


def test_every_corpus_file_gives_the_pure_policy_paths_lines(capsys, events_dir, inventory_file):
    inventory = cli.load_inventory(str(inventory_file))
    files = _corpus(events_dir)
    assert len(files) > 50
    for path in files:
        code, got = _command(capsys, path, inventory_file)
        assert got == _reference(path, inventory), path
        assert code == 0, path


def _odd_records(events_dir: Path) -> list[Any]:
    """Every case the straight line handles or must hand on: built from a real benign and a real
    tamper record, so the shape stays CloudTrail's."""
    benign = json.loads((events_dir / BENIGN).read_text())
    stop = json.loads((events_dir / STOP).read_text())
    ident = benign["userIdentity"]
    cases: list[Any] = [
        benign,
        stop,
        dict(stop, errorCode="AccessDenied"),
        dict(benign, eventID=None),
        dict(benign, eventID=""),
        dict(benign, eventID=12345),
        dict(benign, eventID=["x"]),
        {k: v for k, v in benign.items() if k != "eventID"},
        dict(benign, userIdentity=None),
        dict(benign, userIdentity="root"),
        {k: v for k, v in benign.items() if k != "userIdentity"},
        dict(benign, userIdentity={k: v for k, v in ident.items() if k != "arn"}),
        dict(benign, userIdentity=dict(ident, arn="")),
        dict(benign, userIdentity=dict(ident, arn=7)),
        dict(benign, userIdentity=dict(ident, arn=None, sessionContext={"sessionIssuer": {"arn": "i"}})),
        dict(benign, eventName=""),
        dict(benign, eventName=None),
        dict(benign, eventName=5),
        dict(benign, eventSource=""),
        dict(benign, eventSource=None),
        {k: v for k, v in benign.items() if k != "eventSource"},
        dict(benign, eventName="GetCallerIdentityé"),
        dict(benign, userIdentity=dict(ident, arn="arn:aws:iam::123456789012:user/Zoë")),
        dict(benign, eventID="line\u2028break\x85"),
        dict(benign, userIdentity=dict(ident, arn="arn:\ud800lone")),
        dict(benign, eventID='quote " and \\ backslash\n\t\x01'),
        dict(stop, eventName="StopLogging"),
        dict(benign, eventSource="lambda.amazonaws.com", eventName="UpdateFunctionConfiguration20150331v2"),
        dict(benign, eventSource="lambda.amazonaws.com", eventName="Invoke20150331"),
        dict(benign, eventSource="cloudtrail.amazonaws.com", eventName="StopLogging"),
        "not an object",
        {"hello": 1},
        benign,
    ]
    return cases


@pytest.mark.parametrize(
    "case", [(c, g) for c in (7, 1000, 64 * 1024) for g in (False, True)], ids=lambda c: f"{c[0]}-gz{c[1]}"
)
def test_odd_records_in_a_log_file_give_the_pure_policy_paths_lines(
    capsys, events_dir, tmp_path: Path, *, monkeypatch, inventory_file, case: tuple[int, bool]
):
    chunk, gzipped = case
    monkeypatch.setattr(readers, "CHUNK_BYTES", chunk)
    cases = _odd_records(events_dir)
    text = json.dumps({"Records": cases}, ensure_ascii=False)
    body = text.replace("\ud800", "\\ud800").encode()  # a lone surrogate is valid JSON escaped
    path = tmp_path / ("log.json.gz" if gzipped else "log.json")
    path.write_bytes(gzip.compress(body, mtime=0) if gzipped else body)
    code, got = _command(capsys, path, inventory_file)
    want = _reference(path, cli.load_inventory(str(inventory_file)))
    assert got == want
    assert len(got) == len(cases)
    verdicts = [json.loads(line)["verdict"] for line in got]
    assert verdicts.count("unreadable") == 2 and "tamper" in verdicts and "attempt" in verdicts
    assert code == 2  # the two entries that are no record


def test_the_straight_line_is_taken_and_equals_the_general_one(events_dir):
    """Not a test that cannot fail by never taking the short way: for a plain benign record it writes
    the line, and the line is the general way's."""
    benign = json.loads((events_dir / BENIGN).read_text())
    lines = cli._UnwatchedLines()
    lines.start("f.json")
    got = lines(benign, 3)
    assert got is not None
    record = cli.CloudTrailRecord.of_log_entry(benign)
    assert got == cli.json_line(cli.output_line(record, Inventory(), "f.json", 3), io.StringIO())
    stop = json.loads((events_dir / STOP).read_text())
    assert lines(stop, 4) is None  # watched: judged in full


def test_the_pairs_kept_are_bounded_and_the_rest_still_judged(events_dir):
    benign = json.loads((events_dir / BENIGN).read_text())
    lines = cli._UnwatchedLines()
    lines.start("f.json")
    for i in range(cli._UnwatchedLines.MAX_PAIRS + 10):
        record = dict(benign, eventName=f"Call{i}")
        want = cli.json_line(
            cli.output_line(cli.CloudTrailRecord.of_log_entry(record), Inventory(), "f.json", i),
            io.StringIO(),
        )
        assert lines(record, i) == want
    assert len(lines._parts) == cli._UnwatchedLines.MAX_PAIRS


def test_an_output_that_cannot_write_ascii_as_ascii_goes_the_general_way(
    events_dir, tmp_path: Path, monkeypatch
):
    """UTF-16 writes ASCII in two bytes: no straight line, every line through ``json_line``."""
    benign = json.loads((events_dir / BENIGN).read_text())
    path = tmp_path / "log.json"
    path.write_text(json.dumps({"Records": [benign, benign]}))
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-16")
    monkeypatch.setattr(sys, "stdout", out)
    assert main(["classify", str(path)]) == 0
    out.flush()
    text = raw.getvalue().decode("utf-16")
    want = [cli.json_line(line, out) for line in cli.classify_file(path, Inventory())]
    assert text.splitlines() == want
