"""What ``trailguard audit`` reads, one account (and region) at a time: read-only calls only.

Each reader takes ``clients(service, region)`` (the account's credentials) and returns the plain facts
:mod:`trailguard.org.checks` judges. :data:`PERMISSIONS` lists every action they call, beside the calls;
a test records the calls an audit makes and fails on one not listed (the role ``--role-name`` names
needs them, and nothing that writes).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from trailguard import aws
from trailguard.aws import error_code, error_text
from trailguard.org.checks import BaselineFacts, BucketFacts, OrgFacts, StackFacts, TrailFacts
from trailguard.org.scp import CLOUDTRAIL_POLICY, SELF_POLICY
from trailguard.resources.trail import management_coverage

Clients = Callable[[str, str], Any]
"""``clients(service, region)``: a boto3 client with one account's credentials."""

PERMISSIONS = (
    # the organization (management account)
    "organizations:DescribeOrganization",
    "organizations:ListAccounts",
    "organizations:ListAccountsForParent",
    "organizations:ListOrganizationalUnitsForParent",
    "organizations:ListParents",
    "organizations:ListPolicies",
    "organizations:ListTargetsForPolicy",
    "organizations:ListAWSServiceAccessForOrganization",
    "organizations:ListDelegatedAdministrators",
    "cloudformation:DescribeStackSet",
    "cloudformation:ListStackInstances",
    "sts:AssumeRole",
    # every account and region
    "sts:GetCallerIdentity",
    "ec2:DescribeRegions",
    "cloudtrail:DescribeTrails",
    "cloudtrail:GetTrailStatus",
    "cloudtrail:GetEventSelectors",
    "s3:ListAllMyBuckets",
    "s3:GetBucketLocation",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetBucketPolicyStatus",
    "s3:GetBucketAcl",
    "s3:GetBucketLogging",
    "cloudformation:DescribeStacks",
    "cloudformation:DescribeStackResources",
    "events:ListRules",
    "events:ListTargetsByRule",
    "lambda:GetFunctionConfiguration",
)
"""The read-only actions the audit calls; TG.baseline also needs what ``trailguard deploy --dry-run``
reads to compare the baselines (the deployer policy's read actions, the state table and its key)."""

BASELINE_KEY_PERMISSIONS = ("kms:VerifyMac",)
"""What TG.baseline needs on the stack's state key: ``kms:VerifyMac`` only, in the audit role's IAM
policy. Every baseline is signed by KMS itself (:class:`trailguard.integrity.Mac`, never the
ledger's derived key), so ``VerifyMac`` checks it; and the key's policy grants its account everything
but ``kms:GenerateMac`` (statement ``AccountAdministersButDoesNotSign``), so IAM decides ``VerifyMac``:
the audit's role need not be among ``StateSignerArns`` (who may *sign*). A record signed with a derived
key (``k1.``: only the ledger's and outbox's records are) could be checked only by re-deriving that key
with ``GenerateMac``, a signer's right: no baseline is, so the audit never needs it."""

STACK_SET = "trailguard-member"
RULE_OUTPUTS = {
    "ApiCallRuleName": "ApiCallFunctionName",
    "FindingRuleName": "FindingFunctionName",
    "GuardRuleName": "FindingFunctionName",
    "BackstopRuleName": "FindingFunctionName",
}
"""Each rule output -> the output naming the function its targets must include (the template's)."""
RULE_SUFFIXES = {
    "api-calls": "api-call",
    "findings": "finding",
    "guard-calls": "finding",
    "backstop": "finding",
}
"""The fixed names under a NamePrefix (``<prefix>-api-calls`` -> ``<prefix>-api-call``), where the
stack's outputs cannot be read."""
PUBLIC_GROUPS = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)


def _pages(
    call: Callable[..., Mapping[str, Any]], key: str, token: str = "NextToken", **params: Any
) -> Iterator[Any]:
    while True:
        page = call(**params)
        yield from page.get(key) or []
        if not page.get(token):
            return
        params[token] = page[token]


# -------------------------------------------------------------------------------- the organization


