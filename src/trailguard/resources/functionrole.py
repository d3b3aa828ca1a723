"""trailguard's own role as its functions run with it: passed to Lambda when a deleted function is
recreated or a changed role is put back (``remediate.function``; the code passes only the running
function's own role, ``TRAILGUARD_GUARD_ROLE_ARNS``). No baseline of its own: the function's records it."""

from __future__ import annotations

from trailguard.resources.base import Kind, last_segment

KIND = Kind(
    name="functionrole",
    noun="function role",
    sweep_order=33,
    securityhub_type="AwsIamRole",
    ident=last_segment,
    short=last_segment,
    gone_codes=frozenset({"NoSuchEntity"}),
    iam_actions=("iam:PassRole",),
    iam_reason="trailguard's own role, passed to Lambda only (a recreated or re-roled function).",
    iam_resources=("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${AWS::StackName}-GuardRole-*",),
    iam_condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
)
