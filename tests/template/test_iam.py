"""The functions' role grants exactly what the code needs (``required_permissions()``), scoped to
resources wherever the API allows it."""

from __future__ import annotations

from typing import Any

import pytest

# Actions whose APIs have no resource-level permissions, so IAM only accepts Resource "*".
NO_RESOURCE_LEVEL = {
    "cloudtrail:DescribeTrails": "lists every trail of the account; the trail list is the inventory",
    "guardduty:CreateDetector": "creates a detector that has no ARN yet",
    "guardduty:ListDetectors": "lists the account's detectors",
    "cloudtrail:ListEventDataStores": "lists the region's event data stores for the baseline",
    "kms:ListAliases": "lists aliases (filtered by KeyId) for the trail key's baseline",
    "cloudtrail:LookupEvents": "event history: confirms allow-listed events, names who changed a resource",
    "organizations:EnableAWSServiceAccess": "trusted access is organization-wide",
    "organizations:ListAWSServiceAccessForOrganization": "lists the services with trusted access",
    "organizations:ListDelegatedAdministrators": "lists the delegated administrators",
    "organizations:ListPolicies": "lists the organization's SCPs",
    "organizations:CreatePolicy": "creates a policy that has no ARN yet",
    "cloudtrail:RegisterOrganizationDelegatedAdmin": "takes a member account id, no resource",
}

# Service prefix -> the resource ARNs (as Fn::Sub strings) its actions may be granted on.
# the stack's own code artifact: a recreated or re-coded trailguard function is given it
CODE_OBJECT = "arn:${AWS::Partition}:s3:::${CodeS3Bucket}/${CodeS3Key}"
# trailguard's own role, passed to Lambda when a function is recreated or its role put back
GUARD_ROLE = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${AWS::StackName}-GuardRole-*"
SCOPES = {
    "cloudtrail": {
        "arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:trail/*",
        "arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:eventdatastore/*",
    },
    "s3": {"arn:${AWS::Partition}:s3:::*", CODE_OBJECT},
    "kms": {"arn:${AWS::Partition}:kms:*:${AWS::AccountId}:key/*"},
    "logs": {"arn:${AWS::Partition}:logs:*:${AWS::AccountId}:log-group:*"},
    "events": {
        "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/${AWS::StackName}-api-calls",
        "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/${AWS::StackName}-findings",
        "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/${AWS::StackName}-guard-calls",
        "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/${AWS::StackName}-backstop",
    },
    "lambda": {
        "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-api-call",
        "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-finding",
    },
    "sns": {"arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}-alerts"},
    "organizations": {"arn:${AWS::Partition}:organizations::${AWS::AccountId}:*"},
    "guardduty": {
        "arn:${AWS::Partition}:guardduty:*:${AWS::AccountId}:detector/*",
        "arn:${AWS::Partition}:guardduty:*:${AWS::AccountId}:detector/*/filter/*",
    },
    "securityhub": {
        "arn:${AWS::Partition}:securityhub:*:${AWS::AccountId}:hub/default",
        "arn:${AWS::Partition}:securityhub:*:${AWS::AccountId}:product/${AWS::AccountId}/default",
        "arn:${AWS::Partition}:securityhub:*:${AWS::AccountId}:automation-rule/*",
        # GuardDuty's integration only (securityhub.import-disabled)
        "arn:${AWS::Partition}:securityhub:*::product/aws/guardduty",
        "arn:${AWS::Partition}:securityhub:*:${AWS::AccountId}:product-subscription/aws/guardduty",
    },
    "iam": {
        # the delivery roles' fallback: a placeholder name, so no role while TrailLogsRoleArns is empty
        "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${AWS::StackName}-no-role",
        "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${AWS::StackName}-GuardRole-*",
    },
    "dynamodb": {"StateTable.Arn"},
}


