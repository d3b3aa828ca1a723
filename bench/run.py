"""``make bench``: the figures trailguard keeps. First trailguard's StopLogging repair beside the floor,
Cloud Custodian and the aws-sample (``compare.py``: the README's performance table), then the Lambda
package's cold start, attack-to-restored latency over repeated StopLogging and each technique's repair and
alert latency on the local cloud, and ``classify`` at log scale when its benchmark is there
(``classify.py``). Benchmarks print; tests assert behaviour, never speed.

Arguments go to ``compare.py`` (``--rounds``, ``--warm``, ``--storm``, ``--server-storm``, ``--backend``).
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

import cold_start  # bench/ is on sys.path: it holds this script
import compare
import latency
import techniques

if __name__ == "__main__":
    codes = [compare.main(sys.argv[1:])]
    print()
    codes.append(cold_start.main([]))
    print()
    codes.append(latency.main([]))
    print()
    codes.append(techniques.main())
    if (Path(__file__).parent / "classify.py").is_file():
        print()
        run_classify = importlib.import_module("classify").main
        takes_args = bool(inspect.signature(run_classify).parameters)
        codes.append(int((run_classify([]) if takes_args else run_classify()) or 0))
    sys.exit(max(codes))
