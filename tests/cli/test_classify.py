"""``trailguard classify`` over every input shape, through the real command-line entry point. It fails
closed (issue 11): an unreadable file or entry is a line with verdict ``unreadable`` saying why, every
readable record is still judged, and the run exits 2; ``--fail-on`` exits 1 on a verdict."""

from __future__ import annotations

import builtins
import gzip
import json
import os
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from events.support import log_reading  # noqa: F401 (the fixture)
from policy.policy_support import OUTPUT_KEYS, PROTECTING
from trailguard.cli import main
from trailguard.cli.classify import INVENTORY_SHAPE
from trailguard.cli.exit import Exit
from trailguard.policy.inventory import Guard, Inventory

pytestmark = pytest.mark.usefixtures("log_reading")  # each test read both ways

STOP = "tamper/cloudtrail_stoplogging_stratus.json"
UPDATE = "tamper/cloudtrail_updatetrail_disable_logfilevalidation_elastic.json"


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
    code, lines, err = run(capsys, str(path))
    assert code == Exit.USAGE
    assert [line["verdict"] for line in lines] == ["tamper", "unreadable", "tamper", "unreadable"]
    assert [line["index"] for line in lines] == [0, 1, 2, 3]
    assert lines[1]["reason"].startswith("Could not be read: line 2 is not JSON")
    assert lines[1]["technique"] is None and lines[1]["event_id"] is None
    assert "keys: hello" in lines[3]["reason"]
    assert f"{path} entry 1: Could not be read: line 2 is not JSON" in err


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
    assert [line["verdict"] for line in lines] == ["unreadable", "tamper"]
    assert (lines[0]["source"], lines[0]["index"]) == (str(missing), None)
    assert "No such file" in lines[0]["reason"]


def test_file_without_read_permission_exits_2(capsys, events_dir, tmp_path, monkeypatch):
    """The OS refusing the read (EACCES) is reported with exit 2. Tests run as root, which reads any
    file whatever its mode, so the refusal is raised where the file is opened."""
    path = tmp_path / "secret.json"
    shutil.copy(events_dir / STOP, path)
    path.chmod(0)
    real_open = builtins.open

    def refusing_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if str(file).endswith("secret.json"):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refusing_open)
    code, lines, err = run(capsys, str(path))
    assert code == Exit.USAGE and "secret.json" in err and "Permission denied" in err
    assert [(line["verdict"], line["index"]) for line in lines] == [("unreadable", None)]


def test_corrupt_gzip_is_unreadable(capsys, tmp_path):
    path = tmp_path / "broken.json.gz"
    path.write_bytes(gzip.compress(b'{"Records": []}')[:12])
    code, lines, err = run(capsys, str(path))
    assert code == Exit.USAGE and "broken.json.gz" in err
    assert [line["verdict"] for line in lines] == ["unreadable"]


def test_invalid_json_exits_2_with_a_line_saying_why(capsys, tmp_path):
    """Issue 11: broken JSON came out "benign" with exit 0."""
    path = tmp_path / "garbage.json"
    path.write_text("this is {not] JSON at all")
    code, lines, err = run(capsys, str(path))
    assert code == Exit.USAGE
    (line,) = lines
    assert (line["verdict"], line["index"]) == ("unreadable", None)
    assert "neither JSON nor JSON Lines (line 1 is not JSON: Expecting value)" in line["reason"]
    assert "garbage.json: Could not be read: neither JSON nor JSON Lines" in err


def test_json_array_of_records(capsys, events_dir, tmp_path):
    path = tmp_path / "array.json"
    path.write_text(json.dumps([record(events_dir, STOP), 5]))
    code, lines, _ = run(capsys, str(path))
    assert code == Exit.USAGE
    assert [line["verdict"] for line in lines] == ["tamper", "unreadable"]
    assert "element 1 of the array from line 1: expected a JSON object, got int" in lines[1]["reason"]


def test_table_output(capsys, events_dir):
    code = main(["classify", "--output", "table", str(events_dir / "failed-tamper")])
    out = capsys.readouterr().out
    assert code == Exit.OK
    assert out.splitlines()[0].split()[:3] == ["VERDICT", "TECHNIQUE", "EVENT_NAME"]
    assert out.count("\nattempt ") == 5
    assert "ConflictException" in out


def test_a_fake_gzip_exits_2(capsys, tmp_path):
    """Issue 11: a fake ``.gz`` came out benign with exit 0."""
    path = tmp_path / "123_CloudTrail_us-east-1_20240101T0000Z_abc.json.gz"
    path.write_bytes(b"\x00\x01not gzip, not json\xff")
    code, lines, err = run(capsys, str(path))
    assert code == Exit.USAGE and [line["verdict"] for line in lines] == ["unreadable"]
    assert path.name in err


