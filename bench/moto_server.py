"""A standalone moto server for the bench, in its own process: ``python moto_server.py`` prints the port
it listens on (127.0.0.1) and serves until its standard input closes.

It is plain moto, with one fix the stack's deploy needs: moto's CloudFormation ``AWS::KMS::Key`` ignores
``KeySpec``, and trailguard's state key is an HMAC key (``trailguard.local.kms_patch``, which the unit
tests' in-process deploys install too). None of the local cloud's recorder, router or Lambda runner runs
here: nothing but the handler the bench calls reacts to a call.
"""

from __future__ import annotations

import socket
import sys


def main() -> None:
    from moto.server import ThreadedMotoServer

    from trailguard.local import kms_patch

    kms_patch.install()
    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print(port, flush=True)
    sys.stdin.read()  # until the driver closes it
    server.stop()


if __name__ == "__main__":
    main()
