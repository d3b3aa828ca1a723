"""The handler's settings, read from the function's environment (``TRAILGUARD_*``).

Read per invocation through :func:`trailguard.aws.environ`, because the local cloud's Lambda runner binds
each function's environment with :func:`trailguard.aws.using_environ` instead of ``os.environ``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from trailguard import aws


def split(value: str | None) -> tuple[str, ...]:
    """A comma-separated variable as a tuple: blanks dropped, order kept, duplicates removed."""
    seen: dict[str, None] = {}
    for raw in (value or "").split(","):
        item = raw.strip()
        if item:
            seen.setdefault(item, None)
    return tuple(seen)


def switched_on(value: str | None) -> bool:
    """A true/false variable as the function reads it: unset or blank is on; ``false``, ``0``, ``no``
    and ``off`` (any case, surrounding spaces ignored) are off."""
    return (value or "true").strip().lower() not in ("false", "0", "no", "off")


def queue_arn(url: str) -> str | None:
    """The ARN of the SQS queue at ``url``: ``https://sqs.<region>.amazonaws.com[.cn]/<account>/<name>``
    (what CloudFormation's ``Ref`` of a queue answers) or the legacy ``<region>.queue.amazonaws.com``
    host; None for any other shape."""
    _scheme, sep, rest = url.strip().partition("://")
    host, _, path = rest.partition("/")
    account, _, name = path.strip("/").partition("/")
    labels = host.split(".")
    if len(labels) > 2 and labels[0] == "sqs":
        region = labels[1]
    elif len(labels) > 2 and labels[1] == "queue":
        region = labels[0]
    else:
        return None
    if not (sep and region and account.isdigit() and name) or "/" in name:
        return None
    partition = (
        "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    )
    return f"arn:{partition}:sqs:{region}:{account}:{name}"


ORG_TRAIL_ROLES = ("owner", "delegated-admin", "member")
"""``TRAILGUARD_ORG_TRAIL_ROLE``: what the stack may do to an organization trail (``resources.trail``)."""


def org_trail_role(value: str | None) -> str:
    """The variable as the function reads it: unset, blank or unknown is ``owner`` (a single-account
    stack's behaviour: every trail of the account is repaired; the template allows only the three)."""
    found = (value or "").strip().lower()
    return found if found in ORG_TRAIL_ROLES else "owner"


def _arn_account(arn: str | None) -> str | None:
    parts = (arn or "").split(":")
    account = parts[4] if len(parts) > 5 and parts[0] == "arn" else ""
    return account if len(account) == 12 and account.isdigit() else None


@dataclass(frozen=True)
class Config:
    """What the template tells the function (``docs/internals.md``, "Function environment")."""

    topic_arn: str | None = None
    state_table: str | None = None
    guard_role_arns: tuple[str, ...] = ()
    rule_names: tuple[str, ...] = ()
    function_names: tuple[str, ...] = ()
    allowed_principal_arns: tuple[str, ...] = ()
    protected_trails: tuple[str, ...] = ()
    """Names or ARNs; empty means every trail in the account."""
    security_hub: bool = True
    """Report incidents to Security Hub (``TRAILGUARD_SECURITY_HUB=false`` turns it off)."""
    queue_urls: tuple[str, ...] = ()
    """trailguard's dead-letter and on-failure queues (watched: deleting or purging them is tampering;
    their ARNs, :attr:`queue_arns`, are the only queues a rule repair may target)."""
    stack_name: str | None = None
    """The stack; its parameters hold the allow-list trailguard trusts (``trailguard.allowlist``)."""
    state_key: str | None = None
    """The stack's HMAC KMS key (``TRAILGUARD_STATE_KEY``) that signs and verifies the state table's
    records (``trailguard.integrity``); None: records are neither signed nor verified."""
    org_trail_role: str = "owner"
    """``member``: an organization trail of another account is verified and reported, never changed;
    ``owner`` / ``delegated-admin``: organization trails are repaired by ARN in their home region."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = aws.environ() if env is None else env
        return cls(
            topic_arn=(env.get("TRAILGUARD_TOPIC_ARN") or "").strip() or None,
            state_table=(env.get("TRAILGUARD_STATE_TABLE") or "").strip() or None,
            guard_role_arns=split(env.get("TRAILGUARD_GUARD_ROLE_ARNS")),
            rule_names=split(env.get("TRAILGUARD_RULE_NAMES")),
            function_names=split(env.get("TRAILGUARD_FUNCTION_NAMES")),
            allowed_principal_arns=split(env.get("TRAILGUARD_ALLOWED_PRINCIPAL_ARNS")),
            protected_trails=split(env.get("TRAILGUARD_PROTECTED_TRAILS")),
            security_hub=switched_on(env.get("TRAILGUARD_SECURITY_HUB")),
            queue_urls=split(env.get("TRAILGUARD_QUEUE_URLS")),
            stack_name=(env.get("TRAILGUARD_STACK_NAME") or "").strip() or None,
            state_key=(env.get("TRAILGUARD_STATE_KEY") or "").strip() or None,
            org_trail_role=org_trail_role(env.get("TRAILGUARD_ORG_TRAIL_ROLE")),
        )

    @property
    def queue_arns(self) -> tuple[str, ...]:
        """The ARNs of :attr:`queue_urls` (an SQS URL and its ARN name the same queue)."""
        return tuple(arn for arn in map(queue_arn, self.queue_urls) if arn)

    @property
    def topic_arns(self) -> tuple[str, ...]:
        """trailguard's own topics, watched and baselined: the alert topic when it is the stack's. A
        central topic (``AlertTopicArn``, another account's) is the central stack's to guard: a member
        can neither read its settings nor repair it."""
        if not self.topic_arn:
            return ()
        own, topic = self.account, _arn_account(self.topic_arn)
        return (self.topic_arn,) if own is None or topic is None or topic == own else ()

    @property
    def account(self) -> str | None:
        """The account the function runs in, read off the stack's own state key or role ARN (saves an
        STS call), else the topic's: with ``AlertTopicArn`` the topic is the organization's, in the
        security account."""
        for arn in (self.state_key, *self.guard_role_arns):
            found = _arn_account(arn)
            if found:
                return found
        if not self.topic_arn or not self.topic_arn.startswith("arn:"):
            return None
        parts = self.topic_arn.split(":")
        return parts[4] or None if len(parts) > 4 else None