def test_a_digest_file_exits_2_and_a_directory_leaves_digests_out(capsys, events_dir, tmp_path):
    """Issue 11: a digest file came out benign with exit 0. Named on the command line it is unreadable
    (it holds no records); in a directory (an S3 sync of AWSLogs/) digest files are left out, said."""
    digest = {"awsAccountId": "1", "digestStartTime": "t", "digestEndTime": "t", "logFiles": []}
    folder = tmp_path / "AWSLogs"
    folder.mkdir()
    path = folder / "123_CloudTrail-Digest_us-east-1_trail_us-east-1_20240101T000000Z.json.gz"
    path.write_bytes(gzip.compress(json.dumps(digest).encode()))
    shutil.copy(events_dir / STOP, folder / "stop.json")
    code, lines, _ = run(capsys, str(path))
    assert code == Exit.USAGE and "digest file" in lines[0]["reason"]
    code, lines, err = run(capsys, str(folder))
    assert code == Exit.OK and [line["verdict"] for line in lines] == ["tamper"]
    assert "left out 1 CloudTrail digest file" in err


def test_an_empty_file_is_reported(capsys, tmp_path):
    """Issue 9 item 11: an empty file printed nothing (and exited 0)."""
    path = tmp_path / "empty.json"
    path.write_text("")
    code, lines, err = run(capsys, str(path))
    assert code == Exit.USAGE
    assert [line["reason"] for line in lines] == ["Could not be read: the file is empty."]
    assert "empty.json" in err


def test_a_bad_entry_of_a_log_file_hides_no_other_record(capsys, events_dir, tmp_path):
    """Issue 9 item 8: one bad entry made `classify` print one line for the whole file and exit 0."""
    stop = record(events_dir, STOP)
    path = tmp_path / "log.json.gz"
    path.write_bytes(gzip.compress(json.dumps({"Records": [stop, "junk", stop]}).encode()))
    code, lines, err = run(capsys, str(path))
    assert code == Exit.USAGE
    assert [(line["index"], line["verdict"]) for line in lines] == [
        (0, "tamper"),
        (1, "unreadable"),
        (2, "tamper"),
    ]
    assert lines[1]["reason"] == "Could not be read: Records[1] is not a JSON object (str)."
    assert "1 entry or file(s) could not be read; every readable record was judged" in err


def test_records_before_a_cut_in_the_gzip_are_still_judged(capsys, events_dir, tmp_path):
    stop = record(events_dir, STOP)
    data = gzip.compress(json.dumps({"Records": [dict(stop, eventID=str(i)) for i in range(3000)]}).encode())
    path = tmp_path / "cut.json.gz"
    path.write_bytes(data[: len(data) // 2])
    code, lines, _ = run(capsys, str(path))
    assert code == Exit.USAGE
    assert len(lines) > 100 and {line["verdict"] for line in lines[:-1]} == {"tamper"}
    assert lines[-1]["verdict"] == "unreadable" and lines[-1]["index"] is None
    assert f"past entry {len(lines) - 2}" in lines[-1]["reason"]


LONE = '{"eventName": "StopLogging", "eventSource": "cloudtrail.amazonaws.com", "eventID": "\\ud800", '
LONE += '"requestParameters": {"name": "t\\udfff"}}'


def test_a_lone_surrogate_prints_escaped_not_a_traceback(capsys, tmp_path):
    """Issue 9 item 11: a lone surrogate (escaped in the JSON) gave a traceback on output."""
    path = tmp_path / "lone.json"
    path.write_text(LONE)
    code, lines, _ = run(capsys, str(path))
    assert code == Exit.OK
    (line,) = lines
    assert (line["event_id"], line["verdict"], line["resource"]) == ("\ud800", "tamper", "t\udfff")
    main(["classify", "--output", "table", str(path)])
    assert "\\udfff" in capsys.readouterr().out


@pytest.mark.parametrize("encoding", ["utf-8", "ascii"])
def test_the_installed_command_prints_any_character(tmp_path, encoding):
    """The real process, with stdout in UTF-8 and in ASCII: the output decodes to the same values."""
    path = tmp_path / "lone.json"
    path.write_text(LONE + "\n" + json.dumps({"eventName": "StopLogging", "eventID": "é✓"}))
    env = dict(os.environ, PYTHONIOENCODING=encoding)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from trailguard.cli import main; sys.exit(main())",
            "classify",
            str(path),
        ],
        capture_output=True,
        env=env,
        check=False,
    )
    assert done.returncode == Exit.OK, done.stderr
    assert b"Traceback" not in done.stderr
    ids = [json.loads(line)["event_id"] for line in done.stdout.decode(encoding).splitlines()]
    assert ids == ["\ud800", "é✓"]


@pytest.mark.parametrize(
    ("level", "file", "code"),
    [
        ("tamper", STOP, Exit.FAILED),
        ("attempt", STOP, Exit.FAILED),
        ("tamper", "failed-tamper", Exit.OK),
        ("attempt", "failed-tamper", Exit.FAILED),
        ("tamper", "benign", Exit.OK),
        ("attempt", "benign", Exit.OK),
    ],
)
def test_fail_on(capsys, events_dir, level, file, code):
    got, lines, err = run(capsys, "--fail-on", level, str(events_dir / file))
    assert got == code and lines
    if code == Exit.FAILED:
        assert "judged" in err


