"""The guard's function repair (``remediate/function.py``) on the real stack on moto: lifted concurrency,
re-added permissions, a restored configuration, code and role, and a deleted function recreated, each
read back; what the floors refuse is escalated."""

from __future__ import annotations

import base64
import io
import json
import re
import zipfile

import pytest

from trailguard import aws
from trailguard.baseline.capture import Clients, capture_one
from trailguard.baseline.store import Baselines
from trailguard.config import Config
from trailguard.remediate import floors
from worlds import REGION, Deployed

from .guard_support import aws_region, call, check_permissions, incident_of, outcome_of
from .test_floors import forge

__all__ = ["aws_region"]  # the deployed stack's region, a fixture


def test_zero_concurrency_is_lifted_and_a_removed_permission_added_back(deployed: Deployed) -> None:
    lam, name = deployed.client("lambda"), deployed.outputs["ApiCallFunctionName"]
    (statement,) = json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    lam.remove_permission(FunctionName=name, StatementId=statement["Sid"])

    params = {"functionName": name, "reservedConcurrentExecutions": 0}
    incident = incident_of(deployed.call(call("lambda", "PutFunctionConcurrency20171031", params)))
    assert incident["technique"] == "guard.function" and incident["status"] == "remediated"
    # the template's ReservedConcurrency default, recorded in the baseline at deploy
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 5
    (restored,) = json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]
    assert restored["Sid"] == statement["Sid"]
    assert restored["Condition"] == statement["Condition"]  # SourceArn: only the API-call rule may invoke
    check_permissions(outcome_of(deployed))


def test_changed_handler_is_restored_and_read_back(deployed: Deployed) -> None:
    lam, name = deployed.client("lambda"), deployed.outputs["ApiCallFunctionName"]
    handler = lam.get_function_configuration(FunctionName=name)["Handler"]
    lam.update_function_configuration(FunctionName=name, Handler="evil.handler")
    params = {"functionName": name, "handler": "evil.handler"}
    incident = incident_of(deployed.call(call("lambda", "UpdateFunctionConfiguration20150331v2", params)))
    assert incident["status"] == "remediated", incident
    assert lam.get_function_configuration(FunctionName=name)["Handler"] == handler
    (message,) = deployed.messages()
    assert f"Handler evil.handler -> {handler}" in message["text"]
    check_permissions(message["doc"]["incident"]["remediation"])


def test_self_allow_listing_in_the_environment_is_undone_and_says_what_changed(deployed: Deployed) -> None:
    """Issue 9 item 15 / issue 10: the attacker puts themselves in the function's allow-list variable
    and a decoy protected-trail list; the environment is put back from the baseline, and the message
    names each variable before -> after."""
    lam, name = deployed.client("lambda"), deployed.outputs["ApiCallFunctionName"]
    variables = dict(lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"])
    attacker = "arn:aws:iam::123456789012:user/attacker"
    edited = {
        **variables,
        "TRAILGUARD_ALLOWED_PRINCIPAL_ARNS": attacker,
        "TRAILGUARD_PROTECTED_TRAILS": "decoy",
    }
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": edited})
    params = {"functionName": name, "environment": {"variables": {"TRAILGUARD_PROTECTED_TRAILS": "decoy"}}}

    incident = incident_of(deployed.call(call("lambda", "UpdateFunctionConfiguration20150331v2", params)))

    assert incident["status"] == "remediated", incident
    assert lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"] == variables
    (message,) = deployed.messages()
    assert f"TRAILGUARD_ALLOWED_PRINCIPAL_ARNS '{attacker}' -> ''" in message["text"], message["text"]
    assert "TRAILGUARD_PROTECTED_TRAILS 'decoy' -> ''" in message["text"]


def test_forged_environment_baseline_cannot_allow_list_the_attacker(deployed: Deployed) -> None:
    """The floor before UpdateFunctionConfiguration: a baseline item rewritten to allow-list the attacker
    (one PutItem) is never applied by the sweep; the refusal is escalated."""
    name = deployed.outputs["ApiCallFunctionName"]
    attacker = "arn:aws:iam::123456789012:user/attacker"

    def change(doc: dict[str, object]) -> None:
        env = doc["Environment"]
        assert isinstance(env, dict)
        env["Variables"]["TRAILGUARD_ALLOWED_PRINCIPAL_ARNS"] = attacker

    forge(deployed, "function", name, change)

    deployed.sweep()

    variables = deployed.client("lambda").get_function_configuration(FunctionName=name)["Environment"][
        "Variables"
    ]
    assert attacker not in variables.get("TRAILGUARD_ALLOWED_PRINCIPAL_ARNS", "")
    (message,) = deployed.messages()
    assert message["subject"].startswith("[ACTION REQUIRED]")
    assert "refused UpdateFunctionConfiguration" in message["text"] and "allow-list" in message["text"]


# ---------------------------------------------------------------- issue 10: code, role, a deleted function


def _artifact_sha(deployed: Deployed) -> str:
    """Lambda's CodeSha256 of the stack's code artifact, from its content-addressed CodeS3Key."""
    (stack,) = deployed.client("cloudformation").describe_stacks(StackName=deployed.STACK)["Stacks"]
    key = next(p["ParameterValue"] for p in stack["Parameters"] if p["ParameterKey"] == "CodeS3Key")
    digest = re.search(r"lambda-([0-9a-f]{64})\.zip$", key)
    assert digest, key
    return base64.b64encode(bytes.fromhex(digest.group(1))).decode()


def _with_on_failure_destination(deployed: Deployed, name: str) -> str:
    """The template's EventInvokeConfig (on-failure destination: the stack's FailedInvocationQueue), put
    on ``name`` by hand because moto's CloudFormation does not create ``AWS::Lambda::EventInvokeConfig``,
    then the function's baseline recorded again as ``trailguard deploy`` records it on AWS."""
    url = next(u for u in deployed.env["TRAILGUARD_QUEUE_URLS"].split(",") if "fail" in u.lower())
    queue = deployed.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    arn = queue["Attributes"]["QueueArn"]
    deployed.client("lambda").put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=2,
        MaximumEventAgeInSeconds=3600,
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )
    with aws.using_environ(deployed.env):
        config = Config.from_env()
        doc = capture_one("function", name, Clients(REGION), source="deploy")
        Baselines.from_config(config, REGION).put("function", name, doc)
    return arn


