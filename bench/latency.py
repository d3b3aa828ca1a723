"""Attack-to-restored latency on the local cloud: StopLogging by the attacker until GetTrailStatus says
IsLogging again, N times, with the median, p95 and max.

It measures trailguard's own path (record -> rule -> function -> StartLogging -> verify) on one machine;
on AWS, CloudTrail-to-EventBridge delivery adds its own seconds on top. Findings are off by default so
each run measures the API-call path alone (``--finding-delay`` turns them on).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def measure(runs: int, timeout: float, finding_delay: float | None) -> list[float]:
    from trailguard.local import world
    from trailguard.local.server import LocalCloud

    with tempfile.TemporaryDirectory(prefix="trailguard-bench-") as tmp:
        cloud = LocalCloud(outbox_dir=Path(tmp) / "outbox", finding_delay=finding_delay)
        cloud.start()
        try:
            state = world.build(cloud, progress=lambda _line: None)
            key = state.attacker
            attacker = cloud.client(
                "cloudtrail",
                {"AWS_ACCESS_KEY_ID": key.access_key_id, "AWS_SECRET_ACCESS_KEY": key.secret_access_key},
            )
            observer = cloud.client("cloudtrail")
            name = state.trail.name
            latencies = []
            for i in range(runs):
                started = time.perf_counter()
                attacker.stop_logging(Name=name)
                while not observer.get_trail_status(Name=name)["IsLogging"]:
                    if time.perf_counter() - started > timeout:
                        raise SystemExit(f"run {i + 1}: trail not restored within {timeout}s")
                    time.sleep(0.002)
                latencies.append(time.perf_counter() - started)
                cloud.wait_idle(timeout)  # the alert and any finding finish before the next run
            return latencies
        finally:
            cloud.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("-n", "--runs", type=int, default=20, help="number of attacks (default: 20)")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds allowed per run (default: 15)")
    parser.add_argument(
        "--finding-delay", type=float, default=None, help="also emit findings after this delay"
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    logging.getLogger("trailguard").addHandler(logging.NullHandler())
    logging.getLogger("trailguard").propagate = False
    logging.getLogger("moto").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=UserWarning, module="moto")
    latencies = measure(args.runs, args.timeout, args.finding_delay)
    ms = [v * 1000 for v in latencies]
    print(f"attack -> restored over {len(ms)} runs (local cloud, API-call path):")
    print(f"  median {statistics.median(ms):8.1f} ms")
    print(f"  p95    {percentile(ms, 0.95):8.1f} ms")
    print(f"  max    {max(ms):8.1f} ms")
    print(f"  first  {ms[0]:8.1f} ms (cold: first import of the handler)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