def organization(clients: Clients, region: str) -> OrgFacts:
    """The organization, its trusted services, CloudTrail's delegated admins and where trailguard's
    SCPs are attached; a part that cannot be read is in ``errors`` (TG.org says it), the rest stands."""
    org = clients("organizations", region)
    described = org.describe_organization()["Organization"]
    errors: list[str] = []
    services: set[str] = set()
    admins: list[str] = []
    policies: dict[str, frozenset[str]] = {}
    try:
        services = {
            str(s["ServicePrincipal"])
            for s in _pages(org.list_aws_service_access_for_organization, "EnabledServicePrincipals")
        }
    except Exception as exc:
        errors.append(f"ListAWSServiceAccessForOrganization: {error_text(exc)}")
    try:
        admins = sorted(
            str(a["Id"])
            for a in _pages(
                org.list_delegated_administrators,
                "DelegatedAdministrators",
                ServicePrincipal="cloudtrail.amazonaws.com",
            )
        )
    except Exception as exc:
        if error_code(exc) != "InvalidInputException":  # an endpoint that does not know the principal
            errors.append(f"ListDelegatedAdministrators: {error_text(exc)}")
    try:
        for policy in _pages(org.list_policies, "Policies", Filter="SERVICE_CONTROL_POLICY"):
            if policy.get("Name") in (CLOUDTRAIL_POLICY, SELF_POLICY):
                targets = _pages(org.list_targets_for_policy, "Targets", PolicyId=policy["Id"])
                policies[str(policy["Name"])] = frozenset(str(t["TargetId"]) for t in targets)
    except Exception as exc:
        errors.append(f"SCPs: {error_text(exc)}")
    return OrgFacts(
        id=str(described.get("Id") or ""),
        management_account=str(described.get("MasterAccountId") or ""),
        feature_set=str(described.get("FeatureSet") or ""),
        services=frozenset(services),
        delegated_admins=tuple(admins),
        policies=policies,
        errors=tuple(errors),
    )


def accounts(clients: Clients, region: str, ous: tuple[str, ...]) -> list[Mapping[str, Any]]:
    """Every account of the organization, or of the OUs ``ous`` and the OUs below them."""
    org = clients("organizations", region)
    if not ous:
        return list(_pages(org.list_accounts, "Accounts"))
    found: dict[str, Mapping[str, Any]] = {}
    pending = list(ous)
    seen: set[str] = set()
    while pending:
        parent = pending.pop()
        if parent in seen:
            continue
        seen.add(parent)
        for account in _pages(org.list_accounts_for_parent, "Accounts", ParentId=parent):
            found[str(account["Id"])] = account
        pending.extend(
            str(ou["Id"])
            for ou in _pages(org.list_organizational_units_for_parent, "OrganizationalUnits", ParentId=parent)
        )
    return list(found.values())


def paths(
    clients: Clients, region: str, account_ids: list[str]
) -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """Account id -> (the account, its OUs, the root): where an attached SCP applies to it."""
    org = clients("organizations", region)
    parent_of: dict[str, str | None] = {}
    errors: list[str] = []

    def parent(child: str) -> str | None:
        if child not in parent_of:
            parents = org.list_parents(ChildId=child).get("Parents") or []
            parent_of[child] = str(parents[0]["Id"]) if parents else None
        return parent_of[child]

    out: dict[str, tuple[str, ...]] = {}
    for account in account_ids:
        chain = [account]
        try:
            node: str | None = account
            while node is not None and not node.startswith("r-"):
                node = parent(node)
                if node is not None:
                    chain.append(node)
        except Exception as exc:
            errors.append(f"ListParents {account}: {error_text(exc)}")
            continue
        out[account] = tuple(chain)
    return out, errors


