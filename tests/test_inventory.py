"""The live inventory (``trailguard.inventory``) against a real (moto) trail with its baselines recorded."""

from __future__ import annotations

from typing import Any

from aws_support import TABLE
from trailguard.baseline import Baselines
from trailguard.events import records_from_object
from trailguard.integrity import Mac
from trailguard.inventory import load
from trailguard.policy import classify
from trailguard.state import StateStore
from worlds import REGION
from worlds import ConfiguredTrail as World

BUCKET, TRAIL, OTHER = World.BUCKET, World.TRAIL, World.OTHER_BUCKET


def test_inventory_judges_against_the_baseline_and_keeps_deleted_trails(world: World) -> None:
    """After UpdateTrail the live trail shows the new value; the policy must see the recorded one."""
    world.cloudtrail.update_trail(Name=world.trail_arn, S3BucketName="attacker-bucket")
    live = load(world.config, REGION, world.baselines)
    (entry,) = live.inventory.trails or ()
    assert entry["S3BucketName"] == BUCKET and "_meta" not in entry
    world.cloudtrail.delete_trail(Name=TRAIL)
    live = load(world.config, REGION, world.baselines)
    assert live.find_trail(world.trail_arn) is not None
    assert [t["TrailARN"] for t in live.protected] == [world.trail_arn]


def _redirect_record(world: World) -> Any:
    envelope = World.api_call_envelope(
        "cloudtrail_updatetrail_disable_logfilevalidation_elastic.json",
        {"name": world.trail_arn, "s3BucketName": OTHER},
    )
    (record,) = records_from_object(envelope)
    return record


def test_a_tampered_trail_baseline_is_named_and_its_redirect_is_tamper(world: World) -> None:
    """Issue 9: the forged baseline reads as absent, so the live (redirected) trail stands in; the
    inventory tells the policy, which must not judge the redirect against it (benign before the fix)."""
    key = world.sign_then_forge_trail_baseline()
    world.cloudtrail.update_trail(Name=world.trail_arn, S3BucketName=OTHER)
    baselines = Baselines(StateStore(TABLE, REGION), Mac(key, REGION))
    live = load(world.config, REGION, baselines)
    assert live.inventory.tampered_trails == (world.trail_arn,)
    assert not live.inventory.baselines_unavailable
    (entry,) = live.inventory.trails or ()
    assert entry["S3BucketName"] == OTHER  # the live value: nothing else to lay over it
    verdict = classify(_redirect_record(world), live.inventory)
    assert verdict.verdict == "tamper", verdict.reason
    assert "failed verification" in verdict.reason


def test_an_unreadable_state_table_is_told_to_the_policy(world: World, monkeypatch: Any) -> None:
    """The trail baselines' Query throttled: the live trails stand in and the inventory says so."""
    from botocore.exceptions import ClientError

    def throttled(self: StateStore, pk: str) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "injected"}}, "Query")

    world.cloudtrail.update_trail(Name=world.trail_arn, S3BucketName=OTHER)
    monkeypatch.setattr(StateStore, "query_items", throttled)
    live = load(world.config, REGION, world.baselines)
    assert live.inventory.baselines_unavailable
    assert classify(_redirect_record(world), live.inventory).verdict == "tamper"
    monkeypatch.undo()
    live = load(world.config, REGION, world.baselines)  # readable again: judged against the baseline
    assert not live.inventory.baselines_unavailable
    assert classify(_redirect_record(world), live.inventory).verdict == "tamper"
    assert f"changed from {BUCKET} to {OTHER}" in classify(_redirect_record(world), live.inventory).reason


def test_a_trail_with_no_baseline_yet_is_named_and_its_redirect_is_tamper(unrecorded: World) -> None:
    """Issue 9 item 3: a trail that appeared after the baselines were recorded (none recorded here)
    stands in with its live entry, after the call; the policy is told, so a redirect or a removed key is
    tamper (escalated: there is nothing to restore), never benign. Benign before the fix."""
    unrecorded.cloudtrail.update_trail(Name=unrecorded.trail_arn, S3BucketName=OTHER)
    live = load(unrecorded.config, REGION, unrecorded.baselines)
    assert live.inventory.unrecorded_trails == (unrecorded.trail_arn,)
    verdict = classify(_redirect_record(unrecorded), live.inventory)
    assert verdict.verdict == "tamper", verdict.reason
    assert "no recorded baseline yet" in verdict.reason
    unrecorded.record_baselines()
    assert load(unrecorded.config, REGION, unrecorded.baselines).inventory.unrecorded_trails == ()


def test_without_a_state_table_every_trail_is_unrecorded_and_a_failed_listing_is_doubt(
    world: World, monkeypatch: Any
) -> None:
    """The no-table deployment: nothing vouches for a live trail entry, and when DescribeTrails fails
    there is no entry at all; either way a redirect is tamper. Benign before the fix."""
    from botocore.exceptions import ClientError

    from trailguard import inventory

    world.cloudtrail.update_trail(Name=world.trail_arn, S3BucketName=OTHER)
    live = load(world.config, REGION, Baselines(None))
    assert live.inventory.unrecorded_trails == (world.trail_arn,)
    assert classify(_redirect_record(world), live.inventory).verdict == "tamper"

    def denied(region: str) -> Any:
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "injected"}}, "DescribeTrails"
        )

    monkeypatch.setattr(inventory, "describe_trails", denied)
    live = load(world.config, REGION, Baselines(None))
    assert live.inventory.trails is None and live.inventory.baselines_unavailable
    assert classify(_redirect_record(world), live.inventory).verdict == "tamper"
