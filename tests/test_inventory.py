"""The live inventory (``trailguard.inventory``) against a real (moto) trail with its baselines recorded."""

from __future__ import annotations

from trailguard.inventory import load
from worlds import REGION
from worlds import ConfiguredTrail as World

BUCKET, TRAIL = World.BUCKET, World.TRAIL


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
