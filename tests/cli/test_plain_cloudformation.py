"""The README's "Plain CloudFormation" steps, run as written with the real AWS CLI against a standalone
moto server: ``trailguard package``, a bucket in the stack's region, the zip uploaded, ``aws
cloudformation deploy`` with the packaged template, then ``trailguard baseline record``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ENV, server_client, server_trail, trailguard

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]

AWS = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")


@pytest.mark.skipif(AWS is None, reason="the AWS CLI is not installed")
def test_the_packaged_template_deploys_with_the_aws_cli(clean_endpoint: str, tmp_path: Path) -> None:
    server_trail(clean_endpoint, "org-trail", "eu-west-1")
    out = tmp_path / "out"
    assert trailguard("package", "--output-dir", str(out)).returncode == 0

    def aws(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(AWS), "--endpoint-url", clean_endpoint, "--region", "eu-west-1", *args],
            capture_output=True,
            text=True,
            timeout=300,
            env=ENV,
            check=False,
        )

    steps = [
        ("s3", "mb", "s3://my-artifacts-eu-west-1"),
        ("s3", "cp", str(out / "trailguard-lambda.zip"), "s3://my-artifacts-eu-west-1/trailguard/lambda.zip"),
        (
            "cloudformation", "deploy", "--stack-name", "trailguard",
            "--template-file", str(out / "trailguard.yaml"),
            "--capabilities", "CAPABILITY_NAMED_IAM", "--parameter-overrides",
            "SecurityContactEmail=secops@example.com", "CodeS3Bucket=my-artifacts-eu-west-1",
            "CodeS3Key=trailguard/lambda.zip",
        ),
    ]  # fmt: skip
    for step in steps:
        result = aws(*step)
        assert result.returncode == 0, (step, result.stdout, result.stderr)
    (stack,) = server_client(clean_endpoint, "cloudformation", "eu-west-1").describe_stacks(
        StackName="trailguard"
    )["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    recorded = trailguard(
        "baseline",
        "record",
        "--stack-name",
        "trailguard",
        "--region",
        "eu-west-1",
        "--endpoint-url",
        clean_endpoint,
    )
    assert recorded.returncode == 0, recorded.stderr
