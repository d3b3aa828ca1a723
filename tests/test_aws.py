"""``trailguard.aws``: clients made once per service and lazily, all from one session per set of
credentials (one model parse per service, whatever the region), safely from many threads at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest

from trailguard import aws


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    aws.clear_cache()
    yield
    aws.clear_cache()


@pytest.fixture
def sessions(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every botocore session trailguard makes, in order."""
    made: list[Any] = []
    real = botocore.session.Session.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(botocore.session.Session, "__init__", init)
    return made


def test_a_client_is_made_once_per_service_and_region(sessions: list[Any]) -> None:
    first = aws.client("sts", "us-east-1")
    assert aws.client("sts", "us-east-1") is first
    assert aws.client("sts", "eu-west-1") is not first
    assert aws.client("sts", "eu-west-1").meta.region_name == "eu-west-1"
    assert len(sessions) == 1


def test_clients_of_every_region_and_service_share_one_session_and_its_models(
    sessions: list[Any],
) -> None:
    """One session per set of credentials: the second region's client reuses the model the first
    parsed (the bulk of a client's cost), where a session per region parsed it again."""
    aws.client("cloudtrail", "us-east-1")
    loader = sessions[0].get_component("data_loader")
    loads = dict(loader._cache)  # botocore's per-loader cache of parsed files
    aws.client("cloudtrail", "eu-west-1")
    aws.client("cloudtrail", "ap-south-1")
    aws.client("sns", "us-east-1")
    assert len(sessions) == 1
    assert set(loads) <= set(loader._cache)


def test_bound_credentials_get_their_own_session_once(sessions: list[Any]) -> None:
    env = {"AWS_ACCESS_KEY_ID": "AKIAROLE", "AWS_SECRET_ACCESS_KEY": "role-secret", "AWS_REGION": "us-east-1"}
    with aws.using_environ(env):
        bound = aws.client("sts")
        assert aws.client("sns") is not bound
        assert aws.client("sts") is bound
    assert aws.client("sts", "us-east-1") is not bound
    assert len(sessions) == 2
    assert bound._request_signer._credentials.access_key == "AKIAROLE"


def test_many_threads_asking_at_once_all_get_a_working_client(sessions: list[Any]) -> None:
    """botocore sessions are not thread-safe: clients are made one at a time, and every thread gets one."""
    got: list[Any] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def ask(service: str) -> None:
        try:
            start.wait()
            got.append(aws.client(service, "us-east-1"))
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=ask, args=(("sts", "sns", "kms", "dynamodb")[i % 4],)) for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(got) == 8
    assert len(sessions) == 1
    assert {c.meta.service_model.service_name for c in got} == {"sts", "sns", "kms", "dynamodb"}


def test_the_loader_finds_exactly_the_services_botocore_lists() -> None:
    """The one-directory existence check answers as botocore's full listing does, for every service it
    lists and for names it does not; an unknown service is still botocore's UnknownServiceError."""
    import botocore.exceptions
    import botocore.loaders

    loader = aws._session(None, None).get_component("data_loader")
    listed = botocore.loaders.Loader().list_available_services("service-2")
    services = loader.list_available_services("service-2")
    assert all(name in services for name in listed)
    assert not any(name in services for name in ("nosuchservice", "", "..", "cloudtrail/2013-11-01"))
    assert list(services) == listed and len(services) == len(listed)
    with pytest.raises(botocore.exceptions.UnknownServiceError):
        aws.client("nosuchservice", "us-east-1")


def test_the_loader_falls_back_to_botocores_listing_when_its_shortcut_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The one-directory check reads botocore's loader internals; on a runtime whose botocore differs,
    a client must still be made (by botocore's full scan), never fail."""
    loader = aws._session(None, None).get_component("data_loader")
    services = loader.list_available_services("service-2")

    def differs(name: str) -> bool:
        raise AttributeError("search_paths")

    monkeypatch.setattr(services, "_in_own_directory", differs)
    assert "cloudtrail" in services and "nosuchservice" not in services
