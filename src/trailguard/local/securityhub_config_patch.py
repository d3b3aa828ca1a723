"""Security Hub product integrations and automation rules for the local cloud: stand-ins for moto gaps.

moto (5.2) has neither, and both are ways to make the finding that reveals a stopped trail disappear
(issue 10): ``DisableImportFindingsForProduct`` on the GuardDuty integration stops GuardDuty's findings
reaching Security Hub, and an automation rule can suppress, resolve or re-label them on arrival. So that
the real AWS CLI attack and trailguard's repair work on the local cloud, :func:`install` adds, while a
:class:`~trailguard.local.server.LocalCloud` runs:

- ``EnableImportFindingsForProduct`` (``POST /productSubscriptions``), ``DisableImportFindingsForProduct``
  (``DELETE /productSubscriptions/{arn}``) and ``ListEnabledProductsForImport`` (``GET
  /productSubscriptions``). A hub starts with the integrations AWS turns on when Security Hub is enabled
  for the AWS services trailguard cares about (:data:`DEFAULT_PRODUCTS`, GuardDuty among them);
  enabling an enabled one is a ``ResourceConflictException``, disabling an unknown one a
  ``ResourceNotFoundException``, both as on AWS;
- ``CreateAutomationRule``, ``BatchUpdateAutomationRules``, ``BatchGetAutomationRules``,
  ``ListAutomationRules`` and ``BatchDeleteAutomationRules``, keeping the rule as given (``Criteria``,
  ``Actions``, ``RuleStatus``, ``RuleOrder``, ``IsTerminal``...) with ``CreatedAt`` / ``UpdatedAt`` /
  ``CreatedBy`` and the processed / unprocessed replies of the batch calls;
- :func:`import_allowed`: whether a finding's product may import into the hub
  (:func:`~trailguard.local.securityhub_patch.import_finding` asks, so a disabled GuardDuty integration
  really keeps the emulated finding out of Security Hub), and :func:`apply_automation_rules`, which
  applies the enabled rules whose criteria match a finding, in ``RuleOrder``, on import (the subset of
  criteria the rules trailguard judges use: string filters on ``Type``, ``ProductName``, ``Title``,
  ``GeneratorId``, ``ProductArn``, ``CompanyName``, ``ResourceId``, ``ResourceType`` with ``EQUALS``,
  ``PREFIX``, ``CONTAINS`` and their negations).

Every call requires a subscribed hub (``InvalidAccessException`` otherwise). :func:`uninstall` removes
the routes and methods; state lives on moto's backend objects, so a reset forgets it.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

PRODUCTS_ROUTE = "{0}/productSubscriptions$"
PRODUCT_ROUTE = "{0}/productSubscriptions/(?P<subscription>.+)$"
RULE_ROUTES = tuple(
    f"{{0}}/automationrules/{verb}$" for verb in ("create", "update", "get", "list", "delete")
)
DEFAULT_PRODUCTS = ("aws/guardduty", "aws/inspector", "aws/macie", "aws/access-analyzer")
RULE_STATUSES = frozenset({"ENABLED", "DISABLED"})
MAX_RULES_PER_CALL = 100
STRING_FIELDS = {
    "Type": "Types",
    "ProductName": "ProductName",
    "Title": "Title",
    "GeneratorId": "GeneratorId",
    "ProductArn": "ProductArn",
    "CompanyName": "CompanyName",
    "AwsAccountId": "AwsAccountId",
    "Description": "Description",
}


class _State:
    installed = False
    lock = threading.Lock()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(code: str, message: str) -> Exception:
    from moto.securityhub.exceptions import SecurityHubClientError

    return SecurityHubClientError(code, message)


def _require_hub(backend: Any) -> None:
    if not getattr(backend, "enabled", False):
        raise _error("InvalidAccessException", "Account is not subscribed to AWS Security Hub")


def _subscriptions(backend: Any) -> dict[str, str]:
    """Subscription ARN -> product ARN, seeded with AWS's default integrations on first use."""
    found: dict[str, str] | None = getattr(backend, "_trailguard_subscriptions", None)
    if found is None:
        found = {
            subscription_arn(backend.region_name, backend.account_id, p): product_arn(backend.region_name, p)
            for p in DEFAULT_PRODUCTS
        }
        backend._trailguard_subscriptions = found
    return found


