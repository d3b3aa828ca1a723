"""``make bench``: the figures trailguard keeps. Cold start of the Lambda package, then attack-to-restored
latency on the local cloud. Benchmarks print; tests assert behaviour, never speed."""

from __future__ import annotations

import sys

import cold_start  # bench/ is on sys.path: it holds this script
import latency

if __name__ == "__main__":
    code = cold_start.main([])
    print()
    sys.exit(code or latency.main(sys.argv[1:]))
