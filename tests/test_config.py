"""The functions' configuration (``trailguard.config``) read from their environment, without AWS."""

from __future__ import annotations

from trailguard.config import Config


def test_config_reads_comma_separated_lists() -> None:
    config = Config.from_env(
        {
            "TRAILGUARD_TOPIC_ARN": " arn:aws:sns:eu-west-1:210987654321:alerts ",
            "TRAILGUARD_GUARD_ROLE_ARNS": "arn:aws:iam::1:role/a, ,arn:aws:iam::1:role/b,"
            "arn:aws:iam::1:role/a",
            "TRAILGUARD_PROTECTED_TRAILS": "",
            "TRAILGUARD_ALLOWED_PRINCIPAL_ARNS": "arn:aws:iam::1:role/break-glass",
        }
    )
    assert config.topic_arn == "arn:aws:sns:eu-west-1:210987654321:alerts"
    assert config.account == "210987654321"
    assert config.guard_role_arns == ("arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b")
    assert config.protected_trails == ()
    assert config.allowed_principal_arns == ("arn:aws:iam::1:role/break-glass",)
    assert Config.from_env({}).topic_arns == ()