def _rules(backend: Any) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] | None = getattr(backend, "_trailguard_automation_rules", None)
    if found is None:
        found = {}
        backend._trailguard_automation_rules = found
    return found


def product_arn(region: str, product: str) -> str:
    """``arn:aws:securityhub:REGION::product/aws/guardduty`` for ``aws/guardduty``."""
    return f"arn:aws:securityhub:{region}::product/{product}"


def subscription_arn(region: str, account: str, product: str) -> str:
    """``arn:aws:securityhub:REGION:ACCOUNT:product-subscription/aws/guardduty`` for ``aws/guardduty``."""
    return f"arn:aws:securityhub:{region}:{account}:product-subscription/{product}"


def _product_of(arn: str) -> str:
    """``aws/guardduty`` of a product or product-subscription ARN."""
    resource = arn.split(":", 5)[-1]
    return resource.split("/", 1)[1] if "/" in resource else resource


# -- product integrations -----------------------------------------------------------------------------


def enable_import(backend: Any, product: str) -> str:
    _require_hub(backend)
    if not product.startswith("arn:") or ":product/" not in product:
        raise _error("InvalidInputException", f"Invalid ProductArn {product}")
    subs = _subscriptions(backend)
    arn = subscription_arn(backend.region_name, backend.account_id, _product_of(product))
    if arn in subs:
        raise _error("ResourceConflictException", f"The product {product} is already enabled")
    subs[arn] = product
    return arn


def disable_import(backend: Any, subscription: str) -> None:
    _require_hub(backend)
    subs = _subscriptions(backend)
    if subscription not in subs:
        raise _error("ResourceNotFoundException", f"Product subscription {subscription} not found")
    del subs[subscription]


def enabled_products(backend: Any) -> list[str]:
    _require_hub(backend)
    return list(_subscriptions(backend))


def import_allowed(backend: Any, finding: Mapping[str, Any]) -> bool:
    """Whether Security Hub accepts ``finding`` from its product: always for the account's own
    (``product/ACCOUNT/default``), else only while the product's integration is enabled."""
    product = str(finding.get("ProductArn", ""))
    if f":product/{backend.account_id}/" in product:
        return True
    wanted = _product_of(product)
    return any(_product_of(arn) == wanted for arn in _subscriptions(backend))


# -- automation rules -----------------------------------------------------------------------------------


def _validate_rule(rule: Mapping[str, Any], *, creating: bool) -> None:
    if creating:
        for name in ("RuleName", "RuleOrder", "Description", "Criteria", "Actions"):
            if rule.get(name) in (None, ""):
                raise _error("InvalidInputException", f"{name} is required")
    status = rule.get("RuleStatus")
    if status is not None and status not in RULE_STATUSES:
        raise _error("InvalidInputException", f"RuleStatus must be one of {', '.join(sorted(RULE_STATUSES))}")
    order = rule.get("RuleOrder")
    if order is not None and (not isinstance(order, int) or not 1 <= order <= 1000):
        raise _error("InvalidInputException", "RuleOrder must be an integer from 1 to 1000")
    actions = rule.get("Actions")
    if actions is not None and (not isinstance(actions, list) or not actions):
        raise _error("InvalidInputException", "Actions must contain at least one action")


