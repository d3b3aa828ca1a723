"""The Lambda package's cold-start figures: handler import time in fresh interpreters, and zip size.

Each run starts a new ``python -X importtime -c "import trailguard.handlers"`` (as a cold Lambda
would import the handler module) and reads the cumulative microseconds the interpreter itself reports,
so the figure excludes interpreter start-up. It also lists any third-party module the import pulled in:
boto3 must load only on first use, never at import.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def import_time_us() -> tuple[int, list[str]]:
    """Cumulative import time of trailguard.handlers (µs) and the top-level packages it imported."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import trailguard.handlers"],
        capture_output=True,
        text=True,
        check=True,
    )
    total = 0
    roots: set[str] = set()
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part.strip() for part in line.split(":", 1)[1].split("|"))
        if not cumulative.isdigit():
            continue
        roots.add(name.split(".", 1)[0])
        if name == "trailguard.handlers":
            total = int(cumulative)
    third_party = sorted(r for r in roots if r in {"boto3", "botocore", "moto", "urllib3", "yaml"})
    return total, third_party


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)

    samples = []
    heavy: list[str] = []
    for _ in range(args.runs):
        micros, heavy = import_time_us()
        samples.append(micros / 1000)
    print(
        f"handler import (trailguard.handlers, {args.runs} cold interpreters): "
        f"median {statistics.median(samples):.1f} ms, min {min(samples):.1f} ms, max {max(samples):.1f} ms"
    )
    print(f"third-party modules loaded at import: {', '.join(heavy) if heavy else 'none'}")

    from trailguard.deploy import package

    with tempfile.TemporaryDirectory(prefix="trailguard-bench-") as tmp:
        built = package(Path(tmp))
        print(f"lambda zip: {built.zip_path.stat().st_size:,} bytes")
    return 1 if heavy else 0


if __name__ == "__main__":
    sys.exit(main())
