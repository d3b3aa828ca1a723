"""The audit's checks as pure functions: a stated fact, the verdict it must give (no AWS)."""

from __future__ import annotations

import pytest

from trailguard.org import checks
from trailguard.org.checks import (
    ERROR,
    FAIL,
    NA,
    PASS,
    WARN,
    BaselineFacts,
    BucketFacts,
    OrgFacts,
    Row,
    StackFacts,
    TrailFacts,
)

ACCOUNT = "111122223333"
MANAGEMENT = "999988887777"
REGION = "eu-west-1"


def trail(name: str = "main", account: str = ACCOUNT, **kw: object) -> TrailFacts:
    defaults: dict[str, object] = {
        "home_region": REGION,
        "multi_region": True,
        "kms_key": "arn:aws:kms:eu-west-1:111122223333:key/k",
        "validation": True,
        "log_group": "arn:aws:logs:eu-west-1:111122223333:log-group:ct",
        "bucket": "logs",
        "logging": True,
        "coverage": (True, True),
    }
    defaults.update(kw)
    return TrailFacts(arn=f"arn:aws:cloudtrail:{REGION}:{account}:trail/{name}", name=name, **defaults)  # type: ignore[arg-type]


def status(rows: list[Row], check: str) -> list[str]:
    return [r.status for r in rows if r.check == check]


def test_a_well_configured_trail_passes_cloudtrail_1_to_7() -> None:
    rows = checks.cloudtrail(
        ACCOUNT, REGION, [trail()], [BucketFacts("logs", REGION, block_all=True, access_logging=True)]
    )
    assert {r.check: r.status for r in rows} == {c: PASS for c in checks.CLOUDTRAIL_CHECKS}


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"multi_region": False}, "single-Region"),
        ({"logging": False}, "not logging"),
        ({"coverage": (False, True)}, "write only"),
        ({"coverage": (True, False)}, "read only"),
    ],
)
def test_cloudtrail_1_needs_a_logging_multi_region_trail_with_read_and_write_events(
    change: dict[str, object], why: str
) -> None:
    rows = checks.cloudtrail(ACCOUNT, REGION, [trail(**change)], [])
    (one,) = [r for r in rows if r.check == "CloudTrail.1"]
    assert one.status == FAIL and why in one.detail


def test_the_organization_trail_counts_for_cloudtrail_1_but_is_judged_in_its_owner() -> None:
    org = trail("org", MANAGEMENT, organization=True, kms_key="", validation=False)
    rows = checks.cloudtrail(ACCOUNT, REGION, [org], [])
    assert status(rows, "CloudTrail.1") == [PASS] and status(rows, "CloudTrail.3") == [PASS]
    assert status(rows, "CloudTrail.2") == [NA] and status(rows, "CloudTrail.4") == [NA]
    owner = checks.cloudtrail(MANAGEMENT, REGION, [org], [])
    assert status(owner, "CloudTrail.2") == [FAIL] and status(owner, "CloudTrail.4") == [FAIL]


def test_each_trail_homed_here_is_its_own_row() -> None:
    rows = checks.cloudtrail(ACCOUNT, REGION, [trail("a"), trail("b", kms_key="")], [])
    assert sorted((r.resource.rsplit("/", 1)[1], r.status) for r in rows if r.check == "CloudTrail.2") == [
        ("a", PASS),
        ("b", FAIL),
    ]


def test_a_trail_whose_status_could_not_be_read_is_an_error_not_a_failure_or_pass() -> None:
    rows = checks.cloudtrail(ACCOUNT, REGION, [trail(logging=None, error="AccessDenied: no")], [])
    assert status(rows, "CloudTrail.1") == [ERROR] and status(rows, "CloudTrail.3") == [ERROR]


def test_no_trail_at_all_fails_1_and_3() -> None:
    rows = checks.cloudtrail(ACCOUNT, REGION, [], [])
    assert status(rows, "CloudTrail.1") == [FAIL] and status(rows, "CloudTrail.3") == [FAIL]
    assert {r.status for r in rows if r.check not in ("CloudTrail.1", "CloudTrail.3")} == {NA}


@pytest.mark.parametrize(
    ("bucket", "six", "seven"),
    [
        (
            BucketFacts(
                "b", REGION, block_all=True, policy_public=True, acl_public=True, access_logging=True
            ),
            PASS,
            PASS,
        ),
        (BucketFacts("b", REGION, policy_public=True, acl_public=False, access_logging=False), FAIL, FAIL),
        (BucketFacts("b", REGION, policy_public=False, acl_public=True, access_logging=True), FAIL, PASS),
        (BucketFacts("b", REGION, policy_public=False, acl_public=False, access_logging=True), PASS, PASS),
        (BucketFacts("b", REGION, error="AccessDenied: no"), ERROR, ERROR),
    ],
)
def test_the_log_bucket_where_it_lives(bucket: BucketFacts, six: str, seven: str) -> None:
    rows = checks.cloudtrail(ACCOUNT, REGION, [trail()], [bucket])
    assert status(rows, "CloudTrail.6") == [six] and status(rows, "CloudTrail.7") == [seven]


