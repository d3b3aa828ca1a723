"""``trailguard classify`` over every input shape, through the real command-line entry point; an
unreadable input is a usage error (exit 2) and the other files are still classified."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

from policy.policy_support import OUTPUT_KEYS, PROTECTING
from trailguard.cli import main
from trailguard.cli.exit import Exit

STOP = "tamper/cloudtrail_stoplogging_stratus.json"


def run(capsys, *argv: str) -> tuple[int, list[dict], str]:
    code = main(["classify", *argv])
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines() if line.strip()]
    for line in lines:
        assert list(line) == OUTPUT_KEYS
    return code, lines, captured.err


def record(events_dir: Path, relpath: str) -> dict:
    return json.loads((events_dir / relpath).read_text())


def test_plain_record(capsys, events_dir):
    path = events_dir / STOP
    code, lines, err = run(capsys, str(path))
    assert code == Exit.OK and not err
    assert len(lines) == 1
    line = lines[0]
    assert (line["source"], line["index"]) == (str(path), 0)
    assert (line["verdict"], line["technique"]) == ("tamper", "trail.stop-logging")
    assert line["event_id"] == "10163ed2-2253-469d-a5ee-cbc6651f8934"


def test_gzipped_cloudtrail_log_file(capsys, events_dir, tmp_path):
    records = [record(events_dir, STOP), record(events_dir, "benign/sts_getcalleridentity_stratus.json")]
    path = tmp_path / "123_CloudTrail_us-east-1_20240101T0000Z_abc.json.gz"
    path.write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
    code, lines, _ = run(capsys, str(path))
    assert code == Exit.OK
    assert [(line["index"], line["verdict"]) for line in lines] == [(0, "tamper"), (1, "benign")]


def test_json_lines_with_a_garbage_line(capsys, events_dir, tmp_path):
    path = tmp_path / "events.jsonl"
    stop = json.dumps(record(events_dir, STOP))
    envelope = json.dumps(
        record(events_dir, "tamper/cloudtrail_stoplogging_eventbridge_envelope_reflex.json")
    )
    path.write_text(f"{stop}\n{{not json\n\n{envelope}\n{json.dumps({'hello': 1})}\n")
    code, lines, _ = run(capsys, str(path))
    assert code == Exit.OK
    assert [line["verdict"] for line in lines] == ["tamper", "benign", "tamper", "benign"]
    assert [line["index"] for line in lines] == [0, 1, 2, 3]
    assert "not understood" in lines[1]["reason"] and "line 2" in lines[1]["reason"]
    assert lines[1]["technique"] is None and lines[1]["event_id"] is None
    assert "not understood" in lines[3]["reason"]


def test_envelopes_and_findings(capsys, events_dir):
    code, lines, _ = run(capsys, str(events_dir / "findings"))
    assert code == Exit.OK
    verdicts = {Path(line["source"]).name: line["verdict"] for line in lines}
    assert verdicts["securityhub_imported_guardduty_cloudtrailloggingdisabled_awssamples.json"] == "tamper"
    assert verdicts["guardduty_eventbridge_envelope_iamuser_toripcaller_sample_custodian.json"] == "benign"


def test_directory_is_read_recursively_in_sorted_order(capsys, events_dir, tmp_path):
    shutil.copytree(events_dir, tmp_path / "events")
    (tmp_path / "events" / "notes.txt").write_text("ignored")
    code, lines, _ = run(capsys, str(tmp_path / "events"))
    assert code == Exit.OK
    sources = [line["source"] for line in lines]
    assert sorted(set(sources)) == sorted(str(p) for p in (tmp_path / "events").rglob("*.json"))
    assert sources == sorted(sources)
    assert not any(source.endswith((".txt", ".tsv", ".md")) for source in sources)


def test_inventory_changes_the_verdict(capsys, events_dir, tmp_path):
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps(PROTECTING))
    path = str(events_dir / "tamper/kms_disablekey_panther.json")
    _, without, _ = run(capsys, path)
    _, with_inventory, _ = run(capsys, "--inventory", str(inventory), path)
    assert without[0]["verdict"] == "benign"
    assert (with_inventory[0]["verdict"], with_inventory[0]["technique"]) == ("tamper", "key.disable")


def test_bad_inventory_is_a_usage_error(capsys, events_dir, tmp_path):
    inventory = tmp_path / "inventory.json"
    inventory.write_text("[1, 2]")
    code, lines, err = run(capsys, "--inventory", str(inventory), str(events_dir / STOP))
    assert code == Exit.USAGE and not lines and "inventory" in err


def test_unreadable_file_exits_2_and_the_others_are_still_classified(capsys, events_dir, tmp_path):
    missing = tmp_path / "missing.json"
    code, lines, err = run(capsys, str(missing), str(events_dir / STOP))
    assert code == Exit.USAGE
    assert "missing.json" in err
    assert [line["verdict"] for line in lines] == ["tamper"]


def test_file_without_read_permission_exits_2(capsys, events_dir, tmp_path, monkeypatch):
    """The OS refusing the read (EACCES) is reported with exit 2. Tests run as root, which reads any
    file whatever its mode, so the refusal is raised where the file is opened."""
    path = tmp_path / "secret.json"
    shutil.copy(events_dir / STOP, path)
    path.chmod(0)
    real_read_bytes = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "secret.json":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    code, lines, err = run(capsys, str(path))
    assert code == Exit.USAGE and not lines and "secret.json" in err


def test_corrupt_gzip_is_unreadable(capsys, tmp_path):
    path = tmp_path / "broken.json.gz"
    path.write_bytes(gzip.compress(b'{"Records": []}')[:12])
    code, lines, err = run(capsys, str(path))
    assert code == Exit.USAGE and not lines and "broken.json.gz" in err


def test_garbage_file_is_reported_not_fatal(capsys, tmp_path):
    path = tmp_path / "garbage.json"
    path.write_text("this is {not] JSON at all")
    code, lines, _ = run(capsys, str(path))
    assert code == Exit.OK
    assert len(lines) == 1
    assert (lines[0]["verdict"], lines[0]["index"]) == ("benign", 0)
    assert "not understood" in lines[0]["reason"]


def test_json_array_of_records(capsys, events_dir, tmp_path):
    path = tmp_path / "array.json"
    path.write_text(json.dumps([record(events_dir, STOP), 5]))
    code, lines, _ = run(capsys, str(path))
    assert code == Exit.OK
    assert [line["verdict"] for line in lines] == ["tamper", "benign"]


def test_table_output(capsys, events_dir):
    code = main(["classify", "--output", "table", str(events_dir / "failed-tamper")])
    out = capsys.readouterr().out
    assert code == Exit.OK
    assert out.splitlines()[0].split()[:3] == ["VERDICT", "TECHNIQUE", "EVENT_NAME"]
    assert out.count("\nattempt ") == 5
    assert "ConflictException" in out
