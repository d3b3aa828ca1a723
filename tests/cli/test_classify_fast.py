"""``trailguard classify``'s faster ways (issue 13) change no line: the command's output is, byte for
byte, what the pure policy path gives (``classify(record).to_output()`` for each entry :func:`iter_path`
reads, which is what the handlers judge with), on every file of the corpus and on log files built to
reach each branch of the line written straight from the decoded record (odd ids, callers, names,
characters that are not ASCII, line breaks JSON leaves unescaped), whatever the chunk size."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.support import log_reading  # noqa: F401 (the fixture)
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


@pytest.mark.usefixtures("log_reading")
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


@pytest.mark.usefixtures("log_reading")
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


@pytest.mark.usefixtures("log_reading")
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


# -- the log file read whole (trailguard[fast]): taken only where the stream reads the same ---------------


def _texts(events_dir: Path) -> tuple[str, str]:
    return (events_dir / BENIGN).read_text().strip(), (events_dir / STOP).read_text().strip()


def _bodies(events_dir: Path) -> dict[str, bytes]:
    """Log files the whole reading must hand to the stream (or read exactly as it does)."""
    benign, stop = (json.dumps(json.loads(t)) for t in _texts(events_dir))
    plain = f'{{"Records": [{benign}, {stop}]}}'
    deep = json.loads(benign)
    deep["requestParameters"] = {"x": "[[[DEEP]]]"}
    deep_text = json.dumps(deep)
    big = json.loads(benign)
    big["requestParameters"] = {"n": 10**30, "f": 1.5e300, "neg": -(10**25)}
    return {
        "plain": plain.encode(),
        "empty": b'{"Records": []}',
        "spaced": f' \r\n\t{{ \n"Records" :\t[ {benign} ,\n{stop} ]\n}}\n\n'.encode(),
        "records-twice": f'{{"Records": [{stop}], "Records": [{benign}]}}'.encode(),
        "records-twice-escaped": f'{{"Records": [{stop}], "\\u0052ecords": [{benign}]}}'.encode(),
        "member-after": f'{{"Records": [{benign}, {stop}], "x": 1}}'.encode(),
        "array-after": f'{{"Records": [{benign}], [{stop}]}}'.encode(),
        "two-log-files": (plain + "\n" + plain + "\n").encode(),
        "bracket-extra": f'{{"Records": [{benign}]]}}'.encode(),
        "form-feed": f'{{\x0c"Records": [{benign}, {stop}]}}'.encode(),
        "far-records": ("{" + " " * 300 + f'"Records": [{benign}, {stop}]}}').encode(),
        "bom": b"\xef\xbb\xbf" + plain.encode(),
        "nan": f'{{"Records": [{benign[:-1]}, "x": NaN}}, {stop}]}}'.encode(),
        "lone-surrogate": f'{{"Records": [{benign[:-1]}, "x": "\\ud800"}}, {stop}]}}'.encode(),
        "not-utf8": f'{{"Records": [{benign[:-1]}, "x": "'.encode() + b"\xff" + f'"}}, {stop}]}}'.encode(),
        "not-ascii": f'{{"Records": [{benign[:-1]}, "x": "Zoë"}}, {stop}]}}'.encode(),
        "big-numbers": f'{{"Records": [{json.dumps(big)}, {stop}]}}'.encode(),
        "not-objects": f'{{"Records": [1, "two", null, [], {{}}, {{"eventName": null}}, {benign}]}}'.encode(),
        "escaped-names": plain.replace('"eventName"', '"\\u0065ventName"')
        .replace("Stop", "\\u0053top")
        .encode(),
        "name-twice": f'{{"Records": [{stop[:-1]}, "eventName": "GetObject"}}]}}'.encode(),
        "identity-twice": f'{{"Records": [{benign[:-1]}, "userIdentity": {{"type": "Root"}}}}]}}'.encode(),
        "identity-not-object": f'{{"Records": [{benign[:-1]}, "userIdentity": "me"}}]}}'.encode(),
        "cut": plain[:-40].encode(),
        "trailing-comma": f'{{"Records": [{benign}, {stop},]}}'.encode(),
        "deep-record": f'{{"Records": [{deep_text}, {stop}]}}'.encode(),
    }


def _deep(events_dir: Path, depth: int) -> bytes:
    benign, stop = (json.dumps(json.loads(t)) for t in _texts(events_dir))
    nested = "[" * depth + "]" * depth
    return f'{{"Records": [{benign}, {benign[:-1]}, "x": {nested}}}, {stop}]}}'.encode()


def _gzips(data: bytes) -> dict[str, bytes]:
    one = gzip.compress(data, mtime=0)
    half = len(data) // 2
    return {
        "gzip": one,
        "gzip-two-members": gzip.compress(data[:half], mtime=0) + gzip.compress(data[half:], mtime=0),
        "gzip-garbage-after": one + b"garbage",
        "gzip-zeros-after": one + b"\0" * 8,
        "gzip-cut": one[:-9],
        "gzip-bad-crc": one[:-8] + bytes(8),
    }


def _same_as_the_stream(capsys, path: Path, inventory_file: Path) -> list[str]:
    code, got = _command(capsys, path, inventory_file)
    want = _reference(path, cli.load_inventory(str(inventory_file)))
    assert got == want, path.name
    assert code == (2 if any('"verdict": "unreadable"' in line for line in want) else 0), path.name
    return got


@pytest.mark.usefixtures("log_reading")
def test_each_odd_log_file_gives_the_pure_policy_paths_lines(capsys, events_dir, tmp_path, inventory_file):
    for name, body in _bodies(events_dir).items():
        path = tmp_path / f"{name}.json"
        path.write_bytes(body)
        _same_as_the_stream(capsys, path, inventory_file)
        for kind, blob in _gzips(body).items():
            path = tmp_path / f"{name}.{kind}.json.gz"
            path.write_bytes(blob)
            _same_as_the_stream(capsys, path, inventory_file)


def test_nesting_near_the_limit_reads_as_the_stream_reads_it(
    capsys, events_dir, tmp_path, monkeypatch, inventory_file
):
    """Around the depth at which json gives up (RecursionError: the stream says the record is nested too
    deeply and reads no further; where exactly depends on the stack the command runs on), the command's
    lines read whole are those it gives streaming: the whole reading hands a file over well before that
    depth (DEPTH_MARGIN)."""
    if readers._fast() is None:
        pytest.skip("msgspec (trailguard[fast]) is not installed")
    limit = sys.getrecursionlimit()
    depths = sorted({10, 100, limit // 2, *range(limit - 150, limit + 20, 5), limit * 3})
    kinds = set()
    for depth in depths:
        path = tmp_path / f"deep-{depth}.json"
        path.write_bytes(_deep(events_dir, depth))
        whole = _command(capsys, path, inventory_file)
        monkeypatch.setattr(readers, "FAST_LOG_FILE_BYTES", 0)
        streamed = _command(capsys, path, inventory_file)
        monkeypatch.undo()
        assert whole == streamed, depth
        kinds.add(len(whole[1]))
    assert kinds == {2, 3}  # depths read in full and depths where the stream stops: both were seen


@pytest.mark.usefixtures("log_reading")
def test_a_plain_log_file_is_read_whole_and_most_records_in_part(events_dir, tmp_path):
    """The whole reading is really taken (so the tests above compare two ways, not one with itself)."""
    benign, stop = _texts(events_dir)
    path = tmp_path / "log.json.gz"
    path.write_bytes(gzip.compress(f'{{"Records": [{benign}, {stop}, 5]}}'.encode(), mtime=0))
    got = list(readers.iter_path_raw(path))
    kinds = [type(entry).__name__ for entry in got]
    if readers.FAST_LOG_FILE_BYTES == 0:  # streamed
        assert kinds == ["dict", "dict", "MalformedEvent"]
    else:
        assert kinds == ["LogRecordHead", "LogRecordHead", "MalformedEvent"]
        assert readers.record_of(got[1]).raw == json.loads(stop)
    assert str(got[2]) == "Records[2] is not a JSON object (int)"


@pytest.mark.usefixtures("log_reading")
def test_a_file_larger_than_the_bound_is_streamed(events_dir, tmp_path, monkeypatch):
    benign, _ = _texts(events_dir)
    body = f'{{"Records": [{benign}, {benign}]}}'.encode()
    monkeypatch.setattr(readers, "FAST_LOG_FILE_BYTES", len(body) - 1)
    for name, blob in (("log.json", body), ("log.json.gz", gzip.compress(body))):
        (tmp_path / name).write_bytes(blob)
        assert [type(e) for e in readers.iter_path_raw(tmp_path / name)] == [dict, dict]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_left_to_the_stream(capsys, events_dir, tmp_path, monkeypatch):
    """A pipe can be read once: the whole reading does not touch it (were it to read and give up, the
    stream would open the pipe again and wait for a writer that is gone), so the command says what it
    says streaming (that it cannot seek back after the gzip check), with the optional parser or not."""
    benign, _ = _texts(events_dir)
    outputs = []
    for limit in (readers.FAST_LOG_FILE_BYTES, 0):
        monkeypatch.setattr(readers, "FAST_LOG_FILE_BYTES", limit)
        pipe = tmp_path / f"pipe-{limit}.json"
        os.mkfifo(pipe)

        def feed(pipe: Path = pipe) -> None:
            with contextlib.suppress(BrokenPipeError), open(pipe, "wb") as writer:
                writer.write(f'{{"Records": [{benign}]}}'.encode())

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        result: list[tuple[int, list[str]]] = []
        command = threading.Thread(target=lambda r=result, p=pipe: r.append(_command(capsys, p)), daemon=True)
        command.start()
        command.join(timeout=20)
        if command.is_alive():  # opened twice: let it see the end of the pipe, then fail
            os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
            command.join(timeout=20)
            pytest.fail("the command opened the pipe a second time and waited for a writer")
        writer.join(timeout=10)
        code, lines = result[0]
        outputs.append((code, [json.loads(line)["reason"] for line in lines]))
    assert outputs[0] == outputs[1]
    assert outputs[0][1], outputs


# -- any log file: the command's lines read whole, streamed and by the pure policy path are the same ------

_NAMES = ["StopLogging", "DeleteTrail", "GetObject", "AssumeRole", "UpdateTrail", "PutEventSelectors", ""]
_SOURCES = ["cloudtrail.amazonaws.com", "s3.amazonaws.com", "sts.amazonaws.com", "lambda.amazonaws.com", ""]
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_identities = st.one_of(
    _values,
    st.fixed_dictionaries(
        {},
        optional={
            "arn": st.one_of(st.sampled_from(["arn:aws:iam::123456789012:user/a", ""]), _scalars),
            "type": st.sampled_from(["IAMUser", "AssumedRole", "Root"]),
            "sessionContext": _values,
        },
    ),
)
_records = st.one_of(
    st.fixed_dictionaries(
        {"eventName": st.one_of(st.sampled_from(_NAMES), _scalars)},
        optional={
            "eventSource": st.one_of(st.sampled_from(_SOURCES), _scalars),
            "eventID": st.one_of(st.uuids().map(str), _scalars),
            "userIdentity": _identities,
            "requestParameters": _values,
            "errorCode": st.sampled_from(["AccessDenied", None]),
        },
    ),
    _values,
)


def _lines_of(path: Path, fast: bool) -> list[str]:
    """The command's lines for ``path`` (run's loop, without stdout), read whole or streamed."""
    out = io.StringIO()
    limit = readers.FAST_LOG_FILE_BYTES
    readers.FAST_LOG_FILE_BYTES = limit if fast else 0
    try:
        rows = cli._rows([str(path)], Inventory(), [], lambda: None, cli._UnwatchedLines())
        return [row if isinstance(row, str) else cli.json_line(row, out) for row in rows]
    finally:
        readers.FAST_LOG_FILE_BYTES = limit


@settings(max_examples=150, deadline=None)
@given(records=st.lists(_records, max_size=6), ascii_only=st.booleans(), gzipped=st.booleans())
def test_any_log_file_gives_the_same_lines_every_way(records, ascii_only: bool, gzipped: bool):
    if readers._fast() is None:
        pytest.skip("msgspec (trailguard[fast]) is not installed")
    body = json.dumps({"Records": records}, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    with tempfile.TemporaryDirectory() as where:
        path = Path(where) / ("log.json.gz" if gzipped else "log.json")
        path.write_bytes(gzip.compress(body, mtime=0) if gzipped else body)
        whole = _lines_of(path, fast=True)
        assert whole == _lines_of(path, fast=False)
        assert whole == _reference(path, Inventory())
