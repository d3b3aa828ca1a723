"""Issue "trailguard cannot be turned against the trail it guards", Done when: on the local cloud, an
attacker with the emulator's attacker keys rewrites the state table's items with the real AWS CLI
(the trail's bucket name replaced by a bucket of their own wherever it appears), then fires the backstop
(SIGUSR1). The trail still delivers to its own bucket, no call by trailguard's role wrote the attacker's
bucket anywhere, and an email says trailguard's state was tampered with, naming the items; the records
that still verify are still swept.

The state key is the stack's own HMAC KMS key, created by CloudFormation on the local cloud (moto's
``AWS::KMS::Key`` model ignores ``KeySpec``/``KeyUsage``: ``trailguard.local.kms_patch`` passes them on).
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from emulator_support import Running, aws_cli, emails, eventually, root_client, running_emulator

pytestmark = pytest.mark.e2e

ROOT_KEY = {"access_key_id": "AKIAE2ETESTROOT00002", "secret_access_key": "e2e"}
ATTACKER_BUCKET = "attacker-loot-bucket"
TAMPERED = "trailguard's state was tampered with"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with running_emulator(tmp_path_factory.mktemp("tamper"), "--finding-delay", "0.5") as run:
        yield run
    assert run.process.returncode == 0, run.log.read_text()


def attacker(run: Running, *args: str) -> Any:
    done = aws_cli(run.ready, run.ready["attacker"], *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def records(run: Running) -> list[dict[str, Any]]:
    path = Path(run.ready["records"])
    return [json.loads(line)["detail"] for line in path.read_text().splitlines() if line.strip()]


def test_rewritten_state_is_not_applied_and_is_reported(emulator: Running, tmp_path: Path) -> None:
    run, trail = emulator, emulator.ready["trail"]
    own_bucket = trail["bucket"]
    attacker(run, "s3api", "create-bucket", "--bucket", ATTACKER_BUCKET)
    tables = attacker(run, "dynamodb", "list-tables")["TableNames"]
    assert len(tables) == 1
    table = tables[0]

    # Rewrite every item that names the trail's bucket, keeping everything else (MAC included).
    items = attacker(run, "dynamodb", "scan", "--table-name", table)["Items"]
    rewritten: list[tuple[str, str]] = []
    for item in items:
        text = json.dumps(item)
        if own_bucket not in text:
            continue
        forged = json.loads(text.replace(own_bucket, ATTACKER_BUCKET))
        path = tmp_path / f"item{len(rewritten)}.json"
        path.write_text(json.dumps(forged))
        attacker(run, "dynamodb", "put-item", "--table-name", table, "--item", f"file://{path}")
        rewritten.append((forged["pk"]["S"], forged["sk"]["S"]))
    pks = {pk for pk, _ in rewritten}
    assert "baseline#trail" in pks and "baseline#bucket" in pks, rewritten
    before = len(emails(run.outbox))
    mark = len(records(run))

    run.process.send_signal(signal.SIGUSR1)  # the backstop sweep, now

    def tamper_email() -> dict[str, Any] | None:
        return next((m for m in emails(run.outbox)[before:] if TAMPERED in m.get("subject", "")), None)

    mail = eventually(tamper_email, timeout=30, what="the tamper email")
    body = mail["body"] if "body" in mail else json.dumps(mail)
    assert (
        mail["subject"].startswith("[trailguard] [ACTION REQUIRED]") or "ACTION REQUIRED" in mail["subject"]
    )
    for pk, sk in rewritten:
        if pk.startswith("baseline#"):
            assert f"pk={pk} sk={sk}" in body, (pk, sk, body)

    # The trail still delivers to its own bucket, and is logging.
    cloudtrail = root_client(run.ready, "cloudtrail", ROOT_KEY)
    live = cloudtrail.describe_trails(trailNameList=[trail["arn"]])["trailList"][0]
    assert live["S3BucketName"] == own_bucket
    assert cloudtrail.get_trail_status(Name=trail["arn"])["IsLogging"] is True

    # No call by trailguard's role wrote the attacker's bucket anywhere (CloudTrail's own records).
    roles = set(run.ready["guard"]["role_arns"])
    since = records(run)[mark:]
    by_guard = [r for r in since if _issuer(r) in roles]
    assert not [r for r in by_guard if ATTACKER_BUCKET in json.dumps(r)], by_guard
    assert not [r for r in since if ATTACKER_BUCKET in json.dumps(r.get("requestParameters"))]
    sweeps = [i for i in _invocations(run) if "Scheduled Event" in json.dumps(i)]
    assert sweeps, "the backstop did not run"

    # What still verifies is still swept: trailguard's own rules, functions and topic.
    assert "rule" in body and "function" in body, body


def _issuer(record: dict[str, Any]) -> str | None:
    context = record["userIdentity"].get("sessionContext") or {}
    return (context.get("sessionIssuer") or {}).get("arn")


def _invocations(run: Running) -> list[dict[str, Any]]:
    path = Path(run.ready["invocations"])
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_an_allow_listed_change_is_confirmed_from_the_local_clouds_history(tmp_path: Path) -> None:
    """The break-glass user (allow-listed at deploy) changes the trail; the api-call function confirms
    the event through LookupEvents, which the local cloud answers from its recorder, and only then
    records the new state as the signed baseline."""
    from trailguard import aws
    from trailguard.baseline import Baselines
    from trailguard.config import Config
    from trailguard.deploy import deploy
    from trailguard.local import world
    from trailguard.local.server import LocalCloud

    with LocalCloud(outbox_dir=tmp_path / "outbox", finding_delay=None) as cloud:
        trail = world.create_trail(cloud)
        glass = world.create_attacker(cloud, "break-glass")
        with cloud.as_admin():
            outputs = deploy(
                "tg-allowed",
                "security@example.com",
                region=cloud.region,
                endpoint_url=cloud.endpoint,
                parameters={"AllowedPrincipalArns": glass.arn},
                progress=lambda _line: None,
                poll_seconds=0.05,
                timeout_seconds=120,
            )
        cloud.wait_idle(30)
        keys = {"AWS_ACCESS_KEY_ID": glass.access_key_id, "AWS_SECRET_ACCESS_KEY": glass.secret_access_key}
        cloud.client("cloudtrail", keys).update_trail(Name=trail.name, EnableLogFileValidation=False)
        assert cloud.wait_idle(30)

        mail = [m for m in cloud.outbox.emails() if "UpdateTrail" in m.get("subject", "")]
        assert mail and mail[-1]["subject"].startswith("[trailguard] AUTHORISED: UpdateTrail"), mail
        assert "CloudTrail's event history confirms the change" in mail[-1]["body"]
        config = Config(state_table=outputs["StateTableName"], state_key=outputs["StateKeyArn"])
        with cloud.as_admin():
            doc = Baselines.from_config(config, cloud.region, endpoint_url=cloud.endpoint).get(
                "trail", trail.arn
            )
        aws.clear_cache()
        assert doc is not None and doc["LogFileValidationEnabled"] is False
        assert glass.arn in doc["_meta"]["confirmed_by"]
