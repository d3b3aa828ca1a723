"""CloudTrail trails: ids are trail ARNs; a trail lives in its home region; one resolver for references.

Events, findings and people name trails by name or ARN (sometimes with account ids that do not match),
and multi-region trails show up in every region's DescribeTrails as shadow trails. :func:`resolve` is the
one place that turns such a reference into a trail entry; its callers only choose how to break a tie.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from trailguard.aws import error_code
from trailguard.aws import region_of_arn as region_of
from trailguard.resources.base import Clients, IamScope, Kind, as_bool, clean, jsonable, meta

Entry = Mapping[str, Any]

# DescribeTrails field -> CreateTrail / UpdateTrail parameter: what a trail repair restores and verifies.
PROPERTIES: dict[str, str] = {
    "S3BucketName": "S3BucketName",
    "S3KeyPrefix": "S3KeyPrefix",
    "SnsTopicName": "SnsTopicName",
    "IncludeGlobalServiceEvents": "IncludeGlobalServiceEvents",
    "IsMultiRegionTrail": "IsMultiRegionTrail",
    "LogFileValidationEnabled": "EnableLogFileValidation",
    "IsOrganizationTrail": "IsOrganizationTrail",
    "CloudWatchLogsLogGroupArn": "CloudWatchLogsLogGroupArn",
    "CloudWatchLogsRoleArn": "CloudWatchLogsRoleArn",
    "KmsKeyId": "KmsKeyId",
}


def parse_ref(ref: str) -> tuple[str, str | None]:
    """``name`` or ``arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME`` -> (name, region or None)."""
    if ref.startswith("arn:") and ":trail/" in ref:
        return ref.split(":trail/", 1)[1], region_of(ref)
    return ref, None


def name_of(ref: str) -> str:
    return parse_ref(ref)[0]


def home_region(trail: Entry, default: str | None = None) -> str | None:
    """Where a trail can be started and stopped: ``HomeRegion``, else its ARN's region, else ``default``."""
    found = trail.get("HomeRegion") or region_of(str(trail.get("TrailARN") or ""))
    return str(found) if found else default


def matches(trail: Entry, ref: str, *, by_region: bool = True) -> bool:
    """Whether ``ref`` names ``trail``: its ARN, or its name (in the ARN's region when ``ref`` is one and
    ``by_region``; a trail whose home region is not known matches the name in any region)."""
    if ref == trail.get("TrailARN"):
        return True
    name, region = parse_ref(ref)
    if not name or name != trail.get("Name"):
        return False
    home = home_region(trail)
    return not by_region or region is None or home is None or region == home


def resolve(
    trails: Iterable[Entry],
    ref: str,
    *,
    prefer_regions: Sequence[str | None] = (),
    unique: bool = False,
    by_region: bool = True,
) -> Entry | None:
    """The trail ``ref`` names: exact ARN first, then by name (see :func:`matches`; ``by_region`` False
    ignores the ARN's region too, as the policy does: real records carry ARNs whose account ids and
    regions do not match the inventory's).

    A bare name is ambiguous across regions: the first of ``prefer_regions`` that is the home region of
    a candidate breaks the tie (CloudTrail itself resolves names in the caller's region). Still tied:
    the first candidate, or None when ``unique`` (a repair must not guess which trail it rebuilds).
    """
    listed = list(trails)
    exact = [t for t in listed if ref and t.get("TrailARN") == ref]
    if exact:
        return exact[0]
    found = [t for t in listed if ref and matches(t, ref, by_region=by_region)]
    if len(found) > 1:
        for region in prefer_regions:
            local = [t for t in found if region and home_region(t) == region]
            if local:
                return local[0]
        return None if unique else found[0]
    return found[0] if found else None


def in_account(ref: str, account: str | None) -> bool:
    """Whether the trail ``ref`` names can be in ``account``: a name always, an ARN when its account is
    ``account`` (or either is unknown)."""
    if not ref.startswith("arn:") or not account:
        return True
    parts = ref.split(":", 5)
    return len(parts) == 6 and parts[4] in ("", account)


ORG_TRAIL_ROLES = ("owner", "delegated-admin", "member")
"""What a stack may do to an organization trail (``OrgTrailRole``, ``TRAILGUARD_ORG_TRAIL_ROLE``)."""


def arn_account(ref: str) -> str | None:
    """The account a trail ARN carries (None for a name, or an ARN without one)."""
    parts = ref.split(":", 5) if ref.startswith("arn:") else []
    return parts[4] or None if len(parts) == 6 else None