def create_rule(backend: Any, request: Mapping[str, Any], caller: str) -> str:
    _require_hub(backend)
    _validate_rule(request, creating=True)
    arn = f"arn:aws:securityhub:{backend.region_name}:{backend.account_id}:automation-rule/{uuid.uuid4()}"
    now = _now()
    rule = {
        "RuleArn": arn,
        "RuleStatus": request.get("RuleStatus") or "ENABLED",
        "RuleOrder": request["RuleOrder"],
        "RuleName": request["RuleName"],
        "Description": request["Description"],
        "IsTerminal": bool(request.get("IsTerminal", False)),
        "Criteria": copy.deepcopy(request["Criteria"]),
        "Actions": copy.deepcopy(request["Actions"]),
        "CreatedAt": now,
        "UpdatedAt": now,
        "CreatedBy": caller,
    }
    _rules(backend)[arn] = rule
    return arn


UPDATABLE = ("RuleStatus", "RuleOrder", "Description", "RuleName", "IsTerminal", "Criteria", "Actions")


def update_rules(backend: Any, items: Any) -> tuple[list[str], list[dict[str, Any]]]:
    _require_hub(backend)
    if not isinstance(items, list) or not items or len(items) > MAX_RULES_PER_CALL:
        raise _error("InvalidInputException", "UpdateAutomationRulesRequestItems must hold 1 to 100 items")
    rules = _rules(backend)
    processed: list[str] = []
    unprocessed: list[dict[str, Any]] = []
    for item in items:
        arn = str(item.get("RuleArn", ""))
        if arn not in rules:
            unprocessed.append({"RuleArn": arn, "ErrorCode": 404, "ErrorMessage": "Rule not found"})
            continue
        _validate_rule(item, creating=False)
        for name in UPDATABLE:
            if item.get(name) is not None:
                rules[arn][name] = copy.deepcopy(item[name])
        rules[arn]["UpdatedAt"] = _now()
        processed.append(arn)
    return processed, unprocessed


