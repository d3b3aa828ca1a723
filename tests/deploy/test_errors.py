"""``trailguard.deploy.errors``: a botocore failure becomes a message saying what to do; the same cause
reads the same as in the other commands (``trailguard.aws.reach_problem``)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, NoCredentialsError, ProfileNotFound

from trailguard import aws
from trailguard.deploy import errors


def test_no_credentials_reads_as_everywhere() -> None:
    explained = errors.explain(NoCredentialsError(), "finding the AWS account")
    assert str(explained) == f"finding the AWS account: {aws.reach_problem(NoCredentialsError())}"
    assert "aws configure" in str(explained) and not isinstance(explained, errors.InputError)


def test_access_denied_says_which_permissions_deploy_needs() -> None:
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "CreateChangeSet")
    assert "may manage CloudFormation, IAM roles" in str(errors.explain(denied, "creating change set"))


def test_call_explains_what_it_was_doing() -> None:
    def fails() -> None:
        raise ClientError({"Error": {"Code": "Throttling", "Message": "slow down"}}, "DescribeStacks")

    with pytest.raises(errors.DeployError, match=r"^describing x: .*slow down"):
        errors.call("describing x", fails)


def test_an_unknown_profile_is_explained_when_the_client_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> object:
        raise ProfileNotFound(profile="nope")

    monkeypatch.setattr(aws, "client", refuse)
    with pytest.raises(errors.DeployError, match=r"creating the sts client: .*nope.*--profile"):
        errors.client("sts", "us-east-1", profile="nope", endpoint_url=None)
