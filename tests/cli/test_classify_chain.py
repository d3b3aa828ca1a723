"""``trailguard classify --inventory`` (offline, judged from the trails' recorded configuration) gives
issue 10's technique ids on records of each delivery-chain call: one log file holding every such
record of ``tests/data/events``, and an inventory file (PROTECTING, with the optional ``log_groups``)."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path

from policy.policy_support import PROTECTING
from trailguard.cli import main
from trailguard.cli.exit import Exit

EXPECTED = {
    "tamper/logs_deleteloggroup_constructed.json": "logs.group-delete",
    "tamper/logs_putretentionpolicy_1day_constructed.json": "logs.retention-cut",
    "tamper/s3_putbucketversioning_suspended_constructed.json": "bucket.versioning-suspend",
    "tamper/s3_deletebucketpublicaccessblock_constructed.json": "bucket.public-access",
    "tamper/s3_putbucketacl_publicread_constructed.json": "bucket.public-access",
    "tamper/s3_deletebucketencryption_constructed.json": "bucket.encryption-change",
    "tamper/s3_deleteobject_trail_log_constructed.json": "bucket.objects-delete",
    "tamper/kms_putkeypolicy_awsdocs.json": "key.policy-change",
}


def test_every_chain_call_gets_its_technique_id(capsys, events_dir: Path, tmp_path: Path) -> None:
    records = [json.loads((events_dir / name).read_text()) for name in EXPECTED]
    logs = tmp_path / "111122223333_CloudTrail_us-west-2_20261130T1015Z_chain.json.gz"
    logs.write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
    inventory = copy.deepcopy(PROTECTING)
    group = "arn:aws:logs:us-west-2:111122223333:log-group:CloudTrail/DefaultLogGroup"
    inventory["log_groups"] = [{"Arn": group, "Name": "CloudTrail/DefaultLogGroup", "RetentionInDays": 400}]
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(inventory))

    code = main(["classify", "--inventory", str(path), str(logs)])

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert code == Exit.OK
    assert [(line["verdict"], line["technique"]) for line in lines] == [
        ("tamper", t) for t in EXPECTED.values()
    ]
    (retention,) = [line for line in lines if line["technique"] == "logs.retention-cut"]
    assert "below its baseline of 400 days" in retention["reason"]