def get_rules(backend: Any, arns: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    _require_hub(backend)
    if not isinstance(arns, list) or not arns or len(arns) > MAX_RULES_PER_CALL:
        raise _error("InvalidInputException", "AutomationRulesArns must hold 1 to 100 ARNs")
    rules = _rules(backend)
    found = [copy.deepcopy(rules[a]) for a in arns if a in rules]
    missing = [
        {"RuleArn": a, "ErrorCode": 404, "ErrorMessage": "Rule not found"} for a in arns if a not in rules
    ]
    return found, missing


def list_rules(backend: Any) -> list[dict[str, Any]]:
    _require_hub(backend)
    keys = ["RuleArn", "RuleStatus", "RuleOrder", "RuleName", "Description", "IsTerminal", "CreatedAt"]
    keys += ["UpdatedAt", "CreatedBy"]
    ordered = sorted(_rules(backend).values(), key=lambda r: (r["RuleOrder"], r["CreatedAt"]))
    return [{k: r[k] for k in keys} for r in ordered]


def delete_rules(backend: Any, arns: Any) -> tuple[list[str], list[dict[str, Any]]]:
    _require_hub(backend)
    if not isinstance(arns, list) or not arns or len(arns) > MAX_RULES_PER_CALL:
        raise _error("InvalidInputException", "AutomationRulesArns must hold 1 to 100 ARNs")
    rules = _rules(backend)
    processed = [a for a in arns if rules.pop(a, None) is not None]
    missing = [
        {"RuleArn": a, "ErrorCode": 404, "ErrorMessage": "Rule not found"} for a in arns if a not in processed
    ]
    return processed, missing


def _values(finding: Mapping[str, Any], field: str) -> list[str]:
    if field == "ResourceId":
        return [str(r.get("Id", "")) for r in finding.get("Resources") or []]
    if field == "ResourceType":
        return [str(r.get("Type", "")) for r in finding.get("Resources") or []]
    value = finding.get(STRING_FIELDS.get(field, field))
    if isinstance(value, list):
        return [str(v) for v in value]
    return [] if value is None else [str(value)]


def _string_match(values: list[str], condition: Mapping[str, Any]) -> bool:
    wanted = str(condition.get("Value", ""))
    comparison = str(condition.get("Comparison", "EQUALS"))
    tests: dict[str, Callable[[str], bool]] = {
        "EQUALS": lambda v: v == wanted,
        "PREFIX": lambda v: v.startswith(wanted),
        "CONTAINS": lambda v: wanted in v,
        "NOT_EQUALS": lambda v: v != wanted,
        "PREFIX_NOT_EQUALS": lambda v: not v.startswith(wanted),
        "NOT_CONTAINS": lambda v: wanted not in v,
    }
    test = tests.get(comparison)
    if test is None:
        return False
    if comparison.startswith("NOT") or comparison.endswith("NOT_EQUALS"):
        return all(test(v) for v in values)
    return any(test(v) for v in values)


def rule_matches(rule: Mapping[str, Any], finding: Mapping[str, Any]) -> bool:
    """Whether every criterion of ``rule`` holds for ``finding`` (filters of one field are OR-ed for
    positive comparisons, AND-ed for negative ones, as Security Hub does). Criteria outside the
    supported subset never match, so the emulator never suppresses more than AWS would."""
    criteria = rule.get("Criteria") or {}
    for field, conditions in criteria.items():
        if not isinstance(conditions, list) or not conditions:
            continue
        values = _values(finding, field)
        if field not in STRING_FIELDS and field not in ("ResourceId", "ResourceType"):
            return False
        positive = [c for c in conditions if not str(c.get("Comparison", "")).startswith("NOT")]
        negative = [c for c in conditions if c not in positive]
        if positive and not any(_string_match(values, c) for c in positive):
            return False
        if negative and not all(_string_match(values, c) for c in negative):
            return False
    return True


def apply_automation_rules(backend: Any, finding: dict[str, Any]) -> list[str]:
    """Apply the enabled rules matching ``finding`` in ``RuleOrder`` (a terminal rule stops the rest);
    the ARNs of the rules applied. Only ``FINDING_FIELDS_UPDATE`` actions exist on AWS."""
    applied: list[str] = []
    ordered = sorted(_rules(backend).values(), key=lambda r: (r["RuleOrder"], r["CreatedAt"]))
    for rule in ordered:
        if rule["RuleStatus"] != "ENABLED" or not rule_matches(rule, finding):
            continue
        for act in rule["Actions"]:
            update = act.get("FindingFieldsUpdate") or {}
            if update.get("Workflow", {}).get("Status"):
                finding["Workflow"] = {**(finding.get("Workflow") or {}), **update["Workflow"]}
            if update.get("Note"):
                finding["Note"] = {**update["Note"], "UpdatedAt": _now()}
            if update.get("Severity"):
                finding["Severity"] = {**(finding.get("Severity") or {}), **update["Severity"]}
            for key in ("VerificationState", "Confidence", "Criticality", "Types", "UserDefinedFields"):
                if update.get(key) is not None:
                    finding[key] = copy.deepcopy(update[key])
        applied.append(str(rule["RuleArn"]))
        if rule.get("IsTerminal"):
            break
    return applied


# -- HTTP actions -----------------------------------------------------------------------------------


def _params(response: Any) -> dict[str, Any]:
    body = response.body
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    loaded = json.loads(body) if body else {}
    return loaded if isinstance(loaded, dict) else {}


def _caller(response: Any) -> str:
    try:
        from moto.iam.access_control import create_access_key
        from moto.iam.models import get_account_id_from

        auth = response.headers.get("Authorization", "")
        key_id = auth.split("Credential=", 1)[1].split("/", 1)[0]
        account = get_account_id_from(key_id)
        return str(create_access_key(account, "aws", key_id, response.headers).arn)
    except Exception:
        return f"arn:aws:iam::{response.current_account}:root"


def _enable_import_findings_for_product(response: Any) -> str:
    arn = enable_import(response.securityhub_backend, str(_params(response).get("ProductArn", "")))
    return json.dumps({"ProductSubscriptionArn": arn})


def _disable_import_findings_for_product(response: Any) -> str:
    path = response.path.split("?", 1)[0]
    subscription = unquote(path.split("/productSubscriptions/", 1)[1])
    disable_import(response.securityhub_backend, subscription)
    return json.dumps({})


def _list_enabled_products_for_import(response: Any) -> str:
    return json.dumps({"ProductSubscriptions": enabled_products(response.securityhub_backend)})


def _create_automation_rule(response: Any) -> str:
    arn = create_rule(response.securityhub_backend, _params(response), _caller(response))
    return json.dumps({"RuleArn": arn})


def _batch_update_automation_rules(response: Any) -> str:
    items = _params(response).get("UpdateAutomationRulesRequestItems")
    processed, unprocessed = update_rules(response.securityhub_backend, items)
    return json.dumps({"ProcessedAutomationRules": processed, "UnprocessedAutomationRules": unprocessed})


def _batch_get_automation_rules(response: Any) -> str:
    found, missing = get_rules(response.securityhub_backend, _params(response).get("AutomationRulesArns"))
    return json.dumps({"Rules": found, "UnprocessedAutomationRules": missing})


def _list_automation_rules(response: Any) -> str:
    return json.dumps({"AutomationRulesMetadata": list_rules(response.securityhub_backend)})


def _batch_delete_automation_rules(response: Any) -> str:
    processed, missing = delete_rules(
        response.securityhub_backend, _params(response).get("AutomationRulesArns")
    )
    return json.dumps({"ProcessedAutomationRules": processed, "UnprocessedAutomationRules": missing})


def _json(method: Callable[[Any], str]) -> Callable[[Any], tuple[int, dict[str, str], str]]:
    """Answer with ``Content-Type: application/json`` as Security Hub does (so the local CloudTrail
    recorder keeps ``responseElements``, e.g. a new rule's ``RuleArn``)."""

    def respond(response: Any) -> tuple[int, dict[str, str], str]:
        return 200, {"Content-Type": "application/json"}, method(response)

    respond.__name__ = method.__name__
    return respond


_METHODS = {
    "enable_import_findings_for_product": _json(_enable_import_findings_for_product),
    "disable_import_findings_for_product": _json(_disable_import_findings_for_product),
    "list_enabled_products_for_import": _json(_list_enabled_products_for_import),
    "create_automation_rule": _json(_create_automation_rule),
    "batch_update_automation_rules": _json(_batch_update_automation_rules),
    "batch_get_automation_rules": _json(_batch_get_automation_rules),
    "list_automation_rules": _json(_list_automation_rules),
    "batch_delete_automation_rules": _json(_batch_delete_automation_rules),
}
_ROUTES = (PRODUCTS_ROUTE, PRODUCT_ROUTE, *RULE_ROUTES)


def install() -> bool:
    """Add the calls to moto's Security Hub; False when moto already has them (no patch)."""
    from moto.securityhub import urls
    from moto.securityhub.responses import SecurityHubResponse

    with _State.lock:
        if _State.installed:
            return True
        if any(hasattr(SecurityHubResponse, name) for name in _METHODS):
            return False
        for route in _ROUTES:
            urls.url_paths[route] = SecurityHubResponse.dispatch
        for name, method in _METHODS.items():
            setattr(SecurityHubResponse, name, method)
        _State.installed = True
        return True


def uninstall() -> None:
    from moto.securityhub import urls
    from moto.securityhub.responses import SecurityHubResponse

    with _State.lock:
        if not _State.installed:
            return
        for route in _ROUTES:
            urls.url_paths.pop(route, None)
        for name in _METHODS:
            delattr(SecurityHubResponse, name)
        _State.installed = False


def installed() -> bool:
    return _State.installed
