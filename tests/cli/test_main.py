"""``trailguard`` itself (``trailguard.cli``): the named exit codes and how a command's failure is
reported; every command module registers and returns an :class:`~trailguard.cli.exit.Exit`."""

from __future__ import annotations

import argparse
import importlib

import pytest

from trailguard.cli import COMMANDS, build_parser, main
from trailguard.cli.exit import CommandError, Exit


def test_the_codes_are_the_readme_s() -> None:
    assert [(e.name, int(e)) for e in Exit] == [("OK", 0), ("FAILED", 1), ("USAGE", 2)]


def test_no_command_prints_help_and_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == Exit.USAGE
    assert "usage: trailguard" in capsys.readouterr().err


def test_an_unknown_command_is_argparse_s_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == Exit.USAGE


def test_every_command_is_registered() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(COMMANDS) <= set(sub.choices)
    for name in COMMANDS:
        assert callable(importlib.import_module(f"trailguard.cli.{name}").run)


def test_a_command_error_is_printed_with_the_command_and_returns_its_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from trailguard.cli import package

    def fail(args: argparse.Namespace) -> Exit:
        raise CommandError(Exit.FAILED, "it broke; do this")

    monkeypatch.setattr(package, "run", fail)
    assert main(["package", "--output-dir", "unused"]) == Exit.FAILED
    assert capsys.readouterr().err == "trailguard package: it broke; do this\n"