def _listify(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


# The parameters that narrow the role (set by `trailguard deploy`); empty, the statements fall back.
SCOPE_PARAMETERS = ("ProtectedTrailArns", "ProtectedBuckets", "TrailLogsRoleArns")
TRAIL = "arn:aws:cloudtrail:us-east-1:123456789012:trail/org-trail"
BUCKET = "arn:aws:s3:::org-trail-logs"
DELIVERY = "arn:aws:iam::123456789012:role/trail-to-logs"


def _resolve(node: Any, parameters: dict[str, str], conditions: dict[str, Any]) -> Any:
    """``node`` with Ref (of ``parameters``), Fn::If, Fn::Split and Fn::Join evaluated as CloudFormation
    does; Fn::Sub and Fn::GetAtt are kept (compared as text)."""
    if isinstance(node, list):
        return [_resolve(n, parameters, conditions) for n in node]
    if not isinstance(node, dict) or len(node) != 1:
        return node
    ((fn, args),) = node.items()
    if fn == "Ref" and args in parameters:
        return parameters[args]
    if fn == "Fn::If":
        name, then, otherwise = args
        return _resolve(then if _holds(name, parameters, conditions) else otherwise, parameters, conditions)
    if fn == "Fn::Split":
        separator, text = args
        return str(_resolve(text, parameters, conditions)).split(separator)
    if fn == "Fn::Join":
        separator, items = args
        return separator.join(str(i) for i in _resolve(items, parameters, conditions))
    return node


def _holds(name: str, parameters: dict[str, str], conditions: dict[str, Any]) -> bool:
    def truth(node: Any) -> bool:
        ((fn, args),) = node.items()
        if fn == "Fn::Not":
            return not truth(args[0])
        if fn == "Fn::Equals":
            left, right = (_resolve(a, parameters, conditions) for a in args)
            return bool(left == right)
        if fn == "Condition":
            return truth(conditions[args])
        raise AssertionError(f"condition {node!r}")

    return truth(conditions[name])


def _resources(
    statement: dict[str, Any], template: dict[str, Any], parameters: dict[str, str] | None = None
) -> list[str]:
    """The statement's Resource entries as text, with the scope parameters as given (default: empty)."""
    given = {name: "" for name in SCOPE_PARAMETERS} | (parameters or {})
    resolved = _resolve(statement["Resource"], given, template.get("Conditions") or {})
    return [_resource_text(r) for r in _listify(resolved)]


def _resource_text(resource: Any) -> str:
    """A Resource entry as comparable text: the literal, the Fn::Sub string or the GetAtt path."""
    if isinstance(resource, str):
        return str(resource)
    if "Fn::Sub" in resource:
        return str(resource["Fn::Sub"])
    if "Fn::GetAtt" in resource:
        return ".".join(str(p) for p in resource["Fn::GetAtt"])
    raise AssertionError(f"unexpected Resource {resource!r}")


def _policies(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    role = template["Resources"]["GuardRole"]["Properties"]
    return {str(p["PolicyName"]): list(p["PolicyDocument"]["Statement"]) for p in role["Policies"]}


def _allowed(statements: list[dict[str, Any]]) -> set[str]:
    return {str(a) for s in statements if s["Effect"] == "Allow" for a in _listify(s["Action"])}


@pytest.fixture(scope="module")
def remediation(template: dict[str, Any]) -> list[dict[str, Any]]:
    return _policies(template)["Remediation"]


def test_role_actions_equal_required_permissions(remediation: list[dict[str, Any]]) -> None:
    from trailguard.policy import required_permissions

    granted = _allowed(remediation)
    required = set(required_permissions())
    assert not required - granted, f"add to the template's Remediation policy: {sorted(required - granted)}"
    assert not granted - required, f"granted but not required: {sorted(granted - required)}"


def test_remediation_policy_is_the_generated_statements(
    remediation: list[dict[str, Any]], template: dict[str, Any]
) -> None:
    from trailguard.gen.iam import statements

    committed = {
        str(s["Sid"]): (
            sorted(str(a) for a in _listify(s["Action"])),
            sorted(_resources(s, template)),
            s.get("Condition", {}),
        )
        for s in remediation
    }
    generated = {
        s.sid: (
            sorted(s.actions),
            sorted(r.strip("${}") if r.endswith(".Arn}") else r for r in s.resources),
            {op: dict(values) for op, values in (s.condition or {}).items()},
        )
        for s in statements()
    }
    assert committed == generated


# The one Deny: the role refuses every call not made by trailguard's own functions' code.
SELF_LOCK = "OnlyTrailguardFunctions"


def test_no_wildcard_actions_and_no_deny_surprises(template: dict[str, Any]) -> None:
    for name, statements in _policies(template).items():
        if name == SELF_LOCK:
            continue
        for statement in statements:
            assert statement["Effect"] == "Allow", name
            assert "NotAction" not in statement and "NotResource" not in statement, name
            for action in _listify(statement["Action"]):
                assert "*" not in str(action), f"{name}: wildcard action {action}"


def test_resource_star_only_where_the_api_has_no_resource_level_permissions(
    remediation: list[dict[str, Any]], template: dict[str, Any]
) -> None:
    star_actions = {
        str(a) for s in remediation if "*" in _resources(s, template) for a in _listify(s["Action"])
    }
    assert star_actions == set(NO_RESOURCE_LEVEL)


def test_every_action_is_scoped_to_its_services_resources(
    remediation: list[dict[str, Any]], template: dict[str, Any]
) -> None:
    """With the scope parameters empty (the fallback): each service's own resources, no wider."""
    scoped = [s for s in remediation if set(_resources(s, template)) != {"*"}]
    assert scoped
    for statement in scoped:
        resources = set(_resources(statement, template))
        for action in _listify(statement["Action"]):
            service = str(action).split(":", 1)[0]
            assert resources <= SCOPES[service], f"{action} granted on {sorted(resources - SCOPES[service])}"


def _granting(remediation: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    found = [s for s in remediation if any(str(a).startswith(prefix) for a in _listify(s["Action"]))]
    assert found, prefix
    return found


def test_deploy_parameters_narrow_s3_cloudtrail_and_passrole_to_exactly_the_protected_resources(
    remediation: list[dict[str, Any]], template: dict[str, Any]
) -> None:
    given = {"ProtectedTrailArns": TRAIL, "ProtectedBuckets": BUCKET, "TrailLogsRoleArns": DELIVERY}
    store = "arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:eventdatastore/*"
    trail_resources = {
        r for s in _granting(remediation, "cloudtrail:") for r in _resources(s, template, given) if r != store
    }
    assert trail_resources - {"*"} == {TRAIL}
    (bucket,) = [s for s in _granting(remediation, "s3:") if _resources(s, template) != [CODE_OBJECT]]
    assert sorted(_resources(bucket, template, given)) == [BUCKET, f"{BUCKET}/*"]
    (passing,) = [
        s for s in _granting(remediation, "iam:PassRole") if _resources(s, template) != [GUARD_ROLE]
    ]
    assert _resources(passing, template, given) == [DELIVERY]
    # several of each: every one named, nothing else
    two = {
        "ProtectedBuckets": f"{BUCKET},arn:aws:s3:::other-logs",
        "TrailLogsRoleArns": f"{DELIVERY},arn:aws:iam::123456789012:role/second",
    }
    assert sorted(_resources(bucket, template, two)) == sorted(
        [BUCKET, f"{BUCKET}/*", "arn:aws:s3:::other-logs", "arn:aws:s3:::other-logs/*"]
    )
    assert sorted(_resources(passing, template, two)) == sorted(two["TrailLogsRoleArns"].split(","))


def test_each_scope_parameter_narrows_only_its_own_statement(
    remediation: list[dict[str, Any]], template: dict[str, Any]
) -> None:
    wide = {str(s["Sid"]): sorted(_resources(s, template)) for s in remediation}
    for name, value in (
        ("ProtectedTrailArns", TRAIL),
        ("ProtectedBuckets", BUCKET),
        ("TrailLogsRoleArns", DELIVERY),
    ):
        changed = {
            str(s["Sid"])
            for s in remediation
            if sorted(_resources(s, template, {name: value})) != wide[str(s["Sid"])]
        }
        assert len(changed) == 1, (name, changed)


def test_pass_role_only_to_cloudtrail_and_the_guard_role_only_to_lambda(
    remediation: list[dict[str, Any]],
) -> None:
    passing = [s for s in remediation if "iam:PassRole" in _listify(s["Action"])]
    assert passing, "the trail repairs pass the CloudWatch Logs role: some statement must grant iam:PassRole"
    for statement in passing:  # IfExists: the delivery role's other calls in the statement carry no such key
        if statement["Resource"] == {"Fn::Sub": GUARD_ROLE}:
            assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
        else:
            assert statement["Condition"] == {
                "StringEqualsIfExists": {"iam:PassedToService": "cloudtrail.amazonaws.com"}
            }


def test_function_logs_policy_only_writes_the_functions_own_log_groups(template: dict[str, Any]) -> None:
    (statement,) = _policies(template)["FunctionLogs"]
    assert set(statement["Action"]) == {"logs:CreateLogStream", "logs:PutLogEvents"}
    resources = {_resource_text(r) for r in statement["Resource"]}
    prefix = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/"
    assert resources == {
        prefix + "${AWS::StackName}-api-call:*",
        prefix + "${AWS::StackName}-finding:*",
    }


def test_only_lambda_may_assume_the_role(template: dict[str, Any]) -> None:
    trust = template["Resources"]["GuardRole"]["Properties"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"


def test_the_role_works_only_from_trailguards_own_functions(template: dict[str, Any]) -> None:
    """Lambda's trust cannot name functions, so a function an attacker creates with the role (item 12)
    gets AccessDenied: every action but those Lambda makes outside the code is denied unless
    lambda:SourceFunctionArn is one of the stack's two functions (absent key: denied too)."""
    (statement,) = _policies(template)[SELF_LOCK]
    assert statement["Effect"] == "Deny"
    assert statement["Resource"] == "*"
    assert set(statement["NotAction"]) <= {
        "sqs:SendMessage",
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:Encrypt",
        "kms:GenerateDataKey",
    }
    (operator,) = statement["Condition"]
    assert operator == "ArnNotEquals"
    arns = {_resource_text(a) for a in statement["Condition"][operator]["lambda:SourceFunctionArn"]}
    assert arns == SCOPES["lambda"]


def test_the_role_reads_only_its_own_stack_and_writes_only_its_failure_queue(
    template: dict[str, Any],
) -> None:
    policies = _policies(template)
    (stack,) = policies["StackConfiguration"]
    assert stack["Action"] == "cloudformation:DescribeStacks"
    assert stack["Resource"] == {"Ref": "AWS::StackId"}
    (queue,) = policies["OnFailureDestination"]
    assert queue["Action"] == "sqs:SendMessage"
    assert queue["Resource"] == {"Fn::GetAtt": ["FailedInvocationQueue", "Arn"]}
    (key,) = policies["GuardKeyUse"]
    assert key["Resource"] == {"Fn::GetAtt": ["GuardKey", "Arn"]}


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("ProtectedTrailArns", f"{TRAIL},arn:aws:cloudtrail:eu-west-1:123456789012:trail/b", "org-trail"),
        ("ProtectedBuckets", f"{BUCKET},arn:aws:s3:::other-logs", "org-trail-logs"),
        ("TrailLogsRoleArns", f"{DELIVERY},arn:aws:iam::123456789012:role/path/second", "trail-to-logs"),
    ],
)
def test_scope_parameters_take_arns_only(template: dict[str, Any], name: str, good: str, bad: str) -> None:
    """A name where an ARN belongs is refused by CloudFormation before IAM sees a malformed policy."""
    import re

    parameter = template["Parameters"][name]
    assert parameter["Type"] == "String" and parameter["Default"] == ""
    pattern = re.compile(str(parameter["AllowedPattern"]))
    for value in ("", good, good.split(",", maxsplit=1)[0]):
        assert pattern.fullmatch(value), value
    assert not pattern.fullmatch(bad)
    assert not pattern.fullmatch(f"{good.split(',', maxsplit=1)[0]},{bad}")
