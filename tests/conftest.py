"""Fixtures every test area may use."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.loaders
import botocore.session
import pytest

from aws_support import REGION, Alerts, fake_credentials, in_moto
from trailguard import remediate

EVENTS_DIR = Path(__file__).parent / "data" / "events"


class _SharedLoader(botocore.loaders.Loader):
    """A loader whose parsed files every session shares, except S3's service model: botocore rewrites
    its request URIs in place for each client (``remove_bucket_from_url_paths_from_model``), and the
    local cloud routes S3 requests by the pristine ones, so each caller gets its own copy."""

    def load_service_model(self, service_name: str, type_name: str, api_version: str | None = None) -> Any:
        model = super().load_service_model(service_name, type_name, api_version)
        return copy.deepcopy(model) if (service_name, type_name) == ("s3", "service-2") else model


@pytest.fixture(scope="session", autouse=True)
def shared_botocore_loader() -> Iterator[None]:
    """One botocore data loader for every session the tests make. ``trailguard.aws`` makes a new boto3
    session per bound environment (and its cache is cleared between tests), and each new session's
    loader re-parses ``endpoints.json`` and the service models: most of the moto tests' time. The files
    are read-only data, so sharing the parsed copies changes nothing but speed."""
    real = botocore.session.create_loader
    loaders: dict[Any, botocore.loaders.Loader] = {}

    def create_loader(search_path_string: Any = None) -> botocore.loaders.Loader:
        if search_path_string not in loaders:
            loader = real(search_path_string)
            loader.__class__ = _SharedLoader
            loaders[search_path_string] = loader
        return loaders[search_path_string]

    botocore.session.create_loader = create_loader
    try:
        yield
    finally:
        botocore.session.create_loader = real


@pytest.fixture(scope="session")
def events_dir() -> Path:
    """``tests/data/events``: the real records and their ``MANIFEST.tsv``."""
    return EVENTS_DIR


# ------------------------------------------------------------------------- moto in-process


@pytest.fixture
def aws_region() -> str:
    """The region the moto fixtures work in; a test area overrides it (``tests/remediate``)."""
    return REGION


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch, aws_region: str) -> Iterator[dict[str, str]]:
    """Fake credentials, moto in-process, no cached clients, and remediation that verifies without
    waiting; yields the credentials (with ``AWS_DEFAULT_REGION``)."""
    creds = fake_credentials(monkeypatch, aws_region)
    monkeypatch.setattr(remediate.base, "VERIFY_DELAY", 0.0)
    with in_moto():
        yield creds


@pytest.fixture
def alerts(moto_aws: dict[str, str], aws_region: str) -> Alerts:
    """The alert topic with an SQS queue subscribed to read what it publishes."""
    return Alerts.create(aws_region)
