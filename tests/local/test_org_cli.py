"""``trailguard emulator --org``'s options: which accounts get a stack, and the usage error for a
role that does not exist (serving is tested end to end in tests/e2e/test_e2e_org_member.py)."""

from __future__ import annotations

import pytest

from trailguard.cli import main
from trailguard.cli.emulator import org_stacks
from trailguard.cli.exit import Exit
from trailguard.local.orgworld import STACK_ROLES


def test_org_stacks_names_roles_or_none() -> None:
    assert org_stacks("management,security,member") == STACK_ROLES
    assert org_stacks(" member ") == ("member",)
    assert org_stacks("none") == ()


@pytest.mark.parametrize("value", ["members", "member,admin", ",", "none,member"])
def test_an_unknown_role_is_a_usage_error_before_anything_starts(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["emulator", "--org", "--org-stacks", value]) == Exit.USAGE
    err = capsys.readouterr().err
    assert err.startswith("trailguard emulator: --org-stacks: ")
    assert "is not one of management, security, member (or none alone)" in err