def stack_instances(
    clients: Clients, regions: list[str]
) -> tuple[dict[tuple[str, str], Mapping[str, Any]], str]:
    """The stack set ``trailguard-member``'s instances, (account, region) -> summary, from the first
    of ``regions`` that holds it (a stack set lives in one region); "" or the region it was found in."""
    for region in regions:
        cfn = clients("cloudformation", region)
        try:
            cfn.describe_stack_set(StackSetName=STACK_SET)
        except Exception as exc:
            if error_code(exc) in ("StackSetNotFoundException", "StackSetNotFound", "ValidationError"):
                continue
            raise
        found = {
            (str(i["Account"]), str(i["Region"])): i
            for i in _pages(cfn.list_stack_instances, "Summaries", StackSetName=STACK_SET)
        }
        return found, region
    return {}, ""


# ----------------------------------------------------------------------------- one account's trails


def enabled_regions(clients: Clients, region: str) -> list[str]:
    """The regions enabled in the account (opted in or not needing it)."""
    answer = clients("ec2", region).describe_regions(AllRegions=False)
    return sorted(str(r["RegionName"]) for r in answer.get("Regions") or [])


def trails(clients: Clients, region: str) -> list[TrailFacts]:
    """The trails visible in ``region`` (shadow trails of multi-Region ones included), not yet read."""
    listed = clients("cloudtrail", region).describe_trails(includeShadowTrails=True).get("trailList") or []
    out = []
    for entry in listed:
        facts = TrailFacts.of(entry)
        if not entry.get("HasCustomEventSelectors"):
            facts = _with(facts, coverage=(True, True))  # CloudTrail's default: every management event
        out.append(facts)
    return out


def _with(trail: TrailFacts, **changes: Any) -> TrailFacts:
    return replace(trail, **changes)


def trail_state(clients: Clients, trail: TrailFacts) -> TrailFacts:
    """The trail with GetTrailStatus (by ARN, in its home region) and, for custom selectors, what
    GetEventSelectors says it records; a failed read is the trail's ``error``."""
    ct = clients("cloudtrail", trail.home_region)
    try:
        status = ct.get_trail_status(Name=trail.arn)
        logging = bool(status.get("IsLogging"))
        coverage = trail.coverage
        if coverage is None:
            coverage = management_coverage(ct.get_event_selectors(TrailName=trail.arn)) or (False, False)
    except Exception as exc:
        return _with(trail, error=error_text(exc))
    return _with(trail, logging=logging, coverage=coverage)


def owned_buckets(clients: Clients, region: str) -> set[str]:
    return {str(b["Name"]) for b in clients("s3", region).list_buckets().get("Buckets") or []}


def bucket_region(clients: Clients, region: str, bucket: str) -> str:
    location = clients("s3", region).get_bucket_location(Bucket=bucket).get("LocationConstraint")
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, str(location))


def bucket(clients: Clients, name: str, region: str) -> BucketFacts:
    """A log bucket read where it lives: CloudTrail.6 (public access block, policy status, ACL) and
    CloudTrail.7 (server access logging)."""
    s3 = clients("s3", region)
    try:
        try:
            block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
            block_all = all(
                bool(block.get(k))
                for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
            )
        except Exception as exc:
            if error_code(exc) != "NoSuchPublicAccessBlockConfiguration":
                raise
            block_all = False
        try:
            policy_public = bool(s3.get_bucket_policy_status(Bucket=name)["PolicyStatus"].get("IsPublic"))
        except Exception as exc:
            if error_code(exc) != "NoSuchBucketPolicy":
                raise
            policy_public = False
        grants = s3.get_bucket_acl(Bucket=name).get("Grants") or []
        acl_public = any((g.get("Grantee") or {}).get("URI") in PUBLIC_GROUPS for g in grants)
        logging = bool(s3.get_bucket_logging(Bucket=name).get("LoggingEnabled"))
    except Exception as exc:
        return BucketFacts(name, region, error=error_text(exc))
    return BucketFacts(name, region, block_all, policy_public, acl_public, logging)


# ------------------------------------------------------------------------- trailguard in one region


def stacks(clients: Clients, region: str) -> list[Mapping[str, Any]]:
    """Every stack of the region, as DescribeStacks lists them (outputs and parameters included)."""
    return list(_pages(clients("cloudformation", region).describe_stacks, "Stacks"))


