"""Per technique on the local cloud: seconds from the attack's return until the resource is back at its
baseline, and until the email naming it is in the outbox.

Attacks run in sequence on one local cloud as the ``attacker`` user (boto3, in-process, so process start-up
of the AWS CLI is not counted). Each attack is on a different resource kind, so notification dedup does not
hide an email. Figures are for one machine; on AWS, CloudTrail's delivery to EventBridge adds its own
seconds before trailguard sees anything.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _wait(probe: Callable[[], bool], start: float, timeout: float) -> float | None:
    while time.perf_counter() - start < timeout:
        try:
            if probe():
                return time.perf_counter() - start
        except Exception:  # a read racing the repair (e.g. the trail re-created a moment later)
            pass
        time.sleep(0.005)
    return None


def main(timeout: float = 10.0) -> int:
    logging.getLogger("trailguard").addHandler(logging.NullHandler())
    logging.getLogger("trailguard").propagate = False
    logging.getLogger("moto").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=UserWarning, module="moto")

    # The local cloud needs the optional `local` extra (moto): imported only when a benchmark runs it.
    from trailguard.local import world
    from trailguard.local.server import LocalCloud

    rows: list[tuple[str, float | None, float | None]] = []
    with tempfile.TemporaryDirectory(prefix="trailguard-bench-") as tmp:
        cloud = LocalCloud(outbox_dir=Path(tmp) / "outbox", finding_delay=None)
        cloud.start()
        try:
            state = world.build(cloud, progress=lambda _line: None)
            cloud.wait_idle(timeout)
            creds = {
                "AWS_ACCESS_KEY_ID": state.attacker.access_key_id,
                "AWS_SECRET_ACCESS_KEY": state.attacker.secret_access_key,
            }

            def attacker(service: str) -> Any:
                return cloud.client(service, creds)

            def admin(service: str) -> Any:
                return cloud.client(service)

            trail, bucket = state.trail.name, state.trail.bucket
            key = state.trail.kms_key_id.rsplit("/", 1)[-1]  # moto's KMS crashes on key ARNs (local-cloud.md)
            api_rule = next(n for n in state.guard.rule_names if n.endswith("-api-calls"))
            api_function = next(n for n in state.guard.function_names if n.endswith("-api-call"))

            def trail_entry() -> dict[str, Any]:
                found = [t for t in admin("cloudtrail").describe_trails()["trailList"] if t["Name"] == trail]
                return found[0] if found else {}

            def logging_on() -> bool:
                return bool(admin("cloudtrail").get_trail_status(Name=trail)["IsLogging"])

            def selectors_cover_management() -> bool:
                selectors = admin("cloudtrail").get_event_selectors(TrailName=trail).get("EventSelectors", [])
                return any(
                    s.get("IncludeManagementEvents") and s.get("ReadWriteType") == "All" for s in selectors
                )

            def no_short_lifecycle() -> bool:
                try:
                    rules = admin("s3").get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
                except Exception as exc:
                    return "NoSuchLifecycleConfiguration" in str(exc)
                return all(r.get("Expiration", {}).get("Days", 10_000) >= 365 for r in rules)

            def key_enabled() -> bool:
                return bool(admin("kms").describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled")

            def rule_enabled() -> bool:
                return bool(admin("events").describe_rule(Name=api_rule)["State"] == "ENABLED")

            def concurrency_lifted() -> bool:
                got = admin("lambda").get_function_concurrency(FunctionName=api_function)
                return got.get("ReservedConcurrentExecutions") != 0

            attacks: list[tuple[str, Callable[[], Any], Callable[[], bool], str]] = [
                (
                    "trail.stop-logging",
                    lambda: attacker("cloudtrail").stop_logging(Name=trail),
                    logging_on,
                    trail,
                ),
                (
                    "trail.selectors-degrade",
                    lambda: attacker("cloudtrail").put_event_selectors(
                        TrailName=trail,
                        EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": False}],
                    ),
                    selectors_cover_management,
                    trail,
                ),
                (
                    "trail.update-degrade",
                    lambda: attacker("cloudtrail").update_trail(Name=trail, EnableLogFileValidation=False),
                    lambda: bool(trail_entry().get("LogFileValidationEnabled")),
                    trail,
                ),
                (
                    "bucket.lifecycle-expire",
                    lambda: attacker("s3").put_bucket_lifecycle_configuration(
                        Bucket=bucket,
                        LifecycleConfiguration={
                            "Rules": [
                                {
                                    "ID": "x",
                                    "Status": "Enabled",
                                    "Filter": {"Prefix": ""},
                                    "Expiration": {"Days": 1},
                                }
                            ]
                        },
                    ),
                    no_short_lifecycle,
                    bucket,
                ),
                ("key.disable", lambda: attacker("kms").disable_key(KeyId=key), key_enabled, key),
                (
                    "key.schedule-deletion",
                    lambda: attacker("kms").schedule_key_deletion(KeyId=key, PendingWindowInDays=7),
                    key_enabled,
                    key,
                ),
                (
                    "guard.rule",
                    lambda: attacker("events").disable_rule(Name=api_rule),
                    rule_enabled,
                    api_rule,
                ),
                (
                    "guard.function",
                    lambda: attacker("lambda").put_function_concurrency(
                        FunctionName=api_function, ReservedConcurrentExecutions=0
                    ),
                    concurrency_lifted,
                    api_function,
                ),
                (
                    "trail.delete",
                    lambda: attacker("cloudtrail").delete_trail(Name=trail),
                    lambda: bool(trail_entry()) and logging_on(),
                    trail,
                ),
            ]
            for technique, attack, restored, names in attacks:
                before = {json.dumps(e, sort_keys=True) for e in cloud.outbox.emails()}

                def emailed(names: str = names, before: set[str] = before) -> bool:
                    return any(
                        names in f"{e['subject']}\n{e['body']}"
                        for e in cloud.outbox.emails()
                        if json.dumps(e, sort_keys=True) not in before
                    )

                attack()
                start = time.perf_counter()
                rows.append((technique, _wait(restored, start, timeout), _wait(emailed, start, timeout)))
                cloud.wait_idle(timeout)
        finally:
            cloud.stop()

    print("technique                  restored    emailed   (seconds after the attack's return, local cloud)")
    failed = False
    for technique, restored_s, emailed_s in rows:
        failed |= restored_s is None or emailed_s is None
        r = f"{restored_s:8.3f}" if restored_s is not None else "   never"
        m = f"{emailed_s:8.3f}" if emailed_s is not None else "   never"
        print(f"{technique:24} {r}   {m}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
