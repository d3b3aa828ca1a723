"""``trailguard`` itself (``trailguard.cli``): the named exit codes and how a command's failure is
reported; every command module registers and returns an :class:`~trailguard.cli.exit.Exit`."""

from __future__ import annotations

import argparse
import importlib

import pytest

from trailguard import __version__
from trailguard.cli import COMMANDS, build_parser, main
from trailguard.cli.exit import CommandError, Exit

from .conftest import ENV, UNREACHABLE, trailguard


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


def test_version_and_python_m(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"trailguard {__version__}\n"
    result = trailguard("--version")  # python -m trailguard
    assert result.returncode == 0 and result.stdout == f"trailguard {__version__}\n"


@pytest.mark.parametrize("command", ["demo", "emulator"])
def test_a_missing_extra_is_one_line_naming_it(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    real = importlib.util.find_spec

    def without_moto(name: str, *args: object, **kwargs: object) -> object:
        return None if name.partition(".")[0] == "moto" else real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", without_moto)
    assert main([command]) == Exit.FAILED
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "'local' extra" in err and "pip install 'trailguard[local]'" in err and "moto" in err


def test_no_region_is_the_same_usage_error_in_every_aws_command() -> None:
    env = {k: v for k, v in ENV.items() if k != "AWS_DEFAULT_REGION"}
    for argv in (
        ("deploy", "--stack-name", "tg", "--email", "a@b.co"),
        ("destroy", "--stack-name", "tg", "--yes"),
        ("incidents", "--stack-name", "tg"),
        ("baseline", "show", "--stack-name", "tg"),
    ):
        result = trailguard(*argv, "--endpoint-url", UNREACHABLE, env=env)
        assert result.returncode == Exit.USAGE, (argv, result.stderr)
        assert f"trailguard {argv[0]}: no AWS region is set" in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1


def test_no_credentials_is_the_same_failure_in_every_aws_command() -> None:
    env = {k: v for k, v in ENV.items() if not k.startswith("AWS_ACCESS") and not k.startswith("AWS_SECRET")}
    for argv in (
        ("deploy", "--stack-name", "tg", "--email", "a@b.co"),
        ("destroy", "--stack-name", "tg", "--yes"),
        ("incidents", "--stack-name", "tg"),
        ("baseline", "show", "--stack-name", "tg"),
    ):
        result = trailguard(*argv, "--endpoint-url", UNREACHABLE, env=env)
        assert result.returncode == Exit.FAILED, (argv, result.stderr)
        assert "no AWS credentials found" in result.stderr, result.stderr