def test_only_trail_warns_when_the_organization_trail_is_the_only_logging_one() -> None:
    org = trail("org", MANAGEMENT, organization=True)
    assert checks.only_trail(ACCOUNT, REGION, [org]).status == WARN
    assert checks.only_trail(ACCOUNT, REGION, [org, trail("own")]).status == PASS
    assert checks.only_trail(ACCOUNT, REGION, [org, trail("own", logging=False)]).status == WARN
    assert checks.only_trail(ACCOUNT, REGION, [trail("own")]).status == NA


def test_fail_on_levels() -> None:
    rows = [
        Row(ACCOUNT, REGION, "CloudTrail.4", FAIL),  # LOW
        Row(ACCOUNT, REGION, "CloudTrail.2", FAIL),  # MEDIUM
        Row(ACCOUNT, REGION, "TG.only-trail", WARN),
        Row(ACCOUNT, REGION, "CloudTrail.6", PASS),
    ]
    assert len(checks.failing(rows, "low")) == 2
    assert [r.check for r in checks.failing(rows, "medium")] == ["CloudTrail.2"]
    assert checks.failing(rows, "high") == []
    assert len(checks.failing(rows, "warn")) == 3
    errored = [Row(ACCOUNT, REGION, "CloudTrail.7", ERROR)]
    assert checks.failing(errored, "critical") == errored


def test_rows_sort_by_account_region_then_check_in_report_order() -> None:
    rows = [
        Row("2", REGION, "TG.instance", PASS),
        Row("1", "us-east-1", "CloudTrail.1", PASS),
        Row("1", REGION, "TG.wiring", PASS),
        Row("1", REGION, "CloudTrail.7", PASS),
        Row("1", checks.ANYWHERE, "TG.scp", PASS),
    ]
    assert [(r.account, r.region, r.check) for r in checks.sort_rows(rows)] == [
        ("1", "-", "TG.scp"),
        ("1", REGION, "CloudTrail.7"),
        ("1", REGION, "TG.wiring"),
        ("1", "us-east-1", "CloudTrail.1"),
        ("2", REGION, "TG.instance"),
    ]


def stack(**kw: object) -> StackFacts:
    defaults: dict[str, object] = {
        "name": "trailguard",
        "status": "UPDATE_COMPLETE",
        "rules": {"tg-api-calls": ("ENABLED", ("arn:aws:lambda:eu-west-1:1:function:tg-api-call",))},
        "rule_functions": {"tg-api-calls": "tg-api-call"},
        "functions": {"tg-api-call": "Active"},
    }
    defaults.update(kw)
    return StackFacts(**defaults)  # type: ignore[arg-type]


def test_instance() -> None:
    assert checks.instance(ACCOUNT, REGION, stack(), expect_instance=False).status == PASS
    assert (
        checks.instance(ACCOUNT, REGION, stack(instance_status="CURRENT"), expect_instance=True).status
        == PASS
    )
    outdated = checks.instance(
        ACCOUNT, REGION, stack(instance_status="OUTDATED", instance_reason="FAILED"), expect_instance=True
    )
    assert outdated.status == FAIL and "OUTDATED (FAILED)" in outdated.detail
    assert (
        checks.instance(
            ACCOUNT, REGION, stack(status="UPDATE_ROLLBACK_COMPLETE"), expect_instance=False
        ).status
        == FAIL
    )
    assert checks.instance(ACCOUNT, REGION, StackFacts(), expect_instance=True).status == FAIL


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (
            {"rules": {"tg-api-calls": ("DISABLED", ("arn:aws:lambda:eu-west-1:1:function:tg-api-call",))}},
            "DISABLED",
        ),
        (
            {"rules": {"tg-api-calls": ("ENABLED", ("arn:aws:sqs:eu-west-1:1:decoy",))}},
            "does not target tg-api-call",
        ),
        ({"rules": {"tg-api-calls": None}}, "rule tg-api-calls missing"),
        ({"functions": {"tg-api-call": None}}, "function tg-api-call missing"),
    ],
)
def test_wiring_fails_on_a_rule_off_retargeted_or_gone_or_a_function_gone(
    change: dict[str, object], why: str
) -> None:
    assert checks.wiring(ACCOUNT, REGION, stack()).status == PASS
    row = checks.wiring(ACCOUNT, REGION, stack(**change))
    assert row.status == FAIL and why in row.detail