def _zip(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("evil.py", text)
    return buffer.getvalue()


def test_deleted_function_is_recreated_from_its_baseline_and_the_stacks_artifact(deployed: Deployed) -> None:
    """DeleteFunction on the api-call function, delivered to the finding function (guard-calls rule):
    recreated with the recorded configuration, the stack's code (CodeSha256 read back equals the
    artifact's), its reserved concurrency, its EventBridge permission and its on-failure destination."""
    lam, name = deployed.client("lambda"), deployed.outputs["ApiCallFunctionName"]
    destination = _with_on_failure_destination(deployed, name)
    before = lam.get_function_configuration(FunctionName=name)
    (statement,) = json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]
    lam.delete_function(FunctionName=name)

    incident = incident_of(deployed.call(call("lambda", "DeleteFunction20150331", {"functionName": name})))

    assert incident["status"] == "remediated", incident
    after = lam.get_function_configuration(FunctionName=name)
    assert after["CodeSha256"] == _artifact_sha(deployed) == before["CodeSha256"]
    for field in ("Role", "Handler", "Runtime", "Timeout", "MemorySize", "Environment", "Architectures"):
        assert after.get(field) == before.get(field), field
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 5
    (restored,) = json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]
    assert restored["Sid"] == statement["Sid"] and restored["Condition"] == statement["Condition"]
    invoke = lam.get_function_event_invoke_config(FunctionName=name)
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == destination
    (message,) = deployed.messages()
    text = message["text"]
    assert f"unction {name} was deleted: the other trailguard function recreated it" in text, text
    assert "s3://" in text and "backstop-missing" in text  # the artifact, and who alerts if both go
    assert "restored the on-failure destination" in text
    check_permissions(message["doc"]["incident"]["remediation"])


def test_new_code_is_replaced_with_the_stacks_artifact_and_read_back(deployed: Deployed) -> None:
    lam, name = deployed.client("lambda"), deployed.outputs["ApiCallFunctionName"]
    deployed_sha = lam.get_function_configuration(FunctionName=name)["CodeSha256"]
    evil = lam.update_function_code(FunctionName=name, ZipFile=_zip("def handler(e, c): return None\n"))
    assert evil["CodeSha256"] != deployed_sha

    incident = incident_of(
        deployed.call(call("lambda", "UpdateFunctionCode20150331v2", {"functionName": name}))
    )

    assert incident["status"] == "remediated", incident
    assert lam.get_function_configuration(FunctionName=name)["CodeSha256"] == _artifact_sha(deployed)
    (message,) = deployed.messages()
    assert f"CodeSha256 {evil['CodeSha256']} -> {deployed_sha}" in message["text"], message["text"]
    check_permissions(message["doc"]["incident"]["remediation"])


