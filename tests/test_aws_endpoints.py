"""The endpoint data the Lambda package ships (``aws.kept_endpoints``): for every kept service it answers
exactly as botocore's full data does, in every partition's regions and variants; any other service is
answered by botocore's own resolver; and it is used only when the runtime's botocore is the one that
wrote it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore
import botocore.session
import pytest
from botocore.loaders import create_loader
from botocore.regions import EndpointResolver

from trailguard import aws


@pytest.fixture
def shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """aws.py as the package ships it: beside the kept endpoint data."""
    module = tmp_path / "aws.py"
    shutil.copy(aws.__file__, module)
    (tmp_path / aws.ENDPOINTS_FILE).write_bytes(aws.kept_endpoints())
    monkeypatch.setattr(aws, "__file__", str(module))
    yield tmp_path / aws.ENDPOINTS_FILE


def _session() -> Any:
    session = botocore.session.Session()
    loader = create_loader()
    session.register_component("data_loader", loader)
    aws._use_kept_endpoints(session, loader)
    return session


def _full() -> EndpointResolver:
    loader = create_loader()
    data, path = loader.load_data_with_path("endpoints")
    return EndpointResolver(data, uses_builtin_data=loader.is_builtin_path(path))


def _answer(resolver: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    try:
        return ("ok", getattr(resolver, method)(*args, **kwargs))
    except Exception as exc:  # the same error is the same answer
        return ("raised", type(exc).__name__)


def test_every_kept_service_resolves_as_botocores_full_data_does(shipped: Path) -> None:
    resolver = _session()._get_internal_component("endpoint_resolver")
    assert type(resolver).__name__ == "KeptServicesResolver" and resolver.uses_builtin_data
    full = _full()
    partitions = full._endpoint_data["partitions"]
    named = {r for p in partitions for r in p["regions"]}
    regions = sorted(named | {"us-east-1", "eu-south-9", "aws-global"})
    compared = 0
    for service in aws.ENDPOINT_SERVICES:
        for p in partitions:
            name = p["partition"]
            assert _answer(resolver, "get_service_endpoints_data", service, name) == _answer(
                full, "get_service_endpoints_data", service, name
            )
            for allow in (False, True):
                assert _answer(resolver, "get_available_endpoints", service, name, allow) == _answer(
                    full, "get_available_endpoints", service, name, allow
                )
        for region in [*regions, None]:
            for dualstack in (False, True):
                for fips in (False, True):
                    kwargs = {"use_dualstack_endpoint": dualstack, "use_fips_endpoint": fips}
                    assert _answer(resolver, "construct_endpoint", service, region, **kwargs) == _answer(
                        full, "construct_endpoint", service, region, **kwargs
                    ), (service, region, kwargs)
                    compared += 1
    assert compared > 1000
    for region in regions:
        assert _answer(resolver, "get_partition_for_region", region) == _answer(
            full, "get_partition_for_region", region
        )
    assert resolver.get_available_partitions() == full.get_available_partitions()
    assert resolver._full is None  # kept services never needed the full data


def test_a_service_not_kept_is_answered_by_botocores_own_data(shipped: Path) -> None:
    resolver = _session()._get_internal_component("endpoint_resolver")
    assert "ec2" not in aws.ENDPOINT_SERVICES
    assert resolver.construct_endpoint("ec2", "eu-west-1") == _full().construct_endpoint("ec2", "eu-west-1")
    assert resolver.get_available_endpoints("ec2") == _full().get_available_endpoints("ec2")
    assert resolver._full is not None


@pytest.mark.parametrize(
    "change", [{"botocore": "0.0.1"}, {"size": 1}, {"file": "endpoints.json.gz"}], ids=str
)
def test_data_from_another_botocore_is_never_used(shipped: Path, change: dict[str, Any]) -> None:
    doc = json.loads(shipped.read_bytes())
    doc["source"].update(change)
    shipped.write_text(json.dumps(doc))
    resolver = _session()._get_internal_component("endpoint_resolver")
    assert type(resolver) is EndpointResolver
    assert len(resolver._endpoint_data["partitions"][0]["services"]) > len(aws.ENDPOINT_SERVICES)


def test_unreadable_data_falls_back_to_botocores_own(shipped: Path) -> None:
    shipped.write_text("{not json")
    assert type(_session()._get_internal_component("endpoint_resolver")) is EndpointResolver


def test_an_endpoints_override_on_the_data_path_is_honoured(
    shipped: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``AWS_DATA_PATH`` holding an ``endpoints.json`` (botocore reads it first): the override, not the
    kept data."""
    override = tmp_path / "models"
    override.mkdir()
    (override / "endpoints.json").write_text(json.dumps({"partitions": [], "version": 3}))
    session = botocore.session.Session()
    loader = create_loader(str(override))
    session.register_component("data_loader", loader)
    aws._use_kept_endpoints(session, loader)
    resolver = session._get_internal_component("endpoint_resolver")
    assert type(resolver) is EndpointResolver and resolver._endpoint_data["partitions"] == []


def test_a_source_checkout_uses_botocores_own_data() -> None:
    assert not (Path(aws.__file__).parent / aws.ENDPOINTS_FILE).exists()
    assert type(_session()._get_internal_component("endpoint_resolver")) is EndpointResolver


def test_the_kept_data_records_the_botocore_that_wrote_it() -> None:
    doc = json.loads(aws.kept_endpoints())
    assert doc["source"]["botocore"] == botocore.__version__
    assert doc["services"] == list(aws.ENDPOINT_SERVICES)
    assert all(set(p["services"]) <= set(aws.ENDPOINT_SERVICES) for p in doc["endpoints"]["partitions"])
