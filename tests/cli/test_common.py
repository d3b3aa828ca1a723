"""``trailguard.cli._common.failure``: one mapping from what went wrong to the exit code, so the same
failure gives the same code in every command (:mod:`trailguard.cli.exit`)."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
    ReadTimeoutError,
)

from trailguard.aws import RegionNotSetError
from trailguard.cli._common import failure
from trailguard.cli.exit import CommandError, Exit
from trailguard.deploy.errors import DeployError, InputError, StackNotFoundError


def _client_error(code: str, message: str = "m") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "Operation")


@pytest.mark.parametrize(
    ("error", "code", "needle"),
    [
        (NoCredentialsError(), Exit.FAILED, "no AWS credentials found. Run `aws configure`"),
        (ProfileNotFound(profile="p"), Exit.FAILED, "Check --profile"),
        (NoRegionError(), Exit.USAGE, "Pass --region"),  # no region: the caller's to give, as the AWS CLI
        (RegionNotSetError("eu"), Exit.USAGE, "aws configure set region REGION --profile eu"),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), Exit.FAILED, "cannot reach"),
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:9"), Exit.FAILED, "Read timeout"),
        (_client_error("ExpiredToken"), Exit.FAILED, "expired or invalid"),
        (_client_error("AccessDeniedException"), Exit.FAILED, "AccessDeniedException: m"),
        (DeployError("looking up stack s: throttled"), Exit.FAILED, "throttled"),
        (_client_error("ResourceNotFoundException", "Requested resource not found"), Exit.USAGE, "not found"),
        (StackNotFoundError("stack s does not exist"), Exit.USAGE, "does not exist"),
        (InputError("stack s has no StateTableName output"), Exit.USAGE, "no StateTableName"),
        (KeyError("pk"), Exit.USAGE, "KeyError: 'pk'"),  # a row the command cannot understand
        (CommandError(Exit.FAILED, "judged already"), Exit.FAILED, "judged already"),
    ],
)
def test_the_caller_s_side_is_failed_the_input_s_side_is_usage(
    error: Exception, code: Exit, needle: str
) -> None:
    judged = failure(error, "reading x")
    assert judged.code is code
    assert str(judged).startswith("reading x: ") and needle in str(judged)