def reachable(ref: str, stack_account: str | None, record_account: str | None, role: str = "owner") -> bool:
    """Whether the trail ``ref`` names can be one this stack repairs, by its organization-trail role:

    * ``owner`` (a single account, the management account): in the stack's account or in the account the
      call was recorded in, never a third account's trail (it cannot be repaired from here);
    * ``delegated-admin``: any account's, since CloudTrail's delegated administrator manages the
      organization's trails, which carry the management account's id (CloudTrail itself refuses
      another account's trail that is not an organization trail);
    * ``member``: the stack's account only: an organization trail is the management account's, which a
      member can read but never change (:func:`verify_only`).
    """
    if role == "member":
        return in_account(ref, stack_account)
    if role == "delegated-admin":
        return True
    return in_account(ref, stack_account) or bool(record_account and in_account(ref, record_account))


def verify_only(ref: str, stack_account: str | None, role: str = "owner") -> bool:
    """A member's view of an organization trail: its ARN carries another account, so the stack reads
    it (DescribeTrails with shadow trails, GetTrailStatus by ARN) and reports, and changes nothing."""
    owner = arn_account(ref)
    return role == "member" and bool(stack_account) and owner is not None and owner != stack_account


def watched(ref: str, stack_account: str | None, record_account: str | None, role: str = "owner") -> bool:
    """Whether a call on the trail ``ref`` names concerns this stack: one it repairs, or (a member) the
    organization trail it verifies, so that a member's failed StopLogging on it is an attempt."""
    return reachable(ref, stack_account, record_account, role) or verify_only(ref, stack_account, role)


def is_protected(trail: Entry, protected_refs: Sequence[str]) -> bool:
    """Every trail when no filter is configured; else those named by name or ARN."""
    return not protected_refs or any(matches(trail, ref) for ref in protected_refs)


def capture_trail(trail: Entry, clients: Clients, *, source: str) -> dict[str, Any]:
    """The trail's full configuration, read in its home region by ARN (names are ambiguous)."""
    doc = clean(trail)
    region = home_region(trail, clients.region) or clients.region
    arn = str(trail.get("TrailARN") or trail.get("Name"))
    doc["HomeRegion"] = region
    notes: list[str] = []
    cloudtrail = clients("cloudtrail", region)

    selectors = cloudtrail.get_event_selectors(TrailName=arn)
    advanced = selectors.get("AdvancedEventSelectors") or []
    basic = selectors.get("EventSelectors") or []
    doc.pop("EventSelectors", None)
    doc.pop("AdvancedEventSelectors", None)
    if advanced:
        doc["AdvancedEventSelectors"] = jsonable(advanced)
    elif basic:
        doc["EventSelectors"] = jsonable(basic)
    else:
        notes.append("CloudTrail reported no event selectors (its default: all management events)")

    try:
        insights = cloudtrail.get_insight_selectors(TrailName=arn)
        doc["InsightSelectors"] = jsonable(insights.get("InsightSelectors") or [])
    except Exception as exc:
        if error_code(exc) == "InsightNotEnabledException":
            doc["InsightSelectors"] = []
        else:
            notes.append(f"insight selectors not recorded ({error_code(exc) or type(exc).__name__})")

    tags = cloudtrail.list_tags(ResourceIdList=[arn]).get("ResourceTagList") or []
    doc["TagsList"] = [
        {"Key": t["Key"], "Value": t.get("Value", "")}
        for entry in tags
        if entry.get("ResourceId") in (arn, None)
        for t in entry.get("TagsList") or []
    ]
    doc["IsLogging"] = bool(cloudtrail.get_trail_status(Name=arn).get("IsLogging"))
    doc["_meta"] = meta(source, notes)
    return doc


def describe_trails(clients: Clients, region: str | None = None) -> list[Entry]:
    """Every trail visible from ``region``, including multi-region trails homed in other regions."""
    response = clients("cloudtrail", region).describe_trails(includeShadowTrails=True)
    return [t for t in response.get("trailList", []) if isinstance(t, Mapping)]


class TrailNotFoundError(LookupError):
    """DescribeTrails does not list the trail (CloudTrail's own code for it, for the Gone mapping)."""

    response = {"Error": {"Code": "TrailNotFoundException", "Message": "trail not listed"}}


