"""Trail key actions: get a disabled or deletion-scheduled KMS key back to Enabled, or its key policy
back to the baseline, and prove it.

The state actions converge on one state, whatever order the events arrive in: a key pending deletion has its
deletion cancelled (which leaves it Disabled) and is then enabled. The key is always addressed by its id
in its own region, resolved with DescribeKey from whatever the event used (id, ARN, alias): AWS accepts
ARNs for the state-changing calls, but the local cloud's KMS does not, and the id works on both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from trailguard.remediate.base import (
    NO_BASELINE,
    Context,
    Gone,
    Outcome,
    RepairRequest,
    action,
    action_region,
    policy_json,
    read_baseline,
    read_until,
    target,
    verify_until,
)
from trailguard.resources.key import KIND

# States no API call of ours can leave: a person has to act (import material, reconnect the key store).
_STUCK = {
    "PendingImport": "its key material must be imported again",
    "Unavailable": "its custom key store is disconnected; reconnect it",
    "Creating": "it is still being created",
    "Updating": "it is being updated",
}


def _describe(outcome: Outcome, ref: str, region: str) -> Mapping[str, Any]:
    metadata: Mapping[str, Any] = outcome.call("kms", region, "DescribeKey", KeyId=ref)["KeyMetadata"]
    outcome.calls[-1].result = f"KeyState {metadata.get('KeyState')}"
    return metadata


def _restore(ctx: Context, request: RepairRequest, name: str) -> Outcome:
    ref = target(request, "keyId", "KeyId")  # the trail's KmsKeyId, else as the call named it
    outcome = Outcome(name, ref)
    if ref is None:
        return outcome.fail("could not tell which KMS key was changed, so none was enabled")
    region = action_region(ctx, request, ref)  # a key lives in one region
    try:
        metadata = _describe(outcome, ref, region)
        key_id = str(metadata["KeyId"])
        state = str(metadata.get("KeyState"))
        if state == "Enabled":
            return outcome.unchanged(f"KMS key {key_id} in {region} was already enabled; nothing changed")
        if state in _STUCK:
            return outcome.fail(
                f"KMS key {key_id} in {region} is {state}: {_STUCK[state]}; trailguard cannot",
                f"KeyState {state}",
            )
        done = []
        if state in ("PendingDeletion", "PendingReplicaDeletion"):
            outcome.call("kms", region, "CancelKeyDeletion", KeyId=key_id)
            done.append("cancelled the scheduled deletion of")
        outcome.call("kms", region, "EnableKey", KeyId=key_id)
        done.append("enabled")
        state = read_until(
            ctx, lambda: str(_describe(outcome, key_id, region).get("KeyState")), lambda s: s == "Enabled"
        )
    except Exception as exc:
        error = outcome.last_error(exc)
        return outcome.fail(f"could not enable KMS key {ref} in {region}: {error}", error)
    if state != "Enabled":
        return outcome.fail(
            f"{' and '.join(done)} KMS key {key_id} in {region}, but DescribeKey shows {state}"
        )
    return outcome.repaired(
        f"{' and '.join(done)} KMS key {key_id} in {region}; verified that DescribeKey reports KeyState "
        "Enabled. Log files CloudTrail could not encrypt while the key was unusable were not delivered"
    )


# CancelKeyDeletion too: a key also scheduled for deletion meanwhile must be cancelled to enable it.
_PERMISSIONS = ("kms:EnableKey", "kms:DescribeKey", "kms:CancelKeyDeletion")


@action("key.enable", permissions=_PERMISSIONS, restores=KIND)
def enable(ctx: Context, request: RepairRequest) -> Outcome:
    """``key.disable``: EnableKey (cancelling a deletion first if one was scheduled meanwhile)."""
    return _restore(ctx, request, "key.enable")


@action("key.cancel_deletion", permissions=_PERMISSIONS, restores=KIND)
def cancel_deletion(ctx: Context, request: RepairRequest) -> Outcome:
    """``key.schedule-deletion``: CancelKeyDeletion, then EnableKey (a cancelled key is Disabled)."""
    return _restore(ctx, request, "key.cancel_deletion")


# -- the key policy: does it still let CloudTrail encrypt the trail's logs? ----------------------------
# Pure (the ``key.policy-change`` condition judges a PutKeyPolicy record with it, and the repair below
# uses it so the sweep leaves alone a changed policy that still serves CloudTrail).

CLOUDTRAIL = "cloudtrail.amazonaws.com"
_NEEDED = "kms:generatedatakey"  # what CloudTrail calls to encrypt each log file
_TRAIL_KEYS = frozenset({"aws:sourcearn", "kms:encryptioncontext:aws:cloudtrail:arn"})
_ACCOUNT_KEYS = frozenset({"aws:sourceaccount"})
_OPERATORS = frozenset(
    f"{family}{negated}{how}"
    for family, hows in (("String", ("Equals", "EqualsIgnoreCase", "Like")), ("Arn", ("Equals", "Like")))
    for how in hows
    for negated in ("", "Not")
)

Access = Literal["granted", "lost", "unclear"]


def _strings(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _wild(pattern: str, text: str, *, fold: bool = False) -> bool:
    """IAM's ``*`` / ``?`` wildcards (no character classes, unlike fnmatch)."""
    flags = re.IGNORECASE if fold else 0
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, flags) is not None


