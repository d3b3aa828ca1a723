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


def measure(runs: int, timeout: float, finding_delay: float | None) -> tuple[list[float], float | None]:
    """Per run, seconds from the attack's return to IsLogging true; and, for the first run, seconds from
    the attack's return to the email in the outbox (later runs are one burst, deduplicated on purpose)."""
    # The local cloud needs the optional `local` extra (moto): imported only when a benchmark runs it.
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
            email_latency = None
            for i in range(runs):
                emails_before = len(cloud.outbox.emails())
                attacker.stop_logging(Name=name)
                returned = time.perf_counter()
                while not observer.get_trail_status(Name=name)["IsLogging"]:
                    if time.perf_counter() - returned > timeout:
                        raise SystemExit(f"run {i + 1}: trail not restored within {timeout}s")
                    time.sleep(0.002)
                latencies.append(time.perf_counter() - returned)
                if i == 0:
                    while len(cloud.outbox.emails()) <= emails_before:
                        if time.perf_counter() - returned > timeout:
                            raise SystemExit(f"no email within {timeout}s")
                        time.sleep(0.002)
                    email_latency = time.perf_counter() - returned
                cloud.wait_idle(timeout)  # the alert and any finding finish before the next run
            return latencies, email_latency
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
    latencies, email_latency = measure(args.runs, args.timeout, args.finding_delay)
    ms = [v * 1000 for v in latencies]
    print(f"attack's return -> IsLogging true, over {len(ms)} runs (local cloud, API-call path):")
    print(f"  median {statistics.median(ms):8.1f} ms")
    print(f"  p95    {percentile(ms, 0.95):8.1f} ms")
    print(f"  max    {max(ms):8.1f} ms")
    print(f"  first  {ms[0]:8.1f} ms (cold: first import of the handler)")
    if email_latency is not None:
        print(f"attack's return -> email in the outbox (first run): {email_latency * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
