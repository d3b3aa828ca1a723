"""``trailguard demo``'s failure exit code (the whole story runs end to end in tests/e2e)."""

from __future__ import annotations

from pathlib import Path

import pytest

from trailguard.cli import main
from trailguard.cli.exit import Exit


@pytest.mark.integration
def test_a_local_cloud_that_cannot_start_exits_1(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trailguard.local.server import LocalCloud

    def refuse(self: LocalCloud) -> LocalCloud:
        raise OSError("cannot serve on 127.0.0.1:0: no sockets today")

    monkeypatch.setattr(LocalCloud, "start", refuse)
    assert main(["demo", "--outbox", str(tmp_path / "outbox")]) == Exit.FAILED
    captured = capsys.readouterr()
    assert captured.err == "trailguard demo: setup failed: cannot serve on 127.0.0.1:0: no sockets today\n"
    assert "Starting the local cloud" in captured.out


def test_bad_usage_exits_2() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--timeout", "soon"])
    assert exc.value.code == Exit.USAGE
