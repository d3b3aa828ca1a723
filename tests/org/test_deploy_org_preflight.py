"""The preflight of ``deploy --org`` on organizations built in memory (pure: no AWS), including what
moto cannot build: a feature set other than ALL, nested OUs, a region not opted in, a management
account inside a targeted OU, CloudTrail delegated administrators."""

from __future__ import annotations

from trailguard.org.preflight import TEMPLATE_BODY_LIMIT, Request, check
from trailguard.org.topology import CLOUDTRAIL_PRINCIPAL, STACKSETS_PRINCIPAL, Account, Topology, Unit

MGMT, SEC, A, B, C, GONE = (
    "111111111111",
    "222222222222",
    "333333333333",
    "444444444444",
    "555555555555",
    "666666666666",
)
ROOT, OU1, OU2, NESTED = "r-ab12", "ou-ab12-11111111", "ou-ab12-22222222", "ou-ab12-33333333"


def topology(**changes: object) -> Topology:
    made = Topology(
        organization_id="o-abcdefghij",
        management_id=MGMT,
        caller_account=MGMT,
        feature_set="ALL",
        trusted_services=frozenset({STACKSETS_PRINCIPAL, CLOUDTRAIL_PRINCIPAL}),
        units={
            ROOT: Unit(ROOT, "Root", ""),
            OU1: Unit(OU1, "OU1", ROOT),
            OU2: Unit(OU2, "OU2", ROOT),
            NESTED: Unit(NESTED, "Nested", OU1),
        },
        accounts={
            MGMT: Account(MGMT, "management", "ACTIVE", ROOT),
            SEC: Account(SEC, "security", "ACTIVE", OU1),
            A: Account(A, "a", "ACTIVE", OU1),
            B: Account(B, "b", "ACTIVE", NESTED),
            C: Account(C, "c", "ACTIVE", OU2),
            GONE: Account(GONE, "gone", "SUSPENDED", OU2),
        },
        regions={
            "us-east-1": "opt-in-not-required",
            "eu-west-1": "opt-in-not-required",
            "af-south-1": "not-opted-in",
        },
        cloudtrail_admins=(SEC,),
    )
    for name, value in changes.items():
        setattr(made, name, value)
    return made


def request(**changes: object) -> Request:
    base: dict[str, object] = {
        "security_account": SEC,
        "ous": ("OU1",),
        "regions": ("us-east-1", "eu-west-1"),
    }
    base.update(changes)
    return Request(**base)  # type: ignore[arg-type]


def test_a_ready_organization_passes_and_a_parent_ou_includes_its_children() -> None:
    result = check(topology(), request())
    assert result.ok, result.problems
    assert result.targets == (OU1,)
    assert [a.id for a in result.members] == sorted([SEC, A, B])  # B sits in an OU under OU1
    assert result.security_in_targets
    assert result.notes == [
        "the organization has no organization trail: each account's stacks protect its own trails only"
    ]


def test_every_problem_is_reported_at_once_with_its_fix() -> None:
    broken = topology(
        caller_account=A,
        feature_set="CONSOLIDATED_BILLING",
        trusted_services=frozenset(),
    )
    result = check(broken, request(ous=("OU1", "ou-ab12-99999999"), regions=("af-south-1", "xx-nowhere-1")))
    text = "\n".join(p.describe() for p in result.problems)
    assert not result.ok
    for expected in (
        f"not the organization's management account {MGMT}",
        "aws organizations enable-all-features",
        "aws cloudformation activate-organizations-access",
        f"--service-principal {CLOUDTRAIL_PRINCIPAL}",
        "OU ou-ab12-99999999 is not in the organization",
        "aws account enable-region --region-name af-south-1",
        "xx-nowhere-1 is not a region",
    ):
        assert expected in text, expected
    assert len(result.problems) == 7


def test_the_security_account_must_be_an_active_member() -> None:
    assert (
        "is not in organization"
        in check(topology(), request(security_account="999999999999")).problems[0].what
    )
    assert "is the management account" in check(topology(), request(security_account=MGMT)).problems[0].what
    gone = check(topology(), request(security_account=GONE)).problems
    assert [p.what for p in gone] == [f"security account {GONE} is SUSPENDED"]


def test_notes_do_not_stop_the_deploy() -> None:
    """The management account inside a targeted OU (StackSets skip it), a suspended account, a security
    account outside the targets or not CloudTrail's delegated admin, a template sent by URL."""
    moved = topology(cloudtrail_admins=())
    moved.accounts[MGMT] = Account(MGMT, "management", "ACTIVE", OU2)
    result = check(moved, request(ous=("OU2",), template_sizes=(("member", TEMPLATE_BODY_LIMIT + 1),)))
    assert result.ok
    assert [a.id for a in result.members] == [C, GONE]  # never the management account
    notes = "\n".join(result.notes)
    assert "StackSets skip it" in notes and f"{GONE} (gone) is SUSPENDED: skipped" in notes
    assert "in none of the targeted OUs" in notes and "register-organization-delegated-admin" in notes
    assert "reads it from the artifact bucket" in notes


def test_no_ou_means_the_whole_organization_and_names_must_be_unique() -> None:
    result = check(topology(), request(ous=()))
    assert result.targets == (ROOT,)
    assert {a.id for a in result.members} == {SEC, A, B, C, GONE}
    twins = topology()
    twins.units[NESTED] = Unit(NESTED, "OU2", OU1)  # two OUs named OU2: the name is ambiguous
    assert not check(twins, request(ous=("OU2",))).ok
    assert check(twins, request(ous=(OU2,))).ok


def test_organization_trails_and_control_tower_are_noted() -> None:
    arn = f"arn:aws:cloudtrail:us-east-1:{MGMT}:trail/org"
    towered = topology(
        organization_trails=(arn,),
        trusted_services=frozenset({STACKSETS_PRINCIPAL, CLOUDTRAIL_PRINCIPAL, "controltower.amazonaws.com"}),
    )
    result = check(towered, request())
    assert result.ok
    assert result.notes[0] == f"organization trail(s): {arn}"
    assert "AWSControlTowerExecution" in result.notes[1] and "--control-tower" in result.notes[1]
    unknown = check(topology(organization_trails=None), request())
    assert not any("organization trail" in n for n in unknown.notes)