def _names_cloudtrail(principal: Any) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    services = _strings(principal.get("Service")) or []
    return "*" in (_strings(principal.get("AWS")) or []) or any(s.lower() == CLOUDTRAIL for s in services)


def _covers_cloudtrail(statement: Mapping[str, Any]) -> bool:
    """The statement's principal includes the CloudTrail service principal and its actions include
    GenerateDataKey (``kms:GenerateDataKey*``, ``kms:*``, ``*``, or a NotAction that leaves it)."""
    if "NotPrincipal" in statement:
        principal = not _names_cloudtrail(statement["NotPrincipal"])
    else:
        principal = _names_cloudtrail(statement.get("Principal"))
    if "NotAction" in statement:
        actions = not any(_wild(a, _NEEDED, fold=True) for a in _strings(statement["NotAction"]) or [])
    else:
        actions = any(_wild(a, _NEEDED, fold=True) for a in _strings(statement.get("Action")) or [])
    return principal and actions


def _condition_holds(condition: Any, trail_arn: str | None) -> bool | None:
    """Whether a statement's Condition holds for CloudTrail writing ``trail_arn``'s logs: only the keys
    that name the trail (``aws:SourceArn``, the ``aws:cloudtrail:arn`` encryption context) or its
    account are understood; None for anything else (or when the trail's ARN is not known)."""
    if condition is None or condition == {}:
        return True
    if not isinstance(condition, Mapping):
        return None
    account = trail_arn.split(":")[4] if trail_arn and trail_arn.count(":") >= 5 else None
    verdicts: list[bool | None] = []
    for operator, block in condition.items():
        name = str(operator).split(":", 1)[-1].removesuffix("IfExists")  # ForAnyValue:, ...IfExists
        if name not in _OPERATORS or not isinstance(block, Mapping):
            verdicts.append(None)
            continue
        negated, fold, like = (
            "Not" in name,
            name.endswith("IgnoreCase"),
            name.startswith("Arn") or "Like" in name,
        )
        for key, raw in block.items():
            subject = (
                trail_arn
                if str(key).lower() in _TRAIL_KEYS
                else account
                if str(key).lower() in _ACCOUNT_KEYS
                else None
            )
            values = _strings(raw)
            if subject is None or values is None:
                verdicts.append(None)
                continue
            if like:
                hit = any(_wild(v, subject, fold=fold) for v in values)
            else:
                hit = any(v.lower() == subject.lower() if fold else v == subject for v in values)
            verdicts.append(hit != negated)
    if False in verdicts:
        return False
    return None if None in verdicts else True


def _statements(policy: Mapping[str, Any]) -> list[Any]:
    found = policy.get("Statement")
    return [found] if isinstance(found, Mapping) else list(found) if isinstance(found, list) else []


def _sid(statement: Mapping[str, Any], index: int) -> str:
    return f"statement {statement.get('Sid') or f'#{index + 1}'}"


def cloudtrail_access(policy: Any, trail_arns: Sequence[str | None]) -> tuple[Access, str]:
    """Whether key ``policy`` (parsed) lets CloudTrail encrypt the logs of every trail in
    ``trail_arns``: ``granted``, ``lost`` (no Allow covers a trail, or a Deny does) or ``unclear`` (a
    condition trailguard cannot evaluate decides it), with a phrase that completes "a policy that ..."."""
    if not isinstance(policy, Mapping):
        return "unclear", "is not a JSON policy document"
    unclear: list[str] = []
    for trail in trail_arns or (None,):
        allowed = False
        doubts: dict[str, list[str]] = {"Allow": [], "Deny": []}
        for index, statement in enumerate(_statements(policy)):
            effect = statement.get("Effect") if isinstance(statement, Mapping) else None
            if effect not in doubts or not _covers_cloudtrail(statement):
                continue
            holds = _condition_holds(statement.get("Condition"), trail)
            if holds is None:
                doubts[effect].append(f"{_sid(statement, index)} has a condition trailguard cannot evaluate")
            elif holds and effect == "Deny":
                return "lost", f"explicitly denies CloudTrail kms:GenerateDataKey ({_sid(statement, index)})"
            elif holds:
                allowed = True
        if not allowed and not doubts["Allow"]:
            which = f" for trail {trail}" if trail else ""
            return "lost", f"no longer lets {CLOUDTRAIL} use the key{which}"
        unclear.extend(doubts["Deny"] if allowed else doubts["Allow"] + doubts["Deny"])
    if unclear:
        return "unclear", "; ".join(dict.fromkeys(unclear))
    return "granted", "still lets CloudTrail use the key"


