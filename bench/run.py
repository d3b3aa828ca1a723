"""``make bench``: the figures trailguard keeps. Cold start of the Lambda package, attack-to-restored
latency over repeated StopLogging, then each technique's repair and alert latency, all on the local
cloud. Benchmarks print; tests assert behaviour, never speed."""

from __future__ import annotations

import sys

import cold_start  # bench/ is on sys.path: it holds this script
import latency
import techniques

if __name__ == "__main__":
    codes = [cold_start.main([])]
    print()
    codes.append(latency.main(sys.argv[1:]))
    print()
    codes.append(techniques.main())
    sys.exit(max(codes))