def pick_stack(
    listed: list[Mapping[str, Any]], plain: str, instance_stack_id: str = ""
) -> Mapping[str, Any] | None:
    """The trailguard stack among ``listed``: the stack set instance's stack, else the plain stack
    ``plain``, else one a stack set named ``trailguard-member`` made (``StackSet-trailguard-member-*``)."""
    live = [s for s in listed if s.get("StackStatus") != "DELETE_COMPLETE"]
    for wanted in (
        lambda s: bool(instance_stack_id) and s.get("StackId") == instance_stack_id,
        lambda s: s.get("StackName") == plain,
        lambda s: str(s.get("StackName") or "").startswith(f"StackSet-{STACK_SET}-"),
        lambda s: s.get("StackName") == STACK_SET,  # an emulator names the instance's stack so
    ):
        found = [s for s in live if wanted(s)]
        if found:
            return found[0]
    return None


def stack_outputs(clients: Clients, region: str, stack: Mapping[str, Any]) -> dict[str, str]:
    """The stack's outputs (derived from its resources where an emulator reports none)."""
    from trailguard.deploy.stack import outputs

    return outputs(clients("cloudformation", region), stack, lambda _line: None)


def expected_wiring(
    outputs: Mapping[str, str], prefix: str, parameters: Mapping[str, str] | None = None, stack_name: str = ""
) -> tuple[dict[str, str], list[str]]:
    """(rule -> what its targets must include: a function's name, or for the forward rule the central
    bus's ARN; the functions) from the stack's outputs, else the fixed names under ``prefix``. With
    ``CentralBusArn`` set the template adds ``<NamePrefix or stack name>-forward`` to that bus."""
    params = parameters or {}
    rules = {outputs[r]: outputs.get(f, "") for r, f in RULE_OUTPUTS.items() if outputs.get(r)}
    if not rules:
        rules = {f"{prefix}-{r}": f"{prefix}-{f}" for r, f in RULE_SUFFIXES.items()}
    functions = sorted({f for f in rules.values() if f})
    if params.get("CentralBusArn"):
        rules[f"{params.get('NamePrefix') or stack_name or prefix}-forward"] = params["CentralBusArn"]
    return rules, functions


def wiring(
    clients: Clients, region: str, rules: Mapping[str, str], functions: list[str]
) -> tuple[dict[str, tuple[str, tuple[str, ...]] | None], dict[str, str | None]]:
    """Each expected rule's State and target ARNs (None: missing), each function's State (None: missing)."""
    events = clients("events", region)
    start = os.path.commonprefix(list(rules))  # noqa: RUF071 (names, not paths) if rules else ""
    listed = {
        str(r["Name"]): r
        for r in _pages(events.list_rules, "Rules", NamePrefix=start)
        if r.get("Name") in rules
    }
    found: dict[str, tuple[str, tuple[str, ...]] | None] = {}
    for name in rules:
        rule = listed.get(name)
        if rule is None:
            found[name] = None
            continue
        targets = tuple(str(t.get("Arn")) for t in _pages(events.list_targets_by_rule, "Targets", Rule=name))
        found[name] = (str(rule.get("State") or ""), targets)
    lam = clients("lambda", region)
    states: dict[str, str | None] = {}
    for function in functions:
        try:
            states[function] = str(lam.get_function_configuration(FunctionName=function).get("State") or "")
        except Exception as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            states[function] = None
    return found, states


