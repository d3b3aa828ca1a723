"""The stack's authenticated configuration: one signed item written at deploy, read instead of the
function environment.

A function's environment is one ``UpdateFunctionConfiguration`` away from the attacker (self-allow-listing,
issue item 15), so what trailguard trusts about its own stack (which trails are protected, where alerts
go, which functions and rules are its own) is written by ``trailguard deploy`` (and
``trailguard baseline record``) into the state table as ``pk = "config"``, ``sk = "stack"``, signed with
the stack's state key (:mod:`trailguard.integrity`), and read through :func:`read_deployed`.

:func:`read_deployed` never raises. It answers a :class:`DeployedConfig` whose ``status`` says whether
the values can be trusted: ``verified`` (signed by the state key and intact), ``missing`` (never written),
``tampered`` (fails verification: :attr:`DeployedConfig.tampered` names the item for the alert),
``unsigned`` (no state key is configured, so nothing is verified), ``unavailable`` (no table, or the table
or KMS could not be read). Only a ``verified`` item is to be trusted (:attr:`DeployedConfig.trusted`).

The allow-list is not in it: its one source is the stack's ``AllowedPrincipalArns`` parameter
(:mod:`trailguard.allowlist`), which every ``UpdateStack`` changes, however it is made; a copy here would
go stale on any update not made with ``trailguard deploy``. (An item written before this still carries
the list; it is ignored.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from trailguard.config import Config
from trailguard.integrity import Mac, SignedStore, Tampered
from trailguard.log import log_event
from trailguard.state import StateStore

LOG = logging.getLogger("trailguard.baseline")

PK = "config"
SK = "stack"
SCHEMA = "trailguard.deployed/1"
Status = Literal["verified", "missing", "tampered", "unsigned", "unavailable"]


@dataclass(frozen=True)
class DeployedConfig:
    """What the stack was deployed with, as recorded and signed at deploy."""

    status: Status
    protected_trails: tuple[str, ...] = ()
    """Names or ARNs; empty means every trail in the account."""
    alert_endpoints: tuple[tuple[str, str], ...] = ()
    """(protocol, endpoint) pairs the topic was deployed with, e.g. ("email", "secops@example.com")."""
    topic_arn: str | None = None
    function_names: tuple[str, ...] = ()
    rule_names: tuple[str, ...] = ()
    rule_arns: tuple[str, ...] = ()
    role_arns: tuple[str, ...] = ()
    state_key: str | None = None
    org_trail_role: str | None = None
    """What the stack may do to organization trails (``OrgTrailRole``); None in an item written before
    it was recorded."""
    recorded: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """kind -> ids whose baselines were recorded at deploy (a missing one is reported, not re-baselined)."""
    written_at: str | None = None
    written_by: str | None = None
    tampered: Tampered | None = None
    error: str | None = None

    @property
    def trusted(self) -> bool:
        return self.status == "verified"


def rule_arns(rule_names: Iterable[str], *, region: str, account: str, partition: str = "aws") -> list[str]:
    return [f"arn:{partition}:events:{region}:{account}:rule/{name}" for name in rule_names]


def build(
    config: Config,
    *,
    region: str,
    account: str,
    alert_endpoints: Iterable[tuple[str, str]],
    recorded: Mapping[str, Iterable[str]] | None = None,
    written_by: str | None = None,
    source: str = "deploy",
) -> dict[str, Any]:
    """The config item's document for a stack (``config`` as :func:`deploy.config.config_from_stack`
    rebuilds it from the stack's outputs and parameters)."""
    return {
        "schema": SCHEMA,
        "protected_trails": list(config.protected_trails),
        "alert_endpoints": [{"Protocol": p, "Endpoint": e} for p, e in alert_endpoints],
        "topic_arn": config.topic_arn,
        "function_names": list(config.function_names),
        "rule_names": list(config.rule_names),
        "rule_arns": rule_arns(config.rule_names, region=region, account=account),
        "role_arns": list(config.guard_role_arns),
        "state_key": config.state_key,
        "org_trail_role": config.org_trail_role,
        "recorded": {kind: sorted(ids) for kind, ids in (recorded or {}).items() if ids},
        "_meta": {
            "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "written_by": written_by,
            "source": source,
        },
    }


def signed_store(
    config: Config,
    region: str | None = None,
    *,
    profile: str | None = None,
    endpoint_url: str | None = None,
) -> SignedStore | None:
    """The state table's signing view for ``config`` (None without a table)."""
    if not config.state_table:
        return None
    store = StateStore(config.state_table, region, profile=profile, endpoint_url=endpoint_url)
    mac = (
        Mac(config.state_key, region, profile=profile, endpoint_url=endpoint_url)
        if config.state_key
        else None
    )
    return SignedStore(store, mac)


