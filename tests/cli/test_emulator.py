"""``trailguard emulator``'s failures and their exit codes (serving itself is tested end to end in
tests/e2e, which starts it as a person does)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from trailguard.cli import main
from trailguard.cli.exit import Exit


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 something else already listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


def test_an_invalid_port_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--port", "70000"]) == Exit.USAGE
    assert capsys.readouterr().err == "trailguard emulator: invalid port 70000\n"


def test_bad_usage_exits_2() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["emulator", "--port", "eighty"])
    assert exc.value.code == Exit.USAGE


@pytest.mark.integration
def test_a_port_in_use_exits_1(busy_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ready = tmp_path / "ready.json"
    argv = ["emulator", "--port", str(busy_port), "--outbox", str(tmp_path), "--ready-file", str(ready)]
    assert main(argv) == Exit.FAILED
    assert f"trailguard emulator: cannot serve on 127.0.0.1:{busy_port}" in capsys.readouterr().err
    assert not ready.exists()
