"""Compiled modules for the Lambda zip, by the interpreter running this file: checked hash-based
``.pyc`` files (PEP 552) whose bytes depend only on the source and the interpreter's version.

Standard library only, so the runtime's Python can run it as a script (``python3.12 -I pyc.py``) when it
is not the Python building the package: it reads ``[[archive name, source (base64)], ...]`` as JSON on
standard input and writes ``{".pyc archive name": bytes (base64)}`` as JSON on standard output.

- The header is the interpreter's magic number, the "checked hash" flags and the source's hash: no
  timestamp, and the interpreter compiles the source instead of a ``.pyc`` that does not match it.
- The recorded file name is the archive's (``trailguard/...``), not the building machine's path; the
  interpreter replaces it with the real path at import.
- marshal format 2: formats 3 and later mark objects referenced more than once by their reference count
  at that moment, so the same code would marshal to different bytes depending on what else the building
  process holds.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import marshal
import sys

CHECKED_HASH = 0b11  # PEP 552 flags: hash-based, checked against the source at import
MARSHAL_VERSION = 2


def compiled(archive_name: str, source: bytes) -> tuple[str, bytes]:
    """(archive name, bytes) of one module's ``.pyc`` for this interpreter."""
    code = compile(source, archive_name, "exec", dont_inherit=True)
    header = (
        importlib.util.MAGIC_NUMBER + CHECKED_HASH.to_bytes(4, "little") + importlib.util.source_hash(source)
    )
    folder, _, filename = archive_name.rpartition("/")
    cached = f"{folder}/__pycache__/{filename[:-3]}.{sys.implementation.cache_tag}.pyc"
    return cached, header + marshal.dumps(code, MARSHAL_VERSION)


def main() -> None:
    modules = json.load(sys.stdin)
    out = {}
    for name, source in modules:
        cached, data = compiled(name, base64.b64decode(source))
        out[cached] = base64.b64encode(data).decode("ascii")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