# -- the repair ---------------------------------------------------------------------------------------

POLICY_NAME = "default"  # the only key policy name KMS has


def _read_policy(outcome: Outcome, key_id: str, region: str) -> Any:
    """The key's policy, parsed (the text itself when it is not JSON)."""
    found = outcome.call("kms", region, "GetKeyPolicy", gone=KIND, KeyId=key_id, PolicyName=POLICY_NAME)
    return policy_json(found.get("Policy"))


def _trail_arns(ctx: Context, key_id: str, arn: str | None) -> list[str | None]:
    inventory = ctx.live.inventory
    trails = inventory.trails_for_key(arn or key_id) or inventory.trails_for_key(key_id)
    return [str(t["TrailARN"]) if t.get("TrailARN") else None for t in trails]


@action(
    "key.restore_policy",
    permissions=("kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy"),
    restores=KIND,
    manual_steps="Put the key policy back so that cloudtrail.amazonaws.com may use KMS key {resource} "
    "(kms:GenerateDataKey*) for the trail: aws kms get-key-policy --key-id {resource} --policy-name "
    "default --region {region}, then aws kms put-key-policy with the previous policy.",
)
def restore_policy(ctx: Context, request: RepairRequest) -> Outcome:
    """``key.policy-change``: PutKeyPolicy with the baseline key policy (never bypassing the lockout
    safety check), verified by GetKeyPolicy compared as parsed JSON. A live policy that differs from
    the baseline but still lets CloudTrail use the key is left alone (the event path calls it harmless
    too); without a recorded policy nothing is put (a key policy is never invented)."""
    ref = target(request, "keyId", "KeyId")
    outcome = Outcome("key.restore_policy", ref)
    if ref is None:
        return outcome.fail("could not tell which KMS key's policy was changed, so none was restored")
    region = action_region(ctx, request, ref)
    try:
        metadata = outcome.call("kms", region, "DescribeKey", gone=KIND, KeyId=ref)["KeyMetadata"]
        key_id = str(metadata["KeyId"])
        baseline = request.baseline or read_baseline(ctx, outcome, "key", key_id)
        recorded = baseline.get("KeyPolicy") if baseline is not None else None
        if not recorded:
            return outcome.fail(
                f"no baseline key policy is recorded for KMS key {key_id}, so trailguard put none back "
                f"(it never invents a key policy): {NO_BASELINE}; meanwhile check that the key policy "
                f"lets {CLOUDTRAIL} use the key (aws kms get-key-policy --key-id {key_id} "
                f"--policy-name default --region {region})",
                "no baseline",
            )
        expected = policy_json(recorded, strict=True)
        text = recorded if isinstance(recorded, str) else json.dumps(recorded)
        label = f"the key policy of KMS key {key_id} in {region}"
        current = _read_policy(outcome, key_id, region)
        if current == expected:
            return outcome.finish(label, [], [], "")
        access, why = cloudtrail_access(current, _trail_arns(ctx, key_id, metadata.get("Arn")))
        if access == "granted":
            return outcome.unchanged(f"{label} differs from its baseline but {why}; left in place")
        outcome.call("kms", region, "PutKeyPolicy", KeyId=key_id, PolicyName=POLICY_NAME, Policy=text)
        verified = verify_until(ctx, lambda: _read_policy(outcome, key_id, region) == expected)
    except Exception as exc:
        error = outcome.last_error(exc)
        outcome.gone = isinstance(exc, Gone)
        return outcome.fail(f"could not restore the key policy of KMS key {ref} in {region}: {error}", error)
    return outcome.finish(
        label,
        [f"put the baseline key policy back on KMS key {key_id} in {region}, whose live policy {why}"],
        [] if verified else ["GetKeyPolicy does not return the baseline policy"],
        "GetKeyPolicy returns the baseline policy",
    )
