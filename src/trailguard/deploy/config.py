"""The Config a deployed handler runs with, for commands that act on a stack from outside it."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from trailguard.baseline.capture import Clients
from trailguard.config import Config, org_trail_role, split
from trailguard.log import log_event

LOG = logging.getLogger("trailguard.baseline")


def config_from_stack(
    outputs: Mapping[str, str],
    parameters: Mapping[str, str] | None = None,
    *,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
) -> Config:
    """The Config the deployed handler runs with: read from the API-call function's environment when
    ``region`` is given and it is readable (exactly what the handler protects), else rebuilt from the
    stack's outputs and parameters (``OrgTrailRole`` included, as the template passes it on)."""
    name = outputs.get("ApiCallFunctionName")
    if region and name:
        try:
            answer = Clients(region, profile, endpoint_url)("lambda").get_function_configuration(
                FunctionName=name
            )
            env = (answer.get("Environment") or {}).get("Variables")
            if isinstance(env, dict) and env.get("TRAILGUARD_STATE_TABLE"):
                return Config.from_env(env)
        except Exception as exc:
            log_event(LOG, logging.WARNING, "baseline.function-env-unreadable", function=name, error=str(exc))
    params = parameters or {}
    return Config(
        topic_arn=outputs.get("TopicArn") or None,
        state_table=outputs.get("StateTableName") or None,
        guard_role_arns=split(outputs.get("RoleArn")),
        rule_names=split(",".join(outputs.get(k, "") for k in ("ApiCallRuleName", "FindingRuleName"))),
        function_names=split(
            ",".join(outputs.get(k, "") for k in ("ApiCallFunctionName", "FindingFunctionName"))
        ),
        allowed_principal_arns=split(params.get("AllowedPrincipalArns")),
        protected_trails=split(params.get("ProtectedTrails")),
        state_key=outputs.get("StateKeyArn") or None,
        # the template sets TRAILGUARD_ORG_TRAIL_ROLE from this parameter: a member's rebuilt config must
        # not read as "owner" (which repairs organization trails) because the function was unreadable
        org_trail_role=org_trail_role(params.get("OrgTrailRole")),
    )