def test_changed_role_is_put_back_to_the_stacks_role(deployed: Deployed) -> None:
    lam, name = deployed.client("lambda"), deployed.outputs["ApiCallFunctionName"]
    role = lam.get_function_configuration(FunctionName=name)["Role"]
    other = deployed.client("iam").create_role(
        RoleName="attacker-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ]
            }
        ),
    )["Role"]["Arn"]
    lam.update_function_configuration(FunctionName=name, Role=other)

    params = {"functionName": name, "role": other}
    incident = incident_of(deployed.call(call("lambda", "UpdateFunctionConfiguration20150331v2", params)))

    assert incident["status"] == "remediated", incident
    assert lam.get_function_configuration(FunctionName=name)["Role"] == role
    (message,) = deployed.messages()
    assert f"Role {other} -> {role}" in message["text"]


def test_an_object_rewritten_under_the_artifact_key_is_never_reported_repaired(deployed: Deployed) -> None:
    """The attacker overwrites the stack's code object itself: Lambda loads it, but its SHA-256 is not the
    one the content-addressed key names, so the repair is escalated, not REPAIRED."""
    lam, name = deployed.client("lambda"), deployed.outputs["ApiCallFunctionName"]
    (stack,) = deployed.client("cloudformation").describe_stacks(StackName=deployed.STACK)["Stacks"]
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    evil = _zip("def handler(e, c): return None\n")
    deployed.client("s3").put_object(Bucket=params["CodeS3Bucket"], Key=params["CodeS3Key"], Body=evil)
    lam.update_function_code(FunctionName=name, ZipFile=evil)

    deployed.call(call("lambda", "UpdateFunctionCode20150331v2", {"functionName": name}))

    (message,) = deployed.messages()
    assert message["subject"].startswith("[ACTION REQUIRED]"), message["subject"]
    assert "does not show the artifact's code" in message["text"], message["text"]


@pytest.mark.parametrize(
    ("field", "value", "floor"),
    [
        ("Role", "arn:aws:iam::123456789012:role/attacker-role", "is not the stack's role"),
        ("Handler", "evil.handler", "is not one of trailguard's"),
        ("Layers", [{"Arn": "arn:aws:lambda:us-east-1:123456789012:layer:evil:1"}], "no layer"),
    ],
    ids=["role", "handler", "layers"],
)
def test_a_forged_baseline_never_recreates_a_function_it_could_run(
    deployed: Deployed, field: str, value: object, floor: str
) -> None:
    """A re-signed baseline naming another role, handler or a layer: the deleted function is not
    recreated from it (the floors), and the message escalates naming the floor."""
    lam, name = deployed.client("lambda"), deployed.outputs["ApiCallFunctionName"]
    forge(deployed, "function", name, lambda doc: doc.update({field: value}))
    lam.delete_function(FunctionName=name)

    incident = incident_of(deployed.call(call("lambda", "DeleteFunction20150331", {"functionName": name})))

    assert incident["status"] == "failed", incident
    assert name not in {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    (message,) = deployed.messages()
    assert message["subject"].startswith("[ACTION REQUIRED]")
    assert "refused CreateFunction" in message["text"] and floor in message["text"], message["text"]


def test_the_sweep_recreates_a_deleted_function(deployed: Deployed) -> None:
    """No event (both rules missed it): the backstop finds the function gone and recreates it."""
    lam, name = deployed.client("lambda"), deployed.outputs["ApiCallFunctionName"]
    lam.delete_function(FunctionName=name)

    deployed.sweep()

    assert lam.get_function_configuration(FunctionName=name)["CodeSha256"] == _artifact_sha(deployed)
    (message,) = deployed.messages()
    assert "recreated it" in message["text"], message["text"]


def test_the_environment_floor_lets_the_stacks_own_values_back() -> None:
    """An attacker who blanks (or replaces with a decoy) the other function's allow-list and protected
    trails must not make the restore look like a widening: what the running function of the same stack
    has is allowed back; anything beyond it is still refused."""
    ours = {
        "TRAILGUARD_ALLOWED_PRINCIPAL_ARNS": "arn:aws:iam::1:role/ci",
        "TRAILGUARD_PROTECTED_TRAILS": "audit",
    }
    blanked = {"TRAILGUARD_PROTECTED_TRAILS": "decoy"}
    floors.check_function_environment("tg-api-call", ours, blanked, ours)
    wider = {
        **ours,
        "TRAILGUARD_ALLOWED_PRINCIPAL_ARNS": "arn:aws:iam::1:role/ci,arn:aws:iam::1:user/attacker",
    }
    with pytest.raises(floors.FloorRefused, match="allow-list arn:aws:iam::1:user/attacker"):
        floors.check_function_environment("tg-api-call", wider, blanked, ours)
    with pytest.raises(floors.FloorRefused, match="fewer trails"):
        floors.check_function_environment("tg-api-call", {"TRAILGUARD_PROTECTED_TRAILS": "x"}, blanked, ours)