def test_fail_on_with_an_unreadable_input_exits_2(capsys, events_dir, tmp_path):
    (tmp_path / "empty.json").write_text("")
    code, lines, _ = run(capsys, "--fail-on", "tamper", str(events_dir / STOP), str(tmp_path / "empty.json"))
    assert code == Exit.USAGE and [line["verdict"] for line in lines] == ["tamper", "unreadable"]


@pytest.mark.parametrize(
    ("inventory", "says"),
    [
        ({"trails": 5}, "'trails' must be a list of objects"),
        ({"trails": [], "guard": "x"}, "'guard' must be an object"),
        ({"guard": {"role_arns": "arn:aws:iam::1:role/r"}}, "'guard' must be an object"),
        ({"allowed_principal_arns": 3}, "'allowed_principal_arns' must be a list of strings"),
        ({"retention_days": True}, "'retention_days' must be a positive whole number"),
        ({"trial": []}, "unknown key(s) trial"),
        ({"baselines_unavailable": "yes"}, "'baselines_unavailable' must be true or false"),
        ({"tampered_trails": "arn:t"}, "'tampered_trails' must be a list of strings"),
        ({"trails": [{}, "t"]}, "'trails' must be a list of objects"),
        ({"guard": {"role_arn": []}}, "'guard' must be an object of role_arns, rule_names"),
        ({"guard": {"queue_urls": [1]}}, "'guard' must be an object"),
        ({"kms_aliases": {"alias/a": 1}}, "'kms_aliases' must be an object of strings"),
        ({"account": None}, "'account' must be a string"),
        ({"retention_days": 0}, "'retention_days' must be a positive whole number"),
        ({"log_groups": {}}, "'log_groups' must be a list of objects"),
    ],
)
def test_an_inventory_of_the_wrong_shape_is_a_usage_error(capsys, events_dir, tmp_path, inventory, says):
    """Before, a wrong type read as absent: ``"trails": 5`` protected nothing and StopLogging was benign."""
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(inventory))
    code, lines, err = run(capsys, "--inventory", str(path), str(events_dir / STOP))
    assert code == Exit.USAGE and not lines
    assert says in err


def test_the_inventory_shape_is_read_from_every_inventory_field():
    """The file's keys are Inventory's fields (Guard's under "guard"): a field added there is checked
    here without being listed twice."""
    assert list(INVENTORY_SHAPE) == [f.name for f in fields(Inventory)]
    what, valid = INVENTORY_SHAPE["guard"]
    assert all(name in what for name in (f.name for f in fields(Guard)))
    assert valid({f.name: ["x"] for f in fields(Guard)}) and not valid({"role_arns": [""], "x": []})


def test_the_documented_inventory_is_accepted(capsys, events_dir, tmp_path):
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(PROTECTING))
    code, lines, _ = run(capsys, "--inventory", str(path), str(events_dir / STOP))
    assert code == Exit.OK and lines


def test_an_inventory_naming_a_tampered_trail_baseline_is_accepted_and_used(capsys, events_dir, tmp_path):
    """The policy's baseline-doubt keys (``tampered_trails``, ``baselines_unavailable``) are part of the
    inventory file too: a redirect of a trail whose baseline failed verification is tamper, not benign."""
    record = json.loads((events_dir / UPDATE).read_text())
    name = record["requestParameters"]["name"]
    record["requestParameters"] = {"name": name, "s3BucketName": "attacker-bucket"}
    events = tmp_path / "redirect.json"
    events.write_text(json.dumps(record))
    live = {"Name": name.rsplit("/", 1)[-1], "TrailARN": name, "S3BucketName": "attacker-bucket"}
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps({"trails": [live]}))
    code, lines, _ = run(capsys, "--inventory", str(path), str(events))
    assert code == Exit.OK and [line["verdict"] for line in lines] == ["benign"]
    path.write_text(json.dumps({"trails": [live], "tampered_trails": [name]}))
    code, lines, _ = run(capsys, "--inventory", str(path), str(events))
    assert code == Exit.OK and [line["verdict"] for line in lines] == ["tamper"], lines


@pytest.mark.parametrize("char", ["\x85", "\u2028", "\u2029"])
def test_a_character_line_readers_break_at_stays_inside_its_line(capsys, tmp_path, char):
    """Found by the fuzz test: a key holding U+0085 (NEL) in a record's reason split the output line for
    any reader that splits lines the way Python's ``splitlines`` does."""
    path = tmp_path / "nel.json"
    path.write_text(json.dumps({"Records": [{char: None}]}))
    code = main(["classify", str(path)])
    out = capsys.readouterr().out
    assert code == Exit.USAGE
    (line,) = out.splitlines()
    assert char in json.loads(line)["reason"]
