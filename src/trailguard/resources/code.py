"""The stack's code artifact: the Lambda package ``trailguard deploy`` uploaded (the stack's
``CodeS3Bucket`` / ``CodeS3Key`` parameters). No baseline is kept: the stack's parameters say where it is
and its content-addressed key says what it holds (``remediate.function``)."""

from __future__ import annotations

from trailguard.resources.base import Kind

KIND = Kind(
    name="code",
    noun="code artifact",
    sweep_order=32,
    securityhub_type="AwsS3Object",
    iam_actions=("s3:GetObject",),
    iam_reason="The stack's code object only: a recreated or re-coded function is given it.",
    iam_resources=("arn:${AWS::Partition}:s3:::${CodeS3Bucket}/${CodeS3Key}",),
)