def capture(ref: str, clients: Clients, source: str) -> dict[str, Any]:
    """The baseline of the trail ``ref`` names, found with DescribeTrails (``TrailNotFoundError``: none)."""
    name, region = parse_ref(ref)
    found = resolve(describe_trails(clients, region or clients.region), ref)
    if found is None:
        raise TrailNotFoundError(f"no trail {name} is listed")
    return capture_trail(found, clients, source=source)


# -- event selectors: what management events they cover (the policy judges calls with it, the repair's
# floor refuses selectors that would cover less than the live ones) ------------------------------------


def _basic_coverage(selectors: Sequence[Any]) -> tuple[bool, bool]:
    """(reads covered, writes covered) by classic event selectors, for every management event source."""
    reads = writes = False
    for selector in selectors:
        if not isinstance(selector, Mapping):
            continue
        included = selector.get("includeManagementEvents", selector.get("IncludeManagementEvents"))
        if as_bool(included) is False:
            continue
        excluded = selector.get(
            "excludeManagementEventSources", selector.get("ExcludeManagementEventSources")
        )
        if isinstance(excluded, list) and excluded:
            continue
        rw = selector.get("readWriteType", selector.get("ReadWriteType")) or "All"
        reads = reads or rw in ("All", "ReadOnly")
        writes = writes or rw in ("All", "WriteOnly")
    return reads, writes


def _field_selectors(selector: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    fields = selector.get("fieldSelectors", selector.get("FieldSelectors"))
    return [f for f in fields if isinstance(f, Mapping)] if isinstance(fields, list) else []


def _values(field: Mapping[str, Any], op: str) -> list[str]:
    value = field.get(op, field.get(op[:1].upper() + op[1:]))
    return [str(v) for v in value] if isinstance(value, list) else []


def _advanced_coverage(selectors: Sequence[Any]) -> tuple[bool, bool]:
    """(reads, writes) covered by advanced selectors: a selector counts only if it selects management
    events with nothing narrowing them but ``readOnly``."""
    reads = writes = False
    for selector in selectors:
        if not isinstance(selector, Mapping):
            continue
        management = False
        narrowed = False
        selects_read = selects_write = True
        for field in _field_selectors(selector):
            name = field.get("field", field.get("Field"))
            if name == "eventCategory":
                ops = {
                    op
                    for op in (
                        "equals",
                        "notEquals",
                        "startsWith",
                        "notStartsWith",
                        "endsWith",
                        "notEndsWith",
                    )
                    if _values(field, op)
                }
                if ops == {"equals"} and "Management" in _values(field, "equals"):
                    management = True
                else:
                    narrowed = True
            elif name == "readOnly":
                equals = [v.lower() for v in _values(field, "equals")]
                not_equals = [v.lower() for v in _values(field, "notEquals")]
                selects_read = ("true" in equals or not equals) and "true" not in not_equals
                selects_write = ("false" in equals or not equals) and "false" not in not_equals
            else:
                narrowed = True
        if management and not narrowed:
            reads = reads or selects_read
            writes = writes or selects_write
    return reads, writes


def management_coverage(params: Mapping[str, Any]) -> tuple[bool, bool] | None:
    """(reads, writes) covered by the selectors of a PutEventSelectors call or a GetEventSelectors
    answer; None when it holds no selectors at all."""
    advanced = params.get("advancedEventSelectors", params.get("AdvancedEventSelectors"))
    basic = params.get("eventSelectors", params.get("EventSelectors"))
    if isinstance(advanced, list) and advanced:
        return _advanced_coverage(advanced)
    if isinstance(basic, list):
        return _basic_coverage(basic)
    return None


KIND = Kind(
    name="trail",
    noun="trail",
    sweep_order=60,
    securityhub_type="AwsCloudTrailTrail",
    gone_codes=frozenset({"TrailNotFoundException"}),
    summary_fields=("HomeRegion", "S3BucketName", "KmsKeyId", "IsMultiRegionTrail", "IsLogging"),
    iam_actions=("cloudtrail:*",),
    iam_reason="The protected trails (ProtectedTrailArns).",
    iam_resources=("arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:trail/*",),
    iam_scope=IamScope(
        parameter="ProtectedTrailArns",
        condition="HasProtectedTrailArns",
        fallback="every trail of the account, as when ProtectedTrails is empty: every trail is then "
        "protected, including one created after the deploy.",
    ),
    capture=capture,
    baseline_order=1,
    id_field="TrailARN",
)