def stack_facts(
    clients: Clients,
    region: str,
    listed: list[Mapping[str, Any]],
    *,
    plain: str,
    prefix: str,
    instance: Mapping[str, Any] | None,
) -> tuple[StackFacts, Mapping[str, Any] | None, dict[str, str]]:
    """TG.instance's and TG.wiring's facts; the stack found and its outputs (for TG.baseline)."""
    instance = instance or {}
    stack = pick_stack(listed, plain, str(instance.get("StackId") or ""))
    status = str(instance.get("Status") or "")
    detailed = str((instance.get("StackInstanceStatus") or {}).get("DetailedStatus") or "")
    reason = "; ".join(x for x in (detailed, str(instance.get("StatusReason") or "")) if x)
    outputs: dict[str, str] = {}
    if stack is None and not instance.get("StackId"):
        return StackFacts(instance_status=status, instance_reason=reason), None, {}
    if stack is None:  # listed by the stack set, not by the account (moto makes no such stack)
        name = str(instance["StackId"]).split(":stack/", 1)[-1].split("/", 1)[0]
        stack_status = ""
    else:
        name, stack_status = str(stack.get("StackName")), str(stack.get("StackStatus") or "")
        try:
            outputs = stack_outputs(clients, region, stack)
        except Exception:
            outputs = {}
    parameters = {
        str(p["ParameterKey"]): str(p.get("ParameterValue") or "")
        for p in (stack or {}).get("Parameters") or []
    }
    rules, functions = expected_wiring(outputs, prefix, parameters, name if stack is not None else "")
    base = StackFacts(name=name, status=stack_status, instance_status=status, instance_reason=reason)
    try:
        found, states = wiring(clients, region, rules, functions)
    except Exception as exc:
        return replace(base, error=f"reading the wiring: {error_text(exc)}"), stack, outputs
    return replace(base, rules=found, rule_functions=rules, functions=states), stack, outputs


def baseline_facts(
    stack: Mapping[str, Any],
    outputs: Mapping[str, str],
    region: str,
    *,
    profile: str | None,
    endpoint_url: str | None,
) -> BaselineFacts:
    """The recorded baselines against a fresh capture, with trailguard's own comparison
    (:func:`trailguard.deploy.plan.diff`, what ``deploy`` prints before re-recording): nothing is
    written. Runs with the credentials :func:`trailguard.aws.environ` binds (the audited account's)."""
    from trailguard.baseline.store import Baselines
    from trailguard.deploy.config import config_from_stack
    from trailguard.deploy.plan import BaselineChange, diff, planned_baselines

    parameters = {
        str(p["ParameterKey"]): str(p.get("ParameterValue") or "") for p in stack.get("Parameters") or []
    }
    try:
        config = config_from_stack(
            outputs, parameters, region=region, profile=profile, endpoint_url=endpoint_url
        )
        stored = Baselines.from_config(config, region, profile=profile, endpoint_url=endpoint_url)
        if not stored.available:
            return BaselineFacts(errors=("the stack names no state table",))
        current = stored.all()
        planned, errors = planned_baselines(config, region, profile=profile, endpoint_url=endpoint_url)
    except Exception as exc:
        return BaselineFacts(errors=(f"reading the baselines: {error_text(exc)}",))
    if errors:
        return BaselineFacts(errors=tuple(errors))
    unverifiable = [t for t in stored.tampered if t.unverifiable]
    if unverifiable:  # KMS did not answer (on AWS: the role's IAM policy lacks kms:VerifyMac on the key)
        first = unverifiable[0]
        return BaselineFacts(
            errors=(
                f"{len(unverifiable)} baseline(s) could not be verified ({first.reason}); the audit's role "
                "needs kms:VerifyMac on the stack's state key in its IAM policy (the key's policy leaves "
                "VerifyMac to IAM; StateSignerArns, who may sign, need not name it)",
            )
        )
    changes = diff(current, planned)

    def label(change: BaselineChange) -> str:
        return f"{change.kind} {change.ident}"

    return BaselineFacts(
        recorded=sum(len(v) for v in current.values()),
        missing=tuple(label(c) for c in changes if c.action == "add"),
        drifted=tuple(f"{label(c)} ({', '.join(c.fields)})" for c in changes if c.action == "change"),
        gone=tuple(label(c) for c in changes if c.action == "remove"),
        tampered=tuple(f"{t.pk}/{t.sk}" for t in stored.tampered),
    )


def bound(credentials: Mapping[str, str] | None, region: str, endpoint_url: str | None) -> Any:
    """The environment :func:`trailguard.aws.using_environ` binds so trailguard's own readers (the
    baseline comparison) call as the audited account; a no-op context for the caller's own."""
    from contextlib import nullcontext

    if credentials is None:
        return nullcontext()
    env = {
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials.get("SessionToken", ""),
        "AWS_REGION": region,
    }
    if endpoint_url:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    return aws.using_environ(env)