def record_deployed(signed: SignedStore, doc: Mapping[str, Any]) -> None:
    """Write (sign) the config item; raises what the table or KMS raise."""
    signed.put(PK, SK, doc)
    log_event(LOG, logging.INFO, "baseline.config-recorded", signed=signed.enforced)


def read_deployed(
    config: Config,
    region: str | None = None,
    *,
    signed: SignedStore | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
) -> DeployedConfig:
    """The stack's authenticated configuration (see the module docstring); never raises.

    ``config`` (the function's environment) says only where to look: the table and the state key.
    """
    if signed is None:
        signed = signed_store(config, region, profile=profile, endpoint_url=endpoint_url)
    if signed is None:
        return DeployedConfig("unavailable", error="no state table is configured")
    before = len(signed.tampered)
    try:
        doc = signed.get(PK, SK)
    except Exception as exc:
        log_event(LOG, logging.ERROR, "baseline.config-unreadable", error=f"{type(exc).__name__}: {exc}")
        return DeployedConfig("unavailable", error=f"{type(exc).__name__}: {exc}")
    if doc is None:
        problem = next((t for t in signed.tampered[before:] if (t.pk, t.sk) == (PK, SK)), None)
        if problem is None:
            problem = next((t for t in signed.tampered if (t.pk, t.sk) == (PK, SK)), None)
        if problem is not None:
            status: Status = "unavailable" if problem.unverifiable else "tampered"
            return DeployedConfig(status, tampered=problem, error=problem.reason)
        return DeployedConfig("missing")
    return parse(doc, "verified" if signed.enforced else "unsigned")


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(str(v) for v in value if isinstance(v, str) and v)


def parse(doc: Mapping[str, Any], status: Status) -> DeployedConfig:
    """A config document as :class:`DeployedConfig`."""
    meta = doc.get("_meta") if isinstance(doc.get("_meta"), Mapping) else {}
    endpoints = tuple(
        (str(e.get("Protocol")), str(e.get("Endpoint")))
        for e in (doc.get("alert_endpoints") or [])
        if isinstance(e, Mapping) and e.get("Protocol") and e.get("Endpoint")
    )
    recorded_raw = doc.get("recorded") if isinstance(doc.get("recorded"), Mapping) else {}
    assert isinstance(meta, Mapping) and isinstance(recorded_raw, Mapping)
    return DeployedConfig(
        status,
        protected_trails=_strings(doc.get("protected_trails")),
        alert_endpoints=endpoints,
        topic_arn=str(doc["topic_arn"]) if doc.get("topic_arn") else None,
        function_names=_strings(doc.get("function_names")),
        rule_names=_strings(doc.get("rule_names")),
        rule_arns=_strings(doc.get("rule_arns")),
        role_arns=_strings(doc.get("role_arns")),
        state_key=str(doc["state_key"]) if doc.get("state_key") else None,
        org_trail_role=str(doc["org_trail_role"]) if doc.get("org_trail_role") else None,
        recorded={str(k): _strings(v) for k, v in recorded_raw.items()},
        written_at=str(meta.get("written_at")) if meta.get("written_at") else None,
        written_by=str(meta.get("written_by")) if meta.get("written_by") else None,
    )


def signer_arns(caller_arn: str) -> list[str]:
    """The ``aws:PrincipalArn`` patterns (stack parameter ``StateSignerArns``) that let the principal
    behind ``caller_arn`` (``sts get-caller-identity``) sign: an assumed role's role ARN (with or without
    a path), a user's or the root's ARN as is."""
    parts = caller_arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return []
    partition, service, account, resource = parts[1], parts[2], parts[4], parts[5]
    if service == "sts" and resource.startswith("assumed-role/"):
        role = resource.split("/")[1]
        return [
            f"arn:{partition}:iam::{account}:role/{role}",
            f"arn:{partition}:iam::{account}:role/*/{role}",
        ]
    return [caller_arn]


def record_stack(
    config: Config,
    parameters: Mapping[str, str],
    recorded: Mapping[str, Iterable[str]],
    *,
    region: str,
    profile: str | None = None,
    endpoint_url: str | None = None,
    written_by: str | None = None,
    source: str = "deploy",
) -> str:
    """Write the signed config item for a deployed stack (after its baselines); one line saying so.
    Raises what the table or KMS raise."""
    signed = signed_store(config, region, profile=profile, endpoint_url=endpoint_url)
    if signed is None:
        raise RuntimeError("no state table is configured, so the stack's configuration was not recorded")
    account = (config.account or "").strip()
    email = str(parameters.get("SecurityContactEmail") or "").strip()
    doc = build(
        config,
        region=region,
        account=account,
        alert_endpoints=[("email", email)] if email else [],
        recorded=recorded,
        written_by=written_by,
        source=source,
    )
    record_deployed(signed, doc)
    how = "signed with the state key" if signed.enforced else "UNSIGNED (the stack has no state key)"
    return f"recorded the stack's configuration ({PK}/{SK}, {how})"
