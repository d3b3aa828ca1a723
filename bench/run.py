"""``make bench``: the benchmarks trailguard keeps (attack-to-restored latency on the local cloud)."""

from __future__ import annotations

import sys

from latency import main  # bench/ is on sys.path: it holds this script

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