def test_baseline() -> None:
    assert checks.baseline(ACCOUNT, REGION, "tg", BaselineFacts(recorded=5)).status == PASS
    assert checks.baseline(ACCOUNT, REGION, "tg", BaselineFacts(recorded=0)).status == FAIL
    drifted = checks.baseline(
        ACCOUNT, REGION, "tg", BaselineFacts(recorded=5, drifted=("trail t (KmsKeyId)",))
    )
    assert drifted.status == FAIL and "KmsKeyId" in drifted.detail
    assert (
        checks.baseline(
            ACCOUNT, REGION, "tg", BaselineFacts(tampered=("baseline#trail/t",), recorded=4)
        ).status
        == FAIL
    )
    assert checks.baseline(ACCOUNT, REGION, "tg", BaselineFacts(errors=("denied",))).status == ERROR
    assert checks.baseline(ACCOUNT, REGION, "", None).status == NA


def org(**kw: object) -> OrgFacts:
    defaults: dict[str, object] = {
        "id": "o-1",
        "management_account": MANAGEMENT,
        "feature_set": "ALL",
        "services": frozenset({checks.CLOUDTRAIL_PRINCIPAL, checks.STACKSETS_PRINCIPAL}),
        "delegated_admins": ("444455556666",),
        "policies": {
            "trailguard-protect-cloudtrail": frozenset({"r-root"}),
            "trailguard-protect-self": frozenset({"ou-root-ab12cd34"}),
        },
        "paths": {ACCOUNT: (ACCOUNT, "ou-root-ab12cd34", "r-root")},
    }
    defaults.update(kw)
    return OrgFacts(**defaults)  # type: ignore[arg-type]


def test_scp_applies_when_each_policy_is_attached_anywhere_on_the_path() -> None:
    assert checks.scp(ACCOUNT, org()).status == PASS
    partial = checks.scp(ACCOUNT, org(policies={"trailguard-protect-cloudtrail": frozenset({ACCOUNT})}))
    assert partial.status == FAIL and "trailguard-protect-self" in partial.detail
    assert checks.scp(MANAGEMENT, org()).status == NA
    assert checks.scp("123412341234", org()).status == ERROR  # its path was not read


def test_organization() -> None:
    assert checks.organization(org()).status == PASS
    assert checks.organization(org(delegated_admins=())).status == WARN
    off = checks.organization(org(services=frozenset({checks.STACKSETS_PRINCIPAL})))
    assert off.status == FAIL and "CloudTrail trusted access is off" in off.detail
    assert checks.organization(org(errors=("ListPolicies: AccessDenied",))).status == ERROR


def test_an_unreachable_account_has_an_error_row_for_every_check_of_every_region() -> None:
    rows = checks.unreachable(ACCOUNT, ("us-east-1", REGION), "AssumeRole: AccessDenied")
    assert len(rows) == 2 * len(checks.REGION_CHECKS) and {r.status for r in rows} == {ERROR}


BUS = "arn:aws:events:us-east-1:444455556666:event-bus/trailguard-org"


def test_with_a_central_bus_the_forward_rule_must_target_it() -> None:
    from trailguard.org.audit_facts import expected_wiring

    rules, functions = expected_wiring({}, "trailguard", {"CentralBusArn": BUS, "NamePrefix": "trailguard"})
    assert rules["trailguard-forward"] == BUS and rules["trailguard-api-calls"] == "trailguard-api-call"
    assert functions == ["trailguard-api-call", "trailguard-finding"]
    assert "tg-forward" in expected_wiring({}, "trailguard", {"CentralBusArn": BUS}, "tg")[0]
    assert not any(r.endswith("-forward") for r in expected_wiring({}, "trailguard", {})[0])
    forward = {"tg-forward": ("ENABLED", (BUS,))}
    wired = stack(
        rules={**stack().rules, **forward}, rule_functions={**stack().rule_functions, "tg-forward": BUS}
    )
    assert checks.wiring(ACCOUNT, REGION, wired).status == PASS
    elsewhere = {"tg-forward": ("ENABLED", ("arn:aws:events:us-east-1:666666666666:event-bus/x",))}
    row = checks.wiring(
        ACCOUNT, REGION, stack(rules={**stack().rules, **elsewhere}, rule_functions={"tg-forward": BUS})
    )
    assert row.status == FAIL and f"does not target {BUS}" in row.detail
